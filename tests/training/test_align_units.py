"""`training.align` piece by piece, in seconds: trainer arguments from the recipe, trackers, message shaping,
the hash-based held-out split, the start-model fallback and what `finish` saves (a real one-step transformers
Trainer on a tiny random model). The full TRL stages run in test_train_align.py; these are fast enough for
every mutant of the mutation check (scripts/mutation.sh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixloom.errors import UserError
from mixloom.recipe import parse_recipe
from training import align

MSG = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def _recipe(tmp: Path, **sft):
    data = {
        "name": "units",
        "seed": 11,
        "output": str(tmp / "run"),
        "train": {"sft": {"data": "d.jsonl", **sft}},
    }
    return parse_recipe(data, tmp / "recipe.yaml")


def _io(tmp: Path, device: str = "cpu", **sft) -> align.StageIO:
    r = _recipe(tmp, **sft)
    return align.StageIO(r, "sft", r.train.sft, tmp / "out", [tmp / "data" / "d.jsonl"], tmp / "m", device)


def test_trainer_args_follow_the_recipe(tmp_path):
    io = _io(tmp_path, epochs=2.5, lr=1e-3, batch_size=3, grad_accum=2, warmup=0.1, max_steps=7)
    a = align.trainer_args(io, beta=0.3)
    assert a["output_dir"] == str(tmp_path / "out" / "trainer")
    assert (a["num_train_epochs"], a["max_steps"], a["learning_rate"]) == (2.5, 7, 1e-3)
    assert (a["per_device_train_batch_size"], a["gradient_accumulation_steps"], a["warmup_steps"]) == (
        3,
        2,
        0.1,
    )
    assert a["seed"] == a["data_seed"] == 11 and a["beta"] == 0.3
    assert a["lr_scheduler_type"] == "cosine" and a["logging_steps"] == 1
    assert a["save_strategy"] == "no" and a["report_to"] == "none"
    assert a["use_cpu"] is True and a["bf16"] is False
    assert a["gradient_checkpointing"] is False and a["dataloader_num_workers"] == 0 and a["disable_tqdm"]
    assert a["model_init_kwargs"] == {"dtype": "float32"}
    assert align.trainer_args(io, seed=5)["seed"] == 5  # extra arguments win


def test_trainer_args_on_an_accelerator_and_without_max_steps(tmp_path):
    a = align.trainer_args(_io(tmp_path, device="cuda"))
    assert a["use_cpu"] is False and a["bf16"] is True and a["max_steps"] == -1


def test_report_to_needs_installed_trackers():
    assert align.report_to([]) == "none"
    assert align.report_to(["json"]) == ["json"]  # any importable name passes through
    with pytest.raises(UserError) as e:
        align.report_to(["json", "no_such_tracker_zz", "nor_this_zz"])
    msg = str(e.value)
    assert msg.startswith("report_to: no_such_tracker_zz, nor_this_zz is not installed")
    assert "`pip install no_such_tracker_zz nor_this_zz`" in msg and "json" not in msg


def test_conversation_shapes_strings_and_message_lists():
    assert align.conversation("q", "user") == [{"role": "user", "content": "q"}]
    extra = [{"role": "assistant", "content": None, "name": "x"}, {"role": "user", "content": 3}]
    assert align.conversation(extra, "user") == [
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "3"},
    ]
    for bad in (3, [{"role": "user"}], ["text"], {"role": "user", "content": "x"}):
        with pytest.raises(ValueError, match="expected a string or a list of {role, content} messages"):
            align.conversation(bad, "user")


def test_preference_rows_and_their_errors():
    rows = align.preference_rows([{"prompt": "p", "chosen": "c", "rejected": MSG, "x": 1}], "f.jsonl")
    assert rows == [
        {
            "prompt": [{"role": "user", "content": "p"}],
            "chosen": [{"role": "assistant", "content": "c"}],
            "rejected": MSG,
        }
    ]
    good = {"prompt": "p", "chosen": "c", "rejected": "r"}
    assert align.preference_rows([good], "f.jsonl")[0]["rejected"] == [{"role": "assistant", "content": "r"}]
    with pytest.raises(UserError, match=r"^pairs.jsonl: missing column"):
        align.preference_rows([{"prompt": "p", "chosen": "c"}], "pairs.jsonl")
    with pytest.raises(UserError, match=r"^f.jsonl: row 1: expected a string .* got int$"):
        align.preference_rows([good, {**good, "chosen": 5}], "f.jsonl")


def test_holdout_split_is_a_seeded_hash_of_the_content():
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(400)]
    assert align.holdout_split(rows, 0.0, 1) == (rows, [])
    train, held = align.holdout_split(rows, 0.25, 1)
    assert 70 <= len(held) <= 130 and len(train) + len(held) == 400
    assert [r for r in rows if r in held] == held and [r for r in rows if r not in held] == train
    # the same row goes the same way wherever it stands and whatever surrounds it
    assert align.holdout_split(rows[::-1], 0.25, 1)[1] == held[::-1]
    assert align.holdout_split(rows[:50], 0.25, 1)[1] == [r for r in held if r in rows[:50]]
    assert align.holdout_split(rows, 0.25, 2)[1] != held  # another seed, another split
    more = align.holdout_split(rows, 0.5, 1)[1]
    assert all(r in more for r in held)  # a larger fraction keeps what a smaller one held out
    keyed = [{"prompt": r["messages"], "messages": None} for r in rows]
    assert [r["prompt"] for r in align.holdout_split(keyed, 0.25, 1, key="prompt")[1]] == [
        r["messages"] for r in held
    ]


def test_holdout_split_that_leaves_nothing_to_train_on_is_an_error():
    rows = [{"messages": "only"}]
    for f in range(1, 100):
        try:
            assert align.holdout_split(rows, f / 100, 3) == (rows, [])
        except UserError as e:
            assert str(e) == f"train.*.holdout {f / 100} leaves no training rows out of 1; lower it"
            break
    else:
        pytest.fail("no fraction held the only row out")


def test_sft_falls_back_to_the_pretrained_model_only_without_an_sft_stage(tmp_path):
    with_sft = _recipe(tmp_path)
    no_sft = parse_recipe({"name": "u", "train": {"dpo": {"data": "d.jsonl"}}}, tmp_path / "r.yaml")
    assert align._default_model(no_sft, tmp_path, "train.sft") == "train.pretrain"
    assert align._default_model(with_sft, tmp_path, "train.sft") == "train.sft"
    assert align._default_model(no_sft, tmp_path, "train.rm") == "train.rm"
    assert align._default_model(no_sft, tmp_path, "some/dir") == "some/dir"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from mixloom.tiny import make_tiny_model

    d = tmp_path_factory.mktemp("tiny")
    texts = [f"{a} plus {b} is {a + b}." for a in range(20) for b in range(5)]
    return make_tiny_model(d / "model", texts, vocab_size=300, hidden=32, heads=1, layers=1, intermediate=32)


def test_prepare_locates_data_model_and_device(tmp_path, tiny):
    (tmp_path / "d.jsonl").write_text(json.dumps({"messages": MSG}) + "\n")
    r = _recipe(tmp_path, model=str(tiny), device="cpu")
    io = align.prepare(r, tmp_path / "run", "sft")
    assert io.data_files == [tmp_path / "d.jsonl"] and io.model_dir == tiny and io.device == "cpu"
    assert io.out == tmp_path / "run" / "train" / "sft" and io.stage == "sft" and io.cfg is r.train.sft
    assert io.threads >= 1
    assert io.source == f"{r.path}: train.sft.data ({tmp_path})"
    assert align.tokenizer(io).pad_token is not None


def _trainer(tiny: Path, out: Path, rows: int):
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from training.tokenizer import load_tokenizer

    torch.manual_seed(0)
    tok = load_tokenizer(tiny)
    ids = tok("1 plus 2 is 3.")["input_ids"]
    data = [{"input_ids": ids, "labels": ids}] * rows
    args = TrainingArguments(
        output_dir=str(out / "trainer"),
        max_steps=2,
        per_device_train_batch_size=1,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    model = AutoModelForCausalLM.from_pretrained(tiny)
    return Trainer(model=model, args=args, train_dataset=data, processing_class=tok)


def test_finish_saves_model_log_plot_and_manifest(tmp_path, tiny):
    (tmp_path / "d.jsonl").write_text("{}\n")
    r = _recipe(tmp_path, model=str(tiny), device="cpu")
    io = align.StageIO(
        r, "sft", r.train.sft, tmp_path / "out", [tmp_path / "d.jsonl"], tiny, "cpu", threads=1
    )
    trainer = _trainer(tiny, io.out, rows=4)
    res = align.train_and_finish(trainer, io, {"examples": 4, "first_loss": "kept from the stage"})
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert res["steps"] == 2 and res["last_loss"] == losses[-1] and res["threads"] == 1
    assert res["first_loss"] == "kept from the stage"  # the stage's own results win
    assert res["start_model"] == str(tiny) and res["train_runtime_s"] > 0 and res["examples"] == 4
    assert "mean_reward_first" not in res
    model = io.out / "model"
    assert (model / "config.json").exists() and (model / "tokenizer.json").exists()
    log = [json.loads(x) for x in (io.out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log if "loss" in x] == [1, 2] and log[-1]["step"] == 2
    assert (io.out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    man = json.loads((io.out / "manifest.json").read_text())
    assert man["stage"] == "train.sft" and man["results"]["steps"] == 2
    assert {Path(e["path"]).name for e in man["inputs"]} >= {"d.jsonl", "config.json"}


def test_finish_reports_first_and_last_mean_reward(tmp_path, tiny):
    r = _recipe(tmp_path, model=str(tiny), device="cpu")
    io = align.StageIO(r, "sft", r.train.sft, tmp_path / "out", [], tiny, "cpu")
    trainer = _trainer(tiny, io.out, rows=2)
    trainer.state.log_history = [
        {"reward": 0.25, "loss": 1.0, "step": 1},
        {"reward": 0.75, "loss": 0.5, "step": 2},
    ]
    res = align.finish(trainer, io, {})
    assert (res["mean_reward_first"], res["mean_reward_last"]) == (0.25, 0.75)
    assert (res["first_loss"], res["last_loss"], res["steps"], res["threads"]) == (1.0, 0.5, 0, None)
    assert res["train_runtime_s"] is None


def test_nothing_left_to_train_on_is_a_user_error(tmp_path, tiny):
    r = _recipe(tmp_path, model=str(tiny), device="cpu", max_length=16)
    io = align.StageIO(r, "sft", r.train.sft, tmp_path / "out", [tmp_path / "d.jsonl"], tiny, "cpu")
    with pytest.raises(
        UserError, match=r"no example is left .* max_length 16 are dropped\); raise train.sft.max_length$"
    ):
        align.train_and_finish(_trainer(tiny, io.out, rows=0), io, {})
    assert not (io.out / "model").exists()
