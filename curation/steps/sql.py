"""sql: a DuckDB query over the table `docs` (the batch, as Arrow: no copy through Python rows).

The query's result is the batch after the step: rows it returns are kept (with any derived columns), rows it
leaves out are rejected with the step's `reason`. The result must keep the `id` column and may not repeat ids.
`sql: "length(text) >= 40"` (a bare condition) is short for `SELECT * FROM docs WHERE length(text) >= 40`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import polars as pl
from pydantic import field_validator

from curation.steps.base import BASE_SCHEMA, REJECT, StepContext, StepInfo
from mixloom.schema import Strict


def where_to_query(sql: str) -> str:
    s = sql.strip().rstrip(";")
    return s if re.match(r"(?is)^\s*(select|with|from)\b", s) else f"SELECT * FROM docs WHERE {s}"


def check_syntax(sql: str) -> None:
    """Parse with DuckDB's own parser; raises ValueError with DuckDB's message."""
    try:
        stmts = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise ValueError(f"SQL does not parse: {e}") from None
    if len(stmts) != 1:
        raise ValueError(f"expected one SQL statement, found {len(stmts)}")
    if stmts[0].type != duckdb.StatementType.SELECT:
        raise ValueError(f"only SELECT queries are allowed here, got {stmts[0].type.name}")


def run_query(sql: str, df: pl.DataFrame) -> pl.DataFrame:
    """Run `sql` with `df` registered as `docs`; a fresh in-memory connection per call keeps tasks isolated."""
    con = duckdb.connect(":memory:", config={"threads": 1})
    try:
        con.register("docs", df.to_arrow())
        return pl.from_arrow(con.sql(sql).to_arrow_table())  # type: ignore[return-value]
    except duckdb.Error as e:
        raise ValueError(f"SQL failed: {e}") from None
    finally:
        con.close()


class Params(Strict):
    query: str
    reason: str = "sql:filtered"

    @field_validator("query")
    @classmethod
    def _parse(cls, v: str) -> str:
        q = where_to_query(v)
        check_syntax(q)
        return q


@dataclass
class Sql:
    params: Params
    name: str = "sql"
    modifies_text: bool = True  # a query may rewrite `text`; tokens are recounted after it

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        out = run_query(self.params.query, df.drop(REJECT, strict=False))
        if "id" not in out.columns:
            raise ValueError("the SQL result has no `id` column; select it (e.g. SELECT *, ... FROM docs)")
        if out["id"].is_duplicated().any():
            raise ValueError(
                "the SQL result repeats ids (a join or UNION ALL?); each document may appear once"
            )
        for c in ("id", "source", "domain", "origin", "text"):
            if c in out.columns and out.schema[c] != pl.String:
                raise ValueError(
                    f"the SQL result's `{c}` is {out.schema[c]}, not a string; leave `{c}` as it is"
                )
        new = out.join(df.select("id"), on="id", how="anti")["id"]
        if new.len():
            raise ValueError(
                f"the SQL result has {new.len():,} ids not in the batch (e.g. {new[0]!r}): a query keeps or "
                "drops documents and adds columns, it may not rewrite `id` or add rows"
            )
        # Base columns the query projected away come back from the batch; input order is restored,
        # since SQL promises no row order.
        order = df.select("id").with_row_index("__row")
        missing = [c for c in BASE_SCHEMA if c not in out.columns]
        kept = (
            out.join(df.select("id", *missing), on="id", how="left")
            .join(order, on="id", how="left")
            .sort("__row")
            .drop("__row")
            .with_columns([pl.col(c).cast(t) for c, t in BASE_SCHEMA.items()])
            .with_columns(pl.lit(None, dtype=pl.String).alias(REJECT))
        )
        dropped = df.join(out.select("id"), on="id", how="anti").with_columns(
            pl.lit(self.params.reason).alias(REJECT)
        )
        return pl.concat([kept, dropped], how="diagonal_relaxed")


def build(params: Params, ctx: StepContext) -> Sql:
    return Sql(params)


INFO = StepInfo(name="sql", params=Params, build=build, doc=__doc__ or "", shorthand="query")
