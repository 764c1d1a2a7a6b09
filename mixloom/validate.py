"""`mixloom validate`: every check that can run before work starts, for every stage the recipe configures."""

from __future__ import annotations

from typing import Any

from mixloom.graph import build_graph
from mixloom.plugins import STAGES
from mixloom.recipe import Recipe, load_recipe


def validate_recipe(recipe: Recipe) -> dict[str, Any]:
    """Run each configured stage's own checks, then derive the run graph (which checks references): a stage's
    own error names its key and the fix, which a cycle or a missing producer found by the graph cannot."""
    checked: dict[str, Any] = {}
    for _, stage in STAGES.items():
        if stage.enabled(recipe):
            checked.update(stage.validate(recipe) or {})
    nodes = build_graph(recipe)
    return {"name": recipe.name, "stages": [n.name for n in nodes], **checked}


def validate(path: str, overrides: list[str] | None = None) -> tuple[Recipe, dict[str, Any]]:
    """Load the recipe (with `--set key=value` overrides) and validate it; returns it and a summary."""
    recipe = load_recipe(path, overrides)
    ablate = recipe.get("ablate")
    if ablate is not None and ablate.prepare:  # builders make the files the sources read (cheap, cached)
        from mixloom.experiments import prepare

        prepare.run_all(recipe, ablate.prepare)
    return recipe, validate_recipe(recipe)
