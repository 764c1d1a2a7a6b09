"""The toxicity model reads negation, reporting and quotes; its synthetic counter-speech/implicit-hate data; and
its held-out implicit-hate probe (never trained on, F1 and per-group FPR spread of the shipped model)."""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np

from curation.audit.probe import evaluate
from curation.identity import GROUP_NAMES, find_groups, swap
from curation.toxicity_model import implicit_probe, speech, templates
from curation.toxicity_model.features import FeatureConfig, logits, matrix, ngrams
from curation.toxicity_model.model import load
from curation.toxicity_model.train import typo

SCOPED = FeatureConfig(bits=18, scope=1)


def _diff(a: str, b: str, cfg: FeatureConfig) -> int:
    x, y = matrix([a, b], cfg)
    return (x != y).nnz


def test_scopes_change_the_features_of_negated_reported_and_quoted_words_only():
    plain = FeatureConfig(bits=18)
    # reported ("saying ...") and quoted words are other features than the same words asserted
    assert _diff("they are vermin", "saying they are vermin", SCOPED) > _diff(
        "they are vermin", "saying they are vermin", plain
    )
    a, b = matrix(['he wrote "they are vermin" today', "he wrote they are vermin today"], SCOPED)
    assert (a != b).nnz == 0  # the reporting word already scopes the clause; quotes add nothing here
    a, b = matrix(['x "they are vermin" y', "x they are vermin y"], SCOPED)
    assert (a != b).nnz > 10
    # the scope ends at punctuation: after the comma, the same words are the same features
    x = matrix(["i do not know, they are vermin", "i know, they are vermin"], SCOPED)
    y = matrix(["they are vermin"], SCOPED)
    tail = set(y[0].indices)
    assert tail <= set(x[0].indices) and tail <= set(x[1].indices)
    # an unmatched quote does not leak into the next text, and scoring is independent of the batch
    texts = ['he said "women are', "women are vermin", 'a "b" c', "", "no, never. they are vermin"]
    w = np.random.default_rng(0).normal(size=1 << 18).astype(np.float32)
    together = logits(texts, SCOPED, w, 0.1)
    assert np.allclose(together, [logits([t], SCOPED, w, 0.1)[0] for t in texts])


def test_negation_scope_is_a_short_window_that_but_ends():
    win = FeatureConfig(bits=18, scope=1, neg_window=3)
    base = set(matrix(["they are vermin"], win)[0].indices)
    # "no joke" does not negate words 4+ words later: "vermin" keeps its own features
    far = set(matrix(["no joke these qqx are vermin"], win)[0].indices)
    near = set(matrix(["no vermin"], win)[0].indices)
    vermin = set(matrix(["vermin"], win)[0].indices)
    assert vermin <= far and not vermin <= near
    # "but" ends the negation: "nothing but vermin" asserts vermin
    assert vermin <= set(matrix(["they are nothing but vermin"], win)[0].indices)
    assert base  # the config featurises at all
    # idioms with a negator assert what follows: "no doubt", "not gonna lie", "can't deny"
    idioms = FeatureConfig(bits=18, scope=1, neg_idioms=1)
    vermin = set(matrix(["vermin"], idioms)[0].indices)
    for t in ("no doubt they are vermin", "not gonna lie they are vermin", "nobody can deny they are vermin"):
        assert vermin <= set(matrix([t], idioms)[0].indices), t
    assert not vermin <= set(matrix(["they are not vermin"], idioms)[0].indices)


def test_texts_stay_separate_where_a_group_name_could_span_two_texts():
    # "black" ending one text and "people" starting the next once matched as one mention across the
    # separator, shifting every later text's features onto its neighbour
    texts = ["i like black", "people are great", "x"]
    doc, _, _ = ngrams(texts, FeatureConfig(bits=16))
    assert set(doc.tolist()) == {0, 1, 2}
    assert find_groups("i like black\npeople") == []


def test_swap_into_groups_whose_adjective_needs_a_noun_still_names_the_group():
    for g in GROUP_NAMES:
        assert find_groups(swap("My neighbour is a Muslim and a great cook.", g)) == [g], g


def test_shipped_model_separates_hate_from_counter_speech_and_denial():
    model = load()
    hateful = ["Muslims are vermin.", "I hate gay people.", "Women are stupid."]
    not_hateful = [
        "Claiming that Muslims are vermin is bigotry.",
        "I don't hate gay people at all.",
        'My boss wrote "women are stupid" in an email, he should be fired.',
        "I would never hurt a Muslim.",
        "Nobody should say that Muslims are terrorists.",
    ]
    # hate after an idiom with a negator ("no joke", "never forget") or after "nothing but" is still hate
    hateful += [
        "no joke muslims are vermin and should be exterminated",
        "never forget that jews are parasites",
        "Muslims are nothing but vermin.",
    ]
    h, n = model.score(hateful), model.score(not_hateful)
    assert h.min() > 0.5 > n.max(), (h, n)
    for sentence in not_hateful + hateful:  # which group a sentence names does not move its score
        s = model.score([swap(sentence, g) for g in GROUP_NAMES])
        assert s.max() - s.min() < 0.05, sentence


def test_speech_sentences_are_matched_across_groups_and_split_by_frame():
    train, held = speech.render("train", 6), speech.render("heldout", 3)
    counts = Counter((e.group, e.kind, e.label) for e in train)
    assert len(set(counts.values())) == 1 and len(counts) == len(GROUP_NAMES) * len(speech.KINDS)
    assert Counter((e.group, e.kind) for e in held) == Counter(
        {k: 3 for k in {(e.group, e.kind) for e in held}}
    )
    # no frame is in both splits
    for _, frames in speech.KINDS.values():
        tr, ho = templates._split(frames, "train"), templates._split(frames, "heldout")
        assert not set(tr) & set(ho) and set(tr) | set(ho) == set(frames)


def test_typo_changes_one_word_that_names_no_group():
    rng = random.Random(0)
    for _ in range(200):
        out = typo("muslims are disgusting and should leave this country", rng)
        assert out.startswith("muslims ") and out != "muslims are disgusting and should leave this country"
    assert typo("women are ok", rng) == "women are ok"  # no word of 4+ letters but the group's: unchanged


def _norm(t: str) -> str:
    return re.sub(r"\W+", " ", t.lower()).strip()


def test_implicit_probe_is_never_in_the_training_generators():
    probe = {_norm(t) for t in implicit_probe.probe()["text"].to_list()}
    rendered = {
        _norm(e.text) for s in ("train", "heldout") for e in templates.render(s, 200) + speech.render(s, 60)
    }
    assert not probe & rendered
    # nor does any probe frame's fixed wording (its longest run of words between slots) appear in them
    joined = "\n".join(rendered)
    for frame in implicit_probe.HATE + implicit_probe.NEUTRAL:
        longest = max(re.split(r"\{\w+\}", frame), key=len).strip(" ,?")
        assert _norm(longest) not in joined, frame


def test_shipped_model_on_the_implicit_probe_reaches_the_issue_bar():
    probe = implicit_probe.probe()
    assert probe["group"].n_unique() == 16
    assert set(probe["group"].unique()) <= set(GROUP_NAMES)
    ev = evaluate(probe, load().score(probe["text"].to_list()), 0.5)
    assert ev["overall"]["f1_toxic"] >= 0.6
    assert ev["fpr_spread"] <= 0.10


def test_audit_names_the_bad_scorer_option(tmp_path, capsys):
    from mixloom.cli import main

    assert main(["audit", str(tmp_path), "--scorers", "mixloom,tfidf"]) == 2
    err = capsys.readouterr().err
    assert "scorers.1" in err and "'mixloom', 'profanity' or 'detoxify'" in err
