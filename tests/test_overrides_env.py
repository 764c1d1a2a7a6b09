"""`--set key=value` overrides (validated like the recipe) and what importing mixloom does to the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixloom.cli import main
from mixloom.errors import RecipeError, UserError
from mixloom.recipe import apply_overrides, load_recipe

ROOT = Path(__file__).resolve().parent.parent
TRAIN = {"sft": {"data": "data/gsm8k/train.jsonl", "model": "data", "max_steps": 50}}


def test_apply_overrides_sets_nested_values_as_yaml():
    data = {"train": {"sft": {"max_steps": 50}}, "steps": [{"sql": "a"}, {"dedup": {}}]}
    out = apply_overrides(
        data,
        ["train.sft.max_steps=5", "train.sft.lr=1e-4", "steps.1.dedup.method=minhash", "train.dpo.beta=0.2"],
    )
    assert out["train"]["sft"] == {"max_steps": 5, "lr": 1e-4}
    assert out["steps"][1] == {"dedup": {"method": "minhash"}}
    assert out["train"]["dpo"] == {"beta": 0.2}
    assert data["train"]["sft"] == {"max_steps": 50}  # the input is not changed
    assert apply_overrides({}, ["a.b=[1, 2]", "c=true", "d=x=y"]) == {
        "a": {"b": [1, 2]},
        "c": True,
        "d": "x=y",
    }


@pytest.mark.parametrize("bad", ["train.sft.max_steps", "=5", "a..b=1", "steps.7.sql=x", "name.x=1"])
def test_apply_overrides_rejects_malformed(bad):
    with pytest.raises(UserError, match="--set"):
        apply_overrides({"name": "r", "steps": [{"sql": "a"}]}, [bad])


def test_overrides_are_validated_like_the_recipe(write_recipe):
    path = write_recipe({"train": TRAIN})
    r = load_recipe(path, ["train.sft.max_steps=5"])
    assert r.train.sft.max_steps == 5
    with pytest.raises(RecipeError, match=r"train\.sft\.max_stepz: unknown key"):
        load_recipe(path, ["train.sft.max_stepz=5"])
    with pytest.raises(RecipeError, match=r"train\.sft\.max_steps"):
        load_recipe(path, ["train.sft.max_steps=-1"])


def test_cli_set_error_is_one_clear_line(write_recipe, capsys):
    path = write_recipe({"train": TRAIN})
    assert main(["train", str(path), "--set", "train.sft.max_stepz=5"]) == 2
    err = capsys.readouterr().err
    assert "max_stepz" in err and "Traceback" not in err


def test_import_does_not_switch_off_datasets_or_transformers_downloads():
    env = {k: v for k, v in os.environ.items() if "OFFLINE" not in k}
    code = "import os, mixloom; print(os.environ.get('HF_HUB_OFFLINE'), 'HF_DATASETS_OFFLINE' in os.environ, 'TRANSFORMERS_OFFLINE' in os.environ)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["1", "False", "False"]
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[0] == "0"  # the user's choice wins
