"""A data card (Markdown) per run: sources and licences, filters and thresholds, counts, mix, limitations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def data_card(run: Path) -> str:
    m: dict[str, Any] = json.loads((run / "manifest.json").read_text())
    section = m["recipe"]["section"]
    lines = [
        f"# Data card: {m['recipe']['name']}",
        "",
        f"Recipe `{m['recipe']['path']}` (hash `{m['recipe']['hash']}`), seed {m['seed']}, "
        f"mixloom {m['code_version']}. Token counts: {m['tokenizer']}.",
        "",
        "## Sources",
        "",
        "| source | domain | files | bytes | licence |",
        "|---|---|---|---|---|",
    ]
    for name, src in section["sources"].items():
        files = [i for i in m["inputs"] if i["source"] == name]
        lic = src.get("licence") or "not stated (add `licence:` to the source in the recipe)"
        lines.append(
            f"| {name} | {src['domain']} | {len(files)} | {sum(i['bytes'] for i in files):,} | {lic} |"
        )
    lines += [
        "",
        "## Filters and thresholds",
        "",
        "```yaml",
        yaml.safe_dump(section["steps"], sort_keys=False).strip(),
        "```",
        "",
        "## Counts",
        "",
        "| step | docs in | docs out | rejected (top reasons) |",
        "|---|---|---|---|",
        f"| read | {m['read']['records']:,} | {m['read']['docs']:,} | "
        + ", ".join(f"{k} {v:,}" for k, v in m["read"]["reasons"].items())
        + " |",
    ]
    for r in m["steps"]:
        top = sorted(r.get("reasons", {}).items(), key=lambda kv: -kv[1])[:4]
        lines.append(
            f"| {r['step']} | {r.get('docs_in', 0):,} | {r.get('docs_out', 0):,} | "
            + ", ".join(f"{k} {v:,}" for k, v in top)
            + " |"
        )
    lines += [
        "",
        f"Kept {m['curated']['docs']:,} documents; rejected {m['rejected']:,} (all in `rejects/` with "
        "step and reason).",
        "",
    ]
    if m.get("mix"):
        mix = m["mix"]
        lines += [
            "## Mix",
            "",
            f"Budget {mix['budget']:,.0f} {mix.get('unit_label', mix['unit'])}"
            + (f" ({mix['tokenizer']['describe']})." if isinstance(mix.get("tokenizer"), dict) else "."),
            "",
            "| domain | target | achieved |",
            "|---|---|---|",
        ]
        lines += [
            f"| {d} | {100 * r['target_share']:.2f}% | {100 * r['achieved_share']:.2f}% |"
            for d, r in mix["domains"].items()
        ]
        lines += ["", "| source | epochs | max epochs |", "|---|---|---|"]
        lines += [f"| {s} | {r['epochs']:.2f} | {r['max_epochs']:g} |" for s, r in mix["sources"].items()]
        lines.append("")
    lines += ["## Splits", "", "| split | rows | unique docs | tokens |", "|---|---|---|---|"]
    lines += [
        f"| {s} | {v['docs']:,} | {v['unique_docs']:,} | {v['tokens']:,} |" for s, v in m["splits"].items()
    ]
    lines += ["", "## Known limitations", ""]
    limits = ["Heuristic filters (quality, language, toxicity) make errors both ways; inspect `rejects/`."]
    if m.get("mix"):
        rep = [s for s, r in m["mix"]["sources"].items() if r["epochs"] > 1]
        if rep:
            limits.append(
                f"Sources repeated more than once to reach their share: {', '.join(rep)} "
                "(repetition beyond ~4 epochs adds little)."
            )
        if m["mix"].get("shortfall"):
            limits.append(f"Targets not met within max_epochs: {', '.join(m['mix']['shortfall'])}.")
    if m["tokenizer"].startswith("approx"):
        limits.append("Token counts are approximate (words and punctuation), not a model tokenizer's.")
    lines += [f"- {x}" for x in limits]
    return "\n".join(lines) + "\n"


def write_data_card(run: Path) -> Path:
    path = Path(run) / "DATACARD.md"
    path.write_text(data_card(Path(run)))
    return path
