"""Human review of generated data: a local web app, an append-only decision log, agreement, and the export
of decisions into SFT corrections and preference pairs (`review.sft`, `review.pairs`).

Nothing is imported here: `mixloom review` registers its command from `reasoning.review.cli` without loading
PyArrow (import `reasoning.review.export` or `reasoning.review.store` directly)."""
