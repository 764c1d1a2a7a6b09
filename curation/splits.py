"""Deterministic splits: a document's split depends only on its id and the seed, never on order or sharding."""

from __future__ import annotations

import polars as pl
import xxhash

_SCALE = float(1 << 64)


def unit_hash(seed: int, salt: str, ids: list[str]) -> list[float]:
    """Uniform values in [0, 1) from (seed, salt, id): the same id always maps to the same value."""
    prefix = f"{seed}:{salt}:"
    return [xxhash.xxh3_64_intdigest((prefix + i).encode()) / _SCALE for i in ids]


def assign_splits(df: pl.DataFrame, splits: dict[str, float], seed: int) -> pl.DataFrame:
    """Add a `split` column by hashing ids against the cumulative split fractions (in recipe order)."""
    names = list(splits)
    bounds = []
    acc = 0.0
    for n in names:
        acc += splits[n]
        bounds.append(acc)
    bounds[-1] = 1.0 + 1e-9
    # an augmented copy hashes its parent's id, so it always lands in its parent's split (no leakage)
    key = pl.coalesce("parent_id", "id") if "parent_id" in df.columns else pl.col("id")
    u = unit_hash(seed, "split", df.select(key).to_series().to_list())
    labels = []
    for x in u:
        for n, b in zip(names, bounds, strict=True):
            if x < b:
                labels.append(n)
                break
    return df.with_columns(pl.Series("split", labels, dtype=pl.String))
