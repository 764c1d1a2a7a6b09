"""The audit's figures as PNG bytes (matplotlib, Agg): returned, not written, so the caller decides where."""

from __future__ import annotations

import polars as pl

from mixloom.figures import png, pyplot


def removal_heatmap(removal: pl.DataFrame, flag_ratio: float) -> bytes | None:
    """Steps x groups: removal rate of the group's documents divided by the step's overall rate."""
    df = removal.filter(pl.col("ratio").is_not_null() & pl.col("ratio").is_finite())
    if df.is_empty():
        return None
    plt = pyplot()
    steps = list(dict.fromkeys(df["step"].to_list()))
    groups = sorted(set(df["group"].to_list()))
    grid = [[float("nan")] * len(groups) for _ in steps]
    for s, g, r in df.select("step", "group", "ratio").iter_rows():
        grid[steps.index(s)][groups.index(g)] = r
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(groups) + 2), 0.45 * len(steps) + 2))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=0, vmax=2 * flag_ratio, aspect="auto")
    ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right")
    ax.set_yticks(range(len(steps)), steps)
    for (s, g), flagged in zip(df.select("step", "group").iter_rows(), df["flagged"].to_list(), strict=True):
        if flagged:
            ax.text(groups.index(g), steps.index(s), "!", ha="center", va="center", fontweight="bold")
    fig.colorbar(im, ax=ax, label="group removal rate / overall rate")
    ax.set_title(f"Removal rate ratio per step and group (! = flagged, ratio >= {flag_ratio:g})")
    return png(fig, dpi=100)


def group_bars(per_scorer: dict[str, list[dict]], key: str, title: str) -> bytes | None:
    """Grouped bars: one bar per scorer for each group (e.g. FPR, or counterfactual |shift|)."""
    groups = sorted({r["group"] for rows in per_scorer.values() for r in rows if r.get(key) is not None})
    if not groups:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(groups) + 2), 3.8))
    width = 0.8 / max(len(per_scorer), 1)
    for i, (name, rows) in enumerate(per_scorer.items()):
        vals = {r["group"]: r.get(key) for r in rows}
        ax.bar(
            [j + i * width for j in range(len(groups))], [vals.get(g) or 0 for g in groups], width, label=name
        )
    ax.set_xticks(
        [j + width * (len(per_scorer) - 1) / 2 for j in range(len(groups))], groups, rotation=45, ha="right"
    )
    ax.set_title(title)
    ax.legend()
    return png(fig, dpi=100)
