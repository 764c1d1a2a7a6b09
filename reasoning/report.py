"""The generation stage's report section: pass and solve rates per task, with counts."""

from __future__ import annotations

import html
import json

from mixloom.figures import add_figure, pyplot, table
from mixloom.layout import RunLayout
from mixloom.stage import Section


def sections(layout: RunLayout) -> list[Section]:
    path = layout.generate / "manifest.json"
    if not path.exists():
        return []
    m = json.loads(path.read_text())
    tasks = {k: v for k, v in m.get("tasks", {}).items() if isinstance(v, dict) and "pass_rate" in v}
    if not tasks:
        return []
    s = Section("Generation", order=40)
    rows = [
        [n, t["problems"], t["samples"], f"{100 * t['pass_rate']:.1f}%", f"{100 * t['solve_rate']:.1f}%"]
        for n, t in tasks.items()
    ]
    s.html += table(rows, ["task", "problems", "samples", "samples verified", "problems solved"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.3))
    names = list(tasks)
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [100 * tasks[n]["pass_rate"] for n in names], 0.4, label="samples verified")
    ax.bar([i + 0.2 for i in x], [100 * tasks[n]["solve_rate"] for n in names], 0.4, label="problems solved")
    ax.set_xticks(
        list(x), [f"{n}\n({tasks[n]['samples']} samples, {tasks[n]['problems']} problems)" for n in names]
    )
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title("Generation: verified samples and solved problems per task")
    ax.legend()
    add_figure(s, fig, "generation.png", "Share of samples the verifier accepted, and of problems with one")
    s.html += _examples(layout)
    total = sum(t["samples"] for t in tasks.values())
    passed = sum(t["pass_rate"] * t["samples"] for t in tasks.values())
    s.facts = {"generation pass rate": f"{100 * passed / max(1, total):.1f}% of {total:,} samples"}
    out = m.get("outputs", {})
    s.markdown = "\n".join(
        [
            "## Generated data",
            "",
            "| task | problems | samples | verified | solved |",
            "|---|---|---|---|---|",
            *[f"| {' | '.join(str(c) for c in r)} |" for r in rows],
            "",
            f"SFT rows: {out.get('sft', {}).get('rows', 0)}; preference pairs: {out.get('pairs', {}).get('rows', 0)}.",
            "",
        ]
    )
    return [s]


def _examples(layout: RunLayout, chars: int = 300) -> str:
    """One accepted and one rejected sample per task (with the verifier's reason)."""
    import polars as pl

    files = sorted(layout.ref_path("generate.samples").rglob("*.parquet"))
    if not files:
        return ""
    cols = ["sample_id", "task", "user", "completion", "ok", "reason"]
    df = pl.concat([pl.read_parquet(f, columns=cols) for f in files], how="diagonal_relaxed")
    out = ["<h3>Examples</h3>"]
    for task in sorted(df["task"].unique()):
        for ok in (True, False):
            ex = df.filter((pl.col("task") == task) & (pl.col("ok") == ok)).sort("sample_id").head(1)
            if ex.is_empty():
                continue
            r = ex.row(0, named=True)
            verdict = "accepted" if ok else f"rejected: {r['reason']}"
            out.append(
                f"<p><b>{html.escape(task)}</b> · <code>{html.escape(r['sample_id'])}</code> · "
                f"{html.escape(verdict)}</p><pre>{html.escape((r['completion'] or '')[:chars])}</pre>"
            )
    return "".join(out)
