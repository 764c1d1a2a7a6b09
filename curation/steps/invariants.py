"""What no step may change: the rows it was given and who they are.

A step keeps or drops documents (a reason in `REJECT`) and adds columns. It may not add, repeat or rename rows,
rewrite `id`, `source` or `origin`, drop a base column or change its type (`text` stays a string). Otherwise a
rewritten id counts a document twice (kept under the new id, rejected under the old), a `UNION ALL` invents
documents, and a constant id multiplies the mix by the join. The engine checks this after every step, on every
shard, and stops the run with an error naming the step.
"""

from __future__ import annotations

import polars as pl

from curation.steps.base import BASE_SCHEMA
from mixloom.errors import UserError

IDENTITY = ("id", "source", "origin")
RULE = "a step may only keep or drop documents and add columns (id, source, origin unchanged; text a string)"


class StepInvariantError(UserError):
    """A step broke the identity of the documents it was given."""


def identity_problem(before: pl.DataFrame, after: pl.DataFrame) -> str | None:
    """The first way `after` (a step's output, with its `REJECT` column) breaks the rules, or None."""
    for col, dtype in BASE_SCHEMA.items():
        if col not in after.columns:
            return f"it dropped the column `{col}`"
        if after.schema[col] != dtype:
            return f"it changed `{col}` from {dtype} to {after.schema[col]}"
    if after.height != before.height:
        return f"it returned {after.height:,} rows for {before.height:,} documents"
    if after.height == 0:
        return None
    b = before.select(IDENTITY).sort("id")
    a = after.select(IDENTITY).sort("id")
    if a.equals(b):
        return None
    dup = after.filter(pl.col("id").is_duplicated())["id"]
    if dup.len():
        return f"it repeats ids (e.g. {dup[0]!r})"
    new = a.join(b, on="id", how="anti")["id"]
    if new.len():
        return f"it rewrote ids ({new.len():,} not in its input, e.g. {new[0]!r})"
    for col in IDENTITY[1:]:
        diff = a.join(b, on="id", suffix="_in").filter(pl.col(col).ne_missing(pl.col(f"{col}_in")))
        if diff.height:
            return f"it rewrote `{col}` of {diff.height:,} documents (e.g. id {diff['id'][0]!r})"
    return "it changed the identity columns"


def check_step(label: str, before: pl.DataFrame, after: pl.DataFrame) -> None:
    problem = identity_problem(before, after)
    if problem is not None:
        raise StepInvariantError(f"step {label}: {problem}; {RULE}")
