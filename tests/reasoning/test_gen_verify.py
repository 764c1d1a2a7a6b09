"""The math verifier on real GSM8K data and on the answer styles models write."""

from __future__ import annotations

import time

import pytest
from gen_helpers import GSM8K, read_jsonl

from verification.answers import check_math, extract_answer, symbolic_equal


def bump_final(answer: str) -> str:
    """The same solution with its final number changed by one."""
    body, final = answer.rsplit("####", 1)
    return f"{body}#### {int(final.strip().replace(',', '')) + 1}"


def restyle(answer: str, style: str) -> str:
    body, final = answer.rsplit("####", 1)
    final = final.strip()
    return {
        "says": f"{body.strip()}\nThe answer is {final}.",
        "boxed": f"{body.strip()}\nSo $\\boxed{{{final}}}$.",
    }[style]


@pytest.mark.parametrize("split", ["train", "test"])
def test_gsm8k_references_verify_and_changed_answers_fail(split):
    rows = read_jsonl(GSM8K / f"{split}.jsonl")
    assert len(rows) == 200
    assert all(check_math(r["answer"], r["answer"]) for r in rows)
    assert all(check_math(restyle(r["answer"], "says"), r["answer"]) for r in rows)
    assert all(check_math(restyle(r["answer"], "boxed"), r["answer"]) for r in rows)
    wrong = [r for r in rows if check_math(bump_final(r["answer"]), r["answer"])]
    assert wrong == []


def test_full_gsm8k_when_available(shared_data):
    rows = read_jsonl(shared_data / "gsm8k" / "train.jsonl") + read_jsonl(
        shared_data / "gsm8k" / "test.jsonl"
    )
    assert len(rows) == 7473 + 1319
    assert sum(bool(check_math(r["answer"], r["answer"])) for r in rows) == len(rows)
    assert sum(bool(check_math(bump_final(r["answer"]), r["answer"])) for r in rows) == 0


@pytest.mark.parametrize(
    ("text", "answer", "how"),
    [
        ("so 3 + 4 = 7\n#### 7", "7", "####"),
        ("we get \\boxed{\\frac{1}{2}} at the end", "\\frac{1}{2}", "boxed"),
        ("nested \\boxed{x^{2} + 1}.", "x^{2} + 1", "boxed"),
        ("The answer is $1,200. Done.", "1,200", "the answer is"),
        ("first 3 then 5 then 11 apples", "11", "last number"),
        ("no digits here", None, "none"),
    ],
)
def test_extract_answer(text, answer, how):
    assert extract_answer(text) == (answer, how)


@pytest.mark.parametrize(
    ("completion", "reference", "ok"),
    [
        ("The answer is 1,200.", "#### 1200", True),
        ("The answer is 0.5", "#### 1/2", True),
        ("\\boxed{\\frac{1}{2}}", "0.5", True),
        ("The answer is 18 dollars.", "#### 18", True),
        ("#### 50%", "#### 50", True),
        ("#### 7.0", "#### 7", True),
        ("#### 192000001", "#### 192,000,000", False),
        ("#### 0.3333333", "#### 1/3", True),
        ("#### 0.33", "#### 1/3", False),
        ("#### -4", "#### 4", False),
        ("there is no answer", "#### 4", False),
    ],
)
def test_numeric_equivalence(completion, reference, ok):
    v = check_math(completion, reference)
    assert bool(v) is ok, v.reason
    assert v.reason


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        ("\\sqrt{4}", "2", True),
        ("x + x", "2x", True),
        ("x^2", "x*x", True),
        ("2\\pi", "2\\cdot\\pi", True),
        ("x+1", "x", False),
    ],
)
def test_symbolic_equivalence(a, b, ok):
    v = check_math(f"\\boxed{{{a}}}", f"\\boxed{{{b}}}")
    assert bool(v) is ok, v.reason


def test_symbolic_check_times_out_and_recovers():
    t0 = time.monotonic()
    eq, note = symbolic_equal("9^{9^{9^{9}}}", "2", timeout=1.0)
    assert eq is None and "timed out" in note
    assert time.monotonic() - t0 < 4
    assert symbolic_equal("\\sqrt{9}", "3", timeout=10) == (True, "math-verify")


def test_untrusted_answer_text_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    v = check_math(f"\\boxed{{__import__('os').system('touch {marker}')}}", "#### 0")
    assert not v
    assert not marker.exists()
