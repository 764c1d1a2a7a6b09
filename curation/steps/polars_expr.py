"""polars: a Polars expression as a filter (`filter: "pl.col('tokens') > 20"`) or new columns
(`with_columns: {n_digits: "pl.col('text').str.count_matches(r'\\d')"}`).

Expressions are Python evaluated with only `pl` in scope: a recipe is code its author trusts, as a datatrove
pipeline script is. Documents the filter leaves out are rejected with `reason`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from pydantic import field_validator, model_validator

from curation.steps.base import StepContext, StepInfo, reject_where
from mixloom.schema import Strict


def compile_expr(src: str) -> pl.Expr:
    try:
        expr = eval(src, {"__builtins__": {}, "pl": pl}, {})  # noqa: S307 - recipe expressions are trusted code
    except Exception as e:
        raise ValueError(f"not a valid Polars expression: {src!r}: {type(e).__name__}: {e}") from None
    if not isinstance(expr, pl.Expr):
        raise ValueError(f"{src!r} is a {type(expr).__name__}, not a Polars expression (use pl.col(...))")
    return expr


class Params(Strict):
    filter: str | None = None
    with_columns: dict[str, str] = {}
    reason: str = "polars:filtered"

    @field_validator("filter")
    @classmethod
    def _filter(cls, v: str | None) -> str | None:
        if v is not None:
            compile_expr(v)
        return v

    @field_validator("with_columns")
    @classmethod
    def _cols(cls, v: dict[str, str]) -> dict[str, str]:
        for src in v.values():
            compile_expr(src)
        return v

    @model_validator(mode="after")
    def _something(self) -> Params:
        if self.filter is None and not self.with_columns:
            raise ValueError("give `filter` and/or `with_columns`")
        return self


@dataclass
class PolarsExpr:
    params: Params
    name: str = "polars"
    modifies_text: bool = False

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        try:
            if self.params.with_columns:
                df = df.with_columns(**{k: compile_expr(v) for k, v in self.params.with_columns.items()})
            if self.params.filter is None:
                return df
            keep = compile_expr(self.params.filter)
            return reject_where(df, ~keep.fill_null(False), self.params.reason)
        except pl.exceptions.PolarsError as e:
            raise ValueError(f"Polars expression failed: {type(e).__name__}: {e}") from None


def build(params: Params, ctx: StepContext) -> PolarsExpr:
    return PolarsExpr(params)


INFO = StepInfo(name="polars", params=Params, build=build, doc=__doc__ or "", shorthand="filter")
