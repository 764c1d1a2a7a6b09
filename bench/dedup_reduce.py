"""Benchmark: peak memory of exact dedup's reduce, one pass over every key vs bucket by bucket.

The reduce sees only (id, key) tables, one per shard, so the corpus is its map output: `--docs` ids shaped like
mixloom's (`source/file:record`) with xxh3 keys, 10% of them duplicates of others in other shards. Each variant
runs in its own process (peak RSS from getrusage, i.e. the whole reduce: reading, grouping, the decisions);
both must give equal decisions (the same rows in the same order).

Run:  python -m bench.dedup_reduce --docs 4000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from curation.steps.dedup import ExactDedup, ExactParams
paths, rows, out = sorted(Path(sys.argv[1]).glob("*.map.parquet")), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
r = ExactDedup(ExactParams(), bucket_rows=rows).reduce(paths, Path(out) / "work")
s = time.perf_counter() - t0
r.decisions.write_parquet(Path(out) / "decisions.parquet")
print(json.dumps({"seconds": s, "removed": r.report["removed"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(root: Path, docs: int, shards: int = 16) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, size=docs, dtype=np.uint64)
    dup = rng.random(docs) < 0.10
    keys[dup] = keys[rng.integers(0, docs, size=int(dup.sum()))]  # copies of other documents' keys
    order = rng.permutation(docs)
    for s in range(shards):
        idx = order[s::shards]
        ids = pl.Series("id", idx).map_elements(
            lambda i: f"wiki/part-{i % 97:03d}.txt:{i:09d}", return_dtype=pl.String
        )
        pl.DataFrame({"id": ids, "key": pl.Series(keys[idx], dtype=pl.UInt64)}).write_parquet(
            root / f"shard-{s:03d}.map.parquet"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=4_000_000)
    ap.add_argument(
        "--bucket-rows", type=int, default=0, help="0: the default (curation.steps.dedup.BUCKET_ROWS)"
    )
    a = ap.parse_args()
    from curation.steps.dedup import BUCKET_ROWS

    rows = a.bucket_rows or BUCKET_ROWS
    with tempfile.TemporaryDirectory(prefix="dedup-reduce-") as d:
        root = Path(d)
        t0 = time.perf_counter()
        build(root, a.docs)
        print(f"{a.docs:,} keys in 16 shards, built in {time.perf_counter() - t0:.1f} s")
        results = {}
        for name, r in [("one pass", a.docs * 2), (f"buckets of {rows:,}", rows)]:
            out = root / name.replace(" ", "_").replace(",", "")
            out.mkdir()
            p = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), str(r), str(out)], capture_output=True, text=True
            )
            if p.returncode:
                sys.exit(p.stderr[-2000:])
            results[name] = json.loads(p.stdout) | {"out": out}
            print(f"{name:>22}: peak {results[name]['peak_mb']:,.0f} MB, {results[name]['seconds']:.1f} s, "
                  f"{results[name]['removed']:,} duplicates")  # fmt: skip
        import polars as pl

        a_, b_ = (pl.read_parquet(v["out"] / "decisions.parquet") for v in results.values())
        same = a_.equals(b_)  # the frames (a file's row groups follow the frame's chunks, which vary)
        print(f"same decisions: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
