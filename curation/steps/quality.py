"""quality: the published heuristic rule sets — Gopher quality, Gopher repetition, C4, FineWeb.

Defaults are the published thresholds, with the semantics of datatrove 0.10.1's filters (words split like
spaCy's English tokenizer, same statistics, same checks in the same order); any threshold can be overridden:
`quality: {rules: [gopher_quality, c4], overrides: {gopher_quality.min_doc_words: 20}}` (or nested:
`overrides: {gopher_quality: {min_doc_words: 20}}`). Rule sets run in the order listed.

Adds score columns per rule set (`gopher_*`; `dup_*`/`top_*` for Gopher repetition; `c4_*`; `fineweb_*`),
`quality_score` (mean over the checks of the distance to each threshold relative to it, clipped to [-1, 1];
higher is better; used to pick among near-duplicates), and rejects with the first failing check as a stable
category, `<rule set>:<check>` (e.g. `gopher_quality:mean_word_length`); the measured values are in the score
columns. Like a chain of filters, a rule set only scores the documents the rule sets before it kept (the
others get nulls): every kept document has every score. `all_scores: true` scores every document.

C4 removes lines (no terminal punctuation, too few words, "javascript", policy text) before counting
sentences. By default the step only decides on that basis and leaves the text alone; with
`overrides: {c4.remove_lines: true}` kept documents are rewritten to their kept lines (as the reference does),
the step then modifies text, and rule sets listed after c4 see the rewritten text.

Known differences from the reference, all rare: duplicated n-grams are compared as word sequences, not as
their concatenated characters ("ab c" vs "a bc"); spaCy's re-merging of emoticons across a single space is
not replayed; letters and punctuation follow Polars' Unicode tables, newer than Python 3.11's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, ValidationError, model_validator

from curation.quality.batch import TextBatch
from curation.quality.rules import RULESETS, C4Params, Check, RuleParams
from curation.quality.tokenizer import chunk_tokenizer
from curation.quality.tokens import Vocab
from curation.steps.base import REJECT, StepContext, StepInfo, reject_where
from mixloom.schema import Strict

# text bytes scored at a time: a shard's tokens, lines and n-grams at once took ~10x its text in memory
SLICE_CHARS = 1_000_000

RuleName = Literal["gopher_quality", "gopher_repetition", "c4", "fineweb"]


def rule_configs(rules: list[str], overrides: dict[str, Any]) -> dict[str, RuleParams]:
    """Parameters of each enabled rule set with the overrides applied; ValueError names the known keys."""
    per_rule: dict[str, dict[str, Any]] = {r: {} for r in rules}
    for key, value in overrides.items():
        if key in RULESETS and isinstance(value, dict):  # nested form: {c4: {min_num_sentences: 3}}
            items = [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            items = [(key, value)]
        for full, v in items:
            rule, _, param = full.partition(".")
            if rule not in RULESETS or not param:
                raise ValueError(
                    f"overrides: '{full}' is not <rule set>.<parameter>; rule sets: {', '.join(RULESETS)}"
                )
            known = list(RULESETS[rule].params.model_fields)
            if param not in known:
                raise ValueError(f"overrides: unknown key '{full}' (known for {rule}: {', '.join(known)})")
            if rule not in per_rule:
                raise ValueError(
                    f"overrides: '{full}' sets a rule set that is not in rules ({', '.join(rules)})"
                )
            per_rule[rule][param] = v
    out = {}
    for rule, values in per_rule.items():
        try:
            out[rule] = RULESETS[rule].params.model_validate(values)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ValueError(
                f"overrides: {rule}.{where}: {err['msg'].removeprefix('Value error, ')}"
            ) from None
    return out


class Params(Strict):
    rules: list[RuleName] = Field(default_factory=lambda: list(RULESETS), min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    all_scores: bool = Field(
        False,
        description="score every document on every rule set; by default a rule set only scores the documents "
        "the rule sets before it kept (as the reference filters do), and the others get nulls",
    )

    @model_validator(mode="after")
    def _check(self) -> Params:
        if len(set(self.rules)) != len(self.rules):
            raise ValueError("rules: a rule set is listed twice")
        rule_configs(self.rules, self.overrides)
        return self


@dataclass
class Quality:
    params: Params
    name: str = "quality"
    modifies_text: bool = False
    configs: dict[str, RuleParams] = field(default_factory=dict)
    _vocab: Vocab | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.configs = rule_configs(self.params.rules, self.params.overrides)
        c4p = self.configs.get("c4")
        self.modifies_text = isinstance(c4p, C4Params) and c4p.remove_lines

    @property
    def reasons(self) -> list[str]:
        """Every reject category this configuration can produce, in check order."""
        _, checks, _ = self._evaluate(pl.Series("text", ["x"]), np.ones(1, dtype=bool))
        return list(dict.fromkeys(f"{rule}:{c.reason}" for rule, c in checks))

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        """Score a shard. Its slices share one vocabulary and chunk cache, made for this shard and dropped
        after it, so a worker's memory follows the shard, not everything it has seen (reusing them across
        shards saved little: each restarts at `MAX_CHUNKS` anyway)."""
        self._vocab = Vocab(chunk_tokenizer())
        try:
            return self._process(df)
        finally:
            self._vocab = None

    def _process(self, df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0:  # same columns and types as for a real batch
            probe = self._process(pl.DataFrame({"text": ["x"]}))
            cols = [c for c in probe.columns if c not in ("text", REJECT)]
            out = df.with_columns(pl.lit(None, dtype=probe[c].dtype).alias(c) for c in cols)
            return reject_where(out, pl.lit(False), "")
        parts = _slices(df["text"])
        if len(parts) > 1:  # every rule is per document: slices bound the token arrays, same results
            return pl.concat([self._process(df.slice(a, b - a)) for a, b in parts], how="vertical").rechunk()
        keep = df[REJECT].is_null().to_numpy() if REJECT in df.columns else np.ones(df.height, dtype=bool)
        scores, checks, text = self._evaluate(df["text"], keep)
        labels = [f"{rule}:{c.reason}" for rule, c in checks]
        code = np.full(df.height, -1, dtype=np.int64)
        for k, (_, c) in enumerate(checks):
            code[(code < 0) & c.fails] = k
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: documents rejected on entry
            margin = (
                np.nanmean([c.margin for _, c in checks], axis=0) if checks else np.full(df.height, np.nan)
            )
        reason = pl.Series([labels[k] if k >= 0 else None for k in code.tolist()], dtype=pl.String)
        cols = [_column(name, values, active) for name, (values, active) in scores.items()]
        cols.append(pl.Series("quality_score", np.round(margin, 6), dtype=pl.Float64, nan_to_null=True))
        out = df.with_columns(cols)
        if text is not None:
            out = out.with_columns(text.alias("text"))
        return reject_where(out, reason.is_not_null(), reason)

    def _evaluate(self, text: pl.Series, keep: np.ndarray):
        """Run the rule sets in order, each on the documents still kept (all of them with all_scores).

        Returns {score: (values, scored)}, [(rule, check)] in order (failures and margins only where scored),
        and the rewritten text if C4 removed lines.
        """
        scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        checks: list[tuple[str, Check]] = []
        rules = list(self.configs)
        new_text = None
        while rules:
            # rule sets up to and including a line-removing c4 share one pass over the current text
            cut = rules.index("c4") + 1 if self.modifies_text and "c4" in rules else len(rules)
            segment, rules = rules[:cut], rules[cut:]
            batch = TextBatch(text, self._vocab or Vocab(chunk_tokenizer()))
            batch.tokenize(sentences=any(RULESETS[r].sentences(self.configs[r]) for r in segment))
            for rule in segment:
                active = keep.copy()
                if checks and not self.params.all_scores:
                    active &= ~np.any([c.fails for _, c in checks], axis=0)
                res = RULESETS[rule].evaluate(batch, self.configs[rule], active)
                for name, values in res.scores.items():
                    scores[name] = (values, active)
                for c in res.checks:
                    c.fails = c.fails & active
                    c.margin = np.where(active, c.margin, np.nan)
                    checks.append((rule, c))
                if res.new_text is not None:
                    text = new_text = res.new_text
        return scores, checks, new_text


def _slices(text: pl.Series) -> list[tuple[int, int]]:
    """Consecutive rows of about `SLICE_CHARS` characters (at least one row each)."""
    sizes = text.fill_null("").str.len_bytes().to_numpy()
    bounds, acc = [0], 0
    for i, c in enumerate(sizes.tolist()):
        if acc and acc + c > SLICE_CHARS:
            bounds.append(i)
            acc = 0
        acc += c
    bounds.append(len(sizes))
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _column(name: str, values: np.ndarray, scored: np.ndarray) -> pl.Series:
    """A score column: null for the documents that were not scored."""
    s = pl.Series(name, values)
    if scored.all():
        return s
    return pl.select(pl.when(pl.lit(pl.Series(scored))).then(pl.lit(s))).to_series().alias(name)


def build(params: Params, ctx: StepContext) -> Quality:
    return Quality(params)


INFO = StepInfo(name="quality", params=Params, build=build, doc=__doc__ or "")
