"""Rule-based augmentation on the shipped text: lineage, trace, split integrity (no leakage), the per-domain
cap, the same steps for copies, and the accounting invariant."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curation.augment.rules import sentence_shuffle, split_sentences, synonyms, word_replace
from curation.pipeline import curate
from mixloom.errors import RecipeError
from mixloom.recipe import load_recipe
from mixloom.trace import trace
from tests.sources import FIQA, HEADLINES, WIKI

STEPS = [
    {"normalize": {}},
    {"sql": "SELECT *, length(text) AS chars FROM docs WHERE length(text) >= 20"},
    {"polars": {"filter": "~pl.col('text').str.contains(r'^=+ .* =+$')", "reason": "heading"}},
    {"quality": {"rules": ["gopher_repetition"]}},
    {"dedup": {"method": "exact"}},
]
AUGMENT = {
    "max_augmented_share": {"financial": 0.15, "general": 0.1},
    "word_replace": {"sources": ["fiqa", "headlines"], "rate": 0.3, "copies": 2},
    "sentence_shuffle": {"sources": ["wiki"], "min_sentences": 3},
}


def recipe(write_recipe, tmp_path, augment=AUGMENT, **extra):
    data = {
        "sources": {"fiqa": FIQA, "headlines": HEADLINES, "wiki": WIKI},
        "steps": STEPS,
        "mix": {"budget": "max", "shares": {"financial": 0.5, "general": 0.5}, "max_epochs": 3},
        "splits": {"train": 0.8, "validation": 0.1, "test": 0.1},
        "execution": {"shard_docs": 500, "workers": 1},
        "seed": 5,
        **({"augment": augment} if augment else {}),
        **extra,
    }
    return load_recipe(write_recipe(data))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import yaml

    from tests.conftest import ROOT

    tmp = tmp_path_factory.mktemp("aug")

    def write(data, name="recipe.yaml"):
        p = tmp / name
        p.write_text(yaml.safe_dump({"name": "aug", "base_dir": str(ROOT), **data}, sort_keys=False))
        return p

    m = curate(recipe(write, tmp), out=tmp / "run")
    return m, tmp / "run"


def test_word_replace_keeps_names_numbers_and_code():
    text = (
        "Apple shares rise quickly. Buy 100 $AAPL at https://x.com/big now; see `big_price` and big.price()."
    )
    new, n = word_replace(text, 0, "doc", 0, rate=1.0)
    assert n >= 2 and new != text
    for kept in ("Apple", "100", "$AAPL", "https://x.com/big", "`big_price`", "big.price()"):
        assert kept in new
    assert all(w in synonyms() for w in ("big", "buy", "price"))
    assert word_replace(text, 0, "doc", 0, rate=1.0) == (new, n)  # deterministic
    assert word_replace(text, 0, "doc", 0, rate=0.5)[0] != word_replace(text, 0, "doc", 1, rate=0.5)[0]


def test_sentence_shuffle_needs_enough_sentences_and_no_code():
    text = "The river floods in May. Farmers plant in June. Harvest comes in October."
    out = sentence_shuffle(text, 0, "d", 0, min_sentences=3)
    assert out is not None and out != text and sorted(split_sentences(out)) == sorted(split_sentences(text))
    assert sentence_shuffle("One. Two.", 0, "d", 0, min_sentences=3) is None
    assert sentence_shuffle(text + "\n```\nx = 1\n```", 0, "d", 0, min_sentences=3) is None


def test_lineage_and_trace(run):
    m, out = run
    kept = pl.read_parquet(out / "curated")
    copies = kept.filter(pl.col("parent_id").is_not_null())
    assert copies.height > 0 and set(copies["aug_method"]) == {"word_replace", "sentence_shuffle"}
    row = copies.filter(pl.col("aug_method") == "word_replace").row(0, named=True)
    assert row["id"].startswith(row["parent_id"] + "~word_replace")
    assert json.loads(row["aug_settings"])["rate"] == 0.3
    parent = pl.concat([kept, pl.read_parquet(out / "rejects")], how="diagonal_relaxed").filter(
        pl.col("id") == row["parent_id"]
    )
    assert parent.height == 1 and parent["text"][0] != row["text"]
    t = trace(out, row["id"])
    assert t["parent"] == row["parent_id"] and t["augmented"]["method"] == "word_replace"
    assert t["parent_trace"]["id"] == row["parent_id"]


def test_accounting_invariant_counts_copies(run):
    m, out = run
    kept = pl.read_parquet(out / "curated")
    rej = pl.read_parquet(out / "rejects")
    made = m["augment"]["total"]
    assert made == sum(v["created"] for v in m["augment"]["methods"].values()) > 0
    assert kept.height + rej.height == m["read"]["records"] + made
    assert set(kept["id"]).isdisjoint(set(rej["id"])) and kept["id"].n_unique() == kept.height
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"] + made
    # the same steps ran on copies: some were rejected by them, with the step's reason
    rejected_copies = rej.filter(pl.col("id").str.contains("~"))
    assert rejected_copies.height > 0 and set(rejected_copies["step"]) - {"read"}
    # a copy outlives its parent never: copies of rejected documents are rejected by `augment:parent`
    copies = kept.filter(pl.col("parent_id").is_not_null())
    assert set(copies["parent_id"]) <= set(kept["id"])
    orphans = rej.filter(pl.col("step") == "augment:parent")
    assert orphans.height > 0 and set(orphans["reason"]) == {"parent rejected"}
    assert (
        next(s for s in m["steps"] if s["step"] == "augment:parent")["reasons"]["parent rejected"]
        == orphans.height
    )
    funnel = m["steps"]
    assert funnel[0]["step"] == "augment" and funnel[0]["docs_in"] == m["read"]["docs"]
    assert funnel[0]["docs_out"] == m["read"]["docs"] + made - sum(funnel[0]["reasons"].values())
    assert all(a["docs_out"] == b["docs_in"] for a, b in zip(funnel, funnel[1:], strict=False))
    kept_total = sum(v["kept"] for v in m["augment"]["methods"].values())
    assert kept_total == kept.filter(pl.col("parent_id").is_not_null()).height


def test_copies_never_cross_splits(run):
    _, out = run
    mix = pl.read_parquet(out / "mix")
    copies = mix.filter(pl.col("parent_id").is_not_null()).select("id", "parent_id", "split")
    assert copies.height > 0
    from curation.splits import assign_splits

    parents = assign_splits(
        copies.select(pl.col("parent_id").alias("id")), {"train": 0.8, "validation": 0.1, "test": 0.1}, 5
    )
    assert copies["split"].to_list() == parents["split"].to_list()
    # and parents present in the mix share their copies' split
    both = copies.join(
        mix.select("id", pl.col("split").alias("parent_split")).unique(), left_on="parent_id", right_on="id"
    )
    assert both.height > 0 and (both["split"] == both["parent_split"]).all()
    held_out = {"validation", "test"}
    leaked = copies.filter(pl.col("split") == "train").join(
        mix.filter(pl.col("split").is_in(list(held_out))).select(pl.col("id").alias("parent_id")),
        on="parent_id",
    )
    assert leaked.height == 0


def test_the_cap_holds_per_domain(run):
    m, out = run
    mix = pl.read_parquet(out / "mix")
    for dom, cap in AUGMENT["max_augmented_share"].items():
        d = mix.filter(pl.col("domain") == dom)
        share = d.filter(pl.col("parent_id").is_not_null())["tokens"].sum() / d["tokens"].sum()
        assert 0 < share <= cap + 1e-12, (dom, share)
        assert m["augment"]["mix"][dom]["augmented_share"] == pytest.approx(share)
    assert mix.filter(pl.col("parent_id").is_not_null())["epoch"].max() == 0  # copies are never repeated


def test_unknown_source_is_a_recipe_error(write_recipe, tmp_path):
    bad = {"word_replace": {"sources": ["nope"]}}
    with pytest.raises(RecipeError, match=r"augment.word_replace.sources.*unknown source 'nope'"):
        curate(recipe(write_recipe, tmp_path, augment=bad), out=tmp_path / "r")


def test_copies_do_not_depend_on_sharding_or_workers(run, write_recipe, tmp_path):
    _, out = run
    other = recipe(write_recipe, tmp_path, execution={"shard_docs": 333, "workers": 2})
    curate(other, out=tmp_path / "run2")
    cols = ["id", "text", "parent_id", "aug_settings"]
    a = pl.read_parquet(out / "curated", columns=cols).sort("id")
    b = pl.read_parquet(tmp_path / "run2" / "curated", columns=cols).sort("id")
    assert a.equals(b)
    mix_a = pl.read_parquet(out / "mix", columns=["id", "epoch", "split"]).sort("id", "epoch")
    mix_b = pl.read_parquet(tmp_path / "run2" / "mix", columns=["id", "epoch", "split"]).sort("id", "epoch")
    assert mix_a.equals(mix_b)


def test_report_section_shows_methods_and_shares(run):
    from curation.augment.report import augment_sections

    m, _ = run
    (sec,) = augment_sections(m)
    assert "word_replace" in sec.markdown and "sentence_shuffle" in sec.markdown
    share = m["augment"]["mix"]["financial"]["augmented_share"]
    assert f"{100 * share:.1f}%" in sec.html
