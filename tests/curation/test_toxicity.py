"""toxicity: the offline default really filters offensive text; detoxify loads a tiny local checkpoint
through its own API; missing weights give an error that says what to provide."""

from __future__ import annotations

import pickle
from pathlib import Path

import polars as pl
import pytest

from curation.steps.base import BASE_SCHEMA, REJECT, StepContext
from curation.steps.toxicity import DETOXIFY_WEIGHTS, ToxicityParams, build
from mixloom.errors import UserError
from tests.tiny_bert import tiny_config, word_tokenizer

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]  # detoxify 'original'
RUDE = [
    "you are a stupid idiot",
    "shut up you idiot",
    "what a stupid moron",
    "idiot idiot go away",
    "you moron",
    "stupid stupid people",
    "you are an idiot and a moron",
    "go away moron",
]
KIND = [
    "you are very kind",
    "thank you for the help",
    "what a lovely day",
    "the weather is nice today",
    "have a good day",
    "we read a book together",
    "the garden looks lovely",
    "thank you friend",
]


def davidson(unanimous_class: int) -> list[str]:
    df = pl.read_csv(ROOT / "data" / "toxicity" / "davidson_sample.csv")
    col = {1: "offensive_language", 2: "neither"}[unanimous_class]
    return df.filter((pl.col("class") == unanimous_class) & (pl.col(col) == pl.col("count")))[
        "tweet"
    ].to_list()


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"t{i:03d}" for i in range(len(texts))], "text": texts})


def test_offline_default_rejects_offensive_keeps_clean():
    step = build(ToxicityParams(), StepContext(root=ROOT))
    offensive, clean = davidson(1), davidson(2)
    assert len(offensive) >= 30 and len(clean) >= 30
    out = step.process(frame(offensive + clean))
    rejected = out[REJECT].is_not_null().to_list()
    assert sum(rejected[: len(offensive)]) / len(offensive) >= 0.9
    assert sum(rejected[len(offensive) :]) / len(clean) <= 0.15
    assert set(out[REJECT].drop_nulls()) == {"toxicity:toxicity"}
    assert out["tox_toxicity"].is_between(0, 1).all()


def test_line_unit_finds_one_offensive_line_in_a_long_document():
    clean = davidson(2)
    doc = "\n".join(clean[:30] + [davidson(1)[0]])
    by_doc = build(ToxicityParams(), StepContext(root=ROOT)).process(frame([doc]))
    by_line = build(ToxicityParams(unit="line"), StepContext(root=ROOT)).process(frame([doc]))
    assert by_line["tox_toxicity"][0] > 0.5 > by_doc["tox_toxicity"][0]
    assert by_line[REJECT][0] == "toxicity:toxicity" and by_doc[REJECT][0] is None


def test_empty_frame_has_score_columns():
    out = build(ToxicityParams(), StepContext(root=ROOT)).process(pl.DataFrame(schema=BASE_SCHEMA))
    assert out.height == 0 and {"tox_toxicity", REJECT} <= set(out.columns)


@pytest.fixture(scope="module")
def tiny_detoxify(tmp_path_factory):
    """A tiny BERT in detoxify's checkpoint format, trained for a moment so that rude text scores high."""
    import torch
    import transformers

    d = tmp_path_factory.mktemp("tiny_detoxify")
    tok = word_tokenizer(d, sorted({w for t in RUDE + KIND for w in t.split()}), fast=False)
    cfg = tiny_config(tok, num_labels=len(CLASSES), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cfg.save_pretrained(d)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses time to thread hand-offs on a busy machine
    model = transformers.BertForSequenceClassification(cfg)
    batch = tok(RUDE + KIND, return_tensors="pt", padding=True)
    target = torch.zeros(len(RUDE) + len(KIND), len(CLASSES))
    target[: len(RUDE), [0, 4]] = 1.0  # rude lines are toxic and insults
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**batch).logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    args = {
        "model_type": str(d),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizer",
        "num_classes": len(CLASSES),
    }
    ckpt = {
        "config": {"arch": {"args": args}, "dataset": {"args": {"classes": CLASSES}}},
        "state_dict": model.state_dict(),
    }
    torch.save(ckpt, d / "tiny.ckpt")
    hub_named = {
        **ckpt,
        "config": {**ckpt["config"], "arch": {"args": {**args, "model_type": "bert-base-uncased"}}},
    }
    torch.save(hub_named, d / "hub_named.ckpt")  # like the released checkpoints: model_type is a hub name
    return d


def test_detoxify_tiny_checkpoint_through_detoxify_api(tiny_detoxify):
    from detoxify import Detoxify

    d = tiny_detoxify
    params = ToxicityParams(
        backend="detoxify",
        checkpoint=str(d / "tiny.ckpt"),
        config=str(d),
        max={"toxicity": 0.5, "insult": 0.6},
        batch_size=4,
    )
    step = build(params, StepContext(root=ROOT))
    texts = [RUDE[0], KIND[1], RUDE[3], KIND[4]]  # seen in training: the tiny model learnt these
    out = step.process(frame(texts))
    assert {
        f"tox_{c}" for c in ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
    } <= set(out.columns)
    assert out[REJECT].to_list() == ["toxicity:toxicity", None, "toxicity:toxicity", None]
    direct = Detoxify(checkpoint=str(d / "tiny.ckpt"), huggingface_config_path=str(d)).predict(texts)
    assert out["tox_insult"].to_list() == pytest.approx(direct["insult"], abs=1e-6)
    assert pickle.loads(pickle.dumps(step))._model is None  # workers load their own copy


def test_detoxify_hub_named_checkpoint_loads_with_local_config(tiny_detoxify):
    d = tiny_detoxify
    with_cfg = build(
        ToxicityParams(backend="detoxify", checkpoint=str(d / "hub_named.ckpt"), config=str(d)),
        StepContext(root=ROOT),
    )
    assert with_cfg.process(frame([RUDE[1], KIND[0]]))[REJECT].to_list() == ["toxicity:toxicity", None]
    without = build(
        ToxicityParams(backend="detoxify", checkpoint=str(d / "hub_named.ckpt")), StepContext(root=ROOT)
    )
    with pytest.raises(UserError, match=r"'bert-base-uncased' is not available offline.*set `config: DIR`"):
        without.process(frame(["hello"]))


def test_missing_weights_error_says_what_to_provide(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(UserError) as e:
        build(ToxicityParams(backend="detoxify", model="original"), StepContext(root=ROOT, index=5))
    msg = str(e.value)
    for part in (
        "steps.5.toxicity",
        "toxic_original-c1212f89.ckpt",
        str(tmp_path / "torch" / "hub" / "checkpoints"),
        "checkpoint:",
        "config: DIR",
        "bert-base-uncased",
        "backend: profanity",
    ):
        assert part in msg
    with pytest.raises(UserError, match=r"steps\.0\.toxicity\.checkpoint: .*does not exist"):
        build(ToxicityParams(backend="detoxify", checkpoint="missing.ckpt"), StepContext(root=tmp_path))
    with pytest.raises(UserError, match=r"max: the profanity backend has one label"):
        build(ToxicityParams(backend="profanity", max={"insult": 0.5}), StepContext(root=tmp_path))


def test_weight_table_matches_detoxify():
    from detoxify.detoxify import DOWNLOAD_URL, MODEL_URLS

    assert {k: DOWNLOAD_URL + v[0] for k, v in DETOXIFY_WEIGHTS.items()} == MODEL_URLS
