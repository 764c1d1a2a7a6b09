"""The mix's cap on augmented documents (`augment.max_augmented_share`, per domain).

Augmented copies do not add to what a source has available (budgets and epochs are computed on the
originals, as without augmentation); inside each source's target they stand in for repeats of originals, up
to the share `a` of its domain. They are taken once each (never repeated), in an order seeded by the recipe's
seed and their ids, and at most `a / (1 - a)` times the units the originals got, so augmented units are at
most `a` of every source's and so of every domain's mix, exactly.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curation.splits import unit_hash


def split_augmented(docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(originals, augmented copies or None when the run has no augmentation)."""
    if "parent_id" not in docs.columns:
        return docs, None
    is_copy = pl.col("parent_id").is_not_null()
    return docs.filter(~is_copy).drop("parent_id"), docs.filter(is_copy).drop("parent_id")


def take_copies(copies: pl.DataFrame | None, source: str, seed: int, limit: float) -> pl.DataFrame:
    """The seeded prefix of a source's copies whose units stay within `limit` (columns id, _u)."""
    if copies is None or limit <= 0:
        return pl.DataFrame(schema={"id": pl.String, "_u": pl.Float64})
    sub = copies.filter(pl.col("source") == source).select("id", "_u")
    if sub.is_empty():
        return sub
    order = np.argsort(np.asarray(unit_hash(seed, f"augment:{source}", sub["id"].to_list())), kind="stable")
    sub = sub[order]
    n = int(np.searchsorted(np.cumsum(sub["_u"].to_numpy()), limit, side="right"))
    return sub.head(n)
