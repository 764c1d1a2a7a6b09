"""quality_model: score documents with a trained quality classifier; keep by threshold or top fraction.

`model:` is a model directory written by the `train.quality_model` stage (`mixloom.quality_scorer` format:
fastText or hashed n-gram logistic regression), given as a path or as the reference `train.quality_model`
(this run's trained model). Adds the score column (`quality_model_score` by default: the probability that a
document looks like the positive labels) and keeps either

- `threshold: 0.5` — documents scoring at least this (a per-document step; reason `quality_model:low_score`), or
- `top_fraction: 0.3` — the best-scoring share of each domain (`per: domain | source | all`), FineWeb-Edu /
  DCLM style. That needs every score first, so it runs as a corpus-wide step (map: score, reduce: rank per
  group, ties broken by id), and the result never depends on sharding (reason `quality_model:below_top_fraction`).

The model's checksum is part of the step's cache key (`fingerprint`), so retraining re-scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, model_validator

from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext, StepInfo, reject_where
from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.manifest import file_checksum
from mixloom.quality_scorer import META, QualityScorer, load_scorer, model_dir
from mixloom.schema import Strict

REF = "train.quality_model"


class Params(Strict):
    model: str = Field(description="model directory, or train.quality_model (this run's trained model)")
    threshold: float | None = Field(None, ge=0, le=1, description="keep documents scoring >= this")
    top_fraction: float | None = Field(None, gt=0, le=1, description="keep this best share of each group")
    per: Literal["domain", "source", "all"] = Field("domain", description="groups of top_fraction")
    column: str = Field("quality_model_score", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _one(self) -> Params:
        if self.threshold is not None and self.top_fraction is not None:
            raise ValueError("give threshold or top_fraction, not both")
        if self.threshold is None and self.top_fraction is None:
            self.threshold = 0.5
        return self


def reads(params: Params) -> list[str]:
    return [params.model]


@dataclass
class _Scoring:
    params: Params
    path: Path | None  # None: a reference that cannot be resolved yet (validation without a run dir)
    _scorer: QualityScorer | None = field(default=None, repr=False)

    def scorer(self) -> QualityScorer:
        if self._scorer is None:
            if self.path is None:
                raise UserError(f"quality_model: {self.params.model} has no run directory to resolve it in")
            if not (model_dir(self.path) / META).exists() and self.params.model == REF:
                raise UserError(
                    f"quality_model: no trained model at {self.path}; run the train.quality_model stage "
                    "first (it must not read this run's curated output)"
                )
            self._scorer = load_scorer(self.path)
        return self._scorer

    def __getstate__(self) -> dict[str, Any]:
        return {"params": self.params, "path": self.path, "_scorer": None}

    def fingerprint(self) -> str:
        """Checksums of the model files: part of the pass's cache key."""
        d = self.scorer().path
        return ",".join(file_checksum(d / f) for f in (META, self.scorer().meta["file"]))

    def scores(self, df: pl.DataFrame) -> pl.Series:
        vals = self.scorer().score(df["text"].to_list()) if df.height else []
        return pl.Series(self.params.column, vals, dtype=pl.Float64)


@dataclass
class QualityThreshold(_Scoring):
    name: str = "quality_model"
    modifies_text: bool = False

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        out = df.with_columns(self.scores(df))
        return reject_where(
            out, pl.col(self.params.column) < self.params.threshold, "quality_model:low_score"
        )


@dataclass
class QualityTopFraction(_Scoring, GlobalStep):
    name: str = "quality_model"

    def _group(self) -> pl.Expr:
        return pl.lit("all") if self.params.per == "all" else pl.col(self.params.per)

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        return df.select("id", self._group().cast(pl.String).alias("group")).with_columns(self.scores(df))

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        col, frac = self.params.column, self.params.top_fraction or 1.0
        schema = {"id": pl.String, "group": pl.String, col: pl.Float64}
        keys = pl.scan_parquet([str(p) for p in paths]) if paths else pl.LazyFrame(schema=schema)
        ranked = keys.sort(["group", col, "id"], descending=[False, True, False]).with_columns(
            pl.int_range(pl.len()).over("group").alias("_rank"), pl.len().over("group").alias("_n")
        )
        keep = pl.col("_rank") < (pl.col("_n") * frac).ceil()
        decisions = (
            ranked.select(
                "id",
                col,
                pl.when(keep)
                .then(pl.lit(None, dtype=pl.String))
                .otherwise(pl.lit("quality_model:below_top_fraction"))
                .alias(REJECT),
            )
            .sort("id")
            .collect()
        )
        return Reduced(decisions, report={"kept": int(decisions[REJECT].is_null().sum())})


def keep_count(n: int, fraction: float) -> int:
    """Documents a group of n keeps under top_fraction (what the reduce computes; for tests and reports)."""
    return math.ceil(n * fraction)


def build(params: Params, ctx: StepContext) -> QualityThreshold | QualityTopFraction:
    if params.model == REF:
        run_dir = getattr(ctx, "run_dir", None)
        path = RunLayout(run_dir).ref_path(REF) if run_dir is not None else None
    else:
        path = ctx.resolve(params.model)
        if not (model_dir(path) / META).is_file():
            raise ValueError(
                f"model: {path} is not a quality model directory (no {META}); give the model directory "
                f"of a train.quality_model run, or the reference {REF}"
            )
    cls = QualityTopFraction if params.top_fraction is not None else QualityThreshold
    return cls(params, path)


INFO = StepInfo(name="quality_model", params=Params, build=build, doc=__doc__ or "", reads=reads)
