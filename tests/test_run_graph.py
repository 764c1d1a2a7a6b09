"""The run graph is derived from what stages read: a change re-runs its stage and what reads it, nothing else.

One real run of a tiny recipe (curate → mix → tokenizer → pretrain → SFT → DPO and GRPO from SFT → eval), then
edits of the recipe and of a data file, checked through `mixloom plan` and through a real re-run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "training"))
from train_helpers import PAIRS, sft_messages  # noqa: E402

from mixloom.orchestrator import plan, run_recipe  # noqa: E402
from mixloom.recipe import load_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALL = ["curate", "mix", "train.tokenizer", "train.pretrain", "train.sft", "train.dpo", "train.grpo", "eval"]


def _write_data(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "sft.jsonl", "w") as f:
        for a, b in PAIRS:
            f.write(json.dumps({"messages": sft_messages(a, b)}) + "\n")
    with open(d / "pairs.jsonl", "w") as f:
        for a, b in PAIRS:
            f.write(
                json.dumps(
                    {"prompt": f"What is {a} plus {b}?", "chosen": f"It is {a + b}.", "rejected": "No."}
                )
                + "\n"
            )
    with open(d / "grpo.jsonl", "w") as f:
        for a, b in PAIRS[:4]:
            f.write(json.dumps({"question": f"What is {a} plus {b}?", "answer": f"#### {a + b}"}) + "\n")


def _recipe(tmp: Path, **changes) -> Path:
    align = {"max_steps": 2, "batch_size": 4, "max_length": 64}
    data = {
        "name": "graph",
        "seed": 3,
        "base_dir": str(ROOT),
        "output": str(tmp / "run"),
        "sources": {
            "wiki": {
                "path": "data/wikitext2/wiki_valid_sample.txt",
                "format": "text",
                "split_on": "blank_line",
                "domain": "general",
            }
        },
        "steps": [{"sql": "SELECT * FROM docs WHERE length(text) >= 200"}],
        "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
        "train": {
            "tokenizer": {"vocab_size": 320},
            "pretrain": {
                "model": {"layers": 1, "heads": 1, "width": 32, "context": 64},
                "steps": 4,
                "batch_tokens": 256,
                "micro_batch": 4,
                "eval_every": 4,
                "eval_tokens": 512,
                "checkpoint_every": 4,
            },
            "sft": {"data": str(tmp / "data" / "sft.jsonl"), "model": "train.pretrain", **align},
            "dpo": {"data": str(tmp / "data" / "pairs.jsonl"), "model": "train.sft", **align},
            "grpo": {
                "data": str(tmp / "data" / "grpo.jsonl"),
                "model": "train.sft",
                "num_generations": 2,
                "max_completion_length": 8,
                **{**align, "batch_size": 2},
            },
            "eval": [{"metric": "perplexity", "limit": 4}],
        },
    }
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split("__")
        for k in path:
            node = node[k]
        node[last] = value
    p = tmp / "recipe.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _will_run(recipe_path: Path) -> list[str]:
    return [s.name for s in plan(load_recipe(recipe_path)) if s.run]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graph")
    _write_data(tmp / "data")
    summary = run_recipe(load_recipe(_recipe(tmp)))
    assert all(summary[s].startswith("ran") for s in ALL), summary
    return tmp


def test_graph_order_and_reads(done):
    statuses = plan(load_recipe(_recipe(done)))
    assert [s.name for s in statuses] == ALL
    reads = {s.name: s.reads for s in statuses}
    assert reads["train.dpo"][0] == "train.sft" and reads["train.grpo"][0] == "train.sft"
    assert "train.grpo" in reads["eval"] and "curate.test" in reads["eval"]  # the last trained model
    assert _will_run(_recipe(done)) == []  # unchanged: everything cached


def test_changing_sft_reruns_sft_and_what_reads_it(done):
    changed = _recipe(done, train__sft__max_steps=3)
    assert _will_run(changed) == ["train.sft", "train.dpo", "train.grpo", "eval"]
    why = {s.name: s.why for s in plan(load_recipe(changed))}
    assert why["train.sft"] == "its recipe section changed"
    assert why["train.dpo"] == "reads train.sft, which will run"
    summary = run_recipe(load_recipe(changed))  # a real re-run does exactly that
    ran = [k for k, v in summary.items() if v.startswith("ran")]
    assert ran == ["train.sft", "train.dpo", "train.grpo", "eval"]
    assert all(summary[s] == "cached" for s in ["curate", "mix", "train.tokenizer", "train.pretrain"])
    assert _will_run(changed) == []


def test_editing_grpo_data_reruns_only_grpo_and_eval(done):
    recipe = _recipe(done, train__sft__max_steps=3)
    with open(done / "data" / "grpo.jsonl", "a") as f:
        f.write(json.dumps({"question": "What is 1 plus 1?", "answer": "#### 2"}) + "\n")
    assert _will_run(recipe) == ["train.grpo", "eval"]
    assert {s.name: s.why for s in plan(load_recipe(recipe))}["train.grpo"] == "input changed: grpo.jsonl"
    summary = run_recipe(load_recipe(recipe))
    assert [k for k, v in summary.items() if v.startswith("ran")] == ["train.grpo", "eval"]


def test_changing_eval_reruns_only_eval(done):
    recipe = _recipe(done, train__sft__max_steps=3, train__eval=[{"metric": "perplexity", "limit": 2}])
    assert _will_run(recipe) == ["eval"]


def test_a_curation_change_reruns_everything_downstream(done):
    recipe = _recipe(
        done, train__sft__max_steps=3, steps=[{"sql": "SELECT * FROM docs WHERE length(text) >= 300"}]
    )
    assert _will_run(recipe) == ALL


def test_reading_an_unconfigured_stage_is_a_recipe_error(tmp_path):
    from mixloom.errors import RecipeError

    p = _recipe(tmp_path, train__sft__data="generate.sft")
    with pytest.raises(RecipeError, match="reads 'generate.sft'.*does not configure it"):
        plan(load_recipe(p))
