"""The generation stage as the core runs it: seed files (and a local model) in, generate/ out."""

from __future__ import annotations

from typing import Any

from mixloom.layout import RunLayout
from mixloom.recipe import Recipe
from mixloom.stage import Section, Stage


class GenerateStage(Stage):
    name = "generate"

    def validate(self, recipe: Recipe) -> None:
        from reasoning.checks import check_recipe

        check_recipe(recipe)

    def reads(self, recipe: Recipe) -> list[str]:
        gen = recipe.generate
        files = [t.seeds for t in gen.tasks if t.seeds]
        if gen.engine.kind != "openai" and gen.engine.model != "tiny":
            files.append(gen.engine.model)  # a local model directory: its files are checksummed
        return files

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        import reasoning

        return reasoning.run(recipe, layout.root)  # library output to generate/output.log

    def report(self, layout: RunLayout) -> list[Section]:
        from reasoning.report import sections

        return sections(layout)

    def summary(self, result: dict[str, Any]) -> str:
        parts = [
            f"{name} pass {100 * t['pass_rate']:.0f}% solved {100 * t['solve_rate']:.0f}%"
            for name, t in result.get("tasks", {}).items()
        ]
        out = result.get("outputs", {})
        if out:
            parts.append(f"{out['sft']['rows']} SFT rows, {out['pairs']['rows']} pairs")
        return "; ".join(parts)


STAGE = GenerateStage()
