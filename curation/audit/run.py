"""Run the bias audit on a curation run: representation, per-group scorer errors, counterfactual shifts.

Writes `audit/audit.json` (every table), `audit/*.png` and `audit/findings.md` under the run (paths from
`RunLayout.stage_dir("audit")`); `curation.audit.page` turns them into report sections.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from curation.audit import counterfactual, plots, probe
from curation.audit.representation import RemovalRule, representation
from curation.audit.scorers import make_scorer
from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.manifest import write_json_atomic
from mixloom.schema import Strict

IDENTITY_KINDS = [
    "ident_neutral_nh",
    "ident_pos_nh",
    "neutral",
]  # neutral/positive mentions (HateCheck, builtin)


class AuditSection(Strict):
    """`audit:` in a recipe: what the bias audit measures (all keys optional)."""

    scorers: list[Literal["mixloom", "profanity", "detoxify"]] = Field(
        default_factory=lambda: ["mixloom", "profanity"], description="toxicity backends to compare"
    )
    probe: str = Field(
        "builtin", description="labelled probe CSV (HateCheck format, or text/label/group), or 'builtin'"
    )
    threshold: float = Field(0.5, ge=0, le=1, description="score above which a scorer rejects a text")
    flag_ratio: float = Field(
        1.5, gt=0, description="flag a step removing a group at >= this x its overall rate"
    )
    min_removed: int = Field(3, ge=1, description="...and at least this many of the group's documents")
    counterfactual_docs: int = Field(200, ge=0, description="documents with mentions to swap and rescore")
    detoxify: dict[str, Any] = Field(
        default_factory=dict, description="options of the detoxify scorer (model, checkpoint, config)"
    )


def run_audit(layout: RunLayout, section: AuditSection, root: Path, seed: int = 0) -> dict[str, Any]:
    """Every audit table and figure, written under the run's `audit/` folder; returns the summary."""
    t0 = time.perf_counter()
    out = layout.stage_dir("audit")
    out.mkdir(parents=True, exist_ok=True)
    rule = RemovalRule(section.flag_ratio, section.min_removed)
    rep = representation(layout, rule) if layout.manifest.exists() else None
    probe_path = section.probe if section.probe == probe.BUILTIN else str((root / section.probe).resolve())
    probe_df = probe.load_probe(probe_path)
    texts = _mention_texts(layout, rep, probe_df, section.counterfactual_docs, seed)
    scorer_results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in section.scorers:
        try:
            score = make_scorer(name, root, section.detoxify if name == "detoxify" else None)
            s = score(probe_df["text"].to_list())
        except UserError as e:  # e.g. detoxify without local weights: compare the others, say why
            skipped[name] = str(e)
            continue
        ev = probe.evaluate(probe_df, s, section.threshold)
        ev["identity_fpr"] = probe.identity_fpr(probe_df, s, section.threshold, IDENTITY_KINDS)
        vals = list(ev["identity_fpr"].values())
        ev["identity_fpr_spread"] = (max(vals) - min(vals)) if vals else None
        ev["counterfactual"] = counterfactual.sensitivity(texts, score, section.threshold)
        scorer_results[name] = ev
    figures = _figures(rep, scorer_results, section)
    for fname, png in figures.items():
        (out / fname).write_bytes(png)
    result = {
        "probe": section.probe,
        "probe_size": probe_df.height,
        "threshold": section.threshold,
        "scorers": scorer_results,
        "skipped": skipped,
        "representation": None
        if rep is None
        else {
            "steps": rep["steps"],
            "documents": rep["documents"],
            "with_mentions": rep["with_mentions"],
            "removal": rep["removal"].to_dicts(),
            "mentions": rep["mentions"].to_dicts(),
        },
        "counterfactual_texts": len(texts),
        "figures": sorted(figures),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    result["findings"] = findings(result, section)
    write_json_atomic(out / "audit.json", result)
    return result


def _mention_texts(layout: RunLayout, rep, probe_df: pl.DataFrame, n: int, seed: int) -> list[str]:
    """Kept documents that mention a group (first 1000 characters), topped up with the probe's non-toxic
    identity texts when the run has fewer than n."""
    texts: list[str] = []
    files = sorted(layout.curated.glob("*.parquet")) if rep is not None else []
    if files and n:
        kept = pl.concat([pl.read_parquet(f, columns=["id", "text"]) for f in files])
        ids = set(rep["sample_ids"])
        texts = [t[:1000] for i, t in kept.select("id", "text").iter_rows() if i in ids]
    texts = counterfactual.sample_texts(texts, n, seed)
    if len(texts) < n:
        extra = probe_df.filter((pl.col("label") == 0) & pl.col("group").is_not_null())["text"].to_list()
        texts += counterfactual.sample_texts(extra, n - len(texts), seed)
    return texts


def _figures(rep, scorer_results: dict, section: AuditSection) -> dict[str, bytes]:
    figs: dict[str, bytes] = {}
    if rep is not None:
        png = plots.removal_heatmap(rep["removal"], section.flag_ratio)
        if png:
            figs["audit_removal.png"] = png
    if scorer_results:
        per = {n: r["groups"] for n, r in scorer_results.items()}
        for key, title, fname in (
            ("fpr", "False-positive rate per group on the probe (non-toxic texts flagged)", "audit_fpr.png"),
            ("fnr", "False-negative rate per group on the probe (toxic texts missed)", "audit_fnr.png"),
            (
                "bpsn_auc",
                "BPSN AUC per group (low: non-toxic mentions score like toxic text)",
                "audit_bpsn.png",
            ),
        ):
            png = plots.group_bars(per, key, title)
            if png:
                figs[fname] = png
        cf = {n: r["counterfactual"] for n, r in scorer_results.items()}
        png = plots.group_bars(
            cf, "mean_abs_shift", "Counterfactual: mean |score shift| when swapping in a group"
        )
        if png:
            figs["audit_counterfactual.png"] = png
    return figs


def findings(result: dict, section: AuditSection) -> list[str]:
    """Plain sentences for the report and the data card."""
    out = []
    rep = result["representation"]
    if rep is not None:
        flagged = [r for r in rep["removal"] if r["flagged"]]
        for r in flagged:
            out.append(
                f"Step `{r['step']}` removed {r['removed']}/{r['docs_in']} documents mentioning {r['group']} "
                f"({100 * r['rate']:.1f}%), {r['ratio']:.1f}x its overall removal rate "
                f"({100 * r['overall_rate']:.1f}%)."
            )
        if not flagged:
            out.append(
                f"No curation step removed documents mentioning a group at >= {section.flag_ratio:g}x its overall "
                f"rate (with >= {section.min_removed} documents removed)."
            )
    for name, r in result["scorers"].items():
        o = r["overall"]
        spread = r["identity_fpr_spread"]
        cf = max((c["flip_rate"] for c in r["counterfactual"]), default=0.0)
        line = f"Scorer `{name}`: macro F1 {o['macro_f1']:.3f} on the probe at threshold {o['threshold']:g}"
        if spread is not None:
            line += f"; false-positive rate on neutral/positive identity mentions spreads {spread:.2f} across groups"
        line += f"; swapping the group flips up to {100 * cf:.1f}% of decisions."
        out.append(line)
    for name, why in result["skipped"].items():
        out.append(f"Scorer `{name}` skipped: {why}")
    return out
