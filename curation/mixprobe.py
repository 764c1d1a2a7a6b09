"""Shard-wise mix sampling: the seeded prefix of a source's documents without a per-document table anywhere.

The mix ranks a source's documents by a hash of (seed, source, id) and takes the prefix whose units come closest
to a target (`curation.mix`). Ties of the hash break by position: (curated shard, row). Here no process holds a
source's documents: each curated shard's worker writes its keys (hash, units, source, copy flag) to a spill
file and a histogram of units over hash bins; the driver sums the histograms (one at a time), finds the bin
where the cumulative units cross the target, and asks the shards for that bin's few documents only (bins split
further while they hold more than `FETCH_ROWS`). The answer is a `Cut`: a position in the ranking. All sums
are of whole units (tokens or documents) in float64, so they are exact and the cut is the one a full sort
would give: the same documents for any sharding of the work, worker count or executor.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from curation.splits import unit_hash
from mixloom import storage
from mixloom.errors import UserError

BINS = 4096  # top-level hash bins (a power of two: h * BINS is exact)
FETCH_ROWS = 65_536  # a bin with at most this many documents is fetched whole; a larger one splits again
MAX_DEPTH = 8
Group = tuple[str, bool]  # (source, is an augmented copy)


def salt(source: str, copy: bool) -> str:
    return f"augment:{source}" if copy else f"mix:{source}"


@dataclass(frozen=True)
class KeyJob:
    shard: str
    spill: str
    hist: str
    seed: int
    unit: str


def write_keys(job: KeyJob) -> dict:
    """A worker task: one curated shard → its spill file, its histogram file and per-group totals."""
    schema = storage.parquet_schema(job.shard)
    cols = ["id", "source", "domain", "tokens", *(["parent_id"] if "parent_id" in schema else [])]
    df = storage.read_parquet(job.shard, columns=cols)
    u = df["tokens"].cast(pl.Float64) if job.unit == "tokens" else pl.Series([1.0] * df.height)
    if job.unit == "tokens" and (u.null_count() or u.is_nan().any()):  # e.g. a step that rewrote `tokens`
        raise UserError("mix: token counts are missing")
    copy = df["parent_id"].is_not_null() if "parent_id" in df.columns else pl.Series([False] * df.height)
    h = np.zeros(df.height)
    keys = df.select("id", "source").with_columns(copy.alias("copy"), pl.int_range(pl.len()).alias("_i"))
    totals, arrays = {}, {}
    for (src, cp), g in keys.group_by("source", "copy", maintain_order=True):
        idx = g["_i"].to_numpy()
        h[idx] = unit_hash(job.seed, salt(src, cp), g["id"].to_list())
        uu = u.to_numpy()[idx]
        bins = np.minimum((h[idx] * BINS).astype(np.int64), BINS - 1)
        arrays[f"n{len(totals)}"] = np.bincount(bins, minlength=BINS)
        arrays[f"u{len(totals)}"] = np.bincount(bins, weights=uu, minlength=BINS)
        dom = df["domain"][int(idx[0])]
        totals[(src, bool(cp))] = (len(idx), float(uu.sum()), dom)
    spill = pl.DataFrame({"h": h, "u": u, "source": df["source"], "copy": copy})
    with storage.path(job.spill).open("wb") as f:
        spill.write_parquet(f, compression="lz4")
    with storage.path(job.hist).open("wb") as f:
        np.savez(f, **arrays)
    return {"totals": totals}


@dataclass(frozen=True)
class ProbeJob:
    spill: str
    index: int
    requests: tuple[tuple[str, bool, float, float, int], ...]  # source, copy, lo, hi, bins (0: fetch rows)


def probe(job: ProbeJob) -> list:
    """A worker task: per request, a histogram of [lo, hi) in `bins` equal bins, or its rows (h, shard, row, u)."""
    sp = storage.read_parquet(job.spill).with_row_index("row")
    out = []
    for src, cp, lo, hi, bins in job.requests:
        g = sp.filter((pl.col("source") == src) & (pl.col("copy") == cp))
        g = g.filter((pl.col("h") >= lo) & (pl.col("h") < hi))
        h, u = g["h"].to_numpy(), g["u"].to_numpy()
        if bins:
            b = np.searchsorted(_edges(lo, hi, bins), h, side="right") - 1
            out.append((np.bincount(b, minlength=bins), np.bincount(b, weights=u, minlength=bins)))
        else:
            out.append(
                (h, np.full(len(h), job.index, dtype=np.int64), g["row"].to_numpy().astype(np.int64), u)
            )
    return out


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    top = hi if np.isfinite(hi) else 1.0
    e = np.linspace(lo, top, bins + 1)
    e[-1] = hi
    return e


@dataclass(frozen=True)
class Cut:
    """A position in a group's ranking by (h, shard, row): the documents before it are selected."""

    key: tuple[float, int, int] | None = None  # None: `everything` decides
    inclusive: bool = False
    everything: bool = False

    def select(self, h: np.ndarray, shard: int, rows: np.ndarray) -> np.ndarray:
        if self.everything:
            return np.ones(len(h), dtype=bool)
        if self.key is None:
            return np.zeros(len(h), dtype=bool)
        kh, ks, kr = self.key
        tie = (rows <= kr) if self.inclusive else (rows < kr)
        at = (shard < ks) | ((shard == ks) & tie)
        return (h < kh) | ((h == kh) & at)


@dataclass
class Found:
    """The first document whose cumulative units reach the threshold: its rank, cum units through it and before
    it, and its key; `None` where no document does."""

    k: int
    cum: float
    below: float
    key: tuple[float, int, int]


@dataclass
class Probe:
    """The driver's side: per-group totals and summed histograms (no per-document state)."""

    spills: list[str]
    ex: object
    totals: dict[Group, tuple[int, float]] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)
    hist: dict[Group, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def build(cls, finals: list[Path], work: Path, ex, seed: int, unit: str) -> Probe:
        storage.makedirs(work)
        jobs = [
            KeyJob(str(f), str(work / f"keys-{i:05d}.parquet"), str(work / f"hist-{i:05d}.npz"), seed, unit)
            for i, f in enumerate(finals)
        ]
        results = ex.map(write_keys, jobs, desc="mix (keys)")
        p = cls([j.spill for j in jobs], ex)
        for job, res in zip(jobs, results, strict=True):
            for g, (n, units, dom) in res["totals"].items():
                c, s = p.totals.get(g, (0, 0.0))
                p.totals[g] = (c + n, s + units)
                if not g[1]:
                    p.domains.setdefault(g[0], dom)
            with storage.path(job.hist).open("rb") as f, np.load(io.BytesIO(f.read())) as z:
                for k, g in enumerate(res["totals"]):  # the histograms are in the order of the totals
                    n_arr, u_arr = p.hist.setdefault(g, (np.zeros(BINS, np.int64), np.zeros(BINS)))
                    n_arr += z[f"n{k}"]
                    u_arr += z[f"u{k}"]
        return p

    def resolve(self, queries: list[tuple[Group, float, bool]]) -> list[Found | None]:
        """Per query (group, threshold t, strict): the first document with cum units >= t (> t if strict)."""
        state = []  # per query: (lo, hi, counts, units, base count, base units, depth)
        for g, _, _ in queries:
            n, u = self.hist.get(g, (np.zeros(BINS, np.int64), np.zeros(BINS)))
            state.append([0.0, float("inf"), n, u, 0, 0.0, 0])
        answers: list[Found | None | str] = ["?"] * len(queries)
        while "?" in answers:
            fetch, split = {}, {}
            for i, (g, t, strict) in enumerate(queries):
                if answers[i] != "?":
                    continue
                lo, hi, n, u, c0, u0, depth = state[i]
                cum = u0 + np.cumsum(u)
                hit = np.nonzero((cum > t if strict else cum >= t) & (n > 0))[0]
                if not len(hit):
                    answers[i] = None
                    continue
                j = int(hit[0])
                e = _edges(lo, hi, len(n)) if depth else np.append(np.arange(BINS) / BINS, np.inf)
                blo, bhi = float(e[j]), float(e[j + 1])
                base = (c0 + int(n[:j].sum()), u0 + float(u[:j].sum()))
                if n[j] <= FETCH_ROWS or depth >= MAX_DEPTH:
                    fetch[i] = (g, blo, bhi, base)
                else:
                    split[i] = (g, blo, bhi, base)
            for i, rows in self._ask(fetch, 0).items():
                g, _, _, (c0, u0) = fetch[i]
                answers[i] = _find(rows, c0, u0, queries[i][1], queries[i][2])
            for i, hists in self._ask(split, 1024).items():
                g, blo, bhi, (c0, u0) = split[i]
                n = sum(h[0] for h in hists)
                u = sum(h[1] for h in hists)
                state[i] = [blo, bhi, n, u, c0, u0, state[i][6] + 1]
        return answers  # type: ignore[return-value]

    def _ask(self, reqs: dict[int, tuple], bins: int) -> dict[int, list]:
        if not reqs:
            return {}
        order = list(reqs)
        spec = tuple((reqs[i][0][0], reqs[i][0][1], reqs[i][1], reqs[i][2], bins) for i in order)
        jobs = [ProbeJob(s, k, spec) for k, s in enumerate(self.spills)]
        per_shard = self.ex.map(probe, jobs, desc="mix (probe)")
        return {i: [res[q] for res in per_shard] for q, i in enumerate(order)}


def _find(rows: list, c0: int, u0: float, t: float, strict: bool) -> Found | None:
    h = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0)
    shard = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.int64)
    row = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
    u = np.concatenate([r[3] for r in rows]) if rows else np.zeros(0)
    order = np.lexsort((row, shard, h))
    cum = u0 + np.cumsum(u[order])
    hit = np.nonzero(cum > t if strict else cum >= t)[0]
    if not len(hit):
        return None
    j = int(hit[0])
    o = order[j]
    return Found(
        c0 + j, float(cum[j]), float(cum[j - 1]) if j else u0, (float(h[o]), int(shard[o]), int(row[o]))
    )
