"""Nothing lost, nothing invented: checked on the files of every finished curation run, not just in tests.

Every input record, and every augmented copy made from one, is in exactly one of curated/ and rejects/ (ids
unique across both), and the mix holds only curated documents. A violation is a bug in mixloom or in a step, never a user mistake, so it stops the run
loudly with the numbers instead of leaving a wrong dataset behind.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mixloom import storage
from mixloom.layout import RunLayout


class AccountingError(RuntimeError):
    """The outputs do not account for the inputs (a bug: please report it with the run's manifest)."""


def _ids(files: list) -> pl.Series:
    if not files:
        return pl.Series("id", [], dtype=pl.String)
    return pl.concat([storage.read_parquet(f, columns=["id"]) for f in files])["id"]


def check_accounting(layout: RunLayout, manifest: dict[str, Any]) -> dict[str, int]:
    kept = _ids(sorted(layout.curated.glob("*.parquet")))
    rejected = _ids(sorted(layout.rejects.glob("*.parquet")))
    copies = (manifest.get("augment") or {}).get("total", 0)
    records = manifest["read"]["records"] + copies
    counts = {"records": records, "copies": copies, "kept": kept.len(), "rejected": rejected.len()}
    if kept.len() + rejected.len() != records:
        raise AccountingError(f"{layout.root}: {counts}: kept + rejected must equal input records + copies")
    both = pl.concat([kept, rejected])
    if both.n_unique() != both.len():
        dup = both.filter(both.is_duplicated()).unique().head(3).to_list()
        raise AccountingError(f"{layout.root}: ids repeat across curated/ and rejects/ (e.g. {dup})")
    mixed = _ids(sorted(layout.mix_root.rglob("*.parquet")))
    extra = mixed.filter(~mixed.is_in(kept.implode())).unique().head(3).to_list() if mixed.len() else []
    if extra:
        raise AccountingError(f"{layout.root}: the mix holds documents that are not curated (e.g. {extra})")
    return counts
