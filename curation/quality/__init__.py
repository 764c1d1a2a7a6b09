"""The published quality rule sets (Gopher quality, Gopher repetition, C4, FineWeb), vectorised.

`tokenizer` splits words like spaCy's English tokenizer, `tokens` turns a batch into token-id arrays with
per-token features, `lines` computes line and paragraph statistics with Polars, `rules` holds each rule set's
parameters, scores and checks. The step itself is `curation.steps.quality`.
"""
