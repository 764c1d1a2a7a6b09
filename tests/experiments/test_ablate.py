"""`mixloom ablate` end to end on a tiny budget: variants as overrides, shared runs, caching, the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import mixloom.orchestrator as orchestrator
from mixloom.cli import main
from mixloom.experiments.ablate import run_ablation
from mixloom.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, variants: dict) -> Path:
    heads = json.loads((ROOT / "data/finance/semeval2017_task5_headlines.json").read_text())
    (tmp_path / "held.jsonl").write_text(
        "".join(json.dumps({"title": h["title"]}) + "\n" for h in list(heads)[-20:])
    )
    doc = {
        "name": "tiny-ablate",
        "seed": 5,
        "base_dir": str(ROOT),
        "output": str(tmp_path / "run"),
        "sources": {
            "wiki": {
                "path": "data/wikitext2/wiki_valid_sample.txt",
                "format": "text",
                "split_on": "blank_line",
                "domain": "general",
            },
        },
        "steps": [
            {"normalize": {"form": "NFKC"}},
            {"dedup": {"method": "exact"}},
            {"sql": "length(text) >= 300"},
        ],
        "mix": {"shares": {"general": 1.0}, "max_epochs": 1},
        "splits": {"train": 0.9, "validation": 0.1},
        "ablate": {
            "variants": variants,
            "seeds": [1, 2],
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
            "eval": {
                "held": {"path": str(tmp_path / "held.jsonl"), "text": "title"},
                "validation": "curate.validation",
            },
        },
    }
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


@pytest.fixture
def calls(monkeypatch):
    """Every run directory the orchestrator is asked to run (the real orchestrator runs it)."""
    seen: list[Path] = []
    real = orchestrator.run_recipe

    def counting(recipe, out=None, force=False, only=None):
        seen.append(Path(out))
        return real(recipe, out=out, force=force, only=only)

    monkeypatch.setattr(orchestrator, "run_recipe", counting)
    return seen


@pytest.mark.slow
def test_variants_share_runs_cache_and_add_one(tmp_path, calls):
    # `same` overrides a value with the value it already has: its effective recipe is the base's, so its
    # curation and training directories are the base's
    variants = {"base": {}, "same": {"steps.normalize.form": "NFKC"}, "nodedup": {"steps.dedup": None}}
    path = _recipe(tmp_path, variants)
    res = run_ablation(load_recipe(path))
    root = tmp_path / "run" / "ablate"
    assert res["runs"]["same"]["curated"] == res["runs"]["base"]["curated"]
    assert res["runs"]["same"]["seeds"] == res["runs"]["base"]["seeds"]
    assert res["runs"]["nodedup"]["curated"] != res["runs"]["base"]["curated"]
    trained = {p for p in calls if p.parent.name == "train"}
    assert len(trained) == 4  # (base = same, nodedup) × 2 seeds
    assert len(list((root / "train").iterdir())) == 4
    for v in ("base", "nodedup"):
        for seed in ("1", "2"):
            bpb = res["runs"][v]["seeds"][int(seed)]["bpb"]
            assert set(bpb) == {"held", "validation"} and 0 < bpb["held"]["overall"] < 20
    assert res["ranking"][0] in variants and set(res["versus"]) == {"same", "nodedup"}
    assert res["versus"]["same"]["mean"]["diff"] == 0.0 and not res["versus"]["same"]["mean"]["exceeds_noise"]
    assert (root / "results.json").exists() and (root / "ablate.png").read_bytes()[:4] == b"\x89PNG"
    # seeds differ: the std over seeds is real noise, not zero
    assert res["table"]["base"]["held"]["std"] > 0

    # rerun unchanged: no proxy is trained again and the numbers are identical
    calls.clear()
    again = run_ablation(load_recipe(path))
    assert not [p for p in calls if p.parent.name == "train"]
    assert again["table"] == res["table"]

    # one more variant: only its two seeds train
    calls.clear()
    variants["strict"] = {"steps.sql": "length(text) >= 600"}
    more = run_ablation(load_recipe(_recipe(tmp_path, variants)))
    new = {p for p in calls if p.parent.name == "train"}
    assert len(new) == 2 and all(
        str(p) in {more["runs"]["strict"]["seeds"][s]["run"] for s in (1, 2)} for p in new
    )
    assert more["table"]["base"] == res["table"]["base"]


def test_bad_override_is_one_clear_error(tmp_path, capsys):
    path = _recipe(tmp_path, {"base": {}, "bad": {"steps.quality.rules": ["c4"]}})
    assert main(["ablate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ablate.variants.bad.steps.quality.rules" in err and "Traceback" not in err


def test_unknown_variant_option_is_one_clear_error(tmp_path, capsys):
    path = _recipe(tmp_path, {"base": {}, "raw": {"steps": []}})
    assert main(["ablate", str(path), "--variant", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--variant nope" in err and "base, raw" in err
