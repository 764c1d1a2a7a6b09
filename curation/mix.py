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

from dataclasses import dataclass
from typing import Any

from curation.mixprobe import Cut, Found, Probe
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


@dataclass
class Pick:
    """What the mix takes of one source: `full` epochs of every original plus one more copy of those before
    `cut`, and the augmented copies before `copies_cut` once each."""

    full: int
    cut: Cut
    copies_cut: Cut


def _closest(found: Found | None, rest: float, count: int, total: float) -> tuple[Cut, int, float]:
    """(cut, documents taken, their units) for the prefix whose units come closest to `rest`."""
    if found is None:  # even every document stays below `rest`
        return Cut(everything=True), count, total
    if (found.cum - rest) <= (rest - found.below):
        return Cut(found.key, inclusive=True), found.k + 1, found.cum
    return Cut(found.key), found.k, found.below


def _within(found: Found | None, count: int, total: float) -> tuple[Cut, int, float]:
    """(cut, documents taken, their units) for the longest prefix within the limit."""
    if found is None:
        return Cut(everything=True), count, total
    return Cut(found.key), found.k, found.below


def plan_mix(
    probe: Probe, mix: Mix, seed: int, aug_share: dict[str, float] | None = None
) -> tuple[dict[str, Pick], dict[str, Any]]:
    """probe: the curated documents' keys (`curation.mixprobe`); `aug_share` caps the share of augmented copies
    per domain (see `curation.augment.cap`).

    Returns what to take of each source and a report with target vs achieved per domain and source.
    """
    avail = {s: probe.totals[(s, False)][1] for s in sorted(s for s, cp in probe.totals if not cp)}
    domain_of = {s: probe.domains[s] for s in avail}
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

    has_copies = any(cp for _, cp in probe.totals)
    goal = {s: min(target[s], _max_epochs(mix, s) * avail[s]) for s in avail}
    share = {s: (aug_share or {}).get(domain_of[s], 0.0) for s in avail}

    def copies(limits: dict[str, float]) -> dict[str, tuple[Cut, int, float]]:
        """The seeded prefix of each source's augmented copies whose units stay within its limit."""
        asked = [s for s, lim in limits.items() if has_copies and lim > 0 and probe.totals.get((s, True))]
        found = probe.resolve([((s, True), limits[s], True) for s in asked])
        out = {s: (Cut(), 0, 0.0) for s in limits}
        for s, f in zip(asked, found, strict=True):
            n, units = probe.totals[(s, True)]
            out[s] = _within(f, n, units)
        return out

    # augmented copies stand in for part of the target
    extra = copies({s: share[s] * goal[s] for s in avail})
    rest, full = {}, {}
    for s in avail:
        t, total = goal[s] - extra[s][2], avail[s]
        full[s], rest[s] = (
            (0, 0.0) if total <= 0 or t <= 0 else (int(t // total), t - int(t // total) * total)
        )
    asked = [s for s in avail if avail[s] > 0 and goal[s] - extra[s][2] > 0]
    found = dict(zip(asked, probe.resolve([((s, False), rest[s], False) for s in asked]), strict=True))
    took = {}
    for s in avail:
        count, total = probe.totals[(s, False)]
        cut, n, units = _closest(found[s], rest[s], count, total) if s in found else (Cut(), 0, 0.0)
        took[s] = (cut, n, full[s] * total + units if (n or full[s]) else 0.0)
    # at most a share `a` of what this source contributes
    again = {s: min(share[s] * goal[s], share[s] / (1 - share[s]) * took[s][2]) for s in avail if extra[s][1]}
    extra |= copies(again)

    picks, src_report = {}, {}
    for s in avail:
        count = probe.totals[(s, False)][0]
        cut, n, achieved = took[s]
        f = full[s]
        augmented = extra[s][2]
        achieved += augmented
        picks[s] = Pick(f, cut, extra[s][0])
        src_report[s] = {
            "domain": domain_of[s],
            "available": avail[s],
            "target": target[s],
            "achieved": achieved,
            "epochs": (achieved - augmented) / avail[s] if avail[s] else 0.0,  # of originals
            "max_epochs": _max_epochs(mix, s),
            "docs_selected": count if f > 0 else n,
            "docs_repeated": count if f >= 2 else (n if f == 1 else 0),
            **({"augmented": augmented, "augmented_docs": extra[s][1]} if has_copies else {}),
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
        if has_copies:
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
    return picks, report


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
