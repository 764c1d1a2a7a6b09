"""Interleaved mix shards: one seeded order across all sources, with a document's repeats spread out.

A streaming reader (a training loop reading shards in order, MosaicML streaming, `datasets` streaming) should
see every source at its mix share from the first row on, and never meet a document twice in a row. Each mix row
(a document's copy `epoch` out of `copies`) gets the position key

    key = (epoch + u) / copies,     u = hash(seed, id) in [0, 1)

and rows are sorted by `(key, id, epoch)` within their split. A document's copies sit at evenly spaced keys
(`1 / copies` apart), so its repeats are spread across the whole stream, and every source is spread uniformly,
whatever its number of repeats. The order depends only on ids, copies and the seed: not on sharding, worker
count or executor, so the written shards are byte-identical under all of them.

Writing is a two-phase shuffle through files, so no worker holds more than one output part and one input shard:
`scatter` (per curated shard) tags rows with their split, part and position; `gather` (per output part)
collects its rows from every scattered file and writes them in order.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curation.io.writers import write_parquet, write_table
from curation.splits import assign_splits, unit_hash
from mixloom import storage


def plan_order(selection: pl.DataFrame, splits: dict[str, float], seed: int, part_rows: int) -> pl.DataFrame:
    """selection: (id, copies) → one row per copy: id, epoch, split, part, pos (position within its split)."""
    if selection.is_empty():
        return pl.DataFrame(
            schema={"id": pl.String, "epoch": pl.Int32, "split": pl.String, "part": pl.Int32, "pos": pl.Int64}
        )
    keep = ["id", "copies", *(["parent_id"] if "parent_id" in selection.columns else [])]
    sel = assign_splits(selection.select(keep), splits, seed)  # a copy hashes its parent's id
    sel = sel.with_columns(pl.Series("_u", unit_hash(seed, "order", sel["id"].to_list()), dtype=pl.Float64))
    rows = sel.with_columns(pl.int_ranges(0, pl.col("copies")).alias("epoch")).explode("epoch")
    rows = rows.with_columns(
        pl.col("epoch").cast(pl.Int32),
        ((pl.col("epoch") + pl.col("_u")) / pl.col("copies")).alias("_key"),
    ).sort("split", "_key", "id", "epoch")
    pos = pl.int_range(0, pl.len(), dtype=pl.Int64).over("split")
    rows = rows.with_columns(pos.alias("pos"))
    return rows.select(
        "id", "epoch", "split", (pl.col("pos") // part_rows).cast(pl.Int32).alias("part"), "pos"
    )


def scatter(job: tuple[str, str, str]) -> str:
    """One curated shard's rows of the mix, one row per copy, tagged with split/part/pos (sorted by them)."""
    shard, order_path, out_path = job
    df = storage.read_parquet(shard)
    order = storage.scan_parquet(order_path).filter(pl.col("id").is_in(df["id"].implode())).collect()
    rows = df.join(order, on="id", how="inner").sort("split", "part", "pos")
    write_parquet(rows, storage.path(out_path))
    return out_path


def gather(job: tuple[list[str], str, int, str, str]) -> dict[str, Any]:
    """Write one output part: its rows from every scattered file, in stream order."""
    scattered, split, part, out_stem, fmt = job
    frames = [
        storage.scan_parquet(f).filter((pl.col("split") == split) & (pl.col("part") == part)).collect()
        for f in scattered
    ]
    rows = pl.concat([f for f in frames if f.height], how="diagonal_relaxed").sort("pos")
    cols = [c for c in rows.columns if c not in ("split", "epoch", "part", "pos")]
    rows = rows.select(*cols, "split", "epoch")
    write_table(rows, storage.path(out_stem), fmt)
    return {
        "split": split,
        "docs": rows.height,
        "tokens": int(rows["tokens"].sum() or 0) if "tokens" in rows.columns else 0,
        "unique_docs": rows.filter(pl.col("epoch") == 0).height,
    }
