"""The optional NER part of `pii`: a local token-classification model (transformers, offline) adds names and
addresses. The model here is tiny and built in the test; its classifier bias makes every word a person, so
the outcome does not depend on random weights."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curation.steps.registry import build_steps
from tests.tiny_bert import tiny_config, word_tokenizer


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    out = tmp_path_factory.mktemp("ner")
    tok = word_tokenizer(out, ["alice", "lives", "in", "paris", "mail", "at", "call", "."])
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    cfg = tiny_config(
        tok, hidden_size=16, intermediate_size=32, max_position_embeddings=512,
        id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForTokenClassification(cfg)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 10.0, 0.0, 0.0, 0.0]))  # every token: B-PER
    model.save_pretrained(out)
    return out


def test_ner_adds_names_and_keeps_the_rules(ner_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (step,) = build_steps(
        [{"pii": {"ner": {"model": str(ner_model), "min_score": 0.5}, "types": {"address": "off"}}}],
        tmp_path,
        0,
        "r.yaml",
    )
    df = pl.DataFrame(
        {"id": ["a"], "source": ["s"], "domain": ["g"], "text": ["alice lives in paris mail x.y@gmail.com"],
         "tokens": [7], "origin": ["f:1"], "meta": ["{}"]}
    )  # fmt: skip
    out = step.process(df)
    text = out["text"][0]
    assert "alice" not in text and "<NAME>" in text and "x.y@gmail.com" not in text
    spans = json.loads(out["pii_spans"][0])
    assert {s["type"] for s in spans} >= {"name", "email"}
    assert all(text[s["start"] : s["end"]] in ("<NAME>", "<EMAIL>") for s in spans)
    assert out["pii_name"][0] >= 1 and "pii_address" not in out.columns
