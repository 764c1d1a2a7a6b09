"""The `train:` recipe section, `training.check`, and the `mixloom train` / `mixloom eval` commands."""

from __future__ import annotations

import json

import pytest
import yaml
from train_helpers import TINY_MODEL

import training
from mixloom.cli import main
from mixloom.errors import RecipeError, UserError
from mixloom.recipe import parse_recipe

SOURCES = {"wiki": {"path": "data/wikitext2/train_sample.txt", "format": "text", "domain": "general"}}


def _recipe(train: dict, **top):
    return parse_recipe({"name": "r", "sources": SOURCES, "train": train, **top}, "/tmp/r/recipe.yaml")


def test_design_example_parses():
    r = _recipe(
        {
            "tokenizer": {"vocab_size": 8192},
            "pretrain": {
                "model": {"layers": 4, "heads": 4, "width": 256, "context": 512},
                "steps": 500,
                "batch_tokens": 16384,
                "lr": 3e-3,
            },
            "sft": {"data": "generate.sft", "epochs": 2},
            "dpo": {"data": "generate.pairs", "beta": 0.1},
            "eval": ["perplexity", "rouge", "f1", "pass_at_k", "gsm8k"],
        },
        generate={
            "engine": {"model": "tiny"},
            "tasks": [{"kind": "math_cot", "seeds": "data/gsm8k/train.jsonl"}],
        },
    )
    assert r.train.pretrain.model.width // r.train.pretrain.model.heads == 64
    assert [t.metric for t in r.train.eval] == ["perplexity", "rouge", "f1", "pass_at_k", "gsm8k"]
    assert training.configured_stages(r) == ["tokenizer", "pretrain", "sft", "dpo"]


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"pretrain": {"model": {"width": 128, "heads": 8}}}, "head_dim = width/heads = 16 is below 32"),
        ({"pretrain": {"stepz": 3}}, "train.pretrain.stepz: unknown key"),
        ({"eval": ["bleu"]}, "train.eval.0.metric"),
        ({"eval": [{"metric": "pass_at_k", "n": 3, "k": [5]}]}, "n >= max"),
    ],
)
def test_schema_errors_name_the_key(train, message):
    with pytest.raises(RecipeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _recipe(train)


@pytest.mark.parametrize(
    ("train", "top", "where"),
    [
        ({"pretrain": {}}, {}, "train.tokenizer"),
        ({"tokenizer": {}, "pretrain": {"batch_tokens": 5000}}, {}, "train.pretrain.batch_tokens"),
        ({"sft": {}}, {}, "train.sft.data"),  # generate.sft without a generate section
        ({"sft": {"data": "nope/*.parquet"}}, {}, "train.sft.model"),  # train.pretrain is not trained here
        ({"dpo": {"data": "missing.jsonl", "model": "m"}}, {}, "train.dpo.data"),
        ({"eval": ["rouge"]}, {}, "train.eval.0.data"),  # SFT held-out set without an SFT stage
        ({"eval": ["pass_at_k"]}, {}, "train.eval.0.data"),
        ({"tokenizer": {"data": "curate.trian"}}, {}, "train.tokenizer.data"),
        (
            {"tokenizer": {}, "pretrain": {"model": {"context": 256}}, "sft": {"data": "g/*.parquet"}},
            {},
            "train.sft.max_length",
        ),
    ],
)
def test_check_rejects_what_the_schema_cannot_see(train, top, where):
    with pytest.raises(RecipeError) as e:
        training.check(_recipe(train, **top))
    assert e.value.where == where and e.value.fix


def test_cli_trains_and_evaluates(tmp_path, wiki_pretrained, capsys):
    src, _, _ = wiki_pretrained
    recipe = tmp_path / "recipe.yaml"
    pretrain = {
        "model": TINY_MODEL,
        "steps": 3,
        "batch_tokens": 1024,
        "eval_every": 3,
        "eval_tokens": 2048,
        "data": str(src / "mix" / "train"),
        "validation": str(src / "mix" / "validation"),
    }
    train = {
        "tokenizer": {"vocab_size": 400, "data": str(src / "mix" / "train")},
        "pretrain": pretrain,
        "eval": [{"metric": "perplexity", "data": str(src / "mix" / "test"), "limit": 20}],
    }
    recipe.write_text(yaml.safe_dump({"name": "cli", "output": str(tmp_path / "run"), "train": train}))
    assert main(["train", str(recipe)]) == 0
    out = capsys.readouterr().err
    assert "train.tokenizer" in out and "train.pretrain" in out and "val ppl" in out
    assert (tmp_path / "run" / "train" / "pretrain" / "model" / "config.json").exists()
    res_file = tmp_path / "eval.json"
    assert main(["eval", str(recipe), "--json", str(res_file)]) == 0
    res = json.loads(res_file.read_text())
    assert res[0]["metric"] == "perplexity" and res[0]["perplexity"]["overall"]["tokens"] > 0
    assert main(["train", str(recipe), "--stage", "sft"]) == 2
    assert "no `train.sft` section" in capsys.readouterr().err
    assert main(["train", str(recipe), "--stage", "bogus"]) == 2


def test_data_directories_read_one_format(tmp_path):
    from training.refs import data_files

    d = tmp_path / "sft"
    d.mkdir()
    for name in ("part-00001.parquet", "part-00000.parquet", "copy.jsonl", ".part-2.parquet.tmp1"):
        (d / name).write_text("")
    r = parse_recipe({"name": "x"}, tmp_path / "r.yaml")
    assert [f.name for f in data_files(r, tmp_path, str(d), "k")] == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.jsonl").write_text("")
    assert [f.name for f in data_files(r, tmp_path, "j", "k")] == ["a.jsonl"]
    with pytest.raises(UserError, match="run `mixloom generate`"):
        data_files(r, tmp_path, "generate.sft", "train.sft.data")
