"""Math answers beyond integers: Math-Verify-style cases per category, both verdicts; MATH-500 references
against their own solutions; no guessing of an answer that is not there."""

from __future__ import annotations

import pytest
from gen_helpers import ROOT, read_jsonl

from verification.answers import _plain_text, check_math, extract_answer, to_number

MATH500_SAMPLE = ROOT / "data" / "math500" / "test_sample.jsonl"

# (category, prediction, reference, verdict)
CASES = [
    ("fraction", "\\frac94", "\\frac{9}{4}", True),
    ("fraction", "\\dfrac{9}{4}", "2.25", True),
    ("fraction", "\\frac{10}{9}", "9", False),
    ("fraction", "-\\frac{1}{2}", "\\frac{-1}{2}", True),
    ("radical", "2\\sqrt{2}", "\\sqrt{8}", True),
    ("radical", "\\sqrt{2}", "1.414", False),
    ("percent", "50\\%", "50", True),
    ("percent", "5\\%", "50", False),
    ("thousands", "14{,}916", "14916", True),
    ("thousands", "12,102", "12102", True),
    ("set", "\\{1,2\\}", "\\{2,1\\}", True),
    ("set", "\\{1,2\\}", "\\{1,3\\}", False),
    ("interval", "(0,1]", "(0,1]", True),
    ("interval", "[0,1]", "(0,1]", False),
    ("interval", "x \\in [2,5)", "[2,5)", True),
    ("tuple", "\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", True),
    ("tuple", "(2,1)", "(1,2)", False),
    ("tuple", "(12,102)", "12102", False),
    (
        "matrix",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        True,
    ),
    (
        "matrix",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        False,
    ),
    ("unit", "5\\text{ cm}", "5", True),
    ("unit", "6 \\mbox{ inches}", "5", False),
    ("unit", "18 dollars", "18", True),
    ("text", "\\text{Evelyn}", "\\text{Evelyn}", True),
    ("text", "\\text{Bob}", "\\text{Evelyn}", False),
    ("text", "\\text{(C)}", "\\text{(C)}", True),
    ("text", "\\textnormal{Monday}", "\\text{Monday}", True),
    ("equation", "y=2x+1", "y = 2x + 1", True),
    ("equation", "y=2x+2", "y = 2x + 1", False),
    ("expression", "(x+1)^2", "x^2+2x+1", True),
    ("expression", "x+1", "x", False),
]


@pytest.mark.parametrize(("category", "pred", "ref", "ok"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_math_verify_style_cases(category, pred, ref, ok):
    v = check_math(f"So the answer is $\\boxed{{{pred}}}$.", ref)
    assert bool(v) is ok, v.reason


def test_every_category_has_both_verdicts():
    cats = {
        "fraction",
        "radical",
        "percent",
        "set",
        "interval",
        "tuple",
        "matrix",
        "unit",
        "text",
        "equation",
    }
    assert all({ok for c, _, _, ok in CASES if c == cat} == {True, False} for cat in cats)


@pytest.mark.parametrize(
    ("completion", "reference", "why"),
    [
        ("The total is AZYUK2A", "#### 2", "no final answer found"),
        ("so we get \\frac{10}{9} in the end", "#### 9", "no final answer found"),
        (
            "the value is 3 and then 4",
            "2\\sqrt{2}",
            "no final answer found",
        ),  # no number guessing for LaTeX
        ("no digits here", "#### 4", "no final answer found"),
    ],
)
def test_no_answer_is_a_rejection_with_a_reason(completion, reference, why):
    v = check_math(completion, reference)
    assert not v and v.reason.startswith(why), v.reason


def test_last_number_only_stands_on_its_own():
    assert extract_answer("first 3 then 5 then 11 apples") == ("11", "last number")
    assert extract_answer("ID AZYUK2A") == (None, "none")
    assert extract_answer("it is \\frac{10}{9}") == (None, "none")
    assert extract_answer("costs 1,200 dollars.") == ("1,200", "last number")


def test_several_boxes_on_the_last_line_are_one_answer():
    assert extract_answer("first \\boxed{7}\nso x is \\boxed{2} or \\boxed{3}")[0] == "2, 3"
    assert check_math("so x is \\boxed{2} or \\boxed{3}", "\\boxed{3, 2}")


def test_tuples_are_not_numbers():
    assert to_number("(12,102)") is None and to_number("12,102") == 12102 and to_number("14{,}916") == 14916


def _perturbed(rows: list[dict], i: int) -> str:
    """Another problem's answer that differs as text (the next one that does)."""
    j = (i + 1) % len(rows)
    while _plain_text(rows[j]["answer"]) == _plain_text(rows[i]["answer"]):
        j = (j + 1) % len(rows)
    return rows[j]["answer"]


def _check_math500(rows: list[dict]) -> None:
    own = [r["unique_id"] for r in rows if not check_math(r["solution"], r["answer"])]
    assert own == []
    wrong = [r["unique_id"] for i, r in enumerate(rows) if check_math(r["solution"], _perturbed(rows, i))]
    assert wrong == []


def test_math500_sample_references_verify_and_perturbed_answers_fail():
    rows = read_jsonl(MATH500_SAMPLE)
    assert len(rows) == 70
    _check_math500(rows)


def test_all_math500_references_when_available(shared_data):
    rows = read_jsonl(shared_data / "math500" / "test.jsonl")
    assert len(rows) == 500
    _check_math500(rows)
