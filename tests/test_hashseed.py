"""Splits must not depend on Python's per-process string hashing: the same ids land in the same split in
processes started with different PYTHONHASHSEED values (calling twice in one process would never show it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = """
import json, polars as pl
from curation.splits import assign_splits
from training.align import holdout_split
ids = [f"src/{i}" for i in range(400)]
df = assign_splits(pl.DataFrame({"id": ids}), {"train": 0.8, "validation": 0.1, "test": 0.1}, 7)
rows = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(200)]
_, held = holdout_split(rows, 0.2, 7)
print(json.dumps({"splits": df["split"].to_list(), "held": [r["messages"][0]["content"] for r in held]}))
"""


def _run(seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_splits_do_not_depend_on_the_hash_seed():
    a, b = _run("1"), _run("4242")
    assert a == b
    assert {"train", "validation", "test"} == set(a["splits"]) and 20 <= len(a["held"]) <= 60
