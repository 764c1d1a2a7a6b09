"""`mixloom validate`: every check that can run before work starts, for every stage the recipe configures."""

from __future__ import annotations

from typing import Any

from mixloom.graph import build_graph
from mixloom.recipe import Recipe, load_recipe


def validate_recipe(recipe: Recipe) -> dict[str, Any]:
    """Run each configured stage's own checks and derive the run graph (which checks references)."""
    nodes = build_graph(recipe)
    summary: dict[str, Any] = {"name": recipe.name, "stages": [n.name for n in nodes]}
    for node in nodes:
        summary.update(node.stage.validate(recipe) or {})
    return summary


def validate(path: str, overrides: list[str] | None = None) -> tuple[Recipe, dict[str, Any]]:
    """Load the recipe (with `--set key=value` overrides) and validate it; returns it and a summary."""
    recipe = load_recipe(path, overrides)
    ablate = recipe.get("ablate")
    if ablate is not None and ablate.prepare:  # builders make the files the sources read (cheap, cached)
        from mixloom.experiments import prepare

        prepare.run_all(recipe, ablate.prepare)
    return recipe, validate_recipe(recipe)
