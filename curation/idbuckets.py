"""Hash-partitioned id buckets: corpus-wide id checks without a corpus-wide id table anywhere.

Checks over all ids (is an id repeated? is every mix id curated?) would need every id in one process. Instead
each file's ids are hashed into `buckets` groups by a worker task (`partition_ids`), written as one Parquet
file per input sorted by bucket in small row groups; then one task per bucket (`read_bucket`) reads that
bucket's rows from every partition file (row groups of other buckets are skipped by their statistics). Every copy of an id lands in the same bucket, so a check over a bucket is the check
over the corpus restricted to those ids: the answers are the same for any bucket count, and memory per task is
bounded by `ROWS_PER_BUCKET`, not by the corpus. The hash is xxh3 of the id's bytes, so every process and
every machine agrees on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
import xxhash

from mixloom import storage
from mixloom.manifest import atomic_path

ROWS_PER_BUCKET = 500_000  # ids per bucket task: a few tens of MB in Polars
ROW_GROUP = 16_384  # rows per row group of a partition file: a bucket read skips the groups of other buckets


def bucket_count(rows: int, at_least: int = 1) -> int:
    """Buckets for `rows` ids; `at_least` (the worker count) so that no bucket work runs in the driver."""
    return max(at_least, math.ceil(rows / ROWS_PER_BUCKET), 1)


def id_bucket(ids: pl.Series, buckets: int) -> pl.Series:
    """The bucket of each id (null ids share one bucket: they repeat each other)."""
    return pl.Series(
        "_bucket",
        [0 if i is None else xxhash.xxh3_64_intdigest(i.encode()) % buckets for i in ids.to_list()],
        dtype=pl.UInt32,
    )


@dataclass(frozen=True)
class PartitionJob:
    """Ids of `paths` (read in order, rows numbered across them) → `out`, one row group per bucket.

    `tag` goes into every row as `_file` (e.g. the shard index), `_row` numbers the rows."""

    paths: tuple[str, ...]
    out: str
    buckets: int
    tag: int


def partition_ids(job: PartitionJob) -> str:
    """A worker task: write the ids of `job.paths` sorted by bucket (then row), with their bucket."""
    ids = pl.concat([storage.read_parquet(p, columns=["id"]) for p in job.paths]) if job.paths else None
    if ids is None:
        ids = pl.DataFrame(schema={"id": pl.String})
    df = ids.with_columns(
        pl.lit(job.tag, dtype=pl.Int64).alias("_file"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        id_bucket(ids["id"], job.buckets),
    ).sort("_bucket", "_row")
    with atomic_path(job.out) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=ROW_GROUP)
    return job.out


def read_bucket(files: list[str], bucket: int) -> pl.DataFrame:
    """The rows of `bucket` from every partition file, in file order (columns id, _file, _row)."""
    frames = [
        storage.scan_parquet(f).filter(pl.col("_bucket") == bucket).drop("_bucket").collect() for f in files
    ]
    if not frames:
        return pl.DataFrame(schema={"id": pl.String, "_file": pl.Int64, "_row": pl.UInt32})
    return pl.concat(frames)
