"""The audit as report sections (HTML and Markdown) and as a standalone page `report/audit.html`."""

from __future__ import annotations

import base64
import html
import json

from mixloom.layout import RunLayout
from mixloom.stage import Section


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        return "inf" if v == float("inf") else f"{v:.3f}"
    return str(v)


def _html_table(rows: list[dict], cols: list[str]) -> str:
    th = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def md_table(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def group_table(result: dict) -> list[dict]:
    """One row per group: each scorer's FPR, FNR, BPSN AUC side by side."""
    rows: dict[str, dict] = {}
    for name, r in result["scorers"].items():
        for g in r["groups"]:
            row = rows.setdefault(g["group"], {"group": g["group"]})
            row[f"{name} FPR"] = g["fpr"]
            row[f"{name} FNR"] = g["fnr"]
            row[f"{name} BPSN"] = g["bpsn_auc"]
        for g, v in r.get("identity_fpr", {}).items():
            rows.setdefault(g, {"group": g})[f"{name} FPR identity"] = v
    return [rows[k] for k in sorted(rows)]


def sections(layout: RunLayout) -> list[Section]:
    path = layout.stage_dir("audit") / "audit.json"
    if not path.exists():
        return []
    result = json.loads(path.read_text())
    figdir = layout.stage_dir("audit")
    figures = {f: (figdir / f).read_bytes() for f in result["figures"] if (figdir / f).exists()}
    parts_html = ["<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in result["findings"]) + "</ul>"]
    parts_md = ["## Bias audit", "", *[f"- {f}" for f in result["findings"]], ""]
    summary = [
        {
            "scorer": n,
            **{k: r["overall"][k] for k in ("macro_f1", "f1_toxic", "accuracy")},
            "FPR spread": r["fpr_spread"],
            "identity FPR spread": r["identity_fpr_spread"],
        }
        for n, r in result["scorers"].items()
    ]
    cols = ["scorer", "macro_f1", "f1_toxic", "accuracy", "FPR spread", "identity FPR spread"]
    parts_html.append(
        f"<h3>Scorers on the probe ({html.escape(result['probe'])}, {result['probe_size']} texts)</h3>"
    )
    parts_html.append(_html_table(summary, cols))
    parts_md += [
        f"Scorers on the probe `{result['probe']}` ({result['probe_size']} texts), threshold "
        f"{result['threshold']:g}:",
        "",
        md_table(summary, cols),
        "",
    ]
    gt = group_table(result)
    if gt:
        gcols = list(dict.fromkeys(k for r in gt for k in r))
        parts_html += ["<h3>Per group</h3>", _html_table(gt, gcols)]
        parts_md += [
            "Per group (FPR: non-toxic texts flagged; FNR: toxic texts missed; BPSN AUC):",
            "",
            md_table(gt, gcols),
            "",
        ]
    for name, r in result["scorers"].items():
        parts_html += [
            f"<h3>{html.escape(name)}: per functionality</h3>",
            _html_table(r["functionalities"], ["functionality", "label", "n", "flagged", "error_rate"]),
        ]
    rep = result["representation"]
    if rep is not None:
        rcols = ["step", "group", "docs_in", "removed", "rate", "overall_rate", "ratio", "flagged"]
        rows = [r for r in rep["removal"] if r["removed"] or r["flagged"]]
        parts_html += [
            "<h3>Removal rate per step and group</h3>",
            f"<p>{rep['documents']} documents, {rep['with_mentions']} mention a group.</p>",
            _html_table(rep["removal"], rcols),
        ]
        parts_md += ["Removal per step and group (rows with removals):", "", md_table(rows, rcols), ""]
        ment = [
            r
            for r in rep["mentions"]
            if r["stage"] in ("input", f"after {rep['steps'][-1]}" if rep["steps"] else "input")
        ]
        mcols = ["stage", "domain", "source", "group", "mentions", "per_million_words"]
        parts_html += ["<h3>Mentions per million words (input and output)</h3>", _html_table(ment, mcols)]
    for fname in figures:
        parts_html.append(
            f'<figure><img src="{fname}" alt="{fname}"><figcaption>{fname}</figcaption></figure>'
        )
    out = [
        Section(
            title="Bias audit",
            html="".join(parts_html),
            markdown="\n".join(parts_md),
            order=60,
            figures=figures,
        )
    ]
    if "mixloom" in result["scorers"]:  # the model card of the audited default backend
        from curation.toxicity_model.card import card_section

        out.append(card_section())
    return out


def write_page(layout: RunLayout) -> tuple:
    """`report/audit.html`: the audit sections on one self-contained page (figures embedded); and the
    Markdown findings beside the audit's data, `audit/findings.md`."""
    secs = sections(layout)
    body = []
    for s in secs:
        h = s.html
        for fname, png in s.figures.items():
            h = h.replace(f'src="{fname}"', f'src="data:image/png;base64,{base64.b64encode(png).decode()}"')
        body.append(f"<h2>{html.escape(s.title)}</h2>{h}")
    css = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
        "margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.85em}th{background:#f4f4f4}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mixloom bias audit</title><style>{css}"
        f"</style></head><body><h1>Bias audit: {html.escape(layout.root.name)}</h1>{''.join(body)}</body></html>"
    )
    layout.report_dir.mkdir(parents=True, exist_ok=True)
    out = layout.report_dir / "audit.html"
    out.write_text(page, encoding="utf-8")
    md = layout.stage_dir("audit") / "findings.md"
    md.write_text("\n\n".join(s.markdown for s in secs), encoding="utf-8")
    return out, md
