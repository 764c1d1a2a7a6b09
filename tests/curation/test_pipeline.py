"""The whole curation job: accounting, determinism across executors and workers, resume, mix and splits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from curation.pipeline import curate
from mixloom.errors import UserError
from mixloom.recipe import load_recipe
from tests.sources import FIQA, HEADLINES, WIKI

SOURCES = {"fiqa": FIQA, "headlines": HEADLINES, "wiki": WIKI}
STEPS = [
    {"normalize": {}},
    {"sql": "SELECT *, length(text) AS chars FROM docs WHERE length(text) >= 20"},
    {"polars": {"filter": "~pl.col('text').str.contains(r'^=+ .* =+$')", "reason": "heading"}},
    {"dedup": {"method": "exact"}},
    {"sql": {"query": "tokens <= 400", "reason": "long"}},
]
MIX = {"budget": "max", "shares": {"financial": 0.5127, "general": 0.4873}, "max_epochs": 4}


def _bad_file(tmp_path: Path) -> Path:
    p = tmp_path / "messy.jsonl"
    p.write_bytes(
        b'{"text": "Revenue grew 4% in the quarter, the company said."}\n{"text": oops}\n'
        b'{"title": "no text"}\n{"text": "\xff\xfe"}\n'
        b'{"text": "Revenue grew 4% in the quarter, the company said."}\n'
    )
    return p


@pytest.fixture
def recipe_data(tmp_path):
    sources = {
        **SOURCES,
        "messy": {"path": str(_bad_file(tmp_path)), "format": "jsonl", "domain": "financial"},
    }
    return {
        "sources": sources,
        "steps": STEPS,
        "mix": MIX,
        "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
        "execution": {"shard_docs": 400},
        "seed": 7,
    }


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
        if "_work" not in p.parts
    }


def _all_input_ids(m) -> int:
    return m["read"]["records"]


def test_every_document_is_accounted_for_exactly_once(write_recipe, recipe_data, tmp_path):
    m = curate(load_recipe(write_recipe(recipe_data)), out=tmp_path / "run")
    out = tmp_path / "run"
    kept = pl.read_parquet(out / "curated")
    rej = pl.read_parquet(out / "rejects")
    assert kept["id"].n_unique() == kept.height
    assert rej["id"].n_unique() == rej.height - 0  # a document is rejected once, by one step
    assert set(kept["id"]).isdisjoint(set(rej["id"]))
    assert kept.height + rej.height == m["read"]["records"]  # every input record: kept or rejected
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"]
    # each step's funnel adds up
    prev = m["read"]["docs"]
    for row in m["steps"]:
        assert row["docs_in"] == prev
        assert row["docs_out"] + sum(row["reasons"].values()) == row["docs_in"]
        prev = row["docs_out"]
    assert prev == kept.height
    # the messy file's bad records are quarantined with file and line
    messy = rej.filter(pl.col("source") == "messy").sort("origin")
    messy = messy.with_columns(pl.col("origin").str.replace(r"^.*/", ""))
    assert messy.select("origin", "reason").rows() == [
        ("messy.jsonl:2", "malformed JSON"),
        ("messy.jsonl:3", "missing text field 'text'"),
        ("messy.jsonl:4", "invalid utf-8"),
        ("messy.jsonl:5", "exact_duplicate"),
    ]
    dup = rej.filter(pl.col("source") == "messy", pl.col("reason") == "exact_duplicate")
    assert (
        json.loads(dup["details"][0])["duplicate_of"]
        == "messy/" + recipe_data["sources"]["messy"]["path"] + "#0000001"
    )
    assert m["read"]["reasons"]["duplicate id"] == 3  # real: the headlines file repeats three ids


def test_same_output_for_any_worker_count_and_executor(write_recipe, recipe_data, tmp_path):
    recipe = load_recipe(write_recipe(recipe_data))
    curate(recipe, out=tmp_path / "w1", workers=1)
    curate(recipe, out=tmp_path / "w2", workers=2)
    one, two = _digest(tmp_path / "w1"), _digest(tmp_path / "w2")
    assert len(one) > 10 and one == two


def test_ray_executor_gives_identical_bytes(write_recipe, recipe_data, tmp_path):
    pytest.importorskip("ray")
    recipe = load_recipe(write_recipe(recipe_data))
    curate(recipe, out=tmp_path / "local", workers=1)
    curate(recipe, out=tmp_path / "ray", executor="ray", workers=2)
    assert _digest(tmp_path / "local") == _digest(tmp_path / "ray")


def test_mix_hits_target_shares_and_records_repeats(write_recipe, recipe_data, tmp_path):
    m = curate(load_recipe(write_recipe(recipe_data)), out=tmp_path / "run")
    for dom, r in m["mix"]["domains"].items():
        assert abs(r["achieved_share"] - r["target_share"]) <= 0.01, dom
    mixed = pl.read_parquet(tmp_path / "run" / "mix")
    share = (
        mixed.group_by("domain")
        .agg(pl.col("tokens").sum())
        .with_columns(pl.col("tokens") / pl.col("tokens").sum())
    )
    got = dict(share.rows())
    assert abs(got["financial"] - 0.5127) <= 0.01
    assert mixed.filter(pl.col("domain") == "financial")["epoch"].max() == 3  # financial is upsampled 4x
    assert m["mix"]["sources"]["fiqa"]["epochs"] == pytest.approx(4.0, abs=0.01)
    # splits: copies of a document never straddle splits
    assert mixed.group_by("id").agg(pl.col("split").n_unique())["split"].max() == 1
    assert sum(s["docs"] for s in m["splits"].values()) == mixed.height


def test_mix_that_caps_forbid_fails_with_numbers(write_recipe, recipe_data, tmp_path):
    data = {**recipe_data, "mix": {**MIX, "budget": 5_000_000}}
    with pytest.raises(UserError, match=r"would need [\d.]+ epochs.*max_epochs 4") as e:
        curate(load_recipe(write_recipe(data)), out=tmp_path / "run")
    assert "allow_shortfall" in str(e.value)
    m = curate(
        load_recipe(write_recipe({**data, "mix": {**data["mix"], "allow_shortfall": True}})),
        out=tmp_path / "run2",
    )
    assert set(m["mix"]["shortfall"]) >= {"fiqa", "headlines"}
    assert m["mix"]["domains"]["financial"]["achieved_share"] < 0.5127


def test_splits_are_stable_when_the_corpus_changes(write_recipe, recipe_data, tmp_path):
    base = {**recipe_data, "mix": None}
    curate(load_recipe(write_recipe(base)), out=tmp_path / "a")
    smaller = {**base, "sources": {k: v for k, v in base["sources"].items() if k != "headlines"}}
    curate(load_recipe(write_recipe(smaller, "r2.yaml")), out=tmp_path / "b")
    a = pl.read_parquet(tmp_path / "a" / "mix").select("id", "split")
    b = pl.read_parquet(tmp_path / "b" / "mix").select("id", "split")
    joined = a.join(b, on="id")
    assert joined.height > 500 and (joined["split"] == joined["split_right"]).all()
    frac = a.group_by("split").len().with_columns(pl.col("len") / a.height)
    assert dict(frac.rows())["train"] == pytest.approx(0.9, abs=0.03)


def test_rerun_reuses_finished_work_and_resumes(write_recipe, recipe_data, tmp_path):
    recipe = load_recipe(write_recipe(recipe_data))
    out = tmp_path / "run"
    curate(recipe, out=out)
    first = _digest(out)
    # simulate a crash mid-pass: drop some shard results and their done markers
    work = sorted((out / "_work").glob("pass1-*"))[0]
    victims = sorted(work.glob("*.done.json"))[:2]
    for v in victims:
        v.unlink()
        (work / v.name.replace(".done.json", ".parquet")).unlink()
    marker = sorted((out / "_work").glob("pass0-*"))[0] / "fiqa-00000-00000.done.json"
    stamp = marker.stat().st_mtime_ns
    curate(recipe, out=out)
    assert _digest(out) == first
    assert marker.stat().st_mtime_ns == stamp  # finished shards were not redone


def test_named_tokenizer_counts_tokens_and_is_stated(write_recipe, recipe_data, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    texts = (
        (Path(__file__).resolve().parents[2] / "data/wikitext2/wiki_valid_sample.txt")
        .read_text()
        .splitlines()
    )
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=500, special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    data = {**recipe_data, "mix": {**MIX, "tokenizer": str(tmp_path)}}
    m = curate(load_recipe(write_recipe(data)), out=tmp_path / "run")
    assert m["tokenizer"] == f"tokenizer at {tmp_path}"
    kept = pl.read_parquet(tmp_path / "run" / "curated").head(50)
    assert kept["tokens"].to_list() == [len(e.ids) for e in tok.encode_batch(kept["text"].to_list())]
    for r in m["mix"]["domains"].values():
        assert abs(r["achieved_share"] - r["target_share"]) <= 0.01


def test_stats_cli_and_jsonl_output(write_recipe, recipe_data, tmp_path, capsys):
    from mixloom.cli import main

    data = {**recipe_data, "execution": {**recipe_data["execution"], "output_format": "jsonl"}}
    out = tmp_path / "run"
    assert main(["curate", str(write_recipe(data)), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "mix" / "train").iterdir())[0].endswith(".jsonl")
    rows = [json.loads(x) for x in (out / "mix" / "train" / "part-00000.jsonl").read_text().splitlines()]
    assert {"id", "text", "domain", "epoch", "split"} <= set(rows[0])
    capsys.readouterr()
    assert main(["stats", str(out)]) == 0
    shown = capsys.readouterr().out
    for needle in (
        "Step funnel",
        "1:sql",
        "exact_duplicate",
        "Mix by domain",
        "financial",
        "51.27%",
        "Splits",
    ):
        assert needle in shown


def test_minhash_dedup_gives_identical_bytes_on_ray_and_any_worker_count(write_recipe, tmp_path):
    pytest.importorskip("ray")
    data = {
        "sources": {"fiqa": FIQA, "headlines": HEADLINES, "wiki": WIKI},
        "seed": 1,
        "steps": [{"normalize": {}}, {"dedup": {"method": "minhash", "threshold": 0.7, "ngram": 3}}],
        "execution": {"shard_docs": 300},
    }
    recipe = load_recipe(write_recipe(data))
    curate(recipe, out=tmp_path / "w1", workers=1)
    curate(recipe, out=tmp_path / "w2", workers=2)
    m = curate(recipe, out=tmp_path / "ray", executor="ray", workers=2)
    assert m["steps"][1]["reasons"].get("near_duplicate", 0) > 0
    one = _digest(tmp_path / "w1")
    assert one == _digest(tmp_path / "w2") == _digest(tmp_path / "ray")
