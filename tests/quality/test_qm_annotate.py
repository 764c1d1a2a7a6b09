"""The annotate stage with a scripted engine: strict parsing, retries, cache hits, quarantine, sampling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from mixloom.errors import RecipeError, UserError
from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe
from reasoning.annotate import AnnotateStage
from reasoning.annotate_parse import ParseError, Rubric, parse_answer
from reasoning.engines import Completion, Generation
from tests.sources import FIQA, WIKI

SOURCES = {
    "wiki": WIKI,
    "headlines": {
        "path": "data/finance/semeval2017_task5_headlines.json",
        "format": "json",
        "text": "title",
        "id": "id",
        "domain": "financial",
    },
}
PROMPT = "Rate the text from 0 to 5.\n<doc>{text}</doc>\nAnswer as `Score: N` then `Reason: ...`."


class Scripted:
    """answer(text, call_number_for_this_text) -> answer; records every prompt and sampling setting."""

    kind, model = "scripted", "scripted-v1"

    def __init__(self, answer):
        self.answer, self.calls, self.seen = answer, [], {}

    def generate(self, prompts, *, n=1, temperature=1.0, top_p=1.0, max_tokens=256, seed=None, stop=None):
        out = []
        for p in prompts:
            doc = re.search(r"<doc>(.*)</doc>", p[0]["content"], re.S).group(1)
            k = self.seen[doc] = self.seen.get(doc, 0) + 1
            self.calls.append((doc, temperature))
            out.append(Generation([Completion(self.answer(doc, k), 5, "stop")]))
        return out

    def close(self):
        pass


def by_length(doc: str, k: int) -> str:
    """Long documents score 4; every third length answers in prose first and in the format on retry;
    lengths divisible by 7 never answer in the format."""
    if len(doc) % 7 == 0:
        return "I would say this is decent."
    if len(doc) % 3 == 0 and k == 1:
        return "Sure! The score is 4."
    return f"Score: {4 if len(doc) > 80 else 1}\nReason: length {len(doc)}"


def recipe(write_recipe, **annotate):
    section = {
        "method": "llm",
        "sample": {"sources": ["wiki", "headlines"], "n": 60},
        "engine": {"kind": "transformers", "model": "tiny", "max_tokens": 32},
        "prompt": PROMPT,
        **annotate,
    }
    return load_recipe(write_recipe({"seed": 3, "sources": SOURCES, "annotate": section}))


def labels(run) -> pl.DataFrame:
    return pl.read_parquet(run / "annotate" / "labels" / "part-00000.parquet")


def test_parse_answer_is_strict():
    r = Rubric()
    assert parse_answer("Score: 3\nReason: clear prose", r) == (3.0, "clear prose")
    assert parse_answer("\n  score: 0 \n\nreason:  spam \nextra text", r) == (0.0, "spam")
    for bad, why in [
        ("The score is 3", "first line is not 'Score: N'"),
        ("Score: 3", "no 'Reason"),
        ("Score: 7\nReason: x", "outside 0-5"),
        ("Score: 2.5\nReason: x", "not a whole number"),
        ("Score: three\nReason: x", "first line is not"),
        ("", "empty answer"),
    ]:
        with pytest.raises(ParseError, match=re.escape(why)):
            parse_answer(bad, r)
    j = Rubric(answer_format="json", integer=False)
    assert parse_answer('```json\n{"score": 2.5, "reason": "ok"}\n```', j) == (2.5, "ok")
    for bad in ['{"reason": "x"}', "[3]", '{"score": true, "reason": "x"}', '{"score": 1, "reason": ""}']:
        with pytest.raises(ParseError):
            parse_answer(bad, j)


def test_llm_labels_retries_cache_and_quarantine(write_recipe, tmp_path):
    r = recipe(write_recipe)
    layout = RunLayout(tmp_path / "run")
    eng = Scripted(by_length)
    res = AnnotateStage(eng).run(r, layout)
    lab, q = labels(layout.root), pl.read_parquet(layout.root / "annotate" / "quarantine.parquet")
    texts = {d for d, _ in eng.calls}
    assert len(texts) == 60 and lab.height + q.height == 60
    never = {t for t in texts if len(t) % 7 == 0}
    retried = {t for t in texts if len(t) % 3 == 0 and t not in never}
    assert set(q["text"]) == never and never and retried
    assert q["reason"].unique().to_list() == ["unparsable after 3 tries: first line is not 'Score: N'"]
    assert all(len(json.loads(a)) == 3 for a in q["answers"])
    # labels: the parsed score, binarised at positive_at (3), with the answer and the tries it took
    for row in lab.iter_rows(named=True):
        assert row["score"] == (4 if len(row["text"]) > 80 else 1)
        assert row["label"] == int(row["score"] >= 3)
        assert row["attempts"] == (2 if row["text"] in retried else 1)
    # a retry samples at retry_temperature (greedy decoding would repeat the same prose)
    assert {t for d, t in eng.calls if d in retried} == {0.0, 0.7}
    assert res["engine_calls"] == 60 + len(retried) + 2 * len(never) and res["cache_hits"] == 0
    assert res["quarantined"] == len(never) and res["labels"] == lab.height

    # a rerun asks the engine nothing and writes the same labels
    again = Scripted(lambda d, k: pytest.fail("the engine was called for a cached answer"))
    res2 = AnnotateStage(again).run(r, layout)
    assert res2["engine_calls"] == 0 and res2["cache_hits"] == res["engine_calls"]
    assert labels(layout.root).equals(lab)

    # a larger sample asks only about texts not asked before (the cache is keyed by text, not id)
    bigger = recipe(write_recipe, sample={"sources": ["wiki", "headlines"], "n": 80})
    eng3 = Scripted(by_length)
    AnnotateStage(eng3).run(bigger, layout)
    q3 = pl.read_parquet(layout.root / "annotate" / "quarantine.parquet")
    all_texts = set(labels(layout.root)["text"]) | set(q3["text"])
    assert {d for d, _ in eng3.calls} == all_texts - texts and len(all_texts - texts) >= 15


def test_cache_key_covers_prompt_model_and_sampling(write_recipe, tmp_path):
    layout = RunLayout(tmp_path / "run")
    AnnotateStage(Scripted(by_length)).run(recipe(write_recipe), layout)
    for change in (
        {"prompt": PROMPT + " Be strict."},
        {"engine": {"kind": "transformers", "model": "tiny", "max_tokens": 64}},
        {"temperature": 0.3},
    ):
        eng = Scripted(by_length)
        AnnotateStage(eng).run(recipe(write_recipe, **change), layout)
        assert len({d for d, _ in eng.calls}) == 60, change
    other_model = Scripted(by_length)
    other_model.model = "scripted-v2"
    res = AnnotateStage(other_model).run(recipe(write_recipe), layout)
    assert res["cache_hits"] == 0


def test_sampling_is_seeded_and_order_free(write_recipe, tmp_path):
    ids = []
    for seed in (3, 3, 4):
        r = load_recipe(
            write_recipe(
                {
                    "seed": seed,
                    "sources": SOURCES,
                    "annotate": {
                        "sample": {
                            "sources": ["headlines", "wiki"] if seed == 3 and ids else ["wiki", "headlines"],
                            "n": 50,
                        },
                        "engine": {"kind": "transformers", "model": "tiny"},
                        "prompt": PROMPT,
                    },
                }
            )
        )
        AnnotateStage(Scripted(by_length)).run(r, RunLayout(tmp_path / f"run{len(ids)}"))
        lab = labels(tmp_path / f"run{len(ids)}")
        q = pl.read_parquet(tmp_path / f"run{len(ids)}" / "annotate" / "quarantine.parquet")
        ids.append(sorted(lab["id"].to_list() + q["id"].to_list()))
    assert ids[0] == ids[1]  # same seed, sources listed in another order
    assert ids[0] != ids[2] and len(ids[2]) == 50


def test_reference_labels_quarantine_conflicts(write_recipe, tmp_path):
    noise = tmp_path / "noise.jsonl"
    dup = "Morrisons book second consecutive quarter of sales growth"
    noise.write_text(
        json.dumps({"text": dup}) + "\n" + json.dumps({"text": "BUY NOW!!! cheap pills $$$ click"}) + "\n"
    )
    r = load_recipe(
        write_recipe(
            {
                "sources": SOURCES,
                "annotate": {
                    "method": "reference",
                    "positives": {"sources": ["headlines"]},
                    "negatives": {"paths": [{"path": str(noise)}]},
                },
            }
        )
    )
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    lab = labels(tmp_path / "run")
    assert res["quarantined"] == 2 and res["quarantine_reasons"] == {"in positives and negatives": 2}
    assert dup not in lab["text"].to_list()
    assert lab.filter(pl.col("label") == 0)["text"].to_list() == ["BUY NOW!!! cheap pills $$$ click"]
    assert lab["label"].sum() == lab.height - 1


def test_file_labels(write_recipe, tmp_path):
    f = tmp_path / "labels.jsonl"
    rows = [
        {"text": "a fine paragraph", "score": 4},
        {"text": "spam spam", "label": 0},
        {"text": "x y", "score": None},
    ]
    f.write_text("".join(json.dumps(x) + "\n" for x in rows))
    r = load_recipe(
        write_recipe({"annotate": {"method": "file", "labels": {"path": str(f)}, "positive_at": 3}})
    )
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    lab = labels(tmp_path / "run").sort("text")
    assert lab["label"].to_list() == [1, 0] and res["quarantine_reasons"] == {"no label or score": 1}


def test_validation_errors(write_recipe):
    with pytest.raises(UserError, match=r"prompt must contain the placeholder \{text\}"):
        recipe(write_recipe, prompt="Rate this.")
    with pytest.raises(UserError, match="method: reference needs positives, negatives"):
        load_recipe(write_recipe({"annotate": {"method": "reference"}}))
    with pytest.raises(UserError, match="exactly one of"):
        recipe(write_recipe, sample={"sources": ["wiki"], "paths": [{"path": "x"}]})
    r = recipe(write_recipe, sample={"sources": ["nope"]})
    with pytest.raises(RecipeError, match="annotate.sample.sources: unknown source 'nope'"):
        AnnotateStage().validate(r)


def test_cycle_through_curated_output_is_refused(write_recipe):
    """Labels sampled from this run's curated output cannot train the classifier that curation uses."""
    data = {
        "sources": SOURCES,
        "steps": [{"quality_model": {"model": "train.quality_model", "threshold": 0.5}}],
        "annotate": {
            "sample": {"from": "curate.curated", "n": 10},
            "engine": {"kind": "transformers", "model": "tiny"},
            "prompt": PROMPT,
        },
        "train": {"quality_model": {"data": "annotate.labels"}},
    }
    r = load_recipe(write_recipe(data))
    with pytest.raises(RecipeError, match="a cycle") as e:
        AnnotateStage().validate(r)
    assert "sources: [name]" in str(e.value)
    data["annotate"]["sample"] = {"sources": ["wiki"], "n": 10}
    AnnotateStage().validate(load_recipe(write_recipe(data)))
    assert AnnotateStage().reads(load_recipe(write_recipe(data))) == [SOURCES["wiki"]["path"]]


def test_missing_curated_output_is_a_clear_error(write_recipe, tmp_path):
    r = recipe(write_recipe, sample={"from": "curate.curated"})
    with pytest.raises(UserError, match="no curated shards .* run the curate stage first"):
        AnnotateStage(Scripted(by_length)).run(r, RunLayout(tmp_path / "run"))


def test_same_text_is_asked_once(write_recipe, tmp_path):
    docs = tmp_path / "docs.jsonl"
    same = "A paragraph that two pages both carry, word for word, long enough to be sampled."
    docs.write_text("".join(json.dumps({"id": i, "text": same}) + "\n" for i in range(3)))
    r = recipe(write_recipe, sample={"paths": [{"path": str(docs), "id": "id"}]})
    eng = Scripted(by_length)
    res = AnnotateStage(eng).run(r, RunLayout(tmp_path / "run"))
    assert len(eng.calls) == res["engine_calls"] and sum(t == 0.0 for _, t in eng.calls) == 1
    assert res["labels"] + res["quarantined"] == 3


def test_cli_runs_the_example(tmp_path):
    from typer.testing import CliRunner

    from mixloom.cli import app

    root = Path(__file__).resolve().parents[2]
    recipe_file = root / "recipes" / "quality_classifier.yaml"
    out = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(app, ["annotate", str(recipe_file), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert re.search(r"annotate \d+ labels \(\d+ positive\), 0 quarantined", res.output.replace("\n", ""))
    res = runner.invoke(app, ["quality-model", str(recipe_file), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert re.search(r"F1 0\.9\d\d", res.output)
    assert (out / "train" / "quality_model" / "model" / "model.bin").is_file()


def test_reads_keyed_json_and_uneven_jsonl(write_recipe, tmp_path):
    messy = tmp_path / "messy.jsonl"
    messy.write_text(
        json.dumps({"body": "first document with enough characters"})
        + "\n{not json\n"
        + json.dumps({"body": "second one", "extra": {"nested": [1, 2]}})
        + "\n"
        + json.dumps({"body": 5})
        + "\n[1, 2]\n"
        + json.dumps({"other": "no body field here at all"})
        + "\n"
    )
    sources = {
        **SOURCES,
        "fiqa": FIQA,
    }
    r = load_recipe(
        write_recipe(
            {
                "sources": sources,
                "annotate": {
                    "method": "reference",
                    "positives": {"sources": ["fiqa"], "min_chars": 1},
                    "negatives": {"paths": [{"path": str(messy), "text": "body"}], "min_chars": 1},
                },
            }
        )
    )
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    lab = labels(tmp_path / "run")
    fiqa = json.loads((Path(__file__).resolve().parents[2] / "data/finance/fiqa_posts.json").read_text())
    assert res["positives"] == len(fiqa)  # every post, keyed by its JSON key
    assert "fiqa/14860" in lab["id"].to_list()
    assert sorted(lab.filter(pl.col("label") == 0)["text"]) == [
        "first document with enough characters",
        "second one",
    ]


def test_file_label_outside_0_1_is_quarantined(write_recipe, tmp_path):
    f = tmp_path / "labels.jsonl"
    f.write_text(json.dumps({"text": "a", "label": 2}) + "\n" + json.dumps({"text": "b", "label": 1}) + "\n")
    r = load_recipe(write_recipe({"annotate": {"method": "file", "labels": {"path": str(f)}}}))
    res = AnnotateStage().run(r, RunLayout(tmp_path / "run"))
    assert res["labels"] == 1 and res["quarantine_reasons"] == {"label is not 0 or 1": 1}
