"""dedup: remove duplicate documents across the whole corpus.

`method: exact` hashes the normalised text (lower case, whitespace collapsed) with xxh3-64 in the map phase;
the reduce phase keeps, in each group of equal hashes, the document with the smallest id and rejects the others
with reason `exact_duplicate`, recording `duplicate_of` and `cluster_id`. The rule depends only on ids, so
shard order and worker count never change the result. Above `BUCKET_ROWS` keys the reduce splits them by the
key's low bits into spilled buckets and decides one bucket at a time (equal keys share a bucket, so the decisions
are the same), holding one bucket's keys rather than the corpus's.
`method: minhash` (near-duplicates) lives in `curation.steps.minhash`.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import xxhash
from pydantic import BaseModel

from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext, StepInfo
from mixloom import storage
from mixloom.schema import Strict

_WS = re.compile(r"\s+")


class ExactParams(Strict):
    method: Literal["exact"] = "exact"
    lowercase: bool = True


def params_for(raw: dict) -> type[BaseModel]:
    """The params model for a `dedup` entry, chosen by its `method`."""
    method = raw.get("method", "exact")
    if method == "minhash":
        from curation.steps.minhash import MinhashParams

        return MinhashParams
    return ExactParams


def text_key(text: str, lowercase: bool = True) -> int:
    t = _WS.sub(" ", text).strip()
    return xxhash.xxh3_64_intdigest((t.lower() if lowercase else t).encode("utf-8", "surrogatepass"))


BUCKET_ROWS = 1_000_000  # keys held at once by the reduce (about 100 MB with the group-by's table)


@dataclass
class ExactDedup(GlobalStep):
    params: ExactParams
    name: str = "dedup"
    bucket_rows: int | None = None  # None: BUCKET_ROWS

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        keys = [text_key(t, self.params.lowercase) for t in df["text"].to_list()]
        return pl.DataFrame({"id": df["id"], "key": pl.Series(keys, dtype=pl.UInt64)})

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        """Equal keys always fall in one bucket (the key's low bits), so deciding bucket by bucket gives the
        decisions of one pass over every key while holding one bucket's keys (and the duplicates' decisions)."""
        total = sum(storage.parquet_rows(p) for p in paths)
        buckets = 1 << max(0, math.ceil(math.log2(max(1, total) / (self.bucket_rows or BUCKET_ROWS))))
        if buckets == 1:
            decisions = _decide(_scan(paths)).collect()
            return Reduced(decisions, report={"removed": decisions.height})
        spill = Path(workdir) / "dedup-buckets"
        shutil.rmtree(spill, ignore_errors=True)
        try:
            for i, p in enumerate(paths):  # one shard's keys at a time, split by bucket
                keys = pl.read_parquet(p, columns=["id", "key"])
                bucket = (keys["key"] & (buckets - 1)).alias("bucket")
                for (b,), part in keys.with_columns(bucket).partition_by("bucket", as_dict=True).items():
                    d = spill / f"{b:05d}"
                    d.mkdir(parents=True, exist_ok=True)
                    part.drop("bucket").write_parquet(d / f"{i:06d}.parquet")
            parts = []
            for d in sorted(spill.iterdir()):
                out = spill / f"{d.name}.decisions.parquet"
                _decide(_scan(sorted(d.glob("*.parquet")))).collect().write_parquet(out)
                shutil.rmtree(d)  # this bucket's keys are done with
                parts.append(out)
            decisions = pl.concat([pl.read_parquet(p) for p in parts]).sort("id").rechunk() if parts else None
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        decisions = decisions if decisions is not None else _decide(_scan([])).collect()
        return Reduced(decisions, report={"removed": decisions.height})


def _scan(paths: list[Path]) -> pl.LazyFrame:
    if not paths:
        return pl.LazyFrame(schema={"id": pl.String, "key": pl.UInt64})
    return pl.scan_parquet([str(p) for p in paths])


def _decide(keys: pl.LazyFrame) -> pl.LazyFrame:
    """In each group of equal keys, every document but the one with the smallest id is a duplicate of it."""
    keeper = keys.group_by("key").agg(pl.col("id").min().alias("duplicate_of"), pl.len().alias("n"))
    return (
        keys.join(keeper.filter(pl.col("n") > 1), on="key", how="inner")
        .filter(pl.col("id") != pl.col("duplicate_of"))
        .select(
            "id",
            pl.lit("exact_duplicate").alias(REJECT),
            "duplicate_of",
            pl.col("key").map_elements(lambda k: f"{k:016x}", return_dtype=pl.String).alias("cluster_id"),
        )
        .sort("id")
    )


def build(params: BaseModel, ctx: StepContext):
    if getattr(params, "method", "exact") == "minhash":
        from curation.steps.minhash import build_minhash

        return build_minhash(params, ctx)
    return ExactDedup(params)  # type: ignore[arg-type]


INFO = StepInfo(name="dedup", params=ExactParams, build=build, doc=__doc__ or "", params_for=params_for)
