"""mixloom's own toxicity model: the identity lexicon, the numpy featuriser, the shipped model's behaviour
across groups, a small offline build, and that no HateCheck case is ever in its training data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl

from curation.identity import GROUP_NAMES, MASK, find_groups, mask, swap
from curation.toxicity_model import templates
from curation.toxicity_model.features import FeatureConfig, logits, matrix, ngrams
from curation.toxicity_model.model import load

ROOT = Path(__file__).resolve().parents[2]


def test_lexicon_finds_masks_and_swaps_mentions():
    assert find_groups("Black people and a Muslim woman met my Jewish neighbour") == [
        "black people",
        "Muslims",
        "women",
        "Jews",
    ]
    assert find_groups("a black car, an old house, the man-made lake, womenswear") == []
    assert mask("I hate women and African-American voters.") == f"I hate {MASK} and {MASK}."
    out = swap("Muslims are welcome; a Muslim spoke.", "immigrants")
    assert out.startswith("Immigrants are welcome; a") and out.endswith(
        "Immigrant spoke."
    )  # articles kept as is
    assert swap("black people", "women") == "women"
    for g in GROUP_NAMES:  # every group's swapped-in form is found again as that group
        assert find_groups(swap("I met Muslims today", g)) == [g], g


def test_features_do_not_depend_on_the_batch():
    cfg = FeatureConfig(bits=16)
    texts = [
        "you are a stupid idiot",
        "",
        "Women are great!\nReally.",
        "x",
        "k1ll them all @user http://t.co/a",
    ]
    w = np.random.default_rng(0).normal(size=1 << 16).astype(np.float32)
    for c in (cfg, FeatureConfig(bits=16, negation=1)):
        together = logits(texts, c, w, 0.3)
        alone = np.array([logits([t], c, w, 0.3)[0] for t in texts])
        assert np.allclose(together, alone)
    together = logits(texts, cfg, w, 0.3)
    neg = FeatureConfig(bits=16, negation=1)
    # negation scope: "not" changes the next words' unigrams until punctuation ends the clause
    assert (matrix(["they are human"], neg) != matrix(["they are not human"], neg)).nnz > (
        matrix(["they are human"], cfg) != matrix(["they are not human"], cfg)
    ).nnz
    assert (matrix(["not. they are human"], neg) != matrix(["not. they are human"], cfg)).nnz == 0
    m = matrix(texts, cfg)
    assert np.allclose(m @ w + 0.3, together, atol=1e-4)
    assert m[1].nnz == 0 and m[0].nnz > 20  # empty text: no features; the mention alone: none either
    doc, _, _ = ngrams(["women", "@user"], cfg)
    assert len(doc) == 0
    # the same words in another order differ only in bigrams
    a, b = matrix(["ab cd", "cd ab"], cfg)
    assert (a != b).nnz == 2


def test_shipped_model_scores_the_text_not_the_group():
    model = load()
    for sentence in ("My neighbour is a Muslim and a great cook.", "Muslims are a plague on this country."):
        scores = model.score([swap(sentence, g) for g in GROUP_NAMES])
        assert scores.max() - scores.min() < 0.05, sentence
    hateful, neutral = model.score(["Muslims are a plague on this country.", "My neighbour is a Muslim."])
    assert hateful > 0.5 > neutral
    # matched held-out sentences (wording never trained on): neutral FPR equal across groups
    probe = [e for e in templates.render("heldout", 40) if e.label == 0]
    flagged = model.score([e.text for e in probe]) > 0.5
    fpr = pl.DataFrame({"g": [e.group for e in probe], "f": flagged}).group_by("g").agg(pl.col("f").mean())
    assert fpr["f"].max() - fpr["f"].min() <= 0.10


def test_build_offline_on_the_sample(tmp_path):
    from curation.toxicity_model.card import write_card
    from curation.toxicity_model.train import BuildConfig, build

    cfg = BuildConfig(
        davidson=ROOT / "data" / "toxicity" / "davidson_sample.csv",
        per_group=15,
        per_group_speech=5,
        features=FeatureConfig(bits=16, scope=1),
    )
    info = build(cfg, tmp_path / "m.npz")
    model = load(str(tmp_path / "m.npz"))
    assert model.weights.shape == (1 << 16,) and model.features.bits == 16
    assert 0 < info["threshold_raw"] < 1 and info["heldout"]["precision"] > 0
    card = write_card(model, info, tmp_path / "m.md", None)
    assert "## Training data and licences" in card and "| women |" in card


def _norm(t: str) -> str:
    return re.sub(r"\W+", " ", t.lower()).strip()


def test_no_hatecheck_case_in_training_data(shared_data):
    from curation.toxicity_model.train import BuildConfig, dataset

    hc = shared_data / "toxicity" / "hatecheck" / "test_suite_cases.csv"
    cases = {_norm(t) for t in pl.read_csv(hc)["test_case"].to_list()}
    cfg = BuildConfig(
        davidson=shared_data / "toxicity" / "davidson_labeled_data.csv",
        wiki=shared_data / "wikitext2" / "test.txt",
        hatecheck=hc,
    )
    texts = dataset(cfg)["text"].to_list()
    assert len(texts) > 30000
    assert not [t for t in texts if _norm(t) in cases]
    # the generators themselves (before decontamination) share no sentence with HateCheck either
    from curation.toxicity_model import speech
    from curation.toxicity_model.implicit_probe import probe

    rendered = {
        _norm(e.text) for s in ("train", "heldout") for e in templates.render(s, 300) + speech.render(s, 150)
    }
    rendered |= {
        _norm(t) for t in probe()["text"].to_list()
    }  # the implicit-hate probe is not HateCheck either
    assert not rendered & cases


def test_step_backend_and_command(tmp_path, capsys):
    import pytest

    from curation.steps.base import REJECT, StepContext
    from curation.steps.toxicity import ToxicityParams, build
    from mixloom.cli import main
    from mixloom.errors import UserError

    step = build(ToxicityParams(), StepContext(root=ROOT))  # the default backend is mixloom's model
    out = step.process(
        pl.DataFrame({"id": ["a", "b"], "text": ["Immigrants are vermin.", "My neighbour is an immigrant."]})
    )
    assert out[REJECT].to_list() == ["toxicity:toxicity", None]
    assert out["tox_toxicity"][0] > 0.5 > out["tox_toxicity"][1]
    with pytest.raises(UserError, match=r"steps\.0\.toxicity\.model_path: .*toxicity-model build"):
        build(ToxicityParams(model_path="nope.npz"), StepContext(root=tmp_path))
    assert main(["toxicity-model", "card"]) == 0
    assert "## Metrics per group" in capsys.readouterr().out


def test_identity_conjoined_words_do_not_depend_on_which_group():
    cfg = FeatureConfig(bits=16)
    a, b, c = matrix(["Muslims are vermin", "women are vermin", "they are vermin"], cfg)
    assert (a != b).nnz == 0  # which group: invisible
    assert (a != c).nnz > 0  # whether a group is named: visible
