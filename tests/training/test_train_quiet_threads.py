"""Library output into the stage's log, progress instead of TRL dicts, thread sizing, checkpoint pretraining,
`report_to`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from train_helpers import ALIGN_COMMON, tiny_recipe, write_generated

from mixloom import progress
from mixloom.errors import RecipeError, UserError
from mixloom.stage_log import library_output_to
from training import run_stage
from training.logs import read_log
from training.threads import ThreadTuner, choose_threads


def test_library_output_goes_to_the_log_and_mixloom_keeps_the_terminal(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("MIXLOOM_VERBOSE", raising=False)
    log = tmp_path / "stage" / "output.log"
    with library_output_to(log):
        print("a printed dict {'loss': 1.0}")
        import os

        os.write(2, b"native stderr line\n")
        subprocess.run([sys.executable, "-c", "print('child process WARNING line')"], check=True)
        progress.console.print("mixloom progress line")
    out, err = capfd.readouterr()
    text = log.read_text()
    for line in ("a printed dict", "native stderr line", "child process WARNING"):  # (pytest owns warnings)
        assert line in text and line not in out + err
    assert "mixloom progress line" in err and "mixloom progress line" not in text
    print("after")  # the terminal is back
    assert "after" in capfd.readouterr().out


def test_verbose_leaves_library_output_on_the_terminal(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("MIXLOOM_VERBOSE", "1")
    with library_output_to(tmp_path / "output.log") as path:
        print("shown")
    assert path is None and "shown" in capfd.readouterr().out
    assert not (tmp_path / "output.log").exists()


def test_thread_count_follows_free_cpus(monkeypatch):
    assert choose_threads(2, 0.0) == 2
    assert choose_threads(2, 0.6) == 1  # one other runnable process: one thread
    assert choose_threads(2, 12.0) == 1
    assert choose_threads(16, 3.0) == 13
    import torch

    monkeypatch.setenv("MIXLOOM_THREADS", "auto")
    before = torch.get_num_threads()
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        import time

        time.sleep(0.5)
        tuner = ThreadTuner("cpu")
        assert tuner.threads == 1 and torch.get_num_threads() == 1  # 3 spinning processes beside us
        torch.set_num_threads = lambda n: None  # what vLLM's in-process CPU worker leaves behind
        tuner._set(2)
        assert torch.get_num_threads() == 2 and torch.set_num_threads is torch._C.set_num_threads
        tuner.resume_with(1)
        assert torch.get_num_threads() == 1 and tuner.history == [1, 2, 1]
    finally:
        for p in spin:
            p.kill()
        torch.set_num_threads(before)


def test_pretrain_continues_from_a_local_checkpoint(wiki_pretrained, tmp_path):
    run, recipe, results = wiki_pretrained
    ckpt = run / "train" / "pretrain" / "model"
    data = recipe.model_dump(mode="json")
    pre = {
        **data["train"]["pretrain"],
        "model": str(ckpt),
        "steps": 4,
        "eval_every": 4,
        "checkpoint_every": 4,
    }
    pre["data"] = str(run / "mix" / "train")
    pre["validation"] = str(run / "mix" / "validation")
    from mixloom.recipe import parse_recipe

    r = parse_recipe(
        {"name": "cont", "seed": 7, "output": str(tmp_path / "cont"), "train": {"pretrain": pre}}
    )
    import training

    training.check(r)  # no tokenizer stage needed: the checkpoint brings its tokenizer
    res = run_stage(r, "pretrain")
    assert res["start_model"] == str(ckpt) and res["steps"] == 4
    first = [
        x["loss"] for x in read_log(tmp_path / "cont" / "train" / "pretrain" / "log.jsonl") if "loss" in x
    ]
    fresh_start = read_log(run / "train" / "pretrain" / "log.jsonl")[0]["loss"]
    assert first[0] < fresh_start - 1.0  # it starts from the trained weights, not from scratch
    assert res["validation"]["overall"]["ppl"] <= results["pretrain"]["validation"]["overall"]["ppl"] * 1.2
    cfg = json.loads((tmp_path / "cont" / "train" / "pretrain" / "model" / "config.json").read_text())
    assert (
        cfg["max_position_embeddings"]
        == json.loads((ckpt / "config.json").read_text())["max_position_embeddings"]
    )
    bad = {**pre, "model": str(tmp_path)}
    with pytest.raises(RecipeError, match="no Hugging Face checkpoint"):
        training.check(parse_recipe({"name": "x", "output": str(tmp_path / "x"), "train": {"pretrain": bad}}))


def test_trl_stage_shows_no_dicts_and_logs_to_its_output_log(wiki_pretrained, capfd, monkeypatch):
    monkeypatch.delenv("MIXLOOM_VERBOSE", raising=False)
    run, _, _ = wiki_pretrained
    write_generated(run)
    recipe = tiny_recipe(run, sft={**ALIGN_COMMON, "holdout": 0.2})
    capfd.readouterr()
    res = run_stage(recipe, "sft")
    out, err = capfd.readouterr()
    assert res["steps"] == 3
    assert "'loss'" not in out + err and "grad_norm" not in out + err
    assert (run / "train" / "sft" / "output.log").exists()
    assert len(read_log(run / "train" / "sft" / "log.jsonl")) >= 3  # the numbers are kept, in the log


def test_report_to_must_be_installed(wiki_pretrained):
    run, _, _ = wiki_pretrained
    with pytest.raises(Exception, match="report_to"):
        tiny_recipe(run, sft={**ALIGN_COMMON, "report_to": ["neptune"]})  # not a supported tracker
    import importlib.util

    from training import align

    assert align.report_to([]) == "none"
    missing = [n for n in ("wandb", "tensorboard", "mlflow") if importlib.util.find_spec(n) is None]
    for name in missing:
        with pytest.raises(UserError, match=f"{name} is not installed"):
            align.report_to([name])
