"""The whole-corpus mix, as the tests' reference: the selection (which documents, how many copies) and the
order (rows sorted by `(key, id, epoch)` within their split, `key = (epoch + u) / copies`) computed on the
whole table at once, which the shard-wise planner and writer (`curation.mix`, `curation.mixwrite`) must match
exactly."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl

from curation.augment.cap import split_augmented, take_copies
from curation.mix import _max_epochs, _targets
from curation.splits import assign_splits, unit_hash
from mixloom.sections.curate import Mix


def plan_order(selection: pl.DataFrame, splits: dict[str, float], seed: int, part_rows: int) -> pl.DataFrame:
    """selection: (id, copies) → one row per copy: id, epoch, split, part, pos (position within its split)."""
    if selection.is_empty():
        return pl.DataFrame(
            schema={"id": pl.String, "epoch": pl.Int32, "split": pl.String, "part": pl.Int32, "pos": pl.Int64}
        )
    keep = ["id", "copies", *(["parent_id"] if "parent_id" in selection.columns else [])]
    sel = assign_splits(selection.select(keep), splits, seed)  # a copy hashes its parent's id
    sel = sel.with_columns(pl.Series("_u", unit_hash(seed, "order", sel["id"].to_list()), dtype=pl.Float64))
    rows = sel.with_columns(pl.int_ranges(0, pl.col("copies")).alias("epoch")).explode("epoch")
    rows = rows.with_columns(
        pl.col("epoch").cast(pl.Int32),
        ((pl.col("epoch") + pl.col("_u")) / pl.col("copies")).alias("_key"),
    ).sort("split", "_key", "id", "epoch")
    pos = pl.int_range(0, pl.len(), dtype=pl.Int64).over("split")
    rows = rows.with_columns(pos.alias("pos"))
    return rows.select(
        "id", "epoch", "split", (pl.col("pos") // part_rows).cast(pl.Int32).alias("part"), "pos"
    )


def reference_mix(docs: pl.DataFrame, mix: Mix, seed: int, aug_share: dict | None) -> tuple[dict, dict]:
    """The whole-corpus mix selection (the algorithm before it went shard-wise): id → copies, per-source report."""
    unit = pl.col("tokens") if mix.unit == "tokens" else pl.lit(1, dtype=pl.Int64)
    docs, aug = split_augmented(docs.with_columns(unit.cast(pl.Float64).alias("_u")))
    per_src = docs.group_by("source").agg(pl.col("_u").sum(), pl.col("domain").first()).sort("source")
    avail = dict(zip(per_src["source"], per_src["_u"], strict=True))
    domain_of = dict(zip(per_src["source"], per_src["domain"], strict=True))
    _, target = _targets(avail, domain_of, mix)
    copies, report = {}, {}
    for s in sorted(avail):
        goal = min(target[s], _max_epochs(mix, s) * avail[s])
        a = (aug_share or {}).get(domain_of[s], 0.0)
        extra = take_copies(aug, s, seed, a * goal)
        sub = docs.filter(pl.col("source") == s).select("id", "_u")
        sub = sub[np.argsort(np.asarray(unit_hash(seed, f"mix:{s}", sub["id"].to_list())), kind="stable")]
        units, t = sub["_u"].to_numpy(), goal - float(extra["_u"].sum())
        total = float(units.sum())
        full, n = 0, 0
        if total > 0 and t > 0:
            full = int(t // total)
            rest = t - full * total
            cum = np.cumsum(units)
            k = int(np.searchsorted(cum, rest))
            if k >= len(cum):
                n = len(cum)
            else:
                below = cum[k - 1] if k > 0 else 0.0
                n = k + 1 if (cum[k] - rest) <= (rest - below) else k
        c = np.full(sub.height, full)
        c[:n] += 1
        achieved = float((units * c).sum())
        if extra.height:
            extra = take_copies(aug, s, seed, min(a * goal, a / (1 - a) * achieved))
        copies.update({i: int(x) for i, x in zip(sub["id"], c, strict=True) if x})
        copies.update(dict.fromkeys(extra["id"].to_list(), 1))
        report[s] = (
            achieved + float(extra["_u"].sum()),
            int((c > 0).sum()),
            int((c > 1).sum()),
            extra.height,
        )
    return copies, report


def random_docs(seed: int, n: int, with_copies: bool) -> pl.DataFrame:
    """n documents of three sources in two domains, token counts from 0 to 150, and (with copies) an augmented
    copy (`parent_id`) beside about 40% of them."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        src = rng.choice(["fin_a", "fin_b", "gen"])
        rows.append(
            {
                "id": f"{src}/{i}",
                "source": src,
                "domain": "general" if src == "gen" else "financial",
                "tokens": rng.choice([0, 1, 3, 7, 20, 150]),
                "parent_id": None,
            }
        )
        if with_copies and rng.random() < 0.4:
            rows.append({**rows[-1], "id": f"{src}/{i}~word_replace0", "parent_id": f"{src}/{i}"})
    df = pl.DataFrame(
        rows,
        schema={
            "id": pl.String,
            "source": pl.String,
            "domain": pl.String,
            "tokens": pl.Int64,
            "parent_id": pl.String,
        },
    )
    return df if with_copies else df.drop("parent_id")


def write_shards(docs: pl.DataFrame, folder: Path, shards: int, seed: int) -> list[Path]:
    """`docs` cut at seeded places into `shards` Parquet files, as the curated shards of a run."""
    cuts = sorted(random.Random(seed).sample(range(1, docs.height), shards - 1))
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, docs.height], strict=True)):
        files.append(folder / f"part-{k:05d}.parquet")
        docs[a:b].write_parquet(files[-1])
    return files
