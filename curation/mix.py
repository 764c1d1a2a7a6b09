"""Mix balancing: sample the curated documents so domains (and sources inside a domain) reach their target
shares of a token budget.

Per source: `target = budget × domain share × source weight` (the weight is given in `mix.sources`, or the
source's share of its domain's available tokens). A target below what is available is met by seeded random
sampling (documents ranked by a hash of seed and id, taking the prefix closest to the target); a target above
it by whole repeats (epochs) plus a sampled partial epoch, capped at `max_epochs`. If a cap forbids a target,
the run fails with the numbers, or, with `allow_shortfall`, takes the cap and reports the achieved shares.
`budget: max` picks the largest budget every target can meet within its cap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from curation.augment.cap import split_augmented, take_copies
from curation.splits import unit_hash
from mixloom.errors import UserError
from mixloom.sections.curate import Mix


class MixError(UserError):
    """The mix cannot meet its targets; `details` (per-source available / target / achieved) goes into the
    manifest so the failed run can still be inspected (`mixloom stats RUN`)."""

    def __init__(self, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.details = details


def _max_epochs(mix: Mix, source: str) -> float:
    return mix.max_epochs.get(source, 4.0) if isinstance(mix.max_epochs, dict) else mix.max_epochs


def _targets(avail: dict[str, float], domain_of: dict[str, str], mix: Mix) -> tuple[float, dict[str, float]]:
    """Budget and per-source targets (in units), before caps."""
    weights: dict[str, float] = {}
    for dom in mix.shares:
        srcs = [s for s in avail if domain_of[s] == dom]
        given = (mix.sources or {}).get(dom)
        dom_avail = sum(avail[s] for s in srcs)
        for s in srcs:
            weights[s] = given.get(s, 0.0) if given else (avail[s] / dom_avail if dom_avail else 0.0)
    if mix.budget == "max":
        limits = [
            _max_epochs(mix, s) * avail[s] / (mix.shares[domain_of[s]] * weights[s])
            for s in avail
            if mix.shares[domain_of[s]] * weights[s] > 0
        ]
        budget = min(limits) if limits else 0.0
    else:
        budget = float(mix.budget)
    return budget, {s: budget * mix.shares[domain_of[s]] * weights[s] for s in avail}


def _take(units: np.ndarray, target: float) -> tuple[int, int]:
    """(whole epochs, documents of the partial epoch) whose units come closest to `target`."""
    total = float(units.sum())
    if total <= 0 or target <= 0:
        return 0, 0
    full = int(target // total)
    rest = target - full * total
    cum = np.cumsum(units)
    k = int(np.searchsorted(cum, rest))  # first prefix reaching `rest`
    if k >= len(cum):
        return full, len(cum)
    below = cum[k - 1] if k > 0 else 0.0
    n = k + 1 if (cum[k] - rest) <= (rest - below) else k
    return full, n


def plan_mix(
    docs: pl.DataFrame, mix: Mix, seed: int, aug_share: dict[str, float] | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """docs: columns id, source, domain, tokens (all curated documents), and `parent_id` when augmented
    copies are present; `aug_share` caps their share per domain (see `curation.augment.cap`).

    Returns the selection (id, copies) and a report with target vs achieved per domain and source.
    """
    unit = pl.col("tokens") if mix.unit == "tokens" else pl.lit(1, dtype=pl.Int64)
    docs, aug = split_augmented(docs.with_columns(unit.cast(pl.Float64).alias("_u")))
    if docs["_u"].is_null().any() or docs["_u"].is_nan().any():
        raise UserError("mix: token counts are missing")
    per_src = docs.group_by("source").agg(pl.col("_u").sum(), pl.col("domain").first()).sort("source")
    avail = dict(zip(per_src["source"], per_src["_u"], strict=True))
    domain_of = dict(zip(per_src["source"], per_src["domain"], strict=True))
    for dom, share in mix.shares.items():
        if share > 0 and not any(domain_of[s] == dom for s in avail):
            raise UserError(
                f"mix: domain '{dom}' has share {share:g} but no documents left after curation; "
                "check its sources and the steps' rejects (mixloom stats)"
            )
    budget, target = _targets(avail, domain_of, mix)

    short = {
        s: t / avail[s]
        for s, t in target.items()
        if avail[s] and t > _max_epochs(mix, s) * avail[s] * (1 + 1e-9)
    }
    if short and not mix.allow_shortfall:
        _, feasible = _targets(avail, domain_of, mix.model_copy(update={"budget": "max"}))
        max_budget = sum(feasible.values())
        details = {
            "unit": mix.unit,
            "budget": budget,
            "sources": {
                s: {
                    "domain": domain_of[s],
                    "available": avail[s],
                    "target": target[s],
                    "max_epochs": _max_epochs(mix, s),
                }
                for s in sorted(avail)
            },
            "max_feasible_budget": max_budget,
        }
        lines = [
            f"source '{s}' would need {e:.2f} epochs (max_epochs {_max_epochs(mix, s):g}, "
            f"available {avail[s]:,.0f} {mix.unit})"
            for s, e in sorted(short.items())
        ]
        raise MixError(
            "mix: targets cannot be met within max_epochs: "
            + "; ".join(lines)
            + f"; fix: lower mix.budget to at most {max_budget:,.0f} (or use budget: max), raise max_epochs, "
            "or set allow_shortfall: true to accept lower shares",
            details,
        )

    selections = []
    src_report = {}
    for s in sorted(avail):
        cap = _max_epochs(mix, s) * avail[s]
        goal = min(target[s], cap)
        a = (aug_share or {}).get(domain_of[s], 0.0)
        extra = take_copies(aug, s, seed, a * goal)  # augmented copies stand in for part of the target
        sub = docs.filter(pl.col("source") == s).select("id", "_u")
        order = np.argsort(np.asarray(unit_hash(seed, f"mix:{s}", sub["id"].to_list())), kind="stable")
        sub = sub[order]
        full, n = _take(sub["_u"].to_numpy(), goal - float(extra["_u"].sum()))
        copies = np.full(sub.height, full, dtype=np.int32)
        copies[:n] += 1
        sel = sub.with_columns(pl.Series("copies", copies)).filter(pl.col("copies") > 0)
        achieved = float((sel["_u"] * sel["copies"]).sum()) if sel.height else 0.0
        if extra.height:  # at most a share `a` of what this source contributes
            extra = take_copies(aug, s, seed, min(a * goal, a / (1 - a) * achieved))
        augmented = float(extra["_u"].sum())
        achieved += augmented
        selections.append(sel.select("id", "copies"))
        selections.append(extra.select("id", pl.lit(1, dtype=pl.Int32).alias("copies")))
        src_report[s] = {
            "domain": domain_of[s],
            "available": avail[s],
            "target": target[s],
            "achieved": achieved,
            "epochs": (achieved - augmented) / avail[s] if avail[s] else 0.0,  # of originals
            "max_epochs": _max_epochs(mix, s),
            "docs_selected": sel.height,
            "docs_repeated": int((sel["copies"] > 1).sum()),
            **({"augmented": augmented, "augmented_docs": extra.height} if aug is not None else {}),
        }
    total = sum(r["achieved"] for r in src_report.values())
    dom_report = {}
    for dom, share in mix.shares.items():
        got = sum(r["achieved"] for r in src_report.values() if r["domain"] == dom)
        dom_report[dom] = {
            "target_share": share,
            "achieved_share": got / total if total else 0.0,
            "target": budget * share,
            "achieved": got,
            "available": sum(avail[s] for s in avail if domain_of[s] == dom),
        }
        if aug is not None:
            copies_units = sum(r["augmented"] for r in src_report.values() if r["domain"] == dom)
            dom_report[dom]["augmented_share"] = copies_units / got if got else 0.0
            dom_report[dom]["max_augmented_share"] = (aug_share or {}).get(dom, 0.0)
    worst = max((abs(d["achieved_share"] - d["target_share"]) for d in dom_report.values()), default=0.0)
    report = {
        "unit": mix.unit,
        "budget": budget,
        "achieved_total": total,
        "domains": dom_report,
        "sources": src_report,
        "max_share_error": worst,
        "shortfall": sorted(short),
        "within_tolerance": worst <= mix.tolerance + 1e-12,
    }
    if not report["within_tolerance"] and not mix.allow_shortfall:
        raise MixError(_tolerance_message(report, mix), report)
    sel = pl.concat(selections) if selections else pl.DataFrame(schema={"id": pl.String, "copies": pl.Int32})
    return sel, report


def _tolerance_message(report: dict[str, Any], mix: Mix) -> str:
    """Name the domain furthest off its share and, inside it, the source furthest off its target."""
    dom, d = max(
        report["domains"].items(), key=lambda kv: abs(kv[1]["achieved_share"] - kv[1]["target_share"])
    )
    srcs = {s: r for s, r in report["sources"].items() if r["domain"] == dom}
    src, r = max(srcs.items(), key=lambda kv: abs(kv[1]["achieved"] - kv[1]["target"]))
    off = 100 * (d["achieved_share"] - d["target_share"])
    return (
        f"mix: domain '{dom}' is at {100 * d['achieved_share']:.2f}% of the mix, target "
        f"{100 * d['target_share']:.2f}% ({off:+.2f} points; mix.tolerance is {100 * mix.tolerance:.2f} points); "
        f"its source '{src}' reached {r['achieved']:,.0f} of a {r['target']:,.0f} {mix.unit} target "
        f"({r['docs_selected']:,} documents, {r['epochs']:.2f} epochs, max_epochs {r['max_epochs']:g}): "
        "documents are too few or too large for this budget.\n"
        "  fix: raise mix.budget, raise mix.tolerance (a share fraction, e.g. 0.02 = 2 points), "
        "or set allow_shortfall: true"
    )
