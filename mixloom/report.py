"""`mixloom report RUN`: one self-contained HTML page (figures embedded) plus the same figures as PNG files.

The page is assembled from the sections each registered stage returns (`Stage.report(layout)`), ordered by
their `order`, under a summary of the key results (`Section.facts`) and the stage timings. It reads only what
the stages wrote, so it works on a partial run: a stage with no outputs adds nothing.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from mixloom.layout import RunLayout
from mixloom.plugins import STAGES
from mixloom.stage import Section

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}figure{display:inline-block;margin:.5em}
figcaption{font-size:.85em;color:#555}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;
padding:.25em .6em;font-size:.9em;text-align:left}th{background:#f4f4f4}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.4em}img{max-width:100%}
li{word-break:break-word}.summary{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em}
.summary table,.summary th,.summary td{border:none;background:none;font-size:1em}.summary th{padding-right:2em}"""


def collect(layout: RunLayout) -> list[Section]:
    """Every registered stage's sections for this run, in report order, then the run's settings."""
    from mixloom.experiments.render import report_sections as experiment_sections

    out: list[Section] = []
    for _, stage in STAGES.items():
        out += stage.report(layout)
    out += experiment_sections(layout)  # `mixloom ablate` and `mix-search` results under this run directory
    return sorted(out, key=lambda s: s.order) + [run_info(layout)]


def run_info(layout: RunLayout) -> Section:
    """Recipe, versions, machine and timings: what a person needs to reproduce or compare the run."""
    import os
    import platform

    from mixloom.figures import table

    s = Section("Run settings", order=100)
    rows = [
        ["machine", f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"]
    ]
    rows.append(["python", platform.python_version()])
    if layout.manifest.exists():
        m = json.loads(layout.manifest.read_text())
        rows += [["code", m.get("code_version", "")], ["seed", str(m.get("seed", ""))]]
        rows += [[k, v] for k, v in m.get("packages", {}).items() if v != "absent"]
    if layout.state.exists():
        state = json.loads(layout.state.read_text())
        rows += [
            [f"time: {k}", f"{v['seconds']:.1f} s"]
            for k, v in state.items()
            if isinstance(v, dict) and "seconds" in v
        ]
    s.html = table(rows, ["setting", "value"])
    if layout.manifest.exists():
        import yaml

        recipe = json.loads(layout.manifest.read_text()).get("recipe", {})
        if recipe.get("section"):
            dumped = yaml.safe_dump(recipe["section"], sort_keys=False)
            s.html += f"<details><summary>Recipe (curation sections)</summary><pre>{html.escape(dumped)}</pre></details>"
    return s


def run_name(layout: RunLayout) -> str:
    if layout.manifest.exists():
        return json.loads(layout.manifest.read_text()).get("recipe", {}).get("name", layout.root.name)
    return layout.root.name


def summary_html(layout: RunLayout, sections: list[Section]) -> str:
    facts = {k: v for s in sections for k, v in s.facts.items()}
    if layout.state.exists():
        state = json.loads(layout.state.read_text())
        times = {k: v["seconds"] for k, v in state.items() if isinstance(v, dict) and "seconds" in v}
        if times:
            facts["time"] = (
                f"{sum(times.values()):.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()) + ")"
            )
    if not facts:
        return ""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts.items())
    return f'<section class="summary" id="summary"><h2>Summary</h2><table>{rows}</table></section>'


def build_report(run: Path, out: Path | None = None) -> Path:
    """Write `RUN/report/index.html` (self-contained) and the figures as PNG beside it."""
    layout = RunLayout(Path(run))
    out = Path(out) if out else layout.report_dir
    out.mkdir(parents=True, exist_ok=True)
    sections = collect(layout)
    body = []
    for s in sections:
        for name, data in s.figures.items():
            (out / name).write_bytes(data)
        if s.html:
            body.append(f"<h2>{html.escape(s.title)}</h2>{s.html}")
    name = run_name(layout)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mixloom report: {html.escape(name)}</title>"
        f"<style>{CSS}</style></head><body><h1>mixloom report: {html.escape(name)}</h1>"
        f"<p>Run directory: <code>{html.escape(str(layout.root))}</code></p>"
        f"{summary_html(layout, sections)}{''.join(body)}</body></html>"
    )
    index = out / "index.html"
    index.write_text(page)
    return index


def data_card(run: Path) -> str:
    """The run's data card (Markdown): a header, then each stage's data-card text."""
    layout = RunLayout(Path(run))
    lines = [f"# Data card: {run_name(layout)}", ""]
    if layout.manifest.exists():
        m = json.loads(layout.manifest.read_text())
        mix_tok = ((m.get("mix") or {}).get("tokenizer") or {}).get("describe")
        counts = f"mix in {mix_tok}" if mix_tok and mix_tok != m["tokenizer"] else m["tokenizer"]
        lines += [
            f"Recipe `{m['recipe']['path']}` (hash `{m['recipe']['hash']}`), seed {m['seed']}, "
            f"mixloom {m['code_version']}. Token counts: {counts}.",
            "",
        ]
    lines += [s.markdown for s in collect(layout) if s.markdown]
    return "\n".join(lines).rstrip() + "\n"


def write_data_card(run: Path) -> Path:
    from mixloom.manifest import write_text_atomic

    path = RunLayout(Path(run)).datacard
    write_text_atomic(path, data_card(Path(run)))
    return path
