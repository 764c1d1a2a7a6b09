"""After a run with a `pii` step, no original value stays anywhere in the run directory.

The step redacts what it sees, but two places hold text from before it: documents rejected by earlier steps
(or quarantined at read time) in `rejects/`, and the per-shard cache in `_work/` (raw read shards and earlier
passes). Once the run has finished, the first get their text (and meta) redacted with the step's own settings
(a value the step would reject is masked like a redaction: the document is already rejected), and `_work/` is
removed. The price: a rerun of the same run directory reads and curates again instead of reusing the cache.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curation.io.writers import write_parquet
from mixloom import storage
from mixloom.layout import RunLayout


def _pii_step(plan: Any) -> tuple[int, Any] | None:
    for ps in plan.steps:
        if ps.name == "pii":
            step = getattr(ps.step, "step", ps.step)  # unwrap apply_to
            return ps.index, step
    return None


def _before(label: str, index: int) -> bool:
    """Rejects written before the pii step ran: at read time, or by a step placed earlier in the recipe."""
    if label == "read" or ":" not in label:
        return True
    head = label.split(":", 1)[0]
    return head.isdigit() and int(head) < index


def scrub_run(plan: Any, layout: RunLayout) -> dict[str, int]:
    """Redact earlier rejects and drop the cache; returns what was done (for the manifest)."""
    found = _pii_step(plan)
    if found is None:
        return {}
    index, step = found
    actions = {t: ("off" if a == "off" else "redact") for t, a in step.actions.items()}
    actions = {t: a for t, a in actions.items() if t not in ("name", "address")}  # no NER model here
    rewritten = 0
    for f in sorted(layout.rejects.glob("*.parquet")):
        df = storage.read_parquet(f)
        before = df["step"].map_elements(lambda s: _before(s, index), return_dtype=pl.Boolean)
        if not before.any():
            continue
        cols = [c for c in ("text", "meta") if c in df.columns]
        for c in cols:
            redacted, _, _ = step._redact(df[c], actions, False)
            df = df.with_columns(pl.when(before).then(redacted).otherwise(pl.col(c)).alias(c))
        write_parquet(df, f)  # a new file: the hard link into _work/ is replaced, not written through
        rewritten += 1
    removed = 0
    if layout.work.exists():
        storage.rmtree(layout.work)
        removed = 1
    return {"rejects_files_redacted": rewritten, "cache_removed": removed}
