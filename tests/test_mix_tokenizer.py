"""Shares in the tokens that train: when a recipe trains a tokenizer, the mix counts in it by default.

The run graph becomes curate → train.tokenizer (learning from the curated documents) → mix → pretrain, and
the shares are checked here by recounting the written mix with the trained tokenizer itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from tokenizers import Tokenizer

from curation.pipeline import curate
from mixloom.errors import RecipeError
from mixloom.orchestrator import plan, run_recipe
from mixloom.recipe import load_recipe
from mixloom.validate import validate_recipe
from tests.sources import HEADLINES, WIKI

ROOT = Path(__file__).resolve().parent.parent


def _recipe(tmp: Path, mix: dict | None = None, tokenizer: dict | None = None) -> Path:
    data = {
        "name": "mixtok",
        "seed": 5,
        "base_dir": str(ROOT),
        "output": str(tmp / "run"),
        "sources": {"wiki": WIKI, "headlines": HEADLINES},
        "steps": [{"sql": "SELECT * FROM docs WHERE length(text) >= 20"}],
        "mix": mix if mix is not None else {"shares": {"financial": 0.3, "general": 0.7}, "tolerance": 0.005},
        "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
        "train": {"tokenizer": tokenizer or {"vocab_size": 400}},
    }
    p = tmp / "recipe.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _recount(run: Path) -> pl.DataFrame:
    """Every mixed row with its tokens counted again by the run's trained tokenizer."""
    tok = Tokenizer.from_file(str(run / "train" / "tokenizer" / "tokenizer.json"))
    df = pl.concat([pl.read_parquet(f) for f in sorted(run.glob("mix/*/*.parquet"))])
    n = [len(e.ids) for e in tok.encode_batch(df["text"].to_list(), add_special_tokens=False)]
    return df.with_columns(pl.Series("recount", n, dtype=pl.Int64))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("mixtok")
    manifest = curate(load_recipe(_recipe(tmp)))
    return tmp, manifest


def test_graph_puts_the_tokenizer_between_curation_and_the_mix(tmp_path):
    statuses = {s.name: s for s in plan(load_recipe(_recipe(tmp_path)))}
    assert list(statuses) == ["curate", "train.tokenizer", "mix"]
    assert statuses["train.tokenizer"].reads == ["curate.curated"]
    assert statuses["mix"].reads == ["curate.curated", "train.tokenizer"]


def test_shares_hold_in_the_trained_tokenizer(run):
    tmp, m = run
    assert m["mix"]["tokenizer"]["tokenizer"] == "train.tokenizer"
    assert m["mix"]["unit_label"] == "tokens of train.tokenizer"
    assert m["tokens_unit"] == "approx"  # curation counted approx tokens before the tokenizer existed
    df = _recount(tmp / "run")
    assert (df["tokens"] == df["recount"]).all()  # the mix's own column is in the trained tokenizer
    shares = df.group_by("domain").agg(pl.col("recount").sum())
    total = shares["recount"].sum()
    got = {d: n / total for d, n in shares.iter_rows()}
    assert got["financial"] == pytest.approx(0.3, abs=0.005)
    assert got["general"] == pytest.approx(0.7, abs=0.005)
    # ...and not by accident: the same rows in approx tokens miss the target
    approx = df.with_columns(pl.col("text").str.count_matches(r"\w+|[^\w\s]").alias("a"))
    a = approx.group_by("domain").agg(pl.col("a").sum())
    assert abs(dict(a.iter_rows())["financial"] / a["a"].sum() - 0.3) > 0.005


def test_the_tokenizer_learns_from_curated_documents_not_the_mix(run):
    tmp, _ = run
    tm = json.loads((tmp / "run" / "train" / "tokenizer" / "manifest.json").read_text())
    assert any("curated" in str(f) for f in json.dumps(tm).split('"') if "parquet" in f)
    assert "mix/train" not in json.dumps(tm)


def test_a_new_tokenizer_remixes_without_curating_again(run):
    tmp, before = run
    recipe = load_recipe(_recipe(tmp, tokenizer={"vocab_size": 600}))
    why = {s.name: (s.run, s.why) for s in plan(recipe)}
    assert why["curate"] == (False, "cached")
    assert why["train.tokenizer"] == (True, "its recipe section changed")
    assert why["mix"] == (True, "reads train.tokenizer, which will run")
    summary = run_recipe(recipe, report=False)
    assert summary["curate"] == "cached" and summary["mix"].startswith("ran")
    after = json.loads((tmp / "run" / "manifest.json").read_text())
    assert after["mix"]["tokenizer"]["xxh3_128"] != before["mix"]["tokenizer"]["xxh3_128"]
    df = _recount(tmp / "run")  # same process, same path, new tokenizer: no stale cached tokenizer
    assert (df["tokens"] == df["recount"]).all()


def test_changing_shares_reruns_only_the_mix(run):
    tmp, _ = run
    recipe = load_recipe(
        _recipe(tmp, mix={"shares": {"financial": 0.25, "general": 0.75}}, tokenizer={"vocab_size": 600})
    )
    assert [s.name for s in plan(recipe) if s.run] == ["mix"]


def test_approx_keeps_the_old_order(tmp_path):
    recipe = load_recipe(
        _recipe(tmp_path, mix={"shares": {"financial": 0.3, "general": 0.7}, "tokenizer": "approx"})
    )
    statuses = {s.name: s for s in plan(recipe)}
    assert list(statuses) == ["curate", "mix", "train.tokenizer"]
    assert statuses["train.tokenizer"].reads == ["curate.train"]  # the mix's train split, as before


def test_a_tokenizer_learning_from_its_own_mix_is_a_recipe_error(tmp_path):
    p = _recipe(tmp_path, tokenizer={"vocab_size": 400, "data": "curate.train"})
    with pytest.raises(RecipeError, match="train.tokenizer.data.*curate.curated"):
        validate_recipe(load_recipe(p))


def test_the_run_tokenizer_without_a_tokenizer_stage_is_a_recipe_error(tmp_path):
    p = _recipe(tmp_path, mix={"shares": {"financial": 0.3, "general": 0.7}, "tokenizer": "train.tokenizer"})
    data = yaml.safe_load(p.read_text())
    del data["train"]
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(RecipeError, match="reads 'train.tokenizer'.*does not configure it"):
        plan(load_recipe(p))


def test_the_data_card_names_the_mix_unit(run):
    from mixloom.report import write_data_card

    tmp, _ = run
    card = Path(write_data_card(tmp / "run")).read_text()
    assert "Token counts: mix in train.tokenizer" in card
    assert "Token counts are approximate" not in card
