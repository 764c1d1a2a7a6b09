"""The README's "Write your own step" example, run as written: one file plus one registry line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

from curation.pipeline import curate
from curation.steps.registry import STEPS
from mixloom.recipe import load_recipe

ROOT = Path(__file__).resolve().parent.parent


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Write your own step") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README's step example is gone"
    return code.group(1)


def test_readme_step_example_runs(tmp_path, write_recipe, monkeypatch):
    code = _example()
    assert len(code.strip().splitlines()) <= 35
    (tmp_path / "own_step_example.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{ROOT}")  # for worker processes
    STEPS.register("distinct_words", "own_step_example:INFO")
    try:
        src = tmp_path / "docs.jsonl"
        texts = [
            "one one one one one one",
            "the quick brown fox jumps over the lazy dog again",
            "a b c d e f g h",
        ]
        src.write_text("".join(f'{{"id": "d{i}", "text": "{t}"}}\n' for i, t in enumerate(texts)))
        recipe = write_recipe(
            {
                "sources": {"s": {"path": str(src), "format": "jsonl", "id": "id", "domain": "general"}},
                "steps": [{"distinct_words": {"min": 8}}],
            }
        )
        m = curate(load_recipe(recipe), out=tmp_path / "run")
    finally:
        STEPS.unregister("distinct_words")
        sys.modules.pop("own_step_example", None)
    kept = pl.read_parquet(tmp_path / "run" / "curated" / "*.parquet")
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    assert sorted(kept["id"]) == ["s/d1", "s/d2"]
    assert kept.sort("id")["distinct_words"].to_list() == [9, 8]
    assert rejects.select("id", "step", "reason").rows() == [
        ("s/d0", "0:distinct_words", "too_few_distinct_words")
    ]
    assert m["steps"][0]["docs_in"] == 3 and m["steps"][0]["docs_out"] == 2
