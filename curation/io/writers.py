"""Writers: Parquet (or JSONL) files written atomically, so a crash never leaves a half-written shard."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curation.steps.base import REJECT
from mixloom.manifest import atomic_path

REJECT_SCHEMA = {
    "id": pl.String,
    "source": pl.String,
    "domain": pl.String,
    "origin": pl.String,
    "step": pl.String,
    "reason": pl.String,
    "text": pl.String,
    "details": pl.String,
}


def write_parquet(df: pl.DataFrame, path: Path) -> Path:
    """Deterministic bytes for the same frame: fixed compression, no timestamps."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)
    return path


def write_jsonl(df: pl.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.write_ndjson(tmp)
    return path


def write_table(df: pl.DataFrame, path_stem: Path, fmt: str = "parquet") -> Path:
    if fmt == "jsonl":
        return write_jsonl(df, path_stem.with_suffix(".jsonl"))
    return write_parquet(df, path_stem.with_suffix(".parquet"))


def to_rejects(df: pl.DataFrame, step: str, keep_scores: bool = True) -> pl.DataFrame:
    """Rows of a batch marked in REJECT → the rejects schema; score columns go to `details` as JSON."""
    extra = [c for c in df.columns if c not in REJECT_SCHEMA and c not in (REJECT, "tokens", "meta")]
    details = (
        pl.struct(extra).struct.json_encode() if (keep_scores and extra) else pl.lit(None, dtype=pl.String)
    )
    cols = {
        "id": pl.col("id"),
        "source": pl.col("source") if "source" in df.columns else pl.lit(None, dtype=pl.String),
        "domain": pl.col("domain") if "domain" in df.columns else pl.lit(None, dtype=pl.String),
        "origin": pl.col("origin") if "origin" in df.columns else pl.lit(None, dtype=pl.String),
        "step": pl.lit(step),
        "reason": pl.col(REJECT),
        "text": pl.col("text") if "text" in df.columns else pl.lit(None, dtype=pl.String),
        "details": details,
    }
    return df.select(**{k: v.cast(REJECT_SCHEMA[k]) for k, v in cols.items()})


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)
