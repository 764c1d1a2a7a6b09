"""text-dedup 0.4's MinHash deduplication (`text_dedup.minhash`, on Hugging Face datasets) on the corpus.

Runs inside its own venv (see `python bench/dedup.py --help`); imports nothing from mixloom.

    .bench/venvs/text-dedup/bin/python bench/dedup_textdedup.py CORPUS_DIR OUT_DIR --workers N \
        --threshold T --num-perm P --ngram G

Writes OUT_DIR/result.json (seconds after imports) and OUT_DIR/clusters.jsonl ({"id", "cluster",
"removed"} for every document in a non-singleton cluster: text-dedup keeps the union-find root).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=5)
    a = ap.parse_args()

    import datasets
    from text_dedup import minhash as td

    out = a.out.resolve()
    files = str(a.corpus.resolve() / "shard-*.jsonl")
    args = [
        "--path",
        "json",
        "--data_files",
        files,
        "--split",
        "train",
        "--cache_dir",
        str(out / "cache"),
        "--output",
        str(out / "deduplicated"),
        "--column",
        "text",
        "--num_proc",
        str(a.workers),
        "--threshold",
        str(a.threshold),
        "--num_perm",
        str(a.num_perm),
        "--ngram",
        str(a.ngram),
        "--min_length",
        "0",
    ]
    t0 = time.perf_counter()
    td.main(args, standalone_mode=False)
    seconds = time.perf_counter() - t0

    ids = datasets.load_dataset("json", data_files=files, split="train", cache_dir=str(out / "cache2"))["id"]
    uf = td.uf
    with (out / "clusters.jsonl").open("w") as f:
        for i in list(uf.parent):
            root = uf.find(i)
            if root != i:
                f.write(json.dumps({"id": ids[i], "cluster": ids[root], "removed": True}) + "\n")
        roots = {uf.find(i) for i in uf.parent if uf.find(i) != i}
        for r in sorted(roots):
            f.write(json.dumps({"id": ids[r], "cluster": ids[r], "removed": False}) + "\n")
    (out / "result.json").write_text(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
