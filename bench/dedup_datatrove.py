"""datatrove's MinHash deduplication (its four-stage pipeline) on the benchmark corpus.

Runs inside its own venv (see `python bench/dedup.py --help`); imports nothing from mixloom.

    .bench/venvs/datatrove/bin/python bench/dedup_datatrove.py CORPUS_DIR OUT_DIR --workers N \
        --buckets B --rows R --ngram G

Writes OUT_DIR/result.json (seconds after imports) and OUT_DIR/clusters.jsonl ({"id", "cluster",
"removed"} for every document in a non-singleton cluster, from datatrove's `minhash_cluster_id`).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--buckets", type=int, default=9)
    ap.add_argument("--rows", type=int, default=13)
    ap.add_argument("--ngram", type=int, default=5)
    a = ap.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    out = a.out.resolve()
    files = len(glob.glob(str(a.corpus / "shard-*.jsonl")))
    cfg = MinhashConfig(n_grams=a.ngram, num_buckets=a.buckets, hashes_per_bucket=a.rows, seed=1)
    t0 = time.perf_counter()

    def reader():
        return JsonlReader(str(a.corpus.resolve()), glob_pattern="shard-*.jsonl", id_key="id")

    common = {"workers": a.workers, "skip_completed": False}
    stage1 = LocalPipelineExecutor(
        pipeline=[reader(), MinhashDedupSignature(output_folder=f"{out}/signatures", config=cfg)],
        tasks=files,
        logging_dir=f"{out}/logs/signatures",
        **common,
    )
    stage2 = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupBuckets(input_folder=f"{out}/signatures", output_folder=f"{out}/buckets", config=cfg)
        ],
        tasks=cfg.num_buckets,
        logging_dir=f"{out}/logs/buckets",
        depends=stage1,
        **common,
    )
    stage3 = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(
                input_folder=f"{out}/buckets",
                output_folder=f"{out}/remove_ids",
                config=cfg,
                save_cluster_id=True,
            )
        ],
        tasks=1,
        logging_dir=f"{out}/logs/clusters",
        depends=stage2,
        workers=1,
        skip_completed=False,
    )
    stage4 = LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                input_folder=f"{out}/remove_ids",
                load_cluster_ids=True,
                exclusion_writer=JsonlWriter(f"{out}/removed"),
            ),
            JsonlWriter(f"{out}/deduplicated"),
        ],
        tasks=files,
        logging_dir=f"{out}/logs/filter",
        depends=stage3,
        **common,
    )
    stage4.run()
    seconds = time.perf_counter() - t0

    with (out / "clusters.jsonl").open("w") as f:
        for kind in ("deduplicated", "removed"):
            for p in sorted(glob.glob(f"{out}/{kind}/*.jsonl*")):
                opener = gzip.open if p.endswith(".gz") else open
                with opener(p, "rt", encoding="utf-8") as fh:
                    for line in fh:
                        d = json.loads(line)
                        cid = d.get("metadata", {}).get("minhash_cluster_id", -1)
                        if cid != -1:
                            f.write(
                                json.dumps({"id": d["id"], "cluster": str(cid), "removed": kind == "removed"})
                                + "\n"
                            )
    (out / "result.json").write_text(json.dumps({"seconds": seconds, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
