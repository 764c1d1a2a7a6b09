"""The `audit` stage: runs after curation when the recipe has an `audit:` section."""

from __future__ import annotations

from typing import Any

from curation.audit.page import sections, write_page
from curation.audit.probe import BUILTIN
from curation.audit.run import AuditSection, run_audit
from mixloom.errors import RecipeError
from mixloom.layout import RunLayout
from mixloom.recipe import Recipe
from mixloom.stage import Section, Stage


class AuditStage(Stage):
    name = "audit"

    def validate(self, recipe: Recipe) -> None:
        sec: AuditSection = recipe.get("audit")
        if sec.probe != BUILTIN and not recipe.resolve(sec.probe).is_file():
            raise RecipeError(
                str(recipe.path),
                "audit.probe",
                f"{recipe.resolve(sec.probe)} does not exist",
                "give a HateCheck-style CSV (e.g. test_suite_cases.csv) or 'builtin'",
            )

    def reads(self, recipe: Recipe) -> list[str]:
        sec: AuditSection = recipe.get("audit")
        refs = ["curate.curated", "curate.rejects"]
        return refs + ([sec.probe] if sec.probe != BUILTIN else [])

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        result = run_audit(layout, recipe.get("audit"), recipe.root, recipe.seed)
        write_page(layout)
        return {"findings": result["findings"], "scorers": list(result["scorers"])}

    def report(self, layout: RunLayout) -> list[Section]:
        return sections(layout)

    def summary(self, result: dict[str, Any]) -> str:
        return f"{len(result.get('findings', []))} findings; scorers {', '.join(result.get('scorers', []))}"


STAGE = AuditStage()
