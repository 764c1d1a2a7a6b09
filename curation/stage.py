"""The curation stage as the core runs it: sources (and files that steps read) in, curated/, rejects/, mix/ out."""

from __future__ import annotations

from typing import Any

from curation.tokens import curation_unit
from mixloom.layout import RunLayout
from mixloom.recipe import Recipe
from mixloom.sections.curate import mix_tokenizer
from mixloom.stage import Section, Stage


class CurateStage(Stage):
    name = "curate"
    object_storage = True

    def enabled(self, recipe: Recipe) -> bool:
        return bool(recipe.sources)

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        # execution (executor, workers, shard sizes) never changes the outputs, so it is not part of the key;
        # the mix's tokenizer is, when curation counts `tokens` in it (a tokenizer directory)
        keys = ["sources", "steps", "seed"] + (["augment"] if recipe.get("augment") else [])
        return {**recipe.section(*keys), "tokens_unit": curation_unit(recipe)}

    def validate(self, recipe: Recipe) -> dict[str, Any]:
        from curation.augment.phase import section as augment_section
        from curation.plan import make_plan

        plan = make_plan(recipe)
        augment_section(recipe)  # its sources and label classifiers, before any work
        return {"sources": {s.name: len(s.files) for s in plan.sources}, "steps": plan.labels}

    def reads(self, recipe: Recipe) -> list[str]:
        from curation.augment.phase import label_classifiers
        from curation.steps.registry import parse_step, step_info

        files = [
            p for s in recipe.sources.values() for p in ([s.path] if isinstance(s.path, str) else s.path)
        ]
        for i, entry in enumerate(recipe.steps):
            name, params = parse_step(entry, i, str(recipe.path))
            info = step_info(name)
            if info.reads is not None:
                files += info.reads(params)
        unit = curation_unit(recipe)
        return files + label_classifiers(recipe.get("augment")) + ([unit] if unit != "approx" else [])

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        from curation.pipeline import curate_docs

        return curate_docs(recipe, out=layout.root)

    def report(self, layout: RunLayout) -> list[Section]:
        from curation.report import sections

        return sections(layout)

    def summary(self, result: dict[str, Any]) -> str:
        read, steps = result["read"], result["steps"]
        kept = steps[-1]["docs_out"] if steps else read["docs"]
        return f"{read['records']:,} records → {kept:,} documents kept"


class MixStage(Stage):
    """The curated documents → shares in the unit of `mix.tokenizer` → shuffled splits under mix/."""

    name = "mix"
    object_storage = True

    def enabled(self, recipe: Recipe) -> bool:
        return bool(recipe.sources)

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        keys = ["mix", "splits", "seed"] + (["augment"] if recipe.get("augment") else [])
        ex = recipe.execution  # the part sizes and the file format change the files written
        return {**recipe.section(*keys), "parts": [ex.shard_docs, ex.output_format]}

    def reads(self, recipe: Recipe) -> list[str]:
        unit = mix_tokenizer(recipe)
        return ["curate.curated"] + ([unit] if unit != "approx" else [])

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        from curation.mixing import mix_run

        return mix_run(recipe, layout.root)

    def summary(self, result: dict[str, Any]) -> str:
        mix = result.get("mix")
        if not mix:
            return ", ".join(f"{k} {v['docs']:,}" for k, v in result.get("splits", {}).items())
        shares = ", ".join(f"{d} {100 * v['achieved_share']:.1f}%" for d, v in mix.get("domains", {}).items())
        return f"{mix['achieved_total']:,.0f} {mix.get('unit_label', mix['unit'])} ({shares})"


STAGE = CurateStage()
MIX = MixStage()
