"""`mixloom mix-search` end to end on a tiny budget: samples, fit, pick, verification, a runnable recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mixloom.experiments.mixsearch import run_search
from mixloom.recipe import load_recipe
from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mix_search_tiny(tmp_path):
    heads = json.loads((ROOT / "data/finance/semeval2017_task5_headlines.json").read_text())
    (tmp_path / "held.jsonl").write_text(
        "".join(json.dumps({"text": h["title"]}) + "\n" for h in heads[-20:])
    )
    doc = {
        "name": "tiny-search",
        "seed": 2,
        "base_dir": str(ROOT),
        "output": str(tmp_path / "run"),
        "sources": {
            "fiqa": FIQA,
            "wiki": WIKI,
        },
        "mix": {"shares": {"financial": 0.5, "general": 0.5}, "budget": 20000},
        "splits": {"train": 0.9, "validation": 0.1},
        "mix_search": {
            "runs": 4,
            "seeds": [1, 2],
            "candidates": 1000,
            "top": 10,
            "proxy": {
                "tokenizer": {"vocab_size": 320},
                "pretrain": {
                    "model": {"layers": 1, "heads": 1, "width": 32, "context": 32},
                    "steps": 2,
                    "batch_tokens": 256,
                    "micro_batch": 8,
                    "eval_every": 2,
                    "eval_tokens": 256,
                    "checkpoint_every": 2,
                },
            },
            "eval": {"held": {"path": str(tmp_path / "held.jsonl")}, "validation": "curate.validation"},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = run_search(load_recipe(path))
    assert len(res["samples"]) == 4 and len({s["run"] for s in res["samples"]}) == 4
    shares = [s["shares"]["financial"] for s in res["samples"]]
    assert len(set(shares)) == 4 and all(0 < x < 1 for x in shares)
    assert sum(res["chosen_shares"].values()) == pytest.approx(1.0)
    assert res["summary"]["searched"]["n"] == res["summary"]["hand_set"]["n"] == 2
    assert res["summary"]["hand_set"]["shares"] == {"financial": 0.5, "general": 0.5}
    out = load_recipe(res["recipe_out"])  # runnable: it validates and points at the same data
    assert out.mix.shares == res["chosen_shares"] and out.resolve("data") == ROOT / "data"
    assert "mix_search" not in yaml.safe_load(Path(res["recipe_out"]).read_text())
    root = Path(res["recipe_out"]).parent
    assert (root / "fit.png").read_bytes()[:4] == b"\x89PNG" and (root / "results.json").exists()
    again = run_search(load_recipe(path))  # everything cached: same numbers
    assert again["summary"] == res["summary"]
