"""`mixloom validate`: every check that can run before work starts, for every stage the recipe has."""

from __future__ import annotations

import importlib
from typing import Any

from mixloom.recipe import Recipe, load_recipe


def validate(path: str) -> tuple[Recipe, dict[str, Any]]:
    """Load the recipe and run each stage's own checks; returns the recipe and a summary of what was checked."""
    recipe = load_recipe(path)
    summary: dict[str, Any] = {"name": recipe.name}
    ablate = recipe.get("ablate")
    if ablate is not None and ablate.prepare:  # builders make the files the sources read (cheap, cached)
        from mixloom.experiments import prepare

        prepare.run_all(recipe, ablate.prepare)
    if recipe.sources:
        from curation.plan import make_plan

        plan = make_plan(recipe)
        summary["sources"] = {s.name: len(s.files) for s in plan.sources}
        summary["steps"] = plan.labels
    for section, module in (("generate", "reasoning"), ("train", "training")):
        if getattr(recipe, section) is not None:
            mod = importlib.import_module(module)
            if hasattr(mod, "check"):
                mod.check(recipe)
            summary[section] = "ok"
    return recipe, summary
