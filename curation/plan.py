"""Plan a curation run before any work: resolve files, check text fields, build and dry-run the steps.

Every user mistake found here is a `RecipeError` naming the recipe, the key and the fix; nothing has been
read or written yet when it is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curation.io.files import expand_paths, infer_format
from curation.io.records import READERS
from curation.io.streams import RawFile
from curation.steps.base import BASE_SCHEMA, REJECT, GlobalStep
from curation.steps.invariants import RULE, identity_problem
from curation.steps.registry import build_steps
from curation.tokens import check_tokenizer, curation_unit
from mixloom.errors import RecipeError
from mixloom.recipe import Recipe

PEEK_RECORDS = 100
PEEK_FILES = 20


@dataclass
class SourceFiles:
    name: str
    fmt: str
    files: list[Path]


@dataclass(frozen=True)
class PlannedStep:
    """A built step with its place in the recipe: what passes carry (and workers receive)."""

    index: int
    name: str  # the recipe key: `dedup`, `sql`, ...
    entry: dict[str, Any]  # the recipe entry (hashed into the pass key)
    step: Any

    @property
    def label(self) -> str:
        """How the manifest and the funnel name the step: `3:dedup.minhash`, `0:normalize`."""
        params = self.entry[self.name]
        if self.name == "dedup" and isinstance(params, dict):
            return f"{self.index}:dedup.{params.get('method', 'exact')}"
        return f"{self.index}:{self.name}"

    @property
    def where(self) -> str:
        return f"steps.{self.index}.{self.name}"

    @property
    def is_global(self) -> bool:
        return isinstance(self.step, GlobalStep)


@dataclass
class Pass:
    """Steps run together over each shard: apply the previous global step, local steps, map a global step."""

    index: int
    apply: PlannedStep | None
    steps: list[PlannedStep]
    map_step: PlannedStep | None


@dataclass
class Plan:
    recipe: Recipe
    sources: list[SourceFiles]
    steps: list[PlannedStep]
    passes: list[Pass]
    tokenizer: str

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.steps]


def _check_source_fields(recipe: Recipe, name: str, fmt: str, files: list[Path]) -> list[dict[str, Any]]:
    """Fail early when the text (or id) field appears in none of the first records of a file.

    Looks at the first `PEEK_FILES` files (a source of 10,000 small files is not read twice); returns the
    records seen in the first readable one, for checking the source's own filters.
    """
    src = recipe.sources[name]
    sample: list[dict[str, Any]] = []
    for f in files[:PEEK_FILES]:
        fields: set[str] = set()
        records: list[dict[str, Any]] = []
        with RawFile(f) as raw:
            for rec in READERS[fmt](raw, encoding=src.encoding, split_on=src.split_on):
                if rec.data is not None:
                    records.append(rec.data)
                    fields.update(rec.data)
                if len(records) >= PEEK_RECORDS:
                    break
        if not records:
            continue  # empty or unreadable: quarantined at read time, with its reason
        sample = sample or records
        if fmt == "text":
            continue
        for key, field in (("text", src.text), ("id", src.id)):
            if field and field not in fields:
                shown = ", ".join(sorted(fields)[:20])
                raise RecipeError(
                    str(recipe.path),
                    f"sources.{name}.{key}",
                    f"field '{field}' is in none of the first {len(records)} records of {f}",
                    f"set sources.{name}.{key} to one of: {shown}",
                )
    return sample


def _make_passes(steps: list[PlannedStep]) -> list[Pass]:
    passes: list[Pass] = []
    apply = None
    cur: list[PlannedStep] = []
    for ps in steps:
        if ps.is_global:
            passes.append(Pass(len(passes), apply, cur, ps))
            apply, cur = ps, []
        else:
            cur.append(ps)
    if cur or apply is not None or not passes:
        passes.append(Pass(len(passes), apply, cur, None))
    return passes


def dry_run(steps: list[PlannedStep], recipe: Recipe) -> None:
    """Run the step chain on an empty batch: catches SQL binder errors and unknown columns before work."""
    df = pl.DataFrame(schema=BASE_SCHEMA)
    for ps in steps:
        step, where = ps.step, ps.where
        try:
            if hasattr(step, "process"):
                out = step.process(df)
                problem = identity_problem(df, out)
                if problem is not None:
                    raise ValueError(f"{problem}; {RULE}")
                df = out.drop(REJECT, strict=False)
            else:
                step.map(df)
        except (ValueError, pl.exceptions.PolarsError) as e:
            raise RecipeError(
                str(recipe.path),
                where,
                str(e).splitlines()[0][:500],
                "columns available here: " + ", ".join(df.columns),
            ) from None


def make_plan(recipe: Recipe, workdir: Path | None = None, run_dir: Path | None = None) -> Plan:
    rpath = str(recipe.path)
    if not recipe.sources:
        raise RecipeError(rpath, "sources", "no sources: curation needs at least one", "see recipes/*.yaml")
    sources = []
    for name, src in recipe.sources.items():
        files = expand_paths(src.path, recipe.root, src.format, rpath, f"sources.{name}.path")
        fmt = src.format or infer_format(files[0])
        if fmt is None:
            raise RecipeError(
                rpath,
                f"sources.{name}.format",
                f"cannot tell the format of {files[0]}",
                "set format: jsonl | json | parquet | csv | text",
            )
        if src.split_on != "none" and fmt != "text":
            raise RecipeError(rpath, f"sources.{name}.split_on", "split_on applies to format: text only")
        sample = _check_source_fields(recipe, name, fmt, files)
        for key, q in (("sql", src.sql), ("polars", src.polars)):
            if q:
                _check_prefilter(rpath, f"sources.{name}.{key}", key, q, sample)
        sources.append(SourceFiles(name, fmt, files))
    try:
        tokenizer = check_tokenizer(curation_unit(recipe), recipe.root)
    except ValueError as e:
        raise RecipeError(rpath, "mix.tokenizer", str(e)) from None
    built = build_steps(recipe.steps, recipe.root, recipe.seed, rpath, workdir, run_dir)
    steps = [
        PlannedStep(i, next(iter(e)), e, s) for i, (e, s) in enumerate(zip(recipe.steps, built, strict=True))
    ]
    dry_run(steps, recipe)
    return Plan(recipe, sources, steps, _make_passes(steps), tokenizer)


def _check_prefilter(rpath: str, where: str, kind: str, q: str, sample: list[dict[str, Any]]) -> None:
    """Parse the source's filter, then run it on the first records: a typo'd column fails here, before work."""
    try:
        raw = pl.from_dicts(sample, infer_schema_length=None, strict=False) if sample else None
        if kind == "sql":
            from curation.steps.sql import check_syntax, run_query, where_to_query

            check_syntax(where_to_query(q))
            if raw is not None:
                run_query(where_to_query(q), raw)
        else:
            from curation.steps.polars_expr import compile_expr

            expr = compile_expr(q)
            if raw is not None:
                raw.filter(expr)
    except (ValueError, pl.exceptions.PolarsError) as e:
        shown = ", ".join(sorted({k for r in sample for k in r})[:20])
        raise RecipeError(
            rpath,
            where,
            str(e).splitlines()[0][:500],
            f"fields of the first records: {shown}" if shown else "",
        ) from None
