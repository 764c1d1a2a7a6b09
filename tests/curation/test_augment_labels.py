"""Label preservation of augmented copies (`augment.<method>.label`): a copy that no longer carries its
document's label is rejected, judged by a classifier (a tiny local BERT trained here on the SemEval headlines'
sentiment) or by the label's checker (GSM8K solutions and their final answers, shipped in data/)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curation.augment.labels import check_labels, label_of
from curation.augment.section import LabelKeep
from curation.pipeline import curate
from curation.steps.base import REJECT
from mixloom.errors import RecipeError, UserError
from mixloom.recipe import load_recipe
from tests.conftest import ROOT
from tests.curation.test_augment_llm import RewriteServer
from tests.sources import HEADLINES
from tests.tiny_bert import tiny_config, word_tokenizer

LABELS = {0: "negative", 1: "positive"}


def headlines() -> list[dict]:
    rows = json.loads((ROOT / HEADLINES["path"]).read_text())
    return [r for r in rows if abs(r["sentiment"]) >= 0.3]  # clearly positive or negative


def sentiment(score: float) -> str:
    return "positive" if score > 0 else "negative"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny BERT sentiment classifier, trained for a moment on the headlines (saved like any HF model)."""
    import torch
    import transformers

    d = tmp_path_factory.mktemp("sentiment")
    rows = headlines()
    texts, ys = [r["title"].lower() for r in rows], [int(r["sentiment"] > 0) for r in rows]
    tok = word_tokenizer(d, sorted({w for t in texts for w in transformers.BasicTokenizer().tokenize(t)}))
    cfg = tiny_config(tok, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = transformers.BertForSequenceClassification(cfg)
    batch = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=64)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(30):
        loss = model(**batch, labels=torch.tensor(ys)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    model.save_pretrained(d)
    return d


def predict(model_dir, texts: list[str]) -> list[str]:
    """The classifier's labels, computed here through transformers' own pipeline (not mixloom's code)."""
    import transformers

    pipe = transformers.pipeline("text-classification", model=str(model_dir), device=-1)
    return [p["label"] for p in pipe(texts)]


def pick_texts(model_dir) -> tuple[str, str]:
    """A headline the classifier calls positive and one it calls negative."""
    titles = [r["title"] for r in headlines()[:80]]
    said = predict(model_dir, titles)
    return titles[said.index("positive")], titles[said.index("negative")]


def source(tmp_path, n: int = 30) -> dict:
    """n headlines with their sentiment label as a record field, and one headline without a label."""
    p = tmp_path / "heads.jsonl"
    with p.open("w") as f:
        for r in headlines()[100 : 100 + n]:
            f.write(
                json.dumps({"id": r["id"], "text": r["title"], "sentiment": sentiment(r["sentiment"])}) + "\n"
            )
        f.write(
            json.dumps({"id": "nolabel", "text": "Shares of the miner were little changed on Monday"}) + "\n"
        )
    return {"path": str(p), "format": "jsonl", "id": "id", "domain": "financial"}


def test_a_copy_the_classifier_labels_otherwise_is_rejected(write_recipe, tmp_path, classifier):
    pos, neg = pick_texts(classifier)

    def rewrite(prompt: str, seed: int) -> str:  # half the copies say something positive, half negative
        return pos if seed % 2 else neg

    with RewriteServer(rewrite) as server:
        engine = {"base_url": f"http://127.0.0.1:{server.port}/v1", "model": "m", "concurrency": 2}
        recipe = {
            "sources": {"heads": source(tmp_path)},
            "steps": [{"normalize": {}}],
            "mix": {"budget": "max", "shares": {"financial": 1.0}},
            "seed": 1,
            "augment": {
                "max_augmented_share": 0.5,
                "paraphrase": {
                    "sources": ["heads"],
                    "engine": engine,
                    "min_similarity": 0.0,
                    "max_similarity": 1.0,
                    "keep_numbers": False,
                    "label": {"field": "sentiment", "classifier": str(classifier)},
                },
            },
        }
        m = curate(load_recipe(write_recipe(recipe)), out=tmp_path / "run")
    kept = pl.read_parquet(tmp_path / "run/curated")
    rej = pl.read_parquet(tmp_path / "run/rejects").filter(pl.col("step") == "augment")
    parents = {
        r["id"]: label_of(r, "sentiment") for r in kept.filter(pl.col("parent_id").is_null()).to_dicts()
    }
    copies = kept.filter(pl.col("parent_id").is_not_null())
    said = dict(zip([pos, neg], predict(classifier, [pos, neg]), strict=True))
    assert said == {pos: "positive", neg: "negative"}
    # kept exactly where the classifier's label of the copy is the parent's label
    for row in copies.iter_rows(named=True):
        assert said[row["text"]] == parents[row["parent_id"]]
    changed = rej.filter(pl.col("reason").str.starts_with("label changed"))
    assert copies.height > 0 and changed.height > 0
    for text, details in changed.select("text", "details").iter_rows():
        assert said[text] != parents[json.loads(details)["parent_id"]]
    assert rej.filter(pl.col("reason") == "label: the document has no 'sentiment' to keep").height == 1
    assert copies.height + rej.height == len(parents)  # one copy a document, kept or refused
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"] + m["augment"]["total"]


def test_the_answer_checker_rejects_a_copy_whose_final_answer_changed():
    rows = [json.loads(line) for line in (ROOT / "data/gsm8k/test.jsonl").read_text().splitlines()[:6]]
    lk = LabelKeep(field="final", checker="math_answer")
    copies = []
    for i, r in enumerate(rows):
        final = r["answer"].rsplit("####", 1)[1].strip()
        text = r["answer"] if i % 2 else r["answer"].rsplit("####", 1)[0] + f"#### {int(final) + 1}"
        copies.append(
            {
                "id": f"{i}~p0",
                "parent_id": str(i),
                "text": text,
                "meta": json.dumps({"final": final}),
                REJECT: None,
            }
        )
    copies[0][REJECT] = "meaning: similarity 0.10 < 0.5"  # refused before: its reason stays
    check_labels(copies, lk, "paraphrase")
    assert copies[0][REJECT].startswith("meaning")
    for i, c in enumerate(copies[1:], 1):
        if i % 2:
            assert c[REJECT] is None
        else:
            assert c[REJECT].startswith("label lost:") and "!=" in c[REJECT]


def test_the_contains_checker_and_a_label_column():
    lk = LabelKeep(field="answer", checker="contains")
    copies = [
        {
            "id": "a~p0",
            "parent_id": "a",
            "text": "It was Ada Lovelace who wrote it.",
            "answer": "Ada Lovelace",
        },
        {
            "id": "b~p0",
            "parent_id": "b",
            "text": "It was Lovelace who wrote it.",
            "meta": '{"answer": "Ada Lovelace"}',
        },
    ]
    check_labels(copies, lk, "paraphrase")
    assert copies[0].get(REJECT) is None
    assert copies[1][REJECT] == "label lost: 'Ada Lovelace' is not in the copy"


def test_a_label_the_classifier_does_not_know_is_a_clear_error(classifier):
    lk = LabelKeep(field="sentiment", classifier=str(classifier))
    copies = [{"id": "a~p0", "parent_id": "a", "text": "shares rose", "meta": '{"sentiment": "bullish"}'}]
    with pytest.raises(
        UserError, match=r"sentiment of document a: label 'bullish' is not one of .*negative, positive"
    ):
        check_labels(copies, lk, "paraphrase")
    ok = [
        {"id": "a~p0", "parent_id": "a", "text": "shares rose", "meta": '{"sentiment": 1}'}
    ]  # a class index
    check_labels(ok, lk, "paraphrase")


def test_label_settings_are_checked_before_any_work(write_recipe, tmp_path):
    with pytest.raises(ValueError, match="exactly one of classifier or checker"):
        LabelKeep(field="x")
    data = {
        "sources": {"heads": source(tmp_path, 3)},
        "augment": {
            "word_replace": {"sources": ["heads"], "label": {"field": "sentiment", "classifier": "nowhere"}}
        },
    }
    from curation.stage import CurateStage

    recipe = load_recipe(write_recipe(data))
    with pytest.raises(RecipeError, match=r"augment.word_replace.label.classifier: .*nowhere is not a model"):
        CurateStage().validate(recipe)
    assert "nowhere" in CurateStage().reads(recipe)  # its files are part of the stage's cache key
