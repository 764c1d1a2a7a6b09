"""Evaluation metrics as plain functions: perplexity (sliding window), ROUGE-1/2/L, SQuAD F1 and exact
match, pass@k (unbiased estimator) and GSM8K accuracy. Each is small enough to check by hand.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

# --- pass@k ---------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c pass: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021).

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the huge binomials.
    """
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


# --- SQuAD-style answer overlap -------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: str | Sequence[str]) -> float:
    """Token-overlap F1 against the best-matching gold answer."""
    golds = [golds] if isinstance(golds, str) else list(golds)
    return max(_f1(prediction, g) for g in golds)


def exact_match(prediction: str, golds: str | Sequence[str]) -> float:
    golds = [golds] if isinstance(golds, str) else list(golds)
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


# --- ROUGE ----------------------------------------------------------------------------------------


KEYS = ("rouge1", "rouge2", "rougeL")


@functools.cache
def _scorer(stem: bool):
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(KEYS), use_stemmer=stem)


def rouge_pair(prediction: str, reference: str, stem: bool = True) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures of one prediction against one reference (rouge-score)."""
    scores = _scorer(stem).score(reference, prediction)
    return {k: scores[k].fmeasure for k in KEYS}


def rouge(predictions: Sequence[str], references: Sequence[str | Sequence[str]], stem: bool = True):
    """Mean ROUGE F-measures over examples; with several references an example takes its best one."""
    totals = dict.fromkeys(KEYS, 0.0)
    for pred, refs in zip(predictions, references, strict=True):
        refs = [refs] if isinstance(refs, str) else list(refs)
        scores = [rouge_pair(pred, r, stem) for r in refs]
        for k in totals:
            totals[k] += max(s[k] for s in scores)
    n = max(1, len(predictions))
    return {k: v / n for k, v in totals.items()}


# --- perplexity -----------------------------------------------------------------------------------


def sliding_nll(
    model, ids: Sequence[int], window: int, stride: int, device: str = "cpu"
) -> tuple[float, int]:
    """Summed NLL and number of predicted tokens over a long sequence, scored in overlapping windows.

    Each window scores the next `stride` tokens (at most window - 1) not scored before, with the rest of
    the window as left context, so every token after the first is predicted exactly once.
    """
    import torch
    import torch.nn.functional as F

    if window < 2 or not 1 <= stride <= window:
        raise ValueError(f"need window >= 2 and 1 <= stride <= window, got window {window}, stride {stride}")
    x = torch.as_tensor(list(ids), dtype=torch.long)
    step = min(stride, window - 1)
    total, scored_to = 0.0, 1  # token 0 has no context: never predicted
    model.eval()
    with torch.no_grad():
        while scored_to < len(x):
            end = min(scored_to + step, len(x))
            begin = max(0, end - window)
            chunk = x[begin:end].to(device)[None]
            logits = model(input_ids=chunk, use_cache=False).logits[0, :-1].float()
            targets = chunk[0, 1:].clone()
            targets[: scored_to - begin - 1] = -100
            total += F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum").item()
            scored_to = end
    return total, max(0, len(x) - 1)


def perplexity(nll_sum: float, tokens: int) -> float:
    return math.exp(nll_sum / tokens) if tokens else float("nan")


# --- GSM8K ----------------------------------------------------------------------------------------


def gsm8k_gold(answer: str) -> str:
    """The final answer of a GSM8K solution (the text after `####`), commas removed."""
    return answer.split("####")[-1].strip().replace(",", "")


def gsm8k_accuracy(predictions: Sequence[str], answers: Sequence[str]) -> tuple[float, list[bool]]:
    """Share of predictions the math verifier accepts against the GSM8K gold answers."""
    from verification.answers import check_math

    ok = [bool(check_math(p, gsm8k_gold(a))) for p, a in zip(predictions, answers, strict=True)]
    return (sum(ok) / len(ok) if ok else 0.0), ok
