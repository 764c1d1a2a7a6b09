"""Metric functions against hand-computed values and the reference implementations they follow."""

from __future__ import annotations

import json
import math

import pytest
from rouge_score.rouge_scorer import RougeScorer
from train_helpers import REPO, wiki_paragraphs

from training import metrics


def codex_pass_at_k(n: int, c: int, k: int) -> float:
    """The estimator as printed in the Codex paper (Chen et al. 2021, fig. 3), via exact binomials."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 3, 1, 0.3),
        (5, 2, 2, 1 - 3 / 10),
        (4, 1, 4, 1.0),
        (10, 0, 10, 0.0),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_codex_estimator():
    for n in (1, 5, 10, 20, 200):
        for c in range(0, n + 1, max(1, n // 10)):
            for k in (1, 2, 5, 10, 100):
                if k <= n:
                    assert metrics.pass_at_k(n, c, k) == pytest.approx(
                        codex_pass_at_k(n, c, k), rel=1e-9, abs=1e-12
                    )
    # stable where the binomials are astronomically large
    assert 0 < metrics.pass_at_k(2000, 3, 10) < 1
    with pytest.raises(ValueError):
        metrics.pass_at_k(5, 6, 1)


def test_squad_f1_and_exact_match():
    # SQuAD normalisation: case, punctuation and articles do not count
    assert metrics.exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert metrics.exact_match("Eiffel", ["eiffel tower"]) == 0.0
    # pred tokens {eiffel, tower, paris}, gold {eiffel, tower}: P = 2/3, R = 1, F1 = 0.8
    assert metrics.f1_score("the Eiffel tower, Paris!", "Eiffel Tower") == pytest.approx(0.8)
    # best of several golds; repeated tokens count once per occurrence
    assert metrics.f1_score("a b b", ["b", "c d"]) == pytest.approx(2 * (1 / 2) * 1 / (1 / 2 + 1))
    assert metrics.f1_score("nothing shared", ["totally different"]) == 0.0
    assert metrics.f1_score("", [""]) == 1.0 and metrics.f1_score("x", [""]) == 0.0


def test_rouge_hand_computed():
    s = metrics.rouge_pair("the cat sat on the mat", "the cat is on the mat", stem=False)
    # unigrams: 5 of 6 shared; bigrams: 3 of 5 (the cat, on the, the mat); LCS: the cat on the mat = 5
    assert s == pytest.approx({"rouge1": 5 / 6, "rouge2": 3 / 5, "rougeL": 5 / 6})


def test_rouge_matches_rouge_score_on_real_text():
    gsm = REPO / "data" / "gsm8k"
    files = sorted(gsm.glob("*.jsonl")) if gsm.exists() else []
    texts = [json.loads(x)["answer"] for x in files[0].read_text().splitlines()[:40]] if files else []
    texts = texts or wiki_paragraphs()[:40]
    preds, refs = texts[0::2], texts[1::2]
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    ours = metrics.rouge(preds, refs)
    theirs = [scorer.score(r, p) for p, r in zip(preds, refs, strict=True)]
    for key in ("rouge1", "rouge2", "rougeL"):
        assert ours[key] == pytest.approx(sum(t[key].fmeasure for t in theirs) / len(theirs), abs=1e-12)
    # several references: the best one counts
    best = metrics.rouge([preds[0]], [[refs[1], preds[0]]])
    assert best["rouge1"] == pytest.approx(1.0)


def test_gsm8k_accuracy_uses_the_math_verifier():
    pytest.importorskip("verification.answers")
    answers = ["Natalia sold 48/2 = 24 clips in May.\n#### 72", "#### 1,250", "#### 5"]
    preds = ["So the total is 72.", "The answer is 1250", "I think it is 6."]
    acc, ok = metrics.gsm8k_accuracy(preds, answers)
    assert ok == [True, True, False] and acc == pytest.approx(2 / 3)


class _Bigram:
    """A tiny causal LM with known probabilities: next-token logits depend only on the current token."""

    def __init__(self, vocab: int, seed: int = 0):
        import torch

        self.table = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed))

    def eval(self):
        return self

    def __call__(self, input_ids, use_cache=False):
        from types import SimpleNamespace

        return SimpleNamespace(logits=self.table[input_ids])


def test_sliding_window_perplexity_scores_every_token_once():
    import torch

    lm = _Bigram(11)
    ids = torch.randint(0, 11, (103,), generator=torch.Generator().manual_seed(1)).tolist()
    logp = torch.log_softmax(lm.table, -1)
    exact = -sum(logp[a, b].item() for a, b in zip(ids[:-1], ids[1:], strict=True))
    for window, stride in [(103, 103), (16, 16), (16, 5), (10, 1), (200, 64)]:
        nll, n = metrics.sliding_nll(lm, ids, window, stride)
        assert n == len(ids) - 1
        assert nll == pytest.approx(exact, rel=1e-5)
    assert metrics.perplexity(exact, len(ids) - 1) == pytest.approx(math.exp(exact / (len(ids) - 1)))
    with pytest.raises(ValueError):
        metrics.sliding_nll(lm, ids, 8, 9)


def test_sliding_window_gives_more_context_than_disjoint_chunks(wiki_pretrained):
    """With a real model, overlapping windows (stride < window) never score worse than disjoint chunks."""
    from training.data import encode
    from training.generate import LM

    run, _, _ = wiki_pretrained
    lm = LM.load(run / "train" / "pretrain" / "model", device="cpu")
    ids = [t for x in encode(lm.tok, wiki_paragraphs()[-12:]) for t in x][:600]
    disjoint = metrics.sliding_nll(lm.model, ids, 64, 64, "cpu")
    overlapped = metrics.sliding_nll(lm.model, ids, 64, 16, "cpu")
    assert disjoint[1] == overlapped[1] == len(ids) - 1
    assert overlapped[0] < disjoint[0]
