"""Nothing lost, nothing invented: checked on the files of every finished curation run, not just in tests.

Every input record, and every augmented copy made from one, is in exactly one of curated/ and rejects/ (ids
unique across both), and the mix holds only curated documents. A violation is a bug in mixloom or in a step, never a user mistake, so it stops the run
loudly with the numbers instead of leaving a wrong dataset behind.

Counts come from the Parquet footers; the id checks run per hash bucket of ids (`curation.idbuckets`), so no
process holds the run's ids, and with an executor the buckets are checked by its workers.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curation.idbuckets import PartitionJob, bucket_count, partition_ids, read_bucket
from curation.shards import parquet_rows
from mixloom import storage
from mixloom.layout import RunLayout

KEPT, REJECTED, MIXED = 0, 1, 2


class AccountingError(RuntimeError):
    """The outputs do not account for the inputs (a bug: please report it with the run's manifest)."""


@dataclass(frozen=True)
class BucketCheck:
    files: tuple[str, ...]  # partition files (bucketed) or the output files themselves (one bucket)
    kinds: tuple[int, ...]  # KEPT / REJECTED / MIXED per file when not bucketed
    bucket: int
    bucketed: bool


def check_bucket(job: BucketCheck) -> dict[str, list]:
    """A worker task: ids repeated across curated/ + rejects/, and mix ids not curated (first few of each)."""
    if job.bucketed:
        ids = read_bucket(list(job.files), job.bucket).rename({"_file": "kind"})
    else:
        frames = [
            storage.read_parquet(f, columns=["id"]).with_columns(pl.lit(k, dtype=pl.Int64).alias("kind"))
            for f, k in zip(job.files, job.kinds, strict=True)
        ]
        ids = pl.concat(frames) if frames else pl.DataFrame(schema={"id": pl.String, "kind": pl.Int64})
    both = ids.filter(pl.col("kind") != MIXED)["id"]
    dup = both.filter(both.is_duplicated()).unique().sort().head(3).to_list()
    kept = ids.filter(pl.col("kind") == KEPT)["id"]
    mixed = ids.filter(pl.col("kind") == MIXED)["id"]
    extra = mixed.filter(~mixed.is_in(kept.implode())).unique().sort().head(3).to_list()
    return {"dup": dup, "extra": extra}


def check_accounting(
    layout: RunLayout, manifest: dict[str, Any], ex=None, workers: int = 1
) -> dict[str, int]:
    """Raise AccountingError unless the outputs account for every input record; returns the counts.

    `ex` (an executor, see `curation.executors`) runs the id checks on its workers; without one they run here,
    a bucket at a time."""
    files = {
        KEPT: _glob(layout.curated, "*.parquet"),
        REJECTED: _glob(layout.rejects, "*.parquet"),
        MIXED: _glob(layout.mix_root, "**/*.parquet"),
    }
    rows = {k: sum(parquet_rows(f) for f in fs) for k, fs in files.items()}
    copies = (manifest.get("augment") or {}).get("total", 0)
    records = manifest["read"]["records"] + copies
    counts = {"records": records, "copies": copies, "kept": rows[KEPT], "rejected": rows[REJECTED]}
    if rows[KEPT] + rows[REJECTED] != records:
        raise AccountingError(f"{layout.root}: {counts}: kept + rejected must equal input records + copies")
    if ex is None:
        from curation.executors import LocalExecutor

        ex, workers = LocalExecutor(1), 1
    listed = [(str(f), k) for k, fs in files.items() for f in fs]
    buckets = bucket_count(sum(rows.values()), at_least=workers)
    if storage.is_url(layout.root):  # every node reads the partitions: they live in the run's storage
        tmp = layout.work / f"accounting-{uuid.uuid4().hex[:12]}"
    else:
        tmp = Path(tempfile.mkdtemp(prefix="accounting-", dir=layout.work if layout.work.exists() else None))
    try:
        if buckets > 1:
            jobs = [
                PartitionJob((f,), str(tmp / f"{i:06d}.parquet"), buckets, k)
                for i, (f, k) in enumerate(listed)
            ]
            parts = tuple(ex.map(partition_ids, jobs, desc="accounting (ids)"))
            checks = [BucketCheck(parts, (), b, True) for b in range(buckets)]
        else:
            checks = [BucketCheck(tuple(f for f, _ in listed), tuple(k for _, k in listed), 0, False)]
        found = ex.map(check_bucket, checks, desc="accounting")
    finally:
        storage.rmtree(tmp)
    dup = sorted(i for r in found for i in r["dup"])[:3]
    if dup:
        raise AccountingError(f"{layout.root}: ids repeat across curated/ and rejects/ (e.g. {dup})")
    extra = sorted(i for r in found for i in r["extra"])[:3]
    if extra:
        raise AccountingError(f"{layout.root}: the mix holds documents that are not curated (e.g. {extra})")
    return counts


def _glob(folder, pattern: str) -> list:
    return sorted(folder.glob(pattern)) if folder.exists() else []
