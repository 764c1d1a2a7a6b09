"""The `bpb` eval metric: bits per UTF-8 byte, per domain and overall, checked against a direct computation."""

from __future__ import annotations

import json
import math

import pytest

from mixloom.recipe import parse_recipe
from mixloom.sections.train import EvalTask
from mixloom.tiny import make_tiny_model
from training.evaluate import run_eval

DOCS = [
    {"text": "The market rose by two percent on Monday.", "domain": "financial"},
    {"text": "Naïve café owners sold crêpes — €3 each.", "domain": "general"},
    {"text": "Bonds fell.", "domain": "financial"},
]


def _direct_bits(model_dir, texts: list[str]) -> float:
    """Bits to encode `EOS t1 EOS t2 EOS ...` after the first EOS, one forward pass (all fits the context)."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    ids = [tok.eos_token_id]
    for t in texts:
        ids += tok(t, add_special_tokens=False, split_special_tokens=True)["input_ids"] + [tok.eos_token_id]
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=x[:, :-1]).logits[0]
    return F.cross_entropy(logits, x[0, 1:], reduction="sum").item() / math.log(2)


def test_bpb_matches_direct_computation(tmp_path):
    model = make_tiny_model(tmp_path / "m", [d["text"] for d in DOCS] * 20, vocab_size=300, context=256)
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    recipe = parse_recipe(
        {"name": "bpb", "base_dir": str(tmp_path), "train": {"eval": [{"metric": "bpb", "data": str(data)}]}},
        tmp_path / "r.yaml",
    )
    res = run_eval(recipe, tmp_path / "run", [EvalTask(metric="bpb", data=str(data), model=str(model))])
    out = res["results"][0]["bpb"]
    for dom in ("financial", "general"):
        texts = [d["text"] for d in DOCS if d["domain"] == dom]
        nbytes = sum(len(t.encode()) + 1 for t in texts)
        assert out[dom]["bytes"] == nbytes
        assert out[dom]["bpb"] == pytest.approx(_direct_bits(model, texts) / nbytes, rel=1e-4)
    total = out["financial"]["bytes"] + out["general"]["bytes"]
    assert out["overall"]["bytes"] == total
    assert out["overall"]["bpb"] == pytest.approx(
        (
            out["financial"]["bpb"] * out["financial"]["bytes"]
            + out["general"]["bpb"] * out["general"]["bytes"]
        )
        / total
    )
