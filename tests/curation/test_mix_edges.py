"""Edges of the shard-wise mix planner that the mutation check (scripts/mutation.sh, docs/mutation.md) found
untested: a target of about one document, a one-document source, a capped domain where only some sources have
augmented copies, and sources or domains without a share that hold empty (zero-token) documents."""

from __future__ import annotations

import polars as pl
import pytest

from mixloom.sections.curate import Mix
from tests.curation.test_mix_units import _docs, plan_mix


def _taken(sel: pl.DataFrame, source: str) -> dict[str, int]:
    return {i: c for i, c in zip(sel["id"], sel["copies"], strict=True) if i.startswith(f"{source}/")}


def _copies_of(docs: dict, copies: dict[str, list[int]]) -> pl.DataFrame:
    """`docs` as in `_docs`, plus augmented copies (token counts given) of each named source's first document."""
    base = _docs(docs).with_columns(pl.lit(None, pl.String).alias("parent_id"))
    extra = [
        {"id": f"{s}/aug{i}", "source": s, "domain": docs[s][0], "tokens": t, "parent_id": f"{s}/0"}
        for s, toks in copies.items()
        for i, t in enumerate(toks)
    ]
    return pl.concat([base, pl.DataFrame(extra)], how="vertical_relaxed")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_target_of_one_document_takes_one(seed):
    docs = _docs({"a": ("fin", [10] * 10), "w": ("gen", [10] * 10)})
    mix = Mix(unit="docs", budget=2, shares={"fin": 0.5, "gen": 0.5}, tolerance=0.0)
    sel, rep = plan_mix(docs, mix, seed=seed)
    for s in ("a", "w"):
        assert rep["sources"][s]["target"] == 1.0
        assert list(_taken(sel, s).values()) == [1] and rep["sources"][s]["achieved"] == 1


def test_a_one_document_source_is_repeated_to_the_closest_whole_number_of_copies():
    target = 26 * 0.1  # a's share of the budget: 2.6 documents, and a has only one
    docs = _docs({"a": ("fin", [7]), "w": ("gen", [7] * 30)})
    mix = Mix(unit="docs", budget=26, shares={"fin": 0.1, "gen": 0.9}, tolerance=0.05)
    sel, rep = plan_mix(docs, mix, seed=1)
    a = rep["sources"]["a"]
    assert a["target"] == pytest.approx(target)
    assert _taken(sel, "a") == {"a/0": round(target)}
    assert a["achieved"] == round(target) and a["epochs"] == round(target) and a["docs_repeated"] == 1
    # the same document in tokens: one source of 7 tokens asked for 2.6 x 7
    by_tokens = Mix(budget=26 * 7, shares={"fin": 0.1, "gen": 0.9}, tolerance=0.05)
    sel, rep = plan_mix(docs, by_tokens, seed=1)
    assert _taken(sel, "a") == {"a/0": round(target)}


def test_a_capped_domain_where_only_one_source_has_copies():
    docs = _copies_of(
        {"a": ("fin", [10] * 10), "b": ("fin", [10] * 10), "w": ("gen", [10] * 40)}, {"a": [10] * 10}
    )
    mix = Mix(budget=800, shares={"fin": 0.5, "gen": 0.5})
    sel, rep = plan_mix(docs, mix, seed=1, aug_share={"fin": 0.25})
    a, b = rep["sources"]["a"], rep["sources"]["b"]
    assert a["augmented_docs"] > 0 and a["augmented"] <= 0.25 * a["achieved"]
    assert b["augmented_docs"] == 0 and b["augmented"] == 0.0
    assert b["achieved"] == b["target"] == 200.0 and sum(_taken(sel, "b").values()) == 20
    assert 0 < rep["domains"]["fin"]["augmented_share"] <= 0.25


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_no_share_means_no_rows_not_even_empty_documents(seed):
    # b is left out of mix.sources, gen has no cap for augmented copies: neither may contribute a row, even
    # documents with zero tokens (which add nothing to any target but would still be rows of the mix)
    docs = _copies_of(
        {"a": ("fin", [10] * 10), "b": ("fin", [0] * 20 + [10]), "w": ("gen", [10] * 40)},
        {"a": [10] * 4, "w": [0] * 6},
    )
    mix = Mix(budget=400, shares={"fin": 0.5, "gen": 0.5}, sources={"fin": {"a": 1.0}})
    sel, rep = plan_mix(docs, mix, seed=seed, aug_share={"fin": 0.2})
    assert rep["sources"]["b"]["target"] == 0.0 and _taken(sel, "b") == {}
    assert rep["sources"]["b"]["docs_selected"] == 0
    assert not [i for i in _taken(sel, "w") if "aug" in i] and rep["sources"]["w"]["augmented_docs"] == 0
    assert rep["sources"]["a"]["augmented_docs"] > 0  # the capped domain does take copies


def test_a_cap_of_exactly_one_augmented_document_takes_it():
    docs = _copies_of({"a": ("fin", [5] * 10), "w": ("gen", [5] * 10)}, {"a": [5] * 4})
    mix = Mix(unit="docs", budget=4, shares={"fin": 0.5, "gen": 0.5}, tolerance=0.0)
    share = 0.5
    sel, rep = plan_mix(docs, mix, seed=1, aug_share={"fin": share})
    a = rep["sources"]["a"]
    copies = share * a["target"]  # a's target is 2 documents: the cap is one augmented copy
    assert copies == 1 and a["augmented_docs"] == copies and a["achieved"] == a["target"]
    assert sum(1 for i in _taken(sel, "a") if "aug" in i) == copies
    assert rep["domains"]["fin"]["augmented_share"] == share
