"""Benchmark: many tiny input files. N one-record JSONL files → `mixloom curate` with 2 workers.

Measures wall time of the whole command (a subprocess, so imports count), the output files it writes (outside
`_work/`, and in all), and checks the accounting (kept + rejected = N). Before read groups, 10,000 files took
698 s (600 s of it a superlinear duplicate-id check) and wrote 30,000 output files.

Run:  python bench/files.py                  (10,000 files)
      python bench/files.py --files 2000 --files 10000   (several sizes: the time should grow linearly)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.curation.hostile_corpus import sentence  # noqa: E402  (the hostile corpus's words)


def make_files(d: Path, n: int) -> Path:
    src = d / "src"
    for i in range(n):
        sub = src / f"{i // 1000:03d}"  # a thousand files a directory, as a crawl dump would be
        sub.mkdir(parents=True, exist_ok=True)
        text = sentence(i)
        (sub / f"doc{i:06d}.jsonl").write_text(json.dumps({"text": text}) + "\n")
    return src


def run(n: int, workers: int, steps: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = make_files(d, n)
        recipe = {
            "name": "files",
            "sources": {"many": {"path": str(src), "format": "jsonl", "domain": "web"}},
            "steps": [{"normalize": {}}, {"dedup": {"method": "exact"}}, {"sql": "tokens >= 3"}]
            if steps
            else [],
        }
        (d / "r.yaml").write_text(json.dumps(recipe))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MIXLOOM_QUIET": "1"}
        cmd = [sys.executable, "-m", "mixloom.cli", "curate", str(d / "r.yaml"), "--out", str(d / "out")]
        t0 = time.perf_counter()
        p = subprocess.run([*cmd, "--workers", str(workers)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        m = json.loads((d / "out" / "manifest.json").read_text())
        files = [f for f in (d / "out").rglob("*") if f.is_file()]
        outside = [f for f in files if "_work" not in f.relative_to(d / "out").parts]
        assert m["curated"]["docs"] + m["rejected"] == n == m["read"]["records"], m["read"]
        assert len(m["inputs"]) == n
        return {
            "files": n,
            "workers": workers,
            "wall_s": round(wall, 1),
            "kept": m["curated"]["docs"],
            "rejected": m["rejected"],
            "output_files": len(outside),
            "all_files_incl_work": len(files),
            "timings_s": m["timings_s"],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, action="append", help="number of files (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-steps", action="store_true", help="read and write only")
    a = ap.parse_args()
    for n in a.files or [10_000]:
        print(json.dumps(run(n, a.workers, not a.no_steps)), flush=True)


if __name__ == "__main__":
    main()
