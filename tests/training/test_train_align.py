"""SFT, reward model, DPO and GRPO (TRL) each run a few steps from data files and save a model that loads."""

from __future__ import annotations

import json

import pytest
from train_helpers import PAIRS, sft_messages

from mixloom.errors import UserError
from training import align, run_stage


def _trained_text(tok, example) -> str:
    """The tokens that carry loss (label != -100) in a prepared SFT example."""
    return tok.decode(
        [i for i, lab in zip(example["input_ids"], example["labels"], strict=True) if lab != -100]
    )


def _logp(model, tok, prompt: str, completion: str) -> float:
    """Summed log-probability of `completion` after `prompt` (plain text, as DPO scores string pairs)."""
    import torch

    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
    tgt = ids[0, 1:]
    lp = logits.gather(1, tgt[:, None])[:, 0]
    return float(lp[len(p) - 1 :].sum())


def _margin(path) -> float:
    """Mean log p(chosen) - log p(rejected) over the training pairs."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    diffs = [
        _logp(model, tok, f"What is {a} plus {b}?", f"It is {a + b}.")
        - _logp(model, tok, f"What is {a} plus {b}?", f"It is {a + b + 3}.")
        for a, b in PAIRS
    ]
    return sum(diffs) / len(diffs)


def _sft_loss(path, rows) -> float:
    """Mean per-token loss on the assistant turns of `rows` (chat template), for comparing two models."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    total, n = 0.0, 0
    for r in rows:
        enc = tok.apply_chat_template(r["messages"], return_dict=True, return_assistant_tokens_mask=True)
        ids, mask = (
            torch.tensor([enc["input_ids"]]),
            torch.tensor(enc["assistant_masks"][1:], dtype=torch.bool),
        )
        with torch.no_grad():
            logp = model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
        nll = -logp.gather(1, ids[0, 1:, None])[:, 0]
        total, n = total + float(nll[mask].sum()), n + int(mask.sum())
    return total / n


def test_sft_learns_only_assistant_tokens(aligned):
    from training import sft

    run, recipe = aligned
    trainer, io, info = sft.build(recipe, run)
    assert info["examples"] + info["heldout"] == len(PAIRS) and info["heldout"] > 0
    ex = trainer.train_dataset[0]
    text = _trained_text(trainer.processing_class, ex)
    assert text.startswith(tuple(f"{a} plus {b} is" for a, b in PAIRS)) and text.endswith("<|im_end|>")
    assert "What is" not in text and "Answer with" not in text
    before = _sft_loss(
        run / "train" / "pretrain" / "model", [{"messages": sft_messages(a, b)} for a, b in PAIRS]
    )
    res = align.train_and_finish(trainer, io, info)
    assert res["steps"] == 3 and res["first_loss"] > 0
    after = _sft_loss(run / "train" / "sft" / "model", [{"messages": sft_messages(a, b)} for a, b in PAIRS])
    assert after < before - 0.05, (before, after)  # a stage that saved the start model unchanged fails here
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(run / "train" / "sft" / "model")
    tok = AutoTokenizer.from_pretrained(run / "train" / "sft" / "model")
    assert "{% generation %}" in tok.chat_template and model.config.vocab_size == len(tok)
    man = json.loads((run / "train" / "sft" / "manifest.json").read_text())
    assert man["results"]["steps"] == 3 and any("part-00000.parquet" in e["path"] for e in man["inputs"])


def test_reward_model_trains_and_scores(aligned):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run, recipe = aligned
    res = run_stage(recipe, "rm")
    assert res["steps"] == 3 and res["pairs"] == len(PAIRS)
    path = run / "train" / "rm" / "model"
    model = AutoModelForSequenceClassification.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.num_labels == 1
    enc = tok(["It is 5.", "It is 8."], return_tensors="pt", padding=True)
    with torch.no_grad():
        scores = model(**enc).logits
    assert scores.shape == (2, 1) and torch.isfinite(scores).all()


def test_dpo_trains_against_a_reference(aligned):
    from transformers import AutoModelForCausalLM

    run, recipe = aligned
    start = _margin(run / "train" / "pretrain" / "model")
    recipe.train.dpo = recipe.train.dpo.model_copy(update={"max_steps": 12, "lr": 2e-3})
    res = run_stage(recipe, "dpo")
    assert res["steps"] == 12 and res["beta"] == 0.2
    assert _margin(run / "train" / "dpo" / "model") > start + 0.1  # chosen gained on rejected
    assert res["first_loss"] == pytest.approx(
        0.6931, abs=1e-3
    )  # policy == reference at step 1: -log sigmoid(0)
    log = [json.loads(x) for x in (run / "train" / "dpo" / "log.jsonl").read_text().splitlines()]
    assert any("rewards/margins" in r for r in log)
    assert AutoModelForCausalLM.from_pretrained(run / "train" / "dpo" / "model").config.num_hidden_layers == 2


def test_grpo_with_the_math_verifier(aligned):
    pytest.importorskip("verification.answers")
    from transformers import AutoModelForCausalLM

    run, recipe = aligned
    res = run_stage(recipe, "grpo")
    assert res["steps"] == 2 and res["prompts"] == 8 and res["rewards"] == ["math_reward"]
    assert 0.0 <= res["mean_reward_first"] <= 1.0
    log = [json.loads(x) for x in (run / "train" / "grpo" / "log.jsonl").read_text().splitlines()]
    assert any("rewards/math_reward/mean" in r for r in log)
    AutoModelForCausalLM.from_pretrained(run / "train" / "grpo" / "model")


def test_math_and_code_rewards():
    from training.rewards import code_reward, math_reward

    pytest.importorskip("verification.answers")
    comps = [[{"role": "assistant", "content": "5 plus 7 is 12.\n#### 12"}], "The answer is 13", "no idea"]
    assert math_reward(comps, answer=["#### 12", "12", "#### 12"]) == [1.0, 0.0, 0.0]
    pytest.importorskip("verification.sandbox")
    test = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    good = "Here:\n```python\ndef add(a, b):\n    return a + b\n```"
    bad = "def add(a, b):\n    return a - b\n"
    assert code_reward([good, bad], test=[test, test], entry_point=["add", "add"], timeout=10) == [1.0, 0.0]


def test_bad_rows_name_the_file_and_row(aligned, tmp_path):
    with pytest.raises(UserError, match="row 1: no assistant message"):
        from training.sft import sft_rows

        sft_rows(
            [{"messages": sft_messages(1, 2)}, {"messages": [{"role": "user", "content": "hi"}]}],
            "f.parquet",
        )
    with pytest.raises(UserError, match=r"missing column\(s\) \['rejected'\]"):
        align.preference_rows([{"prompt": "p", "chosen": "c"}], "pairs.parquet")


def test_no_example_within_max_length_is_one_clear_error(aligned):
    run, recipe = aligned
    recipe.train.rm = recipe.train.rm.model_copy(update={"max_length": 8})
    with pytest.raises(UserError, match="no example is left to train on.*raise train.rm.max_length"):
        run_stage(recipe, "rm")
