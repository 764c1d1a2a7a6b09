"""Selection rules on hand-made samples: dedup, rejection sampling, self-consistency, pairs."""

from __future__ import annotations

from reasoning.select import Sample, majority, pairs, select


def samples(spec: list[tuple[str, bool, str | None]]) -> list[Sample]:
    return [
        Sample("t", "p", i, text, 5, "stop", ok=ok, vote_key=key) for i, (text, ok, key) in enumerate(spec)
    ]


def test_dedup_ignores_whitespace_and_keeps_the_first():
    s = samples([("a  b\n", True, "1"), ("a b", True, "1"), ("c", False, "2")])
    select(s, "verified")
    assert [x.duplicate for x in s] == [False, True, False]
    assert [x.selected for x in s] == [True, False, False]


def test_majority_and_its_tie_break():
    s = samples(
        [("x", False, "3"), ("y", True, "4"), ("z", True, "4"), ("w", False, "3"), ("v", False, None)]
    )
    assert majority(s) == "3"  # 2 votes each: the answer seen first wins
    s2 = samples([("x", False, "3"), ("y", True, "4"), ("z", True, "4")])
    assert select(s2, "majority") == "4"
    assert [x.selected for x in s2] == [False, True, True]
    assert majority(samples([("x", False, None)])) is None


def test_all_keeps_every_distinct_sample():
    s = samples([("a", False, None), ("a", False, None), ("b", True, None)])
    select(s, "all")
    assert [x.selected for x in s] == [True, False, True]


def test_pairs_match_verified_with_failed_up_to_k():
    s = samples(
        [("r1", True, "1"), ("w1", False, "2"), ("r2", True, "1"), ("w2", False, "3"), ("r1", True, "1")]
    )
    select(s, "verified")
    assert [(a.index, b.index) for a, b in pairs(s, 5)] == [(0, 1), (2, 3)]
    assert [(a.index, b.index) for a, b in pairs(s, 1)] == [(0, 1)]
    assert pairs(samples([("r", True, "1")]), 3) == []
