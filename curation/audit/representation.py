"""Who is in the data, and which curation step takes whom out.

Reads a run's `curated/` and `rejects/` Parquet files (every document ends in one of them, the rejected ones
with the `step` that removed them) and the step order from `manifest.json`. A document "enters" step k if
it was kept, or rejected at step k or later. Per step and identity group (the lexicon of
`curation.identity`): the removal rate of documents mentioning the group, the overall removal rate, and
their ratio; a ratio at or above `flag_ratio` with at least `min_removed` removed documents is flagged
(that step removes the group's mentions more often than it removes documents in general).

Mentions are counted per million words (whitespace-separated), per domain and source, at the input
(before the first step) and at the output (kept documents), and before/after every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from curation.identity import GROUP_NAMES, find_groups
from mixloom.layout import RunLayout
from mixloom.manifest import read_manifest


@dataclass(frozen=True)
class RemovalRule:
    flag_ratio: float = 1.5
    min_removed: int = 3


def documents(layout: RunLayout) -> tuple[pl.DataFrame, list[str]]:
    """Every document of the run (kept and rejected): id, source, domain, words, step_index, groups.

    step_index is the position of the step that rejected it (len(steps) for kept documents); records
    quarantined while reading (never documents) are left out."""
    steps = [r["step"] for r in read_manifest(layout.root).get("steps", [])]
    cols = ["id", "source", "domain", "text"]
    frames = []
    kept = sorted(layout.curated.glob("*.parquet"))
    if kept:
        frames.append(
            pl.concat([pl.read_parquet(f, columns=cols) for f in kept]).with_columns(
                pl.lit(len(steps)).alias("step_index")
            )
        )
    rej = sorted(layout.rejects.glob("*.parquet"))
    if rej:
        r = pl.concat([pl.read_parquet(f, columns=[*cols, "step"]) for f in rej])
        index = {s: i for i, s in enumerate(steps)}
        r = r.filter(pl.col("step").is_in(list(index))).with_columns(
            pl.col("step").replace_strict(index, return_dtype=pl.Int64).alias("step_index")
        )
        frames.append(r.drop("step"))
    if not frames:
        return pl.DataFrame(
            schema={
                "id": pl.String,
                "source": pl.String,
                "domain": pl.String,
                "words": pl.Int64,
                "step_index": pl.Int64,
                "groups": pl.List(pl.String),
            }
        ), steps
    df = pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col("step_index").cast(pl.Int64))
    texts = df["text"].fill_null("").to_list()
    return df.with_columns(
        pl.Series("words", [len(t.split()) for t in texts], dtype=pl.Int64),
        pl.Series("groups", [find_groups(t) for t in texts], dtype=pl.List(pl.String)),
    ).drop("text"), steps


def removal_table(docs: pl.DataFrame, steps: list[str], rule: RemovalRule) -> pl.DataFrame:
    """Per step and group: docs in, removed, rate, overall rate, ratio, flagged."""
    rows = []
    mentions = docs.with_columns(pl.col("groups").list.unique())
    for k, step in enumerate(steps):
        entering = mentions.filter(pl.col("step_index") >= k)
        n_in = entering.height
        n_out = entering.filter(pl.col("step_index") == k).height
        overall = n_out / n_in if n_in else 0.0
        per = (
            entering.explode("groups")
            .filter(pl.col("groups").is_not_null())
            .group_by("groups")
            .agg(pl.len().alias("docs_in"), (pl.col("step_index") == k).sum().alias("removed"))
        )
        for g, d_in, rem in per.sort("groups").iter_rows():
            rate = rem / d_in if d_in else 0.0
            ratio = rate / overall if overall > 0 else (None if rem == 0 else float("inf"))
            rows.append(
                {
                    "step": step,
                    "group": g,
                    "docs_in": d_in,
                    "removed": rem,
                    "rate": rate,
                    "overall_rate": overall,
                    "ratio": ratio,
                    "flagged": bool(
                        ratio is not None and ratio >= rule.flag_ratio and rem >= rule.min_removed
                    ),
                }
            )
    schema = {
        "step": pl.String,
        "group": pl.String,
        "docs_in": pl.Int64,
        "removed": pl.Int64,
        "rate": pl.Float64,
        "overall_rate": pl.Float64,
        "ratio": pl.Float64,
        "flagged": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def mentions_table(docs: pl.DataFrame, steps: list[str]) -> pl.DataFrame:
    """Mentions per million words per domain, source and group: at the input, after each step."""
    stages = [("input", -1)] + [(f"after {s}", k) for k, s in enumerate(steps)]
    out = []
    for label, k in stages:
        alive = docs.filter(pl.col("step_index") > k)
        words = alive.group_by("domain", "source").agg(pl.col("words").sum().alias("words"))
        counts = (
            alive.explode("groups")
            .filter(pl.col("groups").is_not_null())
            .group_by("domain", "source", "groups")
            .len()
            .rename({"groups": "group", "len": "mentions"})
        )
        t = counts.join(words, on=["domain", "source"], how="left").with_columns(
            pl.lit(label).alias("stage"),
            (pl.col("mentions") * 1e6 / pl.col("words").clip(1)).alias("per_million_words"),
        )
        out.append(t)
    schema = {
        "domain": pl.String,
        "source": pl.String,
        "group": pl.String,
        "mentions": pl.UInt32,
        "words": pl.Int64,
        "stage": pl.String,
        "per_million_words": pl.Float64,
    }
    if not out:
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(out, how="diagonal_relaxed").select(list(schema)).sort("stage", "domain", "source", "group")
    )


def representation(layout: RunLayout, rule: RemovalRule) -> dict:
    docs, steps = documents(layout)
    return {
        "steps": steps,
        "documents": docs.height,
        "with_mentions": int(docs.filter(pl.col("groups").list.len() > 0).height),
        "removal": removal_table(docs, steps, rule),
        "mentions": mentions_table(docs, steps),
        "groups": list(GROUP_NAMES),
        "sample_ids": docs.filter(pl.col("groups").list.len() > 0)["id"].to_list(),
    }
