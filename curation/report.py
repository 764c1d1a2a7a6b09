"""The curation stage's report sections and data-card text: funnel, mix, score distributions, dedup, splits.

Reads only what curation wrote (manifest, curated/ and rejects/ Parquet), through the run layout.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from mixloom.figures import add_figure, pyplot, table
from mixloom.layout import RunLayout
from mixloom.stage import Section


def _scan(files: list[Path]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(str(f)) for f in files], how="diagonal_relaxed")


def _reasons(d: dict[str, int], n: int = 4) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n])


def _found(row: dict[str, Any]) -> str:
    """A step's own counts (e.g. pii matches per type), largest first."""
    counts = row.get("counts") or {}
    found = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v)
    return f" (found: {found or 'nothing'})" if counts else ""


def funnel(m: dict[str, Any]) -> Section:
    s = Section("Curation", order=10)
    rows = [["read", m["read"]["records"], m["read"]["docs"], "", _reasons(m["read"]["reasons"])]]
    rows += [
        [
            r["step"],
            r.get("docs_in", ""),
            r.get("docs_out", ""),
            r.get("tokens_out", ""),
            _reasons(r.get("reasons", {})) + _found(r),
        ]
        for r in m["steps"]
    ]
    s.html += table(rows, ["step", "docs in", "docs out", "tokens out", "reject reasons"])
    plt = pyplot()
    names = ["read"] + [r["step"] for r in m["steps"]]
    ins = [m["read"]["records"]] + [r.get("docs_in", 0) for r in m["steps"]]
    outs = [m["read"]["docs"]] + [r.get("docs_out", 0) for r in m["steps"]]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.bar(names, outs, color="#3b7dd8", label="kept")
    ax.bar(
        names, [a - b for a, b in zip(ins, outs, strict=True)], bottom=outs, color="#e07a5f", label="rejected"
    )
    ax.set_ylabel("documents")
    ax.set_title("Step funnel: documents kept and rejected at each step")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    add_figure(s, fig, "funnel.png", "Documents in and out of each step")
    kept = m["curated"]["docs"]
    s.facts = {"documents in": f"{m['read']['records']:,}", "documents kept": f"{kept:,}"}
    s.markdown = "\n".join(
        [
            "## Filters and thresholds",
            "",
            "```yaml",
            yaml.safe_dump(m["recipe"]["section"]["steps"], sort_keys=False).strip(),
            "```",
            "",
            "## Counts",
            "",
            "| step | docs in | docs out | rejected (top reasons) |",
            "|---|---|---|---|",
            f"| read | {m['read']['records']:,} | {m['read']['docs']:,} | {_reasons(m['read']['reasons'])} |",
            *[
                f"| {r['step']} | {r.get('docs_in', 0):,} | {r.get('docs_out', 0):,} | {_reasons(r.get('reasons', {}))}{_found(r)} |"
                for r in m["steps"]
            ],
            "",
            f"Kept {kept:,} documents; rejected {m['rejected']:,} (all in `rejects/` with step and reason).",
            "",
        ]
    )
    return s


def examples(layout: RunLayout, per_reason: int = 2, chars: int = 240) -> Section | None:
    """A few rejected documents per step and reason, so a person can judge each filter by eye."""
    files = sorted(layout.rejects.glob("*.parquet"))
    if not files:
        return None
    rej = pl.concat([pl.read_parquet(f, columns=["id", "step", "reason", "text"]) for f in files])
    if rej.is_empty():
        return None
    counts = rej.group_by("step", "reason").len().sort(["len", "step"], descending=[True, False]).head(12)
    s = Section("What curation removed, with examples", order=12)
    for step, reason, n in counts.rows():
        ex = rej.filter((pl.col("step") == step) & (pl.col("reason") == reason)).sort("id").head(per_reason)
        items = "".join(
            f"<li><code>{html.escape(i)}</code>: {html.escape((t or '')[:chars])}"
            f"{'…' if t and len(t) > chars else ''}</li>"
            for i, t in ex.select("id", "text").rows()
        )
        s.html += f"<h3>{html.escape(step)} · {html.escape(reason)} ({n:,} documents)</h3><ul>{items}</ul>"
    return s


def sources(m: dict[str, Any]) -> Section:
    lines = ["## Sources", "", "| source | domain | files | bytes | licence |", "|---|---|---|---|---|"]
    for name, src in m["recipe"]["section"]["sources"].items():
        files = [i for i in m["inputs"] if i["source"] == name]
        lic = src.get("licence") or "not stated (add `licence:` to the source in the recipe)"
        lines.append(
            f"| {name} | {src['domain']} | {len(files)} | {sum(i['bytes'] for i in files):,} | {lic} |"
        )
    return Section("Sources", markdown="\n".join(lines) + "\n", order=5)


def mix(m: dict[str, Any]) -> Section | None:
    mx = m.get("mix")
    if not mx:
        return None
    s = Section("Mix", order=20)
    doms = list(mx["domains"])
    rows = [
        [d, f"{100 * r['target_share']:.2f}%", f"{100 * r['achieved_share']:.2f}%", f"{r['achieved']:,.0f}"]
        for d, r in mx["domains"].items()
    ]
    unit = mx.get("unit_label", mx["unit"])
    how = f" ({mx['tokenizer']['describe']})" if isinstance(mx.get("tokenizer"), dict) else ""
    s.html += table(rows, ["domain", "target", "achieved", unit])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(doms))
    ax.bar([i - 0.2 for i in x], [100 * mx["domains"][d]["target_share"] for d in doms], 0.4, label="target")
    ax.bar(
        [i + 0.2 for i in x], [100 * mx["domains"][d]["achieved_share"] for d in doms], 0.4, label="achieved"
    )
    ax.set_xticks(list(x), doms)
    ax.set_ylabel(f"share of {unit} (%)")
    ax.set_title("Domain mix: target vs achieved")
    ax.legend()
    add_figure(s, fig, "mix.png", "Share per domain, target vs achieved")
    s.facts = {
        "mix": ", ".join(f"{d} {100 * r['achieved_share']:.1f}%" for d, r in mx["domains"].items()),
        f"mix {unit}": f"{mx['achieved_total']:,.0f}",
    }
    lines = [
        "## Mix",
        "",
        f"Budget {mx['budget']:,.0f} {unit}{how}.",
        "",
        "| domain | target | achieved |",
        "|---|---|---|",
    ]
    lines += [
        f"| {d} | {100 * r['target_share']:.2f}% | {100 * r['achieved_share']:.2f}% |"
        for d, r in mx["domains"].items()
    ]
    src_rows = [
        [
            src,
            r["domain"],
            f"{r.get('available', 0):,.0f}",
            f"{r['achieved']:,.0f}",
            f"{r['epochs']:.2f}",
            f"{r['max_epochs']:g}",
        ]
        for src, r in mx["sources"].items()
    ]
    s.html += table(
        src_rows,
        ["source", "domain", f"available {unit}", f"in the mix ({unit})", "epochs", "max epochs"],
    )
    lines += ["", "| source | epochs | max epochs |", "|---|---|---|"]
    lines += [f"| {src} | {r['epochs']:.2f} | {r['max_epochs']:g} |" for src, r in mx["sources"].items()]
    s.markdown = "\n".join(lines) + "\n"
    return s


def splits(m: dict[str, Any]) -> Section:
    lines = ["## Splits", "", "| split | rows | unique docs | tokens |", "|---|---|---|---|"]
    lines += [
        f"| {k} | {v['docs']:,} | {v['unique_docs']:,} | {v['tokens']:,} |" for k, v in m["splits"].items()
    ]
    limits = ["Heuristic filters (quality, language, toxicity) make errors both ways; inspect `rejects/`."]
    if m.get("mix"):
        rep = [k for k, r in m["mix"]["sources"].items() if r["epochs"] > 1]
        if rep:
            limits.append(
                f"Sources repeated more than once to reach their share: {', '.join(rep)} "
                "(repetition beyond ~4 epochs adds little)."
            )
        if m["mix"].get("shortfall"):
            limits.append(f"Targets not met within max_epochs: {', '.join(m['mix']['shortfall'])}.")
    mix_tok = ((m.get("mix") or {}).get("tokenizer") or {}).get("describe", m["tokenizer"])
    if mix_tok.startswith("approx"):
        limits.append("Token counts are approximate (words and punctuation), not a model tokenizer's.")
    lines += ["", "## Known limitations", "", *[f"- {x}" for x in limits]]
    return Section("Splits", markdown="\n".join(lines) + "\n", order=25)


def _scores(layout: RunLayout) -> pl.DataFrame:
    """Score columns of kept documents plus those of rejected ones (stored as JSON in `details`)."""
    kept = _scan(sorted(layout.curated.glob("*.parquet")))
    rej = _scan(sorted(layout.rejects.glob("*.parquet")))
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


def _thresholds(m: dict[str, Any]) -> dict[str, float]:
    """Score thresholds the recipe set, drawn as lines on the histograms."""
    out: dict[str, float] = {}
    for entry in m["recipe"]["section"]["steps"]:
        ((name, params),) = entry.items()
        params = params if isinstance(params, dict) else {}
        if name == "language" and "min_score" in params:
            out["lang_score"] = params["min_score"]
        if name == "toxicity":
            for label, v in (params.get("max") or {}).items():
                out[f"tox_{label}"] = v
    return out


def scores(layout: RunLayout, m: dict[str, Any] | None = None) -> list[Section]:
    df = _scores(layout)
    limits = _thresholds(m) if m else {}
    if df.is_empty():
        return []
    plt = pyplot()
    s = Section("Scores", order=30)
    for col, title in (("quality_score", "Quality score"), ("lang_score", "Language score")):
        if col in df.columns and df[col].drop_nulls().len():
            fig, ax = plt.subplots(figsize=(6, 3.3))
            for status, color in (("kept", "#3b7dd8"), ("rejected", "#e07a5f")):
                vals = df.filter(pl.col("status") == status)[col].drop_nulls().cast(pl.Float64).to_list()
                if vals:
                    ax.hist(vals, bins=30, alpha=0.7, label=status, color=color)
            if col in limits:
                ax.axvline(limits[col], color="#222", linestyle="--", label=f"threshold {limits[col]:g}")
            ax.set_title(f"{title} distribution")
            ax.set_xlabel(col)
            ax.set_ylabel("documents")
            ax.legend()
            add_figure(s, fig, f"{col}.png", f"{title} of kept and rejected documents")
    tox = [c for c in df.columns if c.startswith(("tox_", "toxicity")) and df[c].dtype.is_numeric()]
    if tox:
        fig, ax = plt.subplots(figsize=(6, 3.3))
        for c in tox[:6]:
            ax.hist(df[c].drop_nulls().to_list(), bins=30, alpha=0.5, label=c)
            if c in limits:
                ax.axvline(limits[c], color="#222", linestyle="--", label=f"{c} threshold {limits[c]:g}")
        ax.set_yscale("log")
        ax.set_xlabel("score")
        ax.set_title("Toxicity scores")
        ax.set_ylabel("documents")
        ax.legend()
        add_figure(s, fig, "toxicity.png", "Toxicity scores (all labels)")
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
        ax.set_ylabel("documents")
        ax.set_title("Detected languages (documents)")
        add_figure(s, fig, "languages.png", "Language distribution")
    out = [s] if s.figures else []
    if "cluster_id" in df.columns:
        sizes = df.filter(pl.col("cluster_id").is_not_null()).group_by("cluster_id").len()["len"] + 1
        if sizes.len():
            d = Section("Dedup", order=35)
            fig, ax = plt.subplots(figsize=(6, 3.3))
            ax.hist(sizes.to_list(), bins=range(2, int(sizes.max()) + 2), color="#f2cc8f", edgecolor="#555")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_yscale("log")
            ax.set_xlabel("documents per duplicate cluster")
            ax.set_ylabel("clusters")
            ax.set_title("Dedup cluster sizes")
            add_figure(d, fig, "dedup.png", "Size of each duplicate cluster (kept + removed)")
            out.append(d)
    return out


def sections(layout: RunLayout) -> list[Section]:
    if not layout.manifest.exists():
        return []
    m = json.loads(layout.manifest.read_text())
    if m.get("stage") != "curate":
        return []
    from curation.augment.report import augment_sections

    parts = (sources(m), funnel(m), examples(layout), mix(m), splits(m))
    return [x for x in parts if x is not None] + scores(layout, m) + augment_sections(m)
