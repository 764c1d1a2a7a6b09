"""The MinHash reduce: from per-shard key tables on disk to one decision per duplicate document.

Out of core by construction: the map outputs are Parquet files with one row per document (`id`, `q` the
preferred-keeper score, one UInt64 column per LSH band, and the shingle hashes `sh` or the signature `sig`
for verification). The reduce reads one band column at a time, so its memory is a few arrays of one
integer per document (plus the candidate pairs), never the text and never all bands at once.

Determinism: documents are numbered by the rank of their id, not by file order, so any shard or worker
count gives the same numbers, buckets, candidate pairs and clusters.

Per band, the documents sharing a bucket become candidate pairs (each with the bucket's smallest id). The
candidates are verified (exact Jaccard of the shingle sets, or the signature estimate) against the
threshold, and the verified pairs are joined into clusters (connected components). In each cluster the
keeper is the document with the highest `q` (e.g. `quality_score`; missing values last), then the smallest id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from curation.steps.base import REJECT
from mixloom.progress import track

REASON = "near_duplicate"
EDGE_CHUNK = 50_000  # candidate pairs verified per read of the verification column (bounds memory)
DECISION_SCHEMA = {
    "id": pl.String,
    REJECT: pl.String,
    "duplicate_of": pl.String,
    "cluster_id": pl.String,
    "cluster_size": pl.Int64,
    "minhash_jaccard": pl.Float64,
}


@dataclass
class ClusterStats:
    docs: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    clusters: int = 0
    duplicates: int = 0
    largest_cluster: int = 0


def _read(paths: list[Path], columns: list[str]) -> pl.DataFrame:
    return pl.scan_parquet([str(p) for p in paths]).select(columns).collect()


def _rank_order(ids: pl.Series) -> np.ndarray:
    """Positions of the documents sorted by id (ties, if any, by position): rank -> file position."""
    frame = pl.DataFrame({"id": ids}).with_row_index("_pos").sort(["id", "_pos"])
    return frame["_pos"].to_numpy().astype(np.int64)


def band_pairs(keys_by_rank: np.ndarray) -> np.ndarray:
    """Candidate pairs of one band as `u << 32 | v` (ranks, u < v): each bucket member with its first one."""
    srt = np.argsort(keys_by_rank, kind="stable")
    sk = keys_by_rank[srt]
    new = np.ones(len(sk), dtype=bool)
    new[1:] = sk[1:] != sk[:-1]
    first = srt[new][np.cumsum(new) - 1]
    member = ~new
    u, v = first[member].astype(np.uint64), srt[member].astype(np.uint64)
    return np.unique((u << np.uint64(32)) | v)


def candidate_pairs(paths: list[Path], order: np.ndarray, bands: int) -> np.ndarray:
    """All candidate pairs over the bands, reading one band column at a time."""
    pairs = np.zeros(0, dtype=np.uint64)
    for j in track(range(bands), "minhash: LSH bands"):
        keys = _read(paths, [f"b{j}"]).to_series().to_numpy()
        pairs = np.union1d(pairs, band_pairs(keys[order]))
    return pairs


def _file_starts(paths: list[Path]) -> np.ndarray:
    """Global position of each file's first row (from Parquet metadata), plus the total at the end."""
    counts = [pl.scan_parquet(str(p)).select(pl.len()).collect().item() for p in paths]
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _load_rows(
    paths: list[Path], starts: np.ndarray, positions: np.ndarray, column: str
) -> dict[int, np.ndarray]:
    """One column's values at the given global positions, reading one file at a time (memory: one shard)."""
    positions = np.sort(positions)
    out: dict[int, np.ndarray] = {}
    for k, path in enumerate(paths):
        lo, hi = np.searchsorted(positions, [starts[k], starts[k + 1]])
        if lo == hi:
            continue
        wanted = positions[lo:hi]
        col = pl.read_parquet(path, columns=[column])[column].gather(pl.Series(wanted - starts[k]))
        if column == "sig":
            mat = col.to_numpy()
            out.update({int(p): mat[i] for i, p in enumerate(wanted)})
            continue
        arr = col.to_arrow()
        if hasattr(arr, "combine_chunks"):
            arr = arr.combine_chunks()
        offsets, values = np.asarray(arr.offsets), np.asarray(arr.values)
        out.update({int(p): np.unique(values[offsets[i] : offsets[i + 1]]) for i, p in enumerate(wanted)})
    return out


def _jaccard_exact(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def verify_pairs(
    paths: list[Path], order: np.ndarray, pairs: np.ndarray, threshold: float, mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs whose Jaccard (exact or estimated) reaches the threshold, and their Jaccard."""
    if mode == "none" or len(pairs) == 0:
        return pairs, np.full(len(pairs), np.nan)
    column = "sh" if mode == "exact" else "sig"
    starts = _file_starts(paths)
    kept, sims = [], []
    for s in range(0, len(pairs), EDGE_CHUNK):
        chunk = pairs[s : s + EDGE_CHUNK]
        u = (chunk >> np.uint64(32)).astype(np.int64)
        v = (chunk & np.uint64(0xFFFFFFFF)).astype(np.int64)
        rows = _load_rows(paths, starts, order[np.unique(np.concatenate([u, v]))], column)
        if mode == "exact":
            j = np.array([_jaccard_exact(rows[order[x]], rows[order[y]]) for x, y in zip(u, v, strict=True)])
        else:
            su = np.stack([rows[order[x]] for x in u])
            sv = np.stack([rows[order[y]] for y in v])
            j = (su == sv).mean(axis=1)
        ok = j >= threshold
        kept.append(chunk[ok])
        sims.append(j[ok])
    return np.concatenate(kept), np.concatenate(sims)


def _components(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, component label per node) of the graph with edges u-v; labels are 0..k-1."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    m = len(u)
    graph = coo_matrix((np.ones(m, dtype=np.int8), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    return nodes, labels


def decide(
    ids: pl.Series, q: np.ndarray, order: np.ndarray, pairs: np.ndarray, sims: np.ndarray
) -> tuple[pl.DataFrame, ClusterStats]:
    """Clusters from verified pairs; one keeper per cluster; a decision row for every clustered document."""
    stats = ClusterStats(docs=len(ids), verified_pairs=len(pairs))
    if len(pairs) == 0:
        return pl.DataFrame(schema=DECISION_SCHEMA), stats
    u = (pairs >> np.uint64(32)).astype(np.int64)
    v = (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)
    nodes, labels = _components(u, v)  # nodes are ranks
    qn = q[order[nodes]]
    score = np.where(np.isnan(qn), np.inf, -qn)  # highest q first, missing last
    srt = np.lexsort((nodes, score, labels))  # by cluster, then score, then rank (= id order)
    lab_s, nodes_s = labels[srt], nodes[srt]
    first = np.ones(len(srt), dtype=bool)
    first[1:] = lab_s[1:] != lab_s[:-1]
    keeper_rank = nodes_s[first][np.cumsum(first) - 1]
    min_rank = np.minimum.reduceat(nodes_s, np.flatnonzero(first))[np.cumsum(first) - 1]
    sizes = np.bincount(labels)[lab_s]
    # best verified similarity of each document to any neighbour (for reports)
    best = np.zeros(len(nodes))
    sims = np.nan_to_num(sims, nan=0.0)
    np.maximum.at(best, np.searchsorted(nodes, u), sims)
    np.maximum.at(best, np.searchsorted(nodes, v), sims)
    id_of = ids.gather(pl.Series(order[nodes_s]))
    frame = pl.DataFrame(
        {
            "id": id_of,
            REJECT: pl.Series(np.where(first, None, REASON).tolist(), dtype=pl.String),
            "duplicate_of": ids.gather(pl.Series(order[keeper_rank])),
            "cluster_id": ids.gather(pl.Series(order[min_rank])),
            "cluster_size": sizes.astype(np.int64),
            "minhash_jaccard": best[np.searchsorted(nodes, nodes_s)],
        }
    )
    frame = frame.with_columns(
        pl.when(pl.col(REJECT).is_null()).then(None).otherwise(pl.col("duplicate_of")).alias("duplicate_of")
    ).sort("id")
    stats.clusters = int(first.sum())
    stats.duplicates = int(len(srt) - first.sum())
    stats.largest_cluster = int(np.bincount(labels).max())
    return frame, stats


def reduce_minhash(
    paths: list[Path], bands: int, threshold: float, verify: str
) -> tuple[pl.DataFrame, ClusterStats]:
    """The whole reduce: ids and keeper scores, candidate pairs band by band, verification, clusters."""
    paths = [Path(p) for p in paths]
    if not paths:
        return pl.DataFrame(schema=DECISION_SCHEMA), ClusterStats()
    meta = _read(paths, ["id", "q"])
    if meta.height == 0:
        return pl.DataFrame(schema=DECISION_SCHEMA), ClusterStats()
    order = _rank_order(meta["id"])
    pairs = candidate_pairs(paths, order, bands)
    verified, sims = verify_pairs(paths, order, pairs, threshold, verify)
    q = meta["q"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    frame, stats = decide(meta["id"], q, order, verified, sims)
    stats.candidate_pairs = len(pairs)
    return frame, stats
