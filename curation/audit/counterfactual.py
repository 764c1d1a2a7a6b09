"""Counterfactual sensitivity: the same text with its identity terms swapped, scored again.

For a sample of texts that mention a group, every mention is rewritten as a mention of each group in turn
(`curation.identity.swap`). A scorer that judges the text, not the group, gives the same score to all
versions. Reported per target group: the mean score shift against the original text, the mean absolute
shift, and the share of texts whose keep/reject decision flips.
"""

from __future__ import annotations

import random

import numpy as np

from curation.identity import GROUP_NAMES, swap


def sample_texts(texts: list[str], n: int, seed: int) -> list[str]:
    texts = sorted(set(texts))
    return random.Random(seed).sample(texts, min(n, len(texts)))


def sensitivity(texts: list[str], score, threshold: float) -> list[dict]:
    """Per target group: mean shift, mean |shift|, decision flip rate, over the given texts."""
    if not texts:
        return []
    base = score(texts)
    variants = [swap(t, g) for g in GROUP_NAMES for t in texts]
    scores = score(variants).reshape(len(GROUP_NAMES), len(texts))
    rows = []
    for i, g in enumerate(GROUP_NAMES):
        d = scores[i] - base
        flips = (scores[i] > threshold) != (base > threshold)
        rows.append(
            {
                "group": g,
                "texts": len(texts),
                "mean_shift": float(np.mean(d)),
                "mean_abs_shift": float(np.mean(np.abs(d))),
                "flip_rate": float(np.mean(flips)),
                "mean_score": float(np.mean(scores[i])),
            }
        )
    return rows
