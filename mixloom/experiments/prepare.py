"""Data builders an experiment runs before its variants (`ablate.prepare: {builder: {arguments}}`).

A builder writes files the recipe's sources read; it is skipped when its output records the same arguments
and input checksums, so it costs nothing on a rerun.
"""

from __future__ import annotations

from typing import Any

from mixloom.errors import UserError
from mixloom.recipe import Recipe
from mixloom.registry import Registry

BUILDERS = Registry("data builder", {"noisy_web": "mixloom.experiments.noisy_web:build"})


def run_all(recipe: Recipe, builders: dict[str, dict[str, Any]]) -> None:
    for name, args in builders.items():
        if name not in BUILDERS:
            raise UserError(
                f"{recipe.path}: ablate.prepare.{name}: unknown builder; known: {', '.join(BUILDERS)}"
            )
        BUILDERS.get(name)(recipe, **(args or {}))
