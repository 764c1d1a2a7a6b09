"""`mixloom report DIR`: one self-contained HTML page (figures embedded) plus the same figures as PNG files.

Reads only what the stages wrote (manifests, Parquet, logs), so it works on a partial run: sections whose
files are missing are left out.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

Figure = tuple[str, str, Path]  # (section title, caption, png path)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _json(p: Path) -> dict[str, Any] | None:
    return json.loads(p.read_text()) if p.exists() else None


def _scan(files: list[Path]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(str(f)) for f in files], how="diagonal_relaxed")


def fig_funnel(run: Path, m: dict, out: Path) -> list[Figure]:
    plt = _plt()
    rows = [("read", m["read"]["records"], m["read"]["docs"])] + [
        (r["step"], r.get("docs_in", 0), r.get("docs_out", 0)) for r in m["steps"]
    ]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    names = [r[0] for r in rows]
    ax.bar(names, [r[2] for r in rows], color="#3b7dd8", label="kept")
    ax.bar(names, [r[1] - r[2] for r in rows], bottom=[r[2] for r in rows], color="#e07a5f", label="rejected")
    ax.set_ylabel("documents")
    ax.set_title("Step funnel: documents kept and rejected at each step")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return [("Curation", "Documents in and out of each step", _save(fig, out / "funnel.png"))]


def fig_mix(run: Path, m: dict, out: Path) -> list[Figure]:
    mix = m.get("mix")
    if not mix:
        return []
    plt = _plt()
    doms = list(mix["domains"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(doms))
    ax.bar([i - 0.2 for i in x], [100 * mix["domains"][d]["target_share"] for d in doms], 0.4, label="target")
    ax.bar(
        [i + 0.2 for i in x], [100 * mix["domains"][d]["achieved_share"] for d in doms], 0.4, label="achieved"
    )
    ax.set_xticks(list(x), doms)
    ax.set_ylabel(f"share of {mix.get('unit_label', mix['unit'])} (%)")
    ax.set_title("Domain mix: target vs achieved")
    ax.legend()
    return [("Mix", "Share per domain, target vs achieved", _save(fig, out / "mix.png"))]


def _scores(run: Path) -> pl.DataFrame:
    """Score columns of kept documents plus those of rejected ones (stored as JSON in `details`)."""
    kept = _scan(sorted((run / "curated").glob("*.parquet")))
    rej = _scan(sorted((run / "rejects").glob("*.parquet")))
    frames = []
    if kept.height:
        frames.append(kept.drop("text", "meta", strict=False).with_columns(pl.lit("kept").alias("status")))
    if rej.height and rej["details"].drop_nulls().len():
        det = rej.filter(pl.col("details").is_not_null() & pl.col("details").str.starts_with("{"))
        if det.height:
            parsed = pl.from_dicts(
                [json.loads(d) for d in det["details"]], infer_schema_length=None, strict=False
            )
            frames.append(
                pl.concat([det.select("id", "step", "reason"), parsed], how="horizontal").with_columns(
                    pl.lit("rejected").alias("status")
                )
            )
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def fig_scores(run: Path, m: dict, out: Path) -> list[Figure]:
    plt = _plt()
    df = _scores(run)
    figs: list[Figure] = []
    if df.is_empty():
        return figs
    for col, title in (("quality_score", "Quality score"), ("lang_score", "Language score")):
        if col in df.columns and df[col].drop_nulls().len():
            fig, ax = plt.subplots(figsize=(6, 3.3))
            for status, color in (("kept", "#3b7dd8"), ("rejected", "#e07a5f")):
                vals = df.filter(pl.col("status") == status)[col].drop_nulls().cast(pl.Float64).to_list()
                if vals:
                    ax.hist(vals, bins=30, alpha=0.7, label=status, color=color)
            ax.set_title(f"{title} distribution")
            ax.legend()
            figs.append(("Scores", f"{title} of kept and rejected documents", _save(fig, out / f"{col}.png")))
    tox = [c for c in df.columns if c.startswith(("tox_", "toxicity")) and df[c].dtype.is_numeric()]
    if tox:
        fig, ax = plt.subplots(figsize=(6, 3.3))
        for c in tox[:6]:
            ax.hist(df[c].drop_nulls().to_list(), bins=30, alpha=0.5, label=c)
        ax.set_yscale("log")
        ax.set_title("Toxicity scores")
        ax.legend()
        figs.append(("Scores", "Toxicity scores (all labels)", _save(fig, out / "toxicity.png")))
    if "lang" in df.columns:
        counts = (
            df.filter(pl.col("lang").is_not_null())
            .group_by("lang")
            .len()
            .sort("len", descending=True)
            .head(15)
        )
        fig, ax = plt.subplots(figsize=(6, 3.3))
        ax.bar(counts["lang"].to_list(), counts["len"].to_list(), color="#81b29a")
        ax.set_yscale("log")
        ax.set_title("Detected languages (documents)")
        figs.append(("Scores", "Language distribution", _save(fig, out / "languages.png")))
    if "cluster_id" in df.columns:
        sizes = df.filter(pl.col("cluster_id").is_not_null()).group_by("cluster_id").len()["len"] + 1
        if sizes.len():
            fig, ax = plt.subplots(figsize=(6, 3.3))
            ax.hist(sizes.to_list(), bins=range(2, int(sizes.max()) + 2), color="#f2cc8f", edgecolor="#555")
            ax.set_yscale("log")
            ax.set_xlabel("documents per duplicate cluster")
            ax.set_title("Dedup cluster sizes")
            figs.append(
                ("Dedup", "Size of each duplicate cluster (kept + removed)", _save(fig, out / "dedup.png"))
            )
    return figs


def fig_generation(run: Path, out: Path) -> list[Figure]:
    m = _json(run / "generate" / "manifest.json")
    tasks = {k: v for k, v in (m or {}).get("tasks", {}).items() if isinstance(v, dict) and "pass_rate" in v}
    if not tasks:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.3))
    names = list(tasks)
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [100 * tasks[n]["pass_rate"] for n in names], 0.4, label="samples verified")
    ax.bar([i + 0.2 for i in x], [100 * tasks[n]["solve_rate"] for n in names], 0.4, label="problems solved")
    ax.set_xticks(list(x), names)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title("Generation: verified samples and solved problems per task")
    ax.legend()
    caption = "Share of model samples the verifier accepted, and of problems with at least one"
    return [("Generation", caption, _save(fig, out / "generation.png"))]


def _headline(r: dict[str, Any]) -> str:
    """One readable line for an evaluation result: its numbers, nested ones flattened."""
    parts = []
    for k, v in r.items():
        if k in ("metric", "data", "model", "seconds", "window", "stride"):
            continue
        if isinstance(v, dict):
            inner = []
            for dk, dv in v.items():
                val = dv.get("ppl", dv.get("value")) if isinstance(dv, dict) else dv
                inner.append(f"{dk} {val:.4g}" if isinstance(val, float) else f"{dk} {val}")
            parts.append(f"{k}: " + ", ".join(inner))
        else:
            parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return "; ".join(parts)


def fig_training(run: Path, out: Path) -> list[Figure]:
    figs: list[Figure] = []
    for log in sorted((run / "train").glob("*/log.jsonl")):
        recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        train = [(r["step"], r["loss"]) for r in recs if "loss" in r]
        evals = [r for r in recs if any(k.startswith(("val", "eval")) for k in r)]
        if not train:
            continue
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.plot(*zip(*train, strict=True), label="train loss", color="#3b7dd8")
        keys = sorted(
            {k for r in evals for k, v in r.items() if k.startswith(("val", "eval")) and isinstance(v, dict)}
        )
        for k in keys:
            for dom in sorted({d for r in evals for d in r.get(k, {})}):
                pts = [
                    (r["step"], r[k][dom].get("loss") if isinstance(r[k][dom], dict) else r[k][dom])
                    for r in evals
                    if dom in r.get(k, {})
                ]
                pts = [p for p in pts if p[1] is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker="o", label=f"{k} {dom}")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"Training: {log.parent.name}")
        ax.legend(fontsize=7)
        figs.append(
            (
                "Training",
                f"Loss curves of train.{log.parent.name}",
                _save(fig, out / f"loss_{log.parent.name}.png"),
            )
        )
    return figs


def _table(rows: list[list[Any]], header: list[str]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def tables(run: Path, m: dict | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if m:
        rows = [
            [
                "read",
                m["read"]["records"],
                m["read"]["docs"],
                "",
                ", ".join(f"{k}: {v}" for k, v in m["read"]["reasons"].items()),
            ]
        ]
        for r in m["steps"]:
            rows.append(
                [
                    r["step"],
                    r.get("docs_in", ""),
                    r.get("docs_out", ""),
                    r.get("tokens_out", ""),
                    ", ".join(
                        f"{k}: {v}" for k, v in sorted(r.get("reasons", {}).items(), key=lambda x: -x[1])
                    ),
                ]
            )
        out.append(
            ("Curation", _table(rows, ["step", "docs in", "docs out", "tokens out", "reject reasons"]))
        )
        if m.get("mix"):
            mix = m["mix"]
            rows = [
                [
                    d,
                    f"{100 * r['target_share']:.2f}%",
                    f"{100 * r['achieved_share']:.2f}%",
                    f"{r['achieved']:,.0f}",
                ]
                for d, r in mix["domains"].items()
            ]
            unit = mix.get("unit_label", mix["unit"])
            out.append(("Mix", _table(rows, ["domain", "target", "achieved", f"{unit}"])))
    ev = _json(run / "train" / "eval" / "results.json")
    if ev:
        rows = [
            [r.get("metric"), r.get("data"), Path(str(r.get("model", ""))).parent.name, _headline(r)]
            for r in (ev if isinstance(ev, list) else [ev])
        ]
        out.append(("Evaluation", _table(rows, ["metric", "data", "model", "result"])))
    pre = _json(run / "train" / "pretrain" / "manifest.json")
    if pre and isinstance(pre.get("results", {}).get("validation"), dict):
        rows = [
            [d, f"{v.get('ppl', float('nan')):.2f}", f"{v.get('unigram_ppl', float('nan')):.2f}"]
            for d, v in pre["results"]["validation"].items()
        ]
        out.append(("Training", _table(rows, ["validation split", "perplexity", "unigram baseline"])))
    return out


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}figure{display:inline-block;margin:.5em}
figcaption{font-size:.85em;color:#555}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;
padding:.25em .6em;font-size:.9em;text-align:left}th{background:#f4f4f4}"""


def build_report(run: Path, out: Path | None = None) -> Path:
    """Write `run/report/index.html` (self-contained) and the figures as PNG beside it."""
    run = Path(run)
    out = Path(out) if out else run / "report"
    out.mkdir(parents=True, exist_ok=True)
    m = _json(run / "manifest.json")
    m = m if m and m.get("stage") == "curate" else None
    builders: list[Callable[[], list[Figure]]] = []
    if m:
        builders += [
            lambda: fig_funnel(run, m, out),
            lambda: fig_mix(run, m, out),
            lambda: fig_scores(run, m, out),
        ]
    builders += [lambda: fig_generation(run, out), lambda: fig_training(run, out)]
    figures = [f for b in builders for f in b()]
    sections: dict[str, list[str]] = {}
    for title, body in tables(run, m):
        sections.setdefault(title, []).append(body)
    for title, caption, png in figures:
        data = base64.b64encode(png.read_bytes()).decode()
        sections.setdefault(title, []).append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    name = (m or {}).get("recipe", {}).get("name", run.name)
    body = "".join(f"<h2>{html.escape(t)}</h2>{''.join(parts)}" for t, parts in sections.items())
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mixloom report: {html.escape(name)}</title>"
        f"<style>{CSS}</style></head><body><h1>mixloom report: {html.escape(name)}</h1>"
        f"<p>Run directory: <code>{html.escape(str(run))}</code></p>{body}</body></html>"
    )
    index = out / "index.html"
    index.write_text(page)
    return index
