"""Readable tables of a curation run (from its manifest): the step funnel, the mix, the splits."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def funnel_table(m: dict[str, Any]) -> Table:
    t = Table(title="Step funnel", title_justify="left")
    for col in ("step", "docs in", "docs out", "kept", "tokens out", "seconds", "top reject reasons"):
        t.add_column(col, justify="left" if col in ("step", "top reject reasons") else "right")
    r = m["read"]
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(r["reasons"].items(), key=lambda kv: -kv[1])[:3])
    t.add_row(
        "read",
        f"{r['records']:,}",
        f"{r['docs']:,}",
        _pct(r["docs"], r["records"]),
        "",
        f"{m['timings_s'].get('read', 0):.2f}",
        reasons,
    )
    for row in m["steps"]:
        reasons = ", ".join(
            f"{k} {v:,}" for k, v in sorted(row.get("reasons", {}).items(), key=lambda kv: -kv[1])[:3]
        )
        if row.get("counts"):  # a step's own counts, e.g. pii matches per type
            found = sorted(((k, v) for k, v in row["counts"].items() if v), key=lambda kv: -kv[1])
            reasons += ("; " if reasons else "") + "found: " + ", ".join(f"{k} {v:,}" for k, v in found[:4])
        t.add_row(
            row["step"],
            f"{row.get('docs_in', 0):,}",
            f"{row.get('docs_out', 0):,}",
            _pct(row.get("docs_out", 0), row.get("docs_in", 0)),
            f"{row.get('tokens_out', 0):,}",
            f"{row.get('seconds', 0):.2f}",
            reasons,
        )
    return t


def mix_tables(m: dict[str, Any]) -> list[Table]:
    mix = m.get("mix")
    if not mix and m.get("mix_error"):
        return [_mix_error_table(m["mix_error"])]
    if not mix:
        return []
    unit = mix.get("unit_label", mix["unit"])
    d = Table(title=f"Mix by domain ({unit}; budget {mix['budget']:,.0f})", title_justify="left")
    for col in (
        "domain",
        "target share",
        "achieved share",
        "diff (pts)",
        f"achieved {unit}",
        f"available {unit}",
    ):
        d.add_column(col, justify="left" if col == "domain" else "right")
    for dom, r in mix["domains"].items():
        d.add_row(
            dom,
            f"{100 * r['target_share']:.2f}%",
            f"{100 * r['achieved_share']:.2f}%",
            f"{100 * (r['achieved_share'] - r['target_share']):+.2f}",
            f"{r['achieved']:,.0f}",
            f"{r['available']:,.0f}",
        )
    s = Table(title="Mix by source", title_justify="left")
    for col in (
        "source",
        "domain",
        f"target {unit}",
        f"achieved {unit}",
        "share of mix",
        "epochs",
        "max epochs",
        "docs selected",
    ):
        s.add_column(col, justify="left" if col in ("source", "domain") else "right")
    total = mix["achieved_total"] or 1
    for src, r in mix["sources"].items():
        s.add_row(
            src,
            r["domain"],
            f"{r['target']:,.0f}",
            f"{r['achieved']:,.0f}",
            f"{100 * r['achieved'] / total:.2f}%",
            f"{r['epochs']:.2f}",
            f"{r['max_epochs']:g}",
            f"{r['docs_selected']:,}",
        )
    return [d, s]


def _mix_error_table(err: dict[str, Any]) -> Table:
    """What a failed mix asked of each source (the run stopped at the mix; the funnel above is complete)."""
    unit = err.get("unit", "")
    t = Table(title=f"Mix FAILED: {err['message'].splitlines()[0]}", title_justify="left")
    for col in ("source", "domain", f"available {unit}", f"target {unit}", f"achieved {unit}", "max epochs"):
        t.add_column(col, justify="left" if col in ("source", "domain") else "right")
    for src, r in err.get("sources", {}).items():
        got = r.get("achieved")
        t.add_row(
            src,
            r["domain"],
            f"{r['available']:,.0f}",
            f"{r['target']:,.0f}",
            "-" if got is None else f"{got:,.0f}",
            f"{r['max_epochs']:g}",
        )
    return t


def split_table(m: dict[str, Any]) -> Table:
    t = Table(title="Splits", title_justify="left")
    for col in ("split", "rows", "unique docs", "tokens"):
        t.add_column(col, justify="left" if col == "split" else "right")
    for name, st in m.get("splits", {}).items():
        t.add_row(name, f"{st['docs']:,}", f"{st['unique_docs']:,}", f"{st['tokens']:,}")
    return t


def all_tables(m: dict[str, Any]) -> list[Table]:
    return [funnel_table(m), *mix_tables(m), split_table(m)]
