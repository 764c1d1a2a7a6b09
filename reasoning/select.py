"""Selection over a problem's samples: dedup, rejection sampling, self-consistency, preference pairs.

Pure functions over `Sample` rows, so each rule is testable without an engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Sample:
    task: str
    problem_id: str
    index: int
    completion: str
    tokens: int
    finish_reason: str | None
    ok: bool = False
    reason: str = ""
    answer: str | None = None
    vote_key: str | None = None
    rationalized: bool = False
    seed: int | None = None
    duplicate: bool = False
    selected: bool = False
    reference: bool = False  # the seed's own solution, not a model generation


def _norm(text: str) -> str:
    return " ".join(text.split())


def mark_duplicates(samples: Sequence[Sample]) -> None:
    """Identical generations (up to whitespace) of one problem: all but the first are duplicates."""
    seen: set[str] = set()
    for s in sorted(samples, key=lambda s: s.index):
        key = _norm(s.completion)
        s.duplicate = key in seen
        seen.add(key)


def majority(samples: Sequence[Sample]) -> str | None:
    """The most common answer (self-consistency); ties go to the answer seen first. None if no answers."""
    votes = Counter(s.vote_key for s in samples if s.vote_key is not None)
    if not votes:
        return None
    best = max(votes.values())
    return next(s.vote_key for s in sorted(samples, key=lambda s: s.index) if votes.get(s.vote_key) == best)


def select(samples: Sequence[Sample], mode: str, dedup: bool = True) -> str | None:
    """Set `selected` on each sample of one problem; returns the majority answer (for stats)."""
    if dedup:
        mark_duplicates(samples)
    first_pass = [s for s in samples if not s.rationalized and not s.reference]
    vote = majority(first_pass)
    for s in samples:
        if s.duplicate:
            s.selected = False
        elif mode == "verified":
            s.selected = s.ok
        elif mode == "majority":
            s.selected = (vote is not None and s.vote_key == vote and not s.rationalized) or (
                s.reference and s.ok
            )
        elif mode == "all":
            s.selected = True
        else:
            raise ValueError(f"unknown select mode {mode!r}")
    return vote


def pairs(samples: Sequence[Sample], k: int) -> list[tuple[Sample, Sample]]:
    """Up to k (chosen = verified, rejected = failed) pairs, distinct samples, in sample order."""
    live = sorted((s for s in samples if not s.duplicate), key=lambda s: s.index)
    # model samples first: a reference is `chosen` only where no generation was verified (SPIN-style)
    good = sorted((s for s in live if s.ok), key=lambda s: s.reference)
    bad = [s for s in live if not s.ok]
    return list(zip(good, bad, strict=False))[:k]
