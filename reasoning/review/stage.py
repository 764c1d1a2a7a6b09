"""The `review` stage: turns the review decisions into `review.sft` and `review.pairs` (see `export.py`).

It runs when a training stage reads `review.sft` or `review.pairs`. Its cache key covers the decision log's
fingerprint (count and last id), so a new decision re-runs the export and, through the run graph, every stage
that reads it; unchanged decisions skip it.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from mixloom.layout import RunLayout
from mixloom.stage import Section, Stage

if TYPE_CHECKING:
    from mixloom.recipe import Recipe

REFS = ("review.sft", "review.pairs")


def _data_refs(recipe: Recipe) -> list[str]:
    train = recipe.get("train")
    if train is None:
        return []
    found = []
    for name in ("sft", "rm", "dpo", "grpo"):
        part = getattr(train, name, None)
        ref = getattr(part, "data", None) if part is not None else None
        if isinstance(ref, str):
            found.append(ref)
    return found


class ReviewStage(Stage):
    name = "review"

    def enabled(self, recipe: Recipe) -> bool:
        return recipe.get("generate") is not None and any(r in REFS for r in _data_refs(recipe))

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        from reasoning.review.export import decisions_path
        from reasoning.review.store import read_fingerprint

        return {"decisions": list(read_fingerprint(decisions_path(layout)))}

    def reads(self, recipe: Recipe) -> list[str]:
        return ["generate.samples", "generate.sft", "generate.pairs"]

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        from reasoning.review.export import export

        return export(layout)

    def summary(self, result: dict[str, Any]) -> str:
        s, p = result["sft"], result["pairs"]
        k = result["agreement"]["fleiss"]["kappa"]
        return (
            f"{result['decisions']} decisions on {result['items']['reviewed']} items; "
            f"sft {s['generated']} → {s['rows']} rows, pairs {p['generated']} → {p['rows']} rows; "
            f"Fleiss κ {'n/a' if k is None else f'{k:.2f}'}"
        )

    def report(self, layout: RunLayout) -> list[Section]:
        import json

        path = layout.stage_dir("review") / "manifest.json"
        if not path.exists():
            return []
        m = json.loads(path.read_text())
        rows = [
            ("decisions", m["decisions"]),
            ("items reviewed", f"{m['items']['reviewed']} of {m['items']['total']}"),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(m["outcomes"].items()))),
            (
                "SFT rows",
                f"{m['sft']['generated']} generated → {m['sft']['rows']} after review "
                f"(dropped {m['sft'].get('dropped', 0)}, edited {m['sft'].get('edited', 0)}, "
                f"added {m['sft'].get('added', 0)})",
            ),
            (
                "pairs",
                f"{m['pairs']['generated']} generated → {m['pairs']['rows']} after review "
                f"(flipped {m['pairs'].get('flipped', 0)}, dropped {m['pairs'].get('dropped', 0)}, "
                f"corrections {m['pairs'].get('corrections', 0)})",
            ),
        ]
        for pair, v in m["agreement"]["cohen"].items():
            k = v["kappa"]
            rows.append((f"Cohen's κ {pair}", f"{'n/a' if k is None else f'{k:.3f}'} on {v['items']} items"))
        fk = m["agreement"]["fleiss"]["kappa"]
        rows.append(
            (
                "Fleiss' κ",
                f"{'n/a' if fk is None else f'{fk:.3f}'} on {m['agreement']['fleiss']['items']} items",
            )
        )
        html = "<table>" + "".join(
            f"<tr><th>{escape(str(a))}</th><td>{escape(str(b))}</td></tr>" for a, b in rows
        )
        md = "| | |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
        return [Section("Human review", html=html + "</table>", markdown=md, order=45)]


STAGE = ReviewStage()
