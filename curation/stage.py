"""The curation stage as the core runs it: sources (and files that steps read) in, curated/, rejects/, mix/ out."""

from __future__ import annotations

from typing import Any

from mixloom.layout import RunLayout
from mixloom.recipe import Recipe
from mixloom.stage import Section, Stage


class CurateStage(Stage):
    name = "curate"

    def enabled(self, recipe: Recipe) -> bool:
        return bool(recipe.sources)

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        # execution (executor, workers, shard sizes) never changes the outputs, so it is not part of the key
        keys = ["sources", "steps", "mix", "splits", "seed"] + (["augment"] if recipe.get("augment") else [])
        return recipe.section(*keys)

    def validate(self, recipe: Recipe) -> dict[str, Any]:
        from curation.plan import make_plan

        plan = make_plan(recipe)
        return {"sources": {s.name: len(s.files) for s in plan.sources}, "steps": plan.labels}

    def reads(self, recipe: Recipe) -> list[str]:
        from curation.steps.registry import parse_step, step_info

        files = [
            p for s in recipe.sources.values() for p in ([s.path] if isinstance(s.path, str) else s.path)
        ]
        for i, entry in enumerate(recipe.steps):
            name, params = parse_step(entry, i, str(recipe.path))
            info = step_info(name)
            if info.reads is not None:
                files += info.reads(params)
        return files

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        from curation.pipeline import curate

        return curate(recipe, out=layout.root)

    def report(self, layout: RunLayout) -> list[Section]:
        from curation.report import sections

        return sections(layout)

    def summary(self, result: dict[str, Any]) -> str:
        read, steps = result["read"], result["steps"]
        kept = steps[-1]["docs_out"] if steps else read["docs"]
        line = f"{read['records']:,} records → {kept:,} documents kept"
        mix = result.get("mix")
        if mix:
            shares = ", ".join(
                f"{d} {100 * v['achieved_share']:.1f}%" for d, v in mix.get("domains", {}).items()
            )
            line += f"; mix of {mix['achieved_total']:,.0f} {mix['unit']} ({shares})"
        return line


STAGE = CurateStage()
