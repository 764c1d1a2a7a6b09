"""`mixloom ablate` and `mixloom mix-search` through the CLI at the smallest budget (one seed, one-step proxies):
what lands on disk, what the terminal and the run report show, and that a rerun trains nothing. The larger
runs (several seeds, caching across variants) are the slow tests beside this file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import mixloom.orchestrator as orchestrator
from mixloom.cli import main
from mixloom.errors import UserError
from mixloom.experiments import runs
from mixloom.experiments.schema import EvalSet
from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe
from mixloom.report import build_report
from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parents[2]
PROXY = {
    "tokenizer": {"vocab_size": 320},
    "pretrain": {
        "model": {"layers": 1, "heads": 1, "width": 32, "context": 32},
        "steps": 1,
        "batch_tokens": 128,
        "micro_batch": 4,
        "eval_every": 1,
        "eval_tokens": 128,
        "checkpoint_every": 1,
    },
}


def _held(tmp: Path) -> Path:
    heads = json.loads((ROOT / "data/finance/semeval2017_task5_headlines.json").read_text())
    p = tmp / "held.jsonl"
    p.write_text("".join(json.dumps({"title": h["title"]}) + "\n" for h in heads[-12:]))
    return p


@pytest.fixture
def trained(monkeypatch) -> list[Path]:
    """Run directories the real orchestrator was asked to run for a proxy (train/<hash>)."""
    seen: list[Path] = []
    real = orchestrator.run_recipe

    def counting(recipe, out=None, force=False, only=None):
        if Path(out).parent.name == "train":
            seen.append(Path(out))
        return real(recipe, out=out, force=force, only=only)

    monkeypatch.setattr(orchestrator, "run_recipe", counting)
    return seen


def test_ablate_two_variants_one_seed(tmp_path, capsys, trained):
    doc = {
        "name": "fast-ablate",
        "seed": 5,
        "base_dir": str(ROOT),
        "output": str(tmp_path / "run"),
        "sources": {"wiki": WIKI},
        "steps": [{"dedup": {"method": "exact"}}, {"sql": "length(text) >= 200"}],
        "splits": {"train": 0.9, "validation": 0.1},
        "ablate": {
            "variants": {"base": {}, "strict": {"steps.sql": "length(text) >= 600"}},
            "seeds": [1],
            "proxy": PROXY,
            "eval": {
                "held": {"path": str(_held(tmp_path)), "text": "title"},
                "validation": "curate.validation",
            },
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["ablate", str(path)]) == 0
    cap = capsys.readouterr()
    assert "ablation (bits per byte, 1 seeds)" in cap.out and "baseline" in cap.out
    root = tmp_path / "run" / "ablate"
    assert f"results:{root}/results.json,ablate.png,index.html" in "".join(cap.err.split())  # wrapped
    res = json.loads((root / "results.json").read_text())
    assert len(trained) == 2 and {str(p) for p in trained} == {
        res["runs"][v]["seeds"]["1"]["run"] for v in ("base", "strict")
    }
    assert res["sets"] == ["held", "validation"] and sorted(res["ranking"]) == ["base", "strict"]
    assert res["runs"]["strict"]["curated"] != res["runs"]["base"]["curated"]
    for v in ("base", "strict"):
        cell = res["table"][v]["held"]
        assert cell["n"] == 1 and cell["std"] == 0.0 and 0 < cell["mean"] < 20
    vs = res["versus"]["strict"]["mean"]
    assert vs["diff"] == pytest.approx(
        res["table"]["strict"]["mean"]["mean"] - res["table"]["base"]["mean"]["mean"]
    )
    assert vs["exceeds_noise"] is False  # one seed measures no noise, so nothing is called real
    assert (root / "ablate.png").read_bytes()[:4] == b"\x89PNG"
    page = (root / "index.html").read_text()
    assert "<h1>Ablation</h1>" in page and "strict" in page and "within 2 std" in page
    # the run report picks the ablation up from the run directory
    report = build_report(tmp_path / "run").read_text()
    assert "<h2>Ablation</h2>" in report and (tmp_path / "run" / "report" / "ablate.png").exists()

    trained.clear()
    assert main(["ablate", str(path), "--variant", "strict"]) == 0  # all cached: nothing trains
    assert trained == []
    assert list(json.loads((root / "results.json").read_text())["runs"]) == ["strict"]


def test_mix_search_smallest(tmp_path, capsys, trained):
    doc = {
        "name": "fast-search",
        "seed": 2,
        "base_dir": str(ROOT),
        "output": str(tmp_path / "run"),
        "sources": {"fiqa": FIQA, "wiki": WIKI},
        "mix": {"shares": {"financial": 0.5, "general": 0.5}, "budget": 8000},
        "splits": {"train": 0.9, "validation": 0.1},
        "mix_search": {
            "runs": 4,
            "seeds": [1],
            "candidates": 200,
            "top": 5,
            "proxy": PROXY,
            "eval": {"held": {"path": str(_held(tmp_path)), "text": "title"}},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["mix-search", str(path)]) == 0
    cap = capsys.readouterr()
    root = tmp_path / "run" / "mix-search"
    res = json.loads((root / "results.json").read_text())
    assert f"chosenmixtureasarecipe:{res['recipe_out']}" in "".join(cap.err.split())
    assert "mixture search (objective: mean)" in cap.out
    assert len(res["samples"]) == 4 and len({s["run"] for s in res["samples"]}) == 4
    assert all(0 < s["shares"]["financial"] < 1 for s in res["samples"])
    assert sum(res["chosen_shares"].values()) == pytest.approx(1.0)
    out = load_recipe(res["recipe_out"])
    assert out.mix.shares == res["chosen_shares"] and "mix_search" not in yaml.safe_load(
        Path(res["recipe_out"]).read_text()
    )
    assert (root / "fit.png").read_bytes()[:4] == b"\x89PNG"
    report = build_report(tmp_path / "run").read_text()
    assert "Mixture search" in report
    n = len(trained)
    assert main(["mix-search", str(path)]) == 0
    assert len(trained) == n  # cached
    assert json.loads((root / "results.json").read_text())["summary"] == res["summary"]


# -- the pieces, without training ------------------------------------------------------------------------
def test_eval_sets_in_every_format(tmp_path):
    (tmp_path / "a.txt").write_text("one para\n\nsecond para\n\n\n# Heading\n\nthird")
    (tmp_path / "b.jsonl").write_text(json.dumps({"t": "x1"}) + "\n\n" + json.dumps({"t": ""}) + "\n")
    (tmp_path / "c.json").write_text(json.dumps({"k1": {"t": "y1"}, "k2": {"t": "y2"}, "k3": 5}))
    (tmp_path / "d.json").write_text(json.dumps([{"t": "z1"}, {"other": 1}]))
    import polars as pl

    pl.DataFrame({"t": ["p1", "p2"]}).write_parquet(tmp_path / "e.parquet")
    files = [tmp_path / n for n in ("a.txt", "b.jsonl", "c.json", "d.json", "e.parquet")]
    docs = runs._read_docs(files, EvalSet(path="x", text="t", skip="^#"))
    assert docs == ["one para", "second para", "third", "x1", "y1", "y2", "z1", "p1", "p2"]
    assert runs._read_docs(files[:1], EvalSet(path="x", split_on="line", skip="^#")) == [
        "one para",
        "second para",
        "third",
    ]
    assert runs._read_docs(files[:1], EvalSet(path="x", split_on="none")) == [
        (tmp_path / "a.txt").read_text().strip()
    ]
    assert runs._read_docs(files[:1], EvalSet(path="x", split_on="blank_line", limit=2)) == [
        "one para",
        "second para",
    ]
    assert runs._read_docs([tmp_path / "b.jsonl"], EvalSet(path="x", text="t", format="jsonl")) == ["x1"]


def test_prepare_evalsets_caches_by_content_and_names_mistakes(tmp_path):
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text("name: r\n")
    recipe = load_recipe(recipe_path)
    (tmp_path / "h.jsonl").write_text(json.dumps({"text": "hello there"}) + "\n")
    sets = {"h": EvalSet(path="h.jsonl")}
    out = runs.prepare_evalsets(recipe, sets, tmp_path / "exp", None)
    assert out["h"].parent == tmp_path / "exp" / "evalsets" and out["h"].name.startswith("h-")
    assert [json.loads(x) for x in out["h"].read_text().splitlines()] == [
        {"text": "hello there", "domain": "h"}
    ]
    assert runs.prepare_evalsets(recipe, sets, tmp_path / "exp", None) == out  # same content, same file
    (tmp_path / "h.jsonl").write_text(json.dumps({"text": "changed"}) + "\n")
    assert runs.prepare_evalsets(recipe, sets, tmp_path / "exp", None)["h"] != out["h"]
    with pytest.raises(UserError, match=r"eval.m.path: no file at .*missing\*.jsonl; check the path"):
        runs.prepare_evalsets(recipe, {"m": EvalSet(path="missing*.jsonl")}, tmp_path / "exp", None)
    (tmp_path / "empty.jsonl").write_text(json.dumps({"text": " "}) + "\n")
    with pytest.raises(UserError, match=r"eval.e: no documents \(check `text`, `format` and `skip`\)"):
        runs.prepare_evalsets(recipe, {"e": EvalSet(path="empty.jsonl")}, tmp_path / "exp", None)
    with pytest.raises(UserError, match="'curate.test' needs the base recipe's curated test split; add it"):
        runs.prepare_evalsets(recipe, {"t": "curate.test"}, tmp_path / "exp", tmp_path / "norun")


def test_eval_results_and_missing_sets_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="no eval results; the proxy run did not finish"):
        runs.eval_results(tmp_path)
    res = [{"metric": "bpb", "data": "/a.jsonl", "bpb": {"overall": {"bpb": 1.5}, "x": {"bpb": 1.2}}}]
    res.append({"metric": "perplexity", "data": "/b"})
    p = RunLayout(tmp_path).stage_dir("eval") / "results.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(res))
    assert runs.bpb_by_set(tmp_path, {"a": Path("/a.jsonl")}) == {"a": {"overall": 1.5, "x": 1.2}}
    with pytest.raises(UserError, match=r"eval results lack the set 'b' \(/b\); rerun the experiment"):
        runs.bpb_by_set(tmp_path, {"b": Path("/b")})
