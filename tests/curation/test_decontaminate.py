"""decontaminate: planted eval questions are found in training text (and nothing in clean text), reported."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from curation.steps.base import BASE_SCHEMA, REJECT, StepContext
from curation.steps.decontaminate import DecontaminateParams, build
from mixloom.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "A baker makes 24 loaves of bread every morning and sells each loaf for 3 dollars at the corner market. "
    "How much money does the baker make in a week?",
    "Tom has twice as many marbles as Sara, and Sara has 15 marbles more than Ben, who has 10 marbles. "
    "How many marbles do the three children have altogether?",
    "A train leaves the station at 9 in the morning and travels at 60 miles per hour until it reaches "
    "a city 210 miles away. At what time does it arrive?",
    "What is 7 times 8?",  # shorter than 13 words: must appear whole
]


def paragraphs(n: int) -> list[str]:
    text = (ROOT / "data" / "wikitext2" / "wiki_valid_sample.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.split()) >= 40][:n]


def make_step(tmp_path: Path, items: list[dict], **kw):
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in items))
    spec = {"path": "eval.jsonl", "field": "question", "name": kw.pop("name", "mini"), **kw.pop("spec", {})}
    return build(DecontaminateParams(against=[spec], **kw), StepContext(root=tmp_path, index=4))


def run(step, df: pl.DataFrame, tmp_path: Path) -> pl.DataFrame:
    p = tmp_path / "map.parquet"
    step.map(df).write_parquet(p)
    reduced = step.reduce([p], tmp_path / "reduce")
    run.report = reduced.report["contamination"]  # the report the engine puts in the manifest
    return reduced.decisions


def plant(text: str, question: str) -> str:
    """Paste the question in the middle, with the case and punctuation spacing changed."""
    cut = len(text) // 2
    return text[:cut] + "\n" + question.upper().replace(",", " ,").replace("?", " ?") + "\n" + text[cut:]


def test_planted_questions_found_and_clean_text_untouched(tmp_path):
    items = [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS)]
    step = make_step(tmp_path, items, spec={"id": "id"})
    paras = paragraphs(60)
    docs = [{"id": f"d{i:02d}", "text": t} for i, t in enumerate(paras)]
    docs[3]["text"] = plant(paras[3], QUESTIONS[0])
    docs[10]["text"] = plant(paras[10], QUESTIONS[1]) + " " + QUESTIONS[3]
    docs[20]["text"] = " ".join(QUESTIONS[2].split()[:12])  # 12 words of a long item: not a 13-gram
    docs[21]["text"] = "Is it 7 times 8? " + paras[21]  # the short item's words, not in order
    dec = run(step, pl.DataFrame(docs), tmp_path)
    assert dec.select("id", REJECT).rows() == [("d03", "contaminated:mini"), ("d10", "contaminated:mini")]
    assert dec["contaminated_by"].to_list() == [["mini:q0"], ["mini:q1", "mini:q3"]]
    report = run.report
    assert report["sets"]["mini"] == {"items": 4, "contaminated_items": 3, "documents": 2}
    assert {(m["item"], tuple(m["documents"])) for m in report["matches"]} == {
        ("q0", ("d03",)),
        ("q1", ("d10",)),
        ("q3", ("d10",)),
    }


def test_flag_keeps_documents_but_reports(tmp_path):
    step = make_step(tmp_path, [{"question": q} for q in QUESTIONS], action="flag", name="m")
    df = pl.DataFrame({"id": ["a", "b"], "text": [plant(paragraphs(1)[0], QUESTIONS[2]), "nothing here"]})
    dec = run(step, df, tmp_path)
    assert dec.rows() == [("a", None, ["m:2"], dec["contam_ngrams"][0])]
    assert dec["contam_ngrams"][0] == len(QUESTIONS[2].replace("?", "").split()) - 12


def test_min_ngrams_requires_more_overlap(tmp_path):
    step = make_step(tmp_path, [{"question": QUESTIONS[0]}], min_ngrams=5)
    words = QUESTIONS[0].split()
    df = pl.DataFrame({"id": ["few", "many"], "text": [" ".join(words[:15]), " ".join(words[:20])]})
    assert run(step, df, tmp_path)["id"].to_list() == ["many"]  # 3 shared 13-grams < 5 <= 8


def gsm8k(split: str, request) -> Path:
    """The shipped GSM8K sample (first 200 lines of each split), else the full set in the shared data."""
    local = ROOT / "data" / "gsm8k" / f"{split}.jsonl"
    return local if local.exists() else request.getfixturevalue("shared_data") / "gsm8k" / f"{split}.jsonl"


def test_gsm8k_test_questions_found_train_questions_not(tmp_path, request):
    test_file = gsm8k("test", request)
    train = [json.loads(x)["question"] for x in gsm8k("train", request).open()][:100]
    test = [json.loads(x)["question"] for x in test_file.open()]
    step = build(
        DecontaminateParams(against=[{"path": str(test_file), "field": "question", "name": "gsm8k_test"}]),
        StepContext(root=tmp_path),
    )
    rng = random.Random(0)
    paras = paragraphs(300)
    picked = rng.sample(range(len(test)), 25)
    docs = [{"id": f"t{i:03d}", "text": plant(paras[i], test[k])} for i, k in enumerate(picked)]
    docs += [{"id": f"r{i:03d}", "text": plant(paras[100 + i], q)} for i, q in enumerate(train)]
    docs += [{"id": f"c{i:03d}", "text": t} for i, t in enumerate(paras[200:])]
    dec = run(step, pl.DataFrame(docs), tmp_path)
    got = dict(zip(dec["id"], dec["contaminated_by"].to_list(), strict=True))
    stray = {k: v for k, v in got.items() if not k.startswith("t")}
    assert stray == {}  # train questions and clean text: nothing
    for i, k in enumerate(picked):
        assert f"gsm8k_test:{k}" in got[f"t{i:03d}"]


def test_errors_name_the_key(tmp_path):
    with pytest.raises(UserError, match=r"steps\.4\.decontaminate\.against\.0\.field: 'prompt'"):
        make_step(tmp_path, [{"question": "x"}], spec={"field": "prompt"})
    with pytest.raises(UserError, match="does not exist"):
        build(DecontaminateParams(against=[{"path": "nope.jsonl"}]), StepContext(root=tmp_path))


def test_empty_frame(tmp_path):
    step = make_step(tmp_path, [{"question": QUESTIONS[0]}])
    assert step.map(pl.DataFrame(schema=BASE_SCHEMA)).height == 0
    assert step.reduce([], tmp_path / "r").decisions.columns == [
        "id",
        REJECT,
        "contaminated_by",
        "contam_ngrams",
    ]


def test_through_the_pipeline(write_recipe, tmp_path):
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    (tmp_path / "eval.jsonl").write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS))
    paras = paragraphs(30)
    docs = [{"id": f"d{i:02d}", "text": plant(t, QUESTIONS[1]) if i == 7 else t} for i, t in enumerate(paras)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    recipe = {
        "sources": {
            "w": {"path": str(tmp_path / "docs.jsonl"), "format": "jsonl", "id": "id", "domain": "g"}
        },
        "steps": [{"decontaminate": {"against": [{"path": str(tmp_path / "eval.jsonl"), "name": "mini"}]}}],
        "execution": {"shard_docs": 10},
        "splits": {"train": 1.0},
    }
    manifest = curate(load_recipe(write_recipe(recipe)), out=tmp_path / "run")
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    assert rejects.select("id", "reason").rows() == [("w/d07", "contaminated:mini")]
    report = manifest["step_reports"]["0:decontaminate"]["contamination"]
    assert report["matches"] == [{"set": "mini", "item": "1", "documents": ["w/d07"]}]
