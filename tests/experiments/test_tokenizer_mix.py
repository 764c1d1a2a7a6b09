"""Mix shares measured in a real tokenizer's tokens: the recipe names it, the manifest records it, and a
recount of the mix's documents with that tokenizer gives the target shares."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from tokenizers import Tokenizer

from curation.pipeline import curate
from mixloom.recipe import load_recipe
from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parents[2]


def _recount(run: Path, tokenizer: Path) -> dict[str, float]:
    """Domain shares of the whole mix (every split, repeats included), counted again with the tokenizer."""
    tok = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    df = pl.read_parquet(run / "mix" / "**" / "*.parquet")
    n = [len(e.ids) for e in tok.encode_batch(df["text"].to_list(), add_special_tokens=False)]
    per = df.with_columns(pl.Series("n", n)).group_by("domain").agg(pl.col("n").sum())
    total = per["n"].sum()
    return {d: c / total for d, c in zip(per["domain"], per["n"], strict=True)}


def _bpe(dst: Path, texts: list[str], vocab: int = 600) -> Path:
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    dst.mkdir(parents=True)
    tok.save(str(dst / "tokenizer.json"))
    return dst


def test_mix_in_a_local_tokenizer_meets_shares_in_its_tokens(tmp_path, write_recipe):
    fiqa = json.loads((ROOT / "data/finance/fiqa_posts.json").read_text())
    texts = [r["sentence"] for r in fiqa.values()][:300]
    tok_dir = _bpe(tmp_path / "tok", texts)
    recipe = {
        "seed": 3,
        "sources": {
            "fiqa": FIQA,
            "wiki": WIKI,
        },
        "mix": {
            "shares": {"financial": 0.3, "general": 0.7},
            "tokenizer": str(tok_dir),
            "tolerance": 0.005,
            "budget": 40000,
        },
        "splits": {"train": 0.9, "validation": 0.1},
    }
    run = tmp_path / "run"
    m = curate(load_recipe(write_recipe(recipe)), out=run)
    assert m["mix"]["tokenizer"]["tokenizer"] == str(tok_dir) and m["mix"]["tokenizer"]["xxh3_128"]
    assert m["mix"]["unit_label"] == "tokens of tok"
    got = _recount(run, tok_dir)
    assert got["financial"] == pytest.approx(0.3, abs=0.005)
    # the manifest's counts are that tokenizer's tokens, not the regex approximation's
    achieved = m["mix"]["domains"]["financial"]["achieved"]
    assert achieved == pytest.approx(got["financial"] * m["mix"]["achieved_total"], rel=1e-6)


@pytest.mark.slow
def test_bloomberg_recipe_meets_5127_in_the_tokenizer_it_names(tmp_path):
    recipe = load_recipe(ROOT / "recipes/bloomberg_style.yaml")
    tok = recipe.resolve(recipe.mix.tokenizer)
    assert (tok / "tokenizer.json").is_file()
    m = curate(recipe, out=tmp_path / "bb")
    assert m["mix"]["tokenizer"]["tokenizer"] == str(tok)
    assert abs(m["mix"]["domains"]["financial"]["achieved_share"] - 0.5127) <= 0.005
    assert abs(_recount(tmp_path / "bb", tok)["financial"] - 0.5127) <= 0.005
