"""Write the mix shard-wise: plan from per-shard keys, scatter rows into key ranges, gather parts in order.

The mix is interleaved: one seeded order across all sources, with a document's repeats spread out, so that a
streaming reader (a training loop reading parts in order, MosaicML streaming, `datasets` streaming) sees every
source at its share from the first row on and never meets a document twice in a row. Each mix row (a
document's copy `epoch` out of `copies`) gets the key `(epoch + u) / copies`, `u = hash(seed, id)` in [0, 1),
and rows are sorted by `(key, id, epoch)` within their split: a document's copies sit `1 / copies` apart, and
the order depends only on ids, copies and the seed, not on sharding, worker count or executor.

Nobody sorts the whole mix: each curated shard's task decides its rows' copies from the plan
(`curation.mix.plan_mix`, a per-source `Pick`), tags each row with its split, key and key range
(`bucket = floor(key × buckets)`, monotone in the key), writes them and counts rows per (split, bucket).
The driver adds the counts (one small array per shard, read one at a time) into each bucket's first position;
a part's task reads only the buckets that overlap its positions, sorts them and keeps its rows. Sorting
buckets in bucket order is the global sort, so the parts are the ones a global sort would write, byte for
byte, for any worker count or executor (`tests/curation/mix_reference.py` is that global sort).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curation.io.writers import write_parquet, write_table
from curation.mix import Pick, plan_mix
from curation.mixprobe import Probe
from curation.shards import parquet_rows
from curation.splits import assign_splits, unit_hash
from mixloom import storage
from mixloom.layout import RunLayout

HELPERS = ("split", "epoch", "_key", "_bucket", "pos")
RANGES_PER_PART = 4  # key ranges per output part: a part reads about (1 + 2 / this) parts of rows


@dataclass(frozen=True)
class ScatterJob:
    shard: str
    index: int
    spill: str | None  # the shard's mix keys (None: no mix section, every document once)
    picks: dict[str, Pick] | None
    seed: int
    splits: tuple[tuple[str, float], ...]
    buckets: int
    out: str
    counts: str


def _copies(job: ScatterJob, n: int) -> np.ndarray:
    if job.picks is None:
        return np.ones(n, dtype=np.int32)
    sp = storage.read_parquet(job.spill).with_row_index("_i")
    copies = np.zeros(n, dtype=np.int32)
    for (src, cp), g in sp.group_by("source", "copy", maintain_order=True):
        pick = job.picks.get(src)
        if pick is None:
            continue
        idx = g["_i"].to_numpy().astype(np.int64)
        h = g["h"].to_numpy()
        if cp:
            copies[idx] = pick.copies_cut.select(h, job.index, idx)
        else:
            copies[idx] = pick.full + pick.cut.select(h, job.index, idx)
    return copies


def scatter(job: ScatterJob) -> str:
    """A worker task: one curated shard's mix rows (one per copy) with split, epoch, key and key range."""
    df = storage.read_parquet(job.shard)
    df = df.with_columns(pl.Series("_copies", _copies(job, df.height), dtype=pl.Int32)).filter(
        pl.col("_copies") > 0
    )
    keys = assign_splits(
        df.select("id", *(["parent_id"] if "parent_id" in df.columns else [])), dict(job.splits), job.seed
    )
    u = pl.Series("_u", unit_hash(job.seed, "order", df["id"].to_list()), dtype=pl.Float64)
    rows = df.with_columns(keys["split"], u, pl.int_ranges(0, pl.col("_copies")).alias("epoch")).explode(
        "epoch"
    )
    rows = rows.with_columns(
        pl.col("epoch").cast(pl.Int32), ((pl.col("epoch") + pl.col("_u")) / pl.col("_copies")).alias("_key")
    )
    bucket = (pl.col("_key") * job.buckets).floor().cast(pl.Int64).clip(0, job.buckets - 1)
    rows = rows.with_columns(bucket.alias("_bucket")).drop("_copies", "_u").sort("split", "_bucket", "_key")
    names = [s for s, _ in job.splits]
    counts = np.zeros((len(names), job.buckets), dtype=np.int64)
    for split, b, n in rows.group_by("split", "_bucket").len().iter_rows():
        counts[names.index(split), b] = n
    with storage.path(job.counts).open("wb") as f:
        np.save(f, counts)
    write_parquet(rows, storage.path(job.out))
    return job.out


@dataclass(frozen=True)
class GatherJob:
    files: tuple[str, ...]
    split: str
    first: int  # buckets [first, last] overlap the part
    last: int
    base: int  # position of the first row of bucket `first`
    start: int  # the part's positions: [start, end)
    end: int
    out: str
    fmt: str


def gather(job: GatherJob) -> dict[str, Any]:
    """A worker task: write one output part, its rows in stream order."""
    want = (pl.col("split") == job.split) & pl.col("_bucket").is_between(job.first, job.last)
    frames = [storage.scan_parquet(f).filter(want).collect() for f in job.files]
    keys = pl.concat(
        [
            d.select("_key", "id", "epoch").with_columns(
                pl.lit(i, dtype=pl.Int64).alias("_f"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_r")
            )
            for i, d in enumerate(frames)
            if d.height
        ]
    ).sort("_key", "id", "epoch")
    keys = keys.with_columns((job.base + pl.int_range(pl.len(), dtype=pl.Int64)).alias("pos"))
    keys = keys.filter(pl.col("pos").is_between(job.start, job.end, closed="left"))
    parts = []
    for i, d in enumerate(frames):
        k = keys.filter(pl.col("_f") == i)
        if k.height:
            parts.append(d[k["_r"]].with_columns(k["pos"]))
    rows = pl.concat(parts, how="diagonal_relaxed").sort("pos")
    cols = [c for c in rows.columns if c not in HELPERS]
    rows = rows.select(*cols, "split", "epoch")
    write_table(rows, storage.path(job.out), job.fmt)
    return {
        "split": job.split,
        "docs": rows.height,
        "tokens": int(rows["tokens"].sum() or 0) if "tokens" in rows.columns else 0,
        "unique_docs": rows.filter(pl.col("epoch") == 0).height,
    }


def _mix_rows(finals: list[Path], probe: Probe | None, picks: dict[str, Pick] | None) -> int:
    if picks is None:
        return sum(parquet_rows(f) for f in finals)
    rows = 0
    for s, p in picks.items():
        count = probe.totals[(s, False)][0]
        rows += p.full * count + count  # at most: the buckets only need a size
    return rows + sum(n for (_, cp), (n, _) in probe.totals.items() if cp)


def clear_mix(mix_root: Path) -> None:
    """Remove the split folders of an earlier mix (the stage's output.log beside them stays)."""
    for split_dir in mix_root.glob("*") if mix_root.exists() else []:
        if split_dir.is_dir():
            storage.rmtree(split_dir)


def write_mix(recipe, finals: list[Path], out_dir: Path, ex) -> tuple[dict | None, dict]:
    """Plan and write the mix of the curated shards `finals`; returns (mix report, per-split stats)."""
    r = recipe
    mixdir = RunLayout(out_dir).mix_root
    clear_mix(mixdir)  # before planning: a failed mix must not leave an earlier mix behind
    work = RunLayout(out_dir).work / "mix_work"
    storage.rmtree(work)
    storage.makedirs(work)
    probe, picks, report = None, None, None
    if r.mix is not None:
        probe = Probe.build(finals, work, ex, r.seed, r.mix.unit)
        aug = r.get("augment")
        shares = {d: aug.cap(d) for d in r.mix.shares} if aug is not None else None
        picks, report = plan_mix(probe, r.mix, r.seed, shares)
    part_rows = r.execution.shard_docs
    buckets = max(1, math.ceil(RANGES_PER_PART * _mix_rows(finals, probe, picks) / part_rows))
    splits = tuple(r.splits.items())
    jobs = [
        ScatterJob(
            str(f),
            i,
            probe.spills[i] if probe else None,
            picks,
            r.seed,
            splits,
            buckets,
            str(work / f"scatter-{i:05d}.parquet"),
            str(work / f"counts-{i:05d}.npy"),
        )
        for i, f in enumerate(finals)
    ]
    files = tuple(ex.map(scatter, jobs, desc="mix (shuffle)"))
    counts = np.zeros((len(splits), buckets), dtype=np.int64)
    for j in jobs:
        with storage.path(j.counts).open("rb") as f:
            counts += np.load(f)
    gathers = []
    for si in sorted(range(len(splits)), key=lambda i: splits[i][0]):
        name, cnt = splits[si][0], counts[si]
        ends = np.cumsum(cnt)
        starts = ends - cnt
        total = int(ends[-1]) if len(ends) else 0
        for p in range(math.ceil(total / part_rows)):
            lo, hi = p * part_rows, min((p + 1) * part_rows, total)
            first = int(np.searchsorted(ends, lo, side="right"))  # the bucket holding position lo
            last = int(np.searchsorted(ends, hi - 1, side="right"))
            gathers.append(
                GatherJob(
                    files,
                    name,
                    first,
                    last,
                    int(starts[first]),
                    lo,
                    hi,
                    str(mixdir / name / f"part-{p:05d}"),
                    r.execution.output_format,
                )
            )
    split_stats: dict[str, dict[str, int]] = {s: {"docs": 0, "tokens": 0, "unique_docs": 0} for s in r.splits}
    for st in ex.map(gather, gathers, desc="mix (write)"):
        for k in ("docs", "tokens", "unique_docs"):
            split_stats[st["split"]][k] += st[k]
    storage.rmtree(work)
    return report, split_stats
