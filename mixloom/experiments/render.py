"""Tables, plots and report sections of ablations and mixture searches (from their results files only)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mixloom.figures import png, pyplot, table
from mixloom.layout import RunLayout
from mixloom.stage import Section


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


# -- ablation --------------------------------------------------------------------------------------------
def ablation_rows(res: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    sets = [*res["sets"], "mean"]
    header = ["rank", "variant", *[f"{s} bpb" for s in sets], f"vs {res['baseline']} (mean)"]
    rows = []
    for i, v in enumerate(res["ranking"], 1):
        cells = [f"{res['table'][v][s]['mean']:.4f} ± {res['table'][v][s]['std']:.4f}" for s in sets]
        vs = res["versus"].get(v, {}).get("mean")
        note = "baseline"
        if vs is not None:
            verdict = f"> {res['noise_k']:g} std" if vs["exceeds_noise"] else f"within {res['noise_k']:g} std"
            note = f"{vs['diff']:+.4f} ({verdict})"
        rows.append([str(i), v, *cells, note])
    return header, rows


def ablation_plot(res: dict[str, Any]) -> bytes:
    plt = pyplot()
    sets, variants = res["sets"], res["ranking"]
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets) + 1, 3.4), squeeze=False)
    for ax, s in zip(axes[0], sets, strict=True):
        means = [res["table"][v][s]["mean"] for v in variants]
        stds = [res["table"][v][s]["std"] for v in variants]
        ax.bar(range(len(variants)), means, yerr=stds, capsize=4, color="#4c72b0")
        for j, v in enumerate(variants):
            xs = [r["bpb"][s]["overall"] for r in res["runs"][v]["seeds"].values()]
            ax.scatter([j] * len(xs), xs, color="black", s=8, zorder=3)
        lo = min(m - sd for m, sd in zip(means, stds, strict=True))
        hi = max(m + sd for m, sd in zip(means, stds, strict=True))
        pad = max(0.02, (hi - lo) * 0.5)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
        ax.set_title(s)
        ax.set_ylabel("bits per byte (lower is better)")
    fig.suptitle(f"held-out bits per byte, mean ± std over {len(res['seeds'])} seeds")
    return png(fig)


def ablation_section(res: dict[str, Any], png: bytes) -> Section:
    header, rows = ablation_rows(res)
    intro = (
        f"Each variant trained the same proxy on {res['budget_tokens']:,} tokens, seeds {res['seeds']}; "
        f"bits per byte on held-out sets (lower is better). A difference is called real when it exceeds "
        f"{res['noise_k']:g} × the larger seed std of the two variants."
    )
    return Section(
        title="Ablation",
        html=f"<p>{html.escape(intro)}</p>{table(rows, header)}<img src='ablate.png' alt='ablation'>",
        markdown=f"{intro}\n\n{md_table(header, rows)}\n",
        order=80,
        figures={"ablate.png": png},
    )


def write_ablation_page(root: Path, res: dict[str, Any]) -> Section:
    png = ablation_plot(res)
    (root / "ablate.png").write_bytes(png)
    sec = ablation_section(res, png)
    _page(root, sec)
    return sec


def _page(root: Path, sec: Section) -> None:
    css = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{border:1px solid #ccc;padding:.2em .5em}"
    (root / "index.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(sec.title)}</title><style>{css}</style>"
        f"<h1>{html.escape(sec.title)}</h1>{sec.html}"
    )


def rich_table(header: list[str], rows: list[list[str]], title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for h in header:
        t.add_column(h)
    for r in rows:
        t.add_row(*r)
    return t


def report_sections(layout: RunLayout) -> list[Section]:
    """Sections for the run report from whatever experiments ran under this run directory."""
    out = []
    res_file = layout.stage_dir("ablate") / "results.json"
    png = layout.stage_dir("ablate") / "ablate.png"
    if res_file.exists() and png.exists():
        out.append(ablation_section(json.loads(res_file.read_text()), png.read_bytes()))
    ms_file = layout.stage_dir("mix-search") / "results.json"
    if ms_file.exists():
        from mixloom.experiments.mixsearch import search_section

        out.append(search_section(layout.stage_dir("mix-search"), json.loads(ms_file.read_text())))
    return out
