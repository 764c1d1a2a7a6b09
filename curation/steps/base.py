"""The step contract.

A step gets a batch of documents as a Polars DataFrame (columns `id`, `source`, `domain`, `text`, `tokens`,
`origin`, `meta`, plus score columns added by earlier steps) and returns the batch with its own score columns
added and a reject decision in the column `REJECT` (null = keep, otherwise the reason). Scores are data: the
decision is a cheap rule on them, so a later `sql` or `polars` step can filter on any score.

Two shapes:
- `LocalStep.process(df) -> df` sees one shard at a time.
- `GlobalStep` needs the whole corpus (dedup): `map(df)` runs per shard and returns a small key table that the
  engine writes to disk; `reduce(paths, workdir)` reads those tables and returns the decisions (columns `id`,
  `REJECT` and any extra columns such as `duplicate_of`), written to disk; the next pass over each shard joins
  them in. An executor can distribute the map tasks; `reduce` bounds its own memory (it gets paths, not data).

A `LocalStep` may also have `counts(df) -> dict[str, int]` (e.g. `pii`: matches per type); the engine sums it
over shards into the step's funnel row (`counts` in manifest.json), which stats, the report and the data card show.

Steps are built from their recipe entry by `build(params, ctx)` functions registered in `curation.steps.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import polars as pl

REJECT = "_reject"  # reason a document is rejected (null: kept)
BASE_COLUMNS = ("id", "source", "domain", "text", "tokens", "origin", "meta")
BASE_SCHEMA = {
    "id": pl.String,
    "source": pl.String,
    "domain": pl.String,
    "text": pl.String,
    "tokens": pl.Int64,
    "origin": pl.String,
    "meta": pl.String,
}


@dataclass(frozen=True)
class StepContext:
    """What a step may need besides its params: where the recipe lives, the seed, a scratch dir."""

    root: Path  # recipe base_dir: relative paths in params resolve against it
    seed: int = 0
    index: int = 0  # position of the step in the recipe
    workdir: Path | None = None  # scratch space for this step (global steps)
    run_dir: Path | None = None  # the run directory, to resolve references such as train.quality_model

    def resolve(self, p: str | Path) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.root / p


@runtime_checkable
class LocalStep(Protocol):
    name: str
    modifies_text: bool

    def process(self, df: pl.DataFrame) -> pl.DataFrame: ...


@dataclass
class Reduced:
    """What a corpus-wide step's reduce decides, returned explicitly (never left as files to be found)."""

    decisions: pl.DataFrame  # `id` + decision columns (+ REJECT with the reason), joined onto every shard
    artifacts: dict[str, Path] = field(default_factory=dict)  # files its `apply` needs (e.g. repeated lines)
    report: dict[str, Any] = field(default_factory=dict)  # goes into the manifest under the step's label


class GlobalStep(ABC):
    """A step that needs the whole corpus: `map` per shard → `reduce` once → `apply` per shard.

    The engine joins `Reduced.decisions` onto each shard's documents by id, then calls `apply` with the
    artifacts, so a step that only rejects (dedup) needs no `apply` and one that edits text (line_dedup) has one.
    """

    name: str
    modifies_text: bool = False

    @abstractmethod
    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        """A small key table for this shard (hashes, signatures, n-grams), written beside it."""

    @abstractmethod
    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        """All shards' key tables → decisions per document, artifacts for `apply`, and a report."""

    def apply(self, df: pl.DataFrame, artifacts: dict[str, Path]) -> pl.DataFrame:
        """Change documents after the decisions were joined (default: nothing more)."""
        return df


@dataclass
class StepInfo:
    """Registry entry: how to validate and build a step from its recipe entry."""

    name: str
    params: type  # pydantic model of the params (extra="forbid")
    build: Any  # (params, StepContext) -> LocalStep | GlobalStep
    doc: str = ""
    shorthand: str | None = None  # field a bare scalar maps to, e.g. `sql: "SELECT ..."` -> query
    params_for: Any = (
        None  # optional (raw dict) -> params model, when the model depends on a key (dedup.method)
    )
    reads: Any = None  # optional (params) -> references/paths the step reads (the run graph's inputs)


def reject_where(df: pl.DataFrame, condition: pl.Expr, reason: pl.Expr | str) -> pl.DataFrame:
    """Mark rows matching `condition` as rejected with `reason`, keeping an earlier reason if one is set."""
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    new = pl.when(condition).then(reason_expr).otherwise(pl.lit(None, dtype=pl.String))
    if REJECT in df.columns:
        new = pl.coalesce(pl.col(REJECT), new)
    return df.with_columns(new.alias(REJECT))
