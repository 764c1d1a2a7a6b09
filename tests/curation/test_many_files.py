"""Many tiny input files: output files follow the shard count, not the file count, and time grows linearly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from curation.pipeline import curate
from mixloom.recipe import parse_recipe


def _files(d: Path, n: int) -> Path:
    src = d / "src"
    for i in range(n):
        sub = src / f"{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"d{i:06d}.jsonl").write_text(
            json.dumps({"text": f"document number {i} of many tiny files"}) + "\n"
        )
    return src


def _run(d: Path, n: int, workers: int, shard_docs: int = 20_000) -> tuple[dict, list[Path], float]:
    src = _files(d, n)
    recipe = parse_recipe(
        {
            "name": "many",
            "sources": {"many": {"path": str(src), "format": "jsonl", "domain": "d"}},
            "steps": [{"dedup": {"method": "exact"}}, {"sql": "tokens >= 3"}],
            "execution": {"shard_docs": shard_docs},
        },
        d / "r.yaml",
    )
    t0 = time.perf_counter()
    m = curate(recipe, out=d / "out", workers=workers)
    took = time.perf_counter() - t0
    outputs = [
        f for f in (d / "out").rglob("*") if f.is_file() and "_work" not in f.relative_to(d / "out").parts
    ]
    return m, outputs, took


def test_output_files_follow_shards_not_input_files(tmp_path):
    m, outputs, _ = _run(tmp_path, 1200, workers=1, shard_docs=500)
    assert len(m["inputs"]) == 1200 and m["curated"]["docs"] + m["rejected"] == 1200
    parts = [f for f in outputs if f.parent.name == "curated"]
    assert len(parts) == 3  # 1,200 docs / 500 per shard; 1,200 input files
    assert (
        len(outputs) <= 3 * len(parts) + 2
    )  # curated, mix and (non-empty) rejects per shard; manifest, lock


@pytest.mark.slow
def test_ten_thousand_files_linear(tmp_path):
    _, _, t_small = _run(tmp_path / "small", 2500, workers=2)
    m, outputs, t_big = _run(tmp_path / "big", 10_000, workers=2)
    assert m["curated"]["docs"] == 10_000 and len(m["inputs"]) == 10_000
    assert len(outputs) <= 5
    assert t_big / t_small < 8, (t_small, t_big)  # 4x the files: linear is ~4x (plus fixed costs); n^2 is 16x
