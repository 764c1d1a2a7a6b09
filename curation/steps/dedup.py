"""dedup: remove duplicate documents across the whole corpus.

`method: exact` hashes the normalised text (lower case, whitespace collapsed) with xxh3-64 in the map phase;
the reduce phase keeps, in each group of equal hashes, the document with the smallest id and rejects the others
with reason `exact_duplicate`, recording `duplicate_of` and `cluster_id`. The rule depends only on ids, so
shard order and worker count never change the result.
`method: minhash` (near-duplicates) lives in `curation.steps.minhash`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import xxhash
from pydantic import BaseModel

from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext, StepInfo
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


@dataclass
class ExactDedup(GlobalStep):
    params: ExactParams
    name: str = "dedup"

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        keys = [text_key(t, self.params.lowercase) for t in df["text"].to_list()]
        return pl.DataFrame({"id": df["id"], "key": pl.Series(keys, dtype=pl.UInt64)})

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        keys = (
            pl.scan_parquet([str(p) for p in paths])
            if paths
            else pl.LazyFrame(schema={"id": pl.String, "key": pl.UInt64})
        )
        keeper = keys.group_by("key").agg(pl.col("id").min().alias("duplicate_of"), pl.len().alias("n"))
        decisions = (
            keys.join(keeper.filter(pl.col("n") > 1), on="key", how="inner")
            .filter(pl.col("id") != pl.col("duplicate_of"))
            .select(
                "id",
                pl.lit("exact_duplicate").alias(REJECT),
                "duplicate_of",
                pl.col("key").map_elements(lambda k: f"{k:016x}", return_dtype=pl.String).alias("cluster_id"),
            )
            .sort("id")
            .collect()
        )
        return Reduced(decisions, report={"removed": decisions.height})


def build(params: BaseModel, ctx: StepContext):
    if getattr(params, "method", "exact") == "minhash":
        from curation.steps.minhash import build_minhash

        return build_minhash(params, ctx)
    return ExactDedup(params)  # type: ignore[arg-type]


INFO = StepInfo(name="dedup", params=ExactParams, build=build, doc=__doc__ or "", params_for=params_for)
