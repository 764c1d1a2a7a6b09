"""Step names → their modules; validation of recipe step entries; building steps.

Step modules are imported on first use so that a recipe without `toxicity` never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ValidationError

from curation.steps.base import StepContext, StepInfo
from mixloom.errors import RecipeError
from mixloom.registry import Registry

STEPS = Registry(
    "step",
    {
        "normalize": "curation.steps.normalize:INFO",
        "sql": "curation.steps.sql:INFO",
        "polars": "curation.steps.polars_expr:INFO",
        "quality": "curation.steps.quality:INFO",
        "language": "curation.steps.language:INFO",
        "dedup": "curation.steps.dedup:INFO",
        "line_dedup": "curation.steps.line_dedup:INFO",
        "toxicity": "curation.steps.toxicity:INFO",
        "decontaminate": "curation.steps.decontaminate:INFO",
        "pii": "curation.steps.pii:INFO",
        "quality_model": "curation.steps.quality_model:INFO",
    },
)


def step_info(name: str) -> StepInfo:
    return STEPS.get(name)


class ApplyTo(BaseModel):
    """`apply_to:` in any local step's params: run the step only on these sources or domains."""

    model_config = {"extra": "forbid"}
    sources: list[str] = []
    domains: list[str] = []


@dataclass
class Scoped:
    """A local step restricted to some sources/domains; other documents pass through untouched."""

    step: Any
    scope: ApplyTo

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def modifies_text(self) -> bool:
        return self.step.modifies_text

    def counts(self, df: pl.DataFrame) -> dict[str, int]:
        """The wrapped step's own counts (if it reports any); rows outside the scope hold nulls."""
        return self.step.counts(df) if hasattr(self.step, "counts") else {}

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        mask = pl.col("source").is_in(self.scope.sources) | pl.col("domain").is_in(self.scope.domains)
        df = df.with_row_index("__pos")
        inside = self.step.process(df.filter(mask))
        return pl.concat([inside, df.filter(~mask)], how="diagonal_relaxed").sort("__pos").drop("__pos")


def split_apply_to(entry: dict[str, Any], index: int, recipe: str) -> tuple[dict[str, Any], ApplyTo | None]:
    ((name, raw),) = entry.items()
    if not isinstance(raw, dict) or "apply_to" not in raw:
        return entry, None
    raw = dict(raw)
    try:
        scope = ApplyTo.model_validate(raw.pop("apply_to"))
    except ValidationError as e:
        raise RecipeError(
            recipe,
            f"steps.{index}.{name}.apply_to",
            e.errors()[0]["msg"],
            "write apply_to: {sources: [name, ...]} or {domains: [name, ...]}",
        ) from None
    return {name: raw}, scope


def parse_step(entry: dict[str, Any], index: int, recipe: str) -> tuple[str, BaseModel]:
    """Validate one recipe step entry `{name: params}`; errors name `steps.<i>.<name>.<key>`."""
    entry, _ = split_apply_to(entry, index, recipe)
    ((name, raw),) = entry.items()
    where = f"steps.{index}.{name}"
    if name not in STEPS:
        raise RecipeError(recipe, where, f"unknown step '{name}'", f"use one of: {', '.join(sorted(STEPS))}")
    info = step_info(name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        if info.shorthand is None:
            raise RecipeError(recipe, where, "expected a mapping of parameters", f"write `{name}: {{...}}`")
        raw = {info.shorthand: raw}
    model = info.params_for(raw) if info.params_for else info.params
    try:
        return name, model.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                fields = ", ".join(model.model_fields)
                msg = f"unknown parameter (known: {fields})"
            problems.append(f"{where}.{key}: {msg}" if key else f"{where}: {msg}")
        raise RecipeError(recipe, where, "; ".join(problems)) from None


def build_steps(
    entries: list[dict[str, Any]],
    root: Path,
    seed: int,
    recipe: str,
    workdir: Path | None = None,
    run_dir: Path | None = None,
) -> list:
    """Recipe entries → step objects, in order. Raises RecipeError for the first bad entry."""
    steps = []
    for i, entry in enumerate(entries):
        _, scope = split_apply_to(entry, i, recipe)
        name, params = parse_step(entry, i, recipe)
        ctx = StepContext(
            root=root,
            seed=seed,
            index=i,
            workdir=(workdir / f"step{i:02d}") if workdir else None,
            run_dir=run_dir,
        )
        try:
            step = step_info(name).build(params, ctx)
        except RecipeError:
            raise
        except ValueError as e:  # a build-time check on params (bad expression, missing file)
            raise RecipeError(recipe, f"steps.{i}.{name}", str(e)) from None
        if scope is not None:
            if not hasattr(step, "process"):
                raise RecipeError(
                    recipe,
                    f"steps.{i}.{name}.apply_to",
                    "apply_to works on per-document steps, not on corpus-wide ones like dedup",
                )
            step = Scoped(step, scope)
        steps.append(step)
    return steps
