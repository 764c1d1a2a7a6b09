"""The report and data-card section for augmentation, from the curation manifest's `augment` entry.

The curate stage's `report(layout)` adds it (one call) once the stage exists as a `Stage` object."""

from __future__ import annotations

from html import escape
from typing import Any

from mixloom.stage import Section


def augment_sections(manifest: dict[str, Any]) -> list[Section]:
    aug = manifest.get("augment")
    if not aug:
        return []
    rows = [
        (m, v["created"], v.get("passed_filter", v["created"]), v["kept"]) for m, v in aug["methods"].items()
    ]
    shares = [
        (d, v.get("augmented_share", 0.0), v.get("max_augmented_share", 0.0)) for d, v in aug["mix"].items()
    ]
    head = "<tr><th>method</th><th>copies made</th><th>passed the meaning filter</th><th>kept after all steps</th></tr>"
    html = (
        "<table>"
        + head
        + "".join(
            f"<tr><td>{escape(m)}</td><td>{a:,}</td><td>{b:,}</td><td>{c:,}</td></tr>" for m, a, b, c in rows
        )
    )
    html += (
        "</table><table><tr><th>domain</th><th>augmented share of the mix</th><th>cap</th></tr>"
        + "".join(
            f"<tr><td>{escape(d)}</td><td>{100 * s:.1f}%</td><td>{100 * c:.1f}%</td></tr>"
            for d, s, c in shares
        )
    )
    md = "| method | copies made | passed the meaning filter | kept after all steps |\n|---|---|---|---|\n"
    md += "".join(f"| {m} | {a:,} | {b:,} | {c:,} |\n" for m, a, b, c in rows)
    md += "\n| domain | augmented share of the mix | cap |\n|---|---|---|\n"
    md += "".join(f"| {d} | {100 * s:.1f}% | {100 * c:.1f}% |\n" for d, s, c in shares)
    return [Section("Augmentation", html=html + "</table>", markdown=md, order=25)]
