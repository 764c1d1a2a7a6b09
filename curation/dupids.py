"""Unique ids after reading: later repeats of an id are rejected (reason `duplicate id`), shard-wise.

"Later" is the order of the read shards and of rows inside them, so the first occurrence is kept whatever the
worker count or executor. No process holds the corpus's ids: workers hash each shard's ids into buckets
(`curation.idbuckets`), one task per bucket finds its repeats and writes them (shard, row) to a decisions file,
and one task per affected shard moves its repeats into the read rejects. The driver keeps only file names and
the list of shards with repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.idbuckets import PartitionJob, bucket_count, partition_ids, read_bucket
from curation.io.writers import to_rejects, write_parquet
from curation.steps.base import REJECT
from mixloom import storage

REASON = "duplicate id"


@dataclass(frozen=True)
class RepeatJob:
    files: tuple[str, ...]  # partition files (bucketed), or the shards themselves when there is one bucket
    bucket: int
    bucketed: bool
    out: str


def later_repeats(ids: pl.DataFrame) -> pl.DataFrame:
    """Rows (id, _file, _row) whose id occurred before, in (_file, _row) order."""
    dups = ids.filter(pl.col("id").is_duplicated())
    if dups.is_empty():
        return dups
    first = dups.sort("_file", "_row").group_by("id", maintain_order=True).first()
    return dups.join(first, on=["id", "_file", "_row"], how="anti", nulls_equal=True).sort("_file", "_row")


def find_repeats(job: RepeatJob) -> dict:
    """A worker task: one bucket's later repeats → a decisions file; returns the shards they are in."""
    if job.bucketed:
        ids = read_bucket(list(job.files), job.bucket)
    else:
        ids = pl.concat(
            [
                storage.read_parquet(p, columns=["id"]).with_columns(
                    pl.lit(k, dtype=pl.Int64).alias("_file"),
                    pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
                )
                for k, p in enumerate(job.files)
            ]
        )
    later = later_repeats(ids)
    if later.is_empty():
        return {"path": None, "shards": []}
    write_parquet(later, storage.path(job.out))
    return {"path": job.out, "shards": later["_file"].unique().sort().to_list()}


@dataclass(frozen=True)
class DropJob:
    shard: int
    path: str
    name: str
    decisions: tuple[str, ...]
    read_dir: str


def drop_repeats(job: DropJob) -> int:
    """A worker task: move one shard's later repeats into `<name>.dupids.rejects.parquet`."""
    rows = pl.concat(
        [
            storage.scan_parquet(d).filter(pl.col("_file") == job.shard).select("_row").collect()
            for d in job.decisions
        ]
    )["_row"]
    df = storage.read_parquet(job.path).with_row_index("_row")
    is_dup = pl.col("_row").is_in(rows.implode())
    bad = df.filter(is_dup).drop("_row")
    # the repeat gets its positional id (source/file#record), so ids stay unique across kept and rejects
    loc = pl.col("origin").str.extract(r"^(.*):(\d+)$", 1)
    line = pl.col("origin").str.extract(r":(\d+)$", 1).str.zfill(7)
    bad = bad.with_columns(
        pl.col("id").alias("original_id"),
        (pl.col("source") + "/" + loc + "#" + line).alias("id"),
        pl.lit(REASON).alias(REJECT),
    )
    write_parquet(to_rejects(bad, "read"), storage.path(job.read_dir) / f"{job.name}.dupids.rejects.parquet")
    # rejects first, then the shard: a crash in between repeats this step on resume, losing nothing
    write_parquet(df.filter(~is_dup).drop("_row"), storage.path(job.path))
    return bad.height


def drop_duplicate_ids(shards: list[dict], read_dir: Path, ex, workers: int = 1) -> int:
    """Reject later repeats of ids across `shards` (rewritten in place); returns how many were rejected.

    Safe to repeat after a crash: rewritten shards no longer hold their repeats, and a shard whose rejects were
    written but not its rewrite gets the same decisions again."""
    if not shards:
        return 0
    work = read_dir / "idcheck"
    storage.rmtree(work)  # decisions of an earlier attempt may be stale: shards change as repeats are dropped
    storage.makedirs(work)
    paths = [s["path"] for s in shards]
    buckets = bucket_count(sum(int(s.get("docs", 0)) for s in shards), at_least=workers)
    if buckets > 1:
        jobs = [
            PartitionJob((p,), str(work / f"ids-{k:06d}.parquet"), buckets, k) for k, p in enumerate(paths)
        ]
        files = tuple(ex.map(partition_ids, jobs, desc="ids"))
    else:
        files = tuple(paths)
    found = ex.map(
        find_repeats,
        [RepeatJob(files, b, buckets > 1, str(work / f"repeats-{b:06d}.parquet")) for b in range(buckets)],
        desc="duplicate ids",
    )
    by_shard: dict[int, list[str]] = {}
    for res in found:
        for k in res["shards"]:
            by_shard.setdefault(k, []).append(res["path"])
    jobs = [
        DropJob(k, shards[k]["path"], shards[k]["name"], tuple(by_shard[k]), str(read_dir))
        for k in sorted(by_shard)
    ]
    dropped = sum(ex.map(drop_repeats, jobs, desc="drop repeats"))
    storage.rmtree(work)
    return dropped
