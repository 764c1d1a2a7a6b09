"""`training.align` where the mutation check (scripts/mutation.sh, docs/mutation.md) found it untested: a stage
that reads run-directory references (`generate.pairs`, `train.sft` falling back to `train.pretrain`), the
recipe key an error names when data or model is missing, the rows a TRL dataset is made of, the pad token a
stage trains with, the stage its progress line names, its log, its plot's title and where its files go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.recipe import parse_recipe
from tests.training.test_align_units import _trainer
from training import align
from training.logs import plot_loss

PAIR = {"prompt": "What is 2 plus 2?", "chosen": "4", "rejected": "5"}


def _recipe(tmp: Path, **dpo):
    data = {"name": "edges", "output": str(tmp / "run"), "train": {"dpo": {"device": "cpu", **dpo}}}
    return parse_recipe(data, tmp / "recipe.yaml")


def _pairs(run: Path) -> Path:
    d = RunLayout(run).ref_path("generate.pairs")
    d.mkdir(parents=True)
    (d / "part-00000.jsonl").write_text(json.dumps(PAIR) + "\n")
    return d / "part-00000.jsonl"


def _model(run: Path, ref: str) -> Path:
    d = RunLayout(run).ref_path(ref)
    d.mkdir(parents=True)
    (d / "config.json").write_text("{}")
    return d


def test_prepare_finds_references_in_the_run_directory(tmp_path):
    run = tmp_path / "run"
    data, pretrained = _pairs(run), _model(run, "train.pretrain")
    r = _recipe(tmp_path)  # data: generate.pairs, model: train.sft, and no sft stage in this recipe
    io = align.prepare(r, run, "dpo")
    assert io.data_files == [data]
    assert io.model_dir == pretrained  # train.sft falls back to the pretrained model
    assert io.out == RunLayout(run).stage_dir("train.dpo") and io.device == "cpu"
    sft = _model(run, "train.sft")
    with_sft = parse_recipe(
        {"name": "e", "output": str(run), "train": {"sft": {}, "dpo": {"device": "cpu"}}}, tmp_path / "r.yaml"
    )
    assert align.prepare(with_sft, run, "dpo").model_dir == sft


def test_a_missing_input_names_its_recipe_key(tmp_path):
    run = tmp_path / "run"
    r = _recipe(tmp_path, model="train.pretrain")
    with pytest.raises(UserError) as e:
        align.prepare(r, run, "dpo")
    assert str(e.value).startswith(f"{r.path}: train.dpo.data: no data files at ")
    _pairs(run)
    with pytest.raises(UserError) as e:
        align.prepare(r, run, "dpo")
    assert str(e.value).startswith(f"{r.path}: train.dpo.model: no model at ")


def test_dataset_holds_the_rows_in_order():
    rows = [PAIR, {**PAIR, "chosen": "four"}]
    ds = align.dataset(rows)
    assert len(ds) == 2 and [ds[i] for i in range(2)] == rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from mixloom.tiny import make_tiny_model

    texts = [f"{a} plus {b} is {a + b}." for a in range(20) for b in range(5)]
    d = tmp_path_factory.mktemp("tiny") / "model"
    return make_tiny_model(d, texts, vocab_size=300, hidden=32, heads=1, layers=1, intermediate=32)


def _io(tmp: Path, model_dir: Path) -> align.StageIO:
    r = parse_recipe({"name": "e", "train": {"sft": {"device": "cpu"}}}, tmp / "recipe.yaml")
    return align.StageIO(r, "sft", r.train.sft, tmp / "out", [], model_dir, "cpu")


def test_a_tokenizer_keeps_its_own_pad_token_and_gets_eos_only_without_one(tmp_path, tiny):
    from training.tokenizer import load_tokenizer

    own = load_tokenizer(tiny)
    assert own.pad_token is not None and own.pad_token != own.eos_token
    assert align.tokenizer(_io(tmp_path, tiny)).pad_token == own.pad_token
    own.pad_token = None
    own.save_pretrained(tmp_path / "no_pad")
    assert load_tokenizer(tmp_path / "no_pad").pad_token is None
    tok = align.tokenizer(_io(tmp_path, tmp_path / "no_pad"))
    assert tok.pad_token == tok.eos_token == own.eos_token


def test_training_names_its_stage_and_writes_only_inside_the_stage_folder(tmp_path, tiny, monkeypatch):
    from training.live import StepProgress

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    io = _io(tmp_path, tiny)
    trainer = _trainer(tiny, io.out, rows=2)
    align.train_and_finish(trainer, io, {})
    shown = [c.desc for c in trainer.callback_handler.callbacks if isinstance(c, StepProgress)]
    assert shown == ["train.sft"]  # the progress line's label
    assert list(cwd.iterdir()) == []  # nothing lands where the command was started
    assert (io.out / "model" / "tokenizer.json").exists()
    history = trainer.state.log_history
    assert [json.loads(x) for x in (io.out / "log.jsonl").read_text().splitlines()] == history
    # the loss plot is titled with the stage and its start model
    steps = [r for r in history if "loss" in r]
    want = plot_loss(steps, tmp_path / "want.png", title=f"sft ({tiny.name})")
    untitled = plot_loss(steps, tmp_path / "untitled.png")
    assert (io.out / "loss.png").read_bytes() == want.read_bytes() != untitled.read_bytes()


def test_only_the_first_process_writes_the_log_and_plot(tmp_path, tiny, monkeypatch):
    io = _io(tmp_path, tiny)
    trainer = _trainer(tiny, io.out, rows=2)
    trainer.train()
    # what rank 1 of a multi-process run sees (the real multi-process run is tests/training/test_train_ddp.py)
    monkeypatch.setattr(trainer, "is_world_process_zero", lambda: False)
    res = align.finish(trainer, io, {})
    assert res["steps"] == 2
    assert not (io.out / "log.jsonl").exists() and not (io.out / "loss.png").exists()


def test_results_take_the_first_and_last_of_many_steps_and_none_without_any(tmp_path, tiny):
    io = _io(tmp_path, tiny)
    trainer = _trainer(tiny, io.out, rows=2)
    rewards, losses = [0.1, 0.5, 0.9], [3.0, 2.0, 1.0]  # a GRPO-style history of three logged steps
    trainer.state.log_history = [
        {"reward": r, "loss": x, "step": i + 1} for i, (r, x) in enumerate(zip(rewards, losses, strict=True))
    ]
    res = align.finish(trainer, io, {})
    assert (res["first_loss"], res["last_loss"]) == (losses[0], losses[-1])
    assert (res["mean_reward_first"], res["mean_reward_last"]) == (rewards[0], rewards[-1])
    (io.out / "loss.png").unlink()
    trainer.state.log_history = [{"train_runtime": 1.5, "step": 0}]  # nothing logged a loss
    res = align.finish(trainer, io, {})
    assert res["first_loss"] is None and res["last_loss"] is None and res["train_runtime_s"] == 1.5
    assert "mean_reward_first" not in res and not (io.out / "loss.png").exists()
