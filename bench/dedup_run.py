"""One near-dedup run of one tool, in its own process (so its time and memory are its own).

    python bench/dedup_run.py TOOL CORPUS_DIR OUT_DIR --workers N [--threshold T --num-perm P --ngram G]

TOOL: `mixloom` (the real pipeline: `curate` on a recipe with just the minhash step), `mixloom-step` (the
step's map/reduce driven over the corpus shards with a process pool), `datasketch` (a plain loop: one
`MinHash` per document, `MinHashLSH` insert and query, union-find). Writes OUT_DIR/result.json with the
seconds spent after imports and OUT_DIR/clusters.jsonl: one line per document in a non-singleton cluster,
{"id", "cluster", "removed"}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl  # noqa: E402

_WORDS = re.compile(r"\w+")


def write_clusters(out: Path, rows: list[tuple[str, str, bool]]) -> None:
    with (out / "clusters.jsonl").open("w") as f:
        for i, c, r in rows:
            f.write(json.dumps({"id": i, "cluster": c, "removed": r}) + "\n")


def _params(a) -> dict:
    return {"method": "minhash", "threshold": a.threshold, "num_perm": a.num_perm, "ngram": a.ngram}


def run_pipeline(a, corpus: Path, out: Path) -> list[tuple[str, str, bool]]:
    import yaml

    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    recipe = {
        "name": "bench-minhash",
        "seed": 1,
        "sources": {
            "b": {
                "path": str(corpus.resolve() / "shard-*.jsonl"),
                "format": "jsonl",
                "id": "id",
                "domain": "c",
            }
        },
        "steps": [{"dedup": _params(a)}],
        "execution": {"executor": "local", "workers": a.workers, "shard_docs": 5000},
        "splits": {"train": 1.0},
    }
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    curate(load_recipe(path), out=out / "run", workers=a.workers)
    dec = pl.read_parquet(next((out / "run" / "_work").rglob("decisions.parquet")))
    strip = pl.col("id").str.strip_prefix("b/")
    dec = dec.select(strip, pl.col("cluster_id").str.strip_prefix("b/"), pl.col("_reject").is_not_null())
    return [tuple(r) for r in dec.rows()]


def _map_shard(job: tuple) -> str:
    step, src, dst = job
    df = pl.read_ndjson(src, schema={"id": pl.String, "text": pl.String})
    step.map(df).write_parquet(dst)
    return dst


def run_step(a, corpus: Path, out: Path) -> list[tuple[str, str, bool]]:
    from curation.steps.base import StepContext
    from curation.steps.minhash import MinhashParams, build_minhash

    step = build_minhash(MinhashParams(**_params(a)), StepContext(root=Path("."), seed=1))
    shards = sorted(corpus.glob("shard-*.jsonl"))
    jobs = [(step, str(s), str(out / f"{s.stem}.map.parquet")) for s in shards]
    with get_context("spawn").Pool(a.workers) as pool:  # polars thread pools do not survive fork
        paths = [Path(p) for p in pool.map(_map_shard, jobs, chunksize=1)]
    dec = step.reduce(paths, out / "reduce").decisions
    return [(i, c, r is not None) for i, c, r in dec.select("id", "cluster_id", "_reject").rows()]


def run_datasketch(a, corpus: Path, out: Path) -> list[tuple[str, str, bool]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=a.threshold, num_perm=a.num_perm)
    sigs = {}
    for shard in sorted(corpus.glob("shard-*.jsonl")):
        for line in shard.open(encoding="utf-8"):
            d = json.loads(line)
            words = _WORDS.findall(d["text"].lower())
            grams = {" ".join(words[i : i + a.ngram]) for i in range(max(1, len(words) - a.ngram + 1))}
            if not words:
                continue
            m = MinHash(num_perm=a.num_perm, seed=1)
            m.update_batch([g.encode("utf-8") for g in grams])
            lsh.insert(d["id"], m)
            sigs[d["id"]] = m
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for key, m in sigs.items():
        for other in lsh.query(m):
            ra, rb = find(key), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the smallest id is the root, and the keeper
    members: dict[str, list[str]] = {}
    for key in parent:
        members.setdefault(find(key), []).append(key)
    rows = []
    for root, ms in members.items():
        for k in set(ms) | {root}:
            rows.append((k, root, k != root))
    return rows


RUNNERS = {"mixloom": run_pipeline, "mixloom-step": run_step, "datasketch": run_datasketch}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=sorted(RUNNERS))
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=5)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = RUNNERS[a.tool](a, a.corpus, a.out)
    seconds = time.perf_counter() - t0
    write_clusters(a.out, rows)
    (a.out / "result.json").write_text(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
