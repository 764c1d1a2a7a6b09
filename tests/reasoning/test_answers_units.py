"""`verification.answers` rule by rule: box extraction, the order of the extraction rules, clean-up, plain
numbers, the numeric tolerance, Math-Verify's notes and the verdict's reason text. Fast, for the mutation
check (scripts/mutation.sh) as much as for the default suite."""

from __future__ import annotations

from fractions import Fraction

import pytest

from verification.answers import (
    Verdict,
    _boxed,
    answers_equal,
    boxes,
    check_math,
    extract_answer,
    final_answer,
    normalize,
    numbers_equal,
    symbolic_equal,
    to_number,
)


def test_boxes_match_braces_and_skip_an_unclosed_one():
    text = r"a \boxed{\frac{1}{2}} b \fbox { x } c \boxed{3"
    assert boxes(text) == [(2, r"\frac{1}{2}"), (24, "x")]
    assert boxes("no box") == [] and boxes(r"\boxed{}") == [(0, "")]


def test_several_boxes_are_one_answer_only_on_the_last_line():
    assert _boxed("first \\boxed{1}\nthen \\boxed{2} and \\boxed{3}") == "2, 3"
    assert _boxed("\\boxed{1}\n\\boxed{2}") == "2"
    assert _boxed("\\boxed{7}") == "7" and _boxed("nothing") is None


@pytest.mark.parametrize(
    "text, found",
    [
        ("#### 5\nthen #### 6 ", ("6", "####")),
        ("\\boxed{4}\n#### 5", ("5", "####")),  # #### wins over a box
        ("The answer is 3. Or \\boxed{4}", ("4", "boxed")),  # a box wins over words
        ("So the final answer is: $42$.", ("42", "the answer is")),
        ("the answer is 7\nand the ANSWER IS 8. Fine", ("8", "the answer is")),
        ("I think the answer is x+1", ("x+1", "the answer is")),
        ("3 apples and 4 pears", ("4", "last number")),
        ("AZYUK2A and \\frac{10}{9}", (None, "none")),
        ("no digits", (None, "none")),
    ],
)
def test_extraction_rules_in_order(text, found):
    assert extract_answer(text) == found


def test_the_last_number_is_only_a_fallback_when_allowed():
    assert extract_answer("3 apples and 4 pears", fallback_last_number=False) == (None, "none")


def test_final_answer_of_a_reference():
    assert final_answer("work...\n#### 18") == "18"
    assert final_answer("so \\boxed{x^2}") == "x^2"
    assert final_answer("  \\frac{1}{2}  ") == "\\frac{1}{2}"  # a bare answer, stripped
    assert final_answer("there are 5 apples") == "there are 5 apples"  # no last-number guess


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("\\text{5 cm}", "5 cm"),
        ("\\mathrm{kg}", "kg"),
        ("\\left( 1,2 \\right)", "( 1,2 )"),
        ("\\$5.", "5"),
        ("$3$", "3"),
        ("1{,}000", "1,000"),
        ("50\\%", "50%"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac{1}{2}", "\\frac{1}{2}"),
        ("x = 5", "5"),
        ("  7.  ", "7"),
        ("a\\,b\\!c", "abc"),
    ],
)
def test_normalize(raw, clean):
    assert normalize(raw) == clean


@pytest.mark.parametrize(
    "ans, num",
    [
        ("1,234", Fraction(1234)),
        ("3.5", Fraction(7, 2)),
        ("-2/3", Fraction(-2, 3)),
        ("\\frac{1}{2}", Fraction(1, 2)),
        ("-\\frac{1}{2}", Fraction(-1, 2)),
        ("\\frac12", Fraction(1, 2)),
        ("\\dfrac{3}{4}", Fraction(3, 4)),
        ("50%", Fraction(50)),
        ("12 apples", Fraction(12)),
        ("1e3", Fraction(1000)),
        ("-1.5E-1", Fraction(-3, 20)),
        (".5", Fraction(1, 2)),
        ("x = 5", Fraction(5)),
        ("(12,102)", None),
        ("1/0", None),
        ("abc", None),
        ("12 apples and a very long tail of words", None),
        ("1,23", None),
        ("2^3", None),
    ],
)
def test_to_number(ans, num):
    assert to_number(ans) == num


def test_integers_compare_exactly_and_decimals_within_a_tolerance():
    assert numbers_equal(Fraction(5), Fraction(5))
    assert not numbers_equal(Fraction(1_000_000), Fraction(1_000_001))  # within 1e-6, still wrong
    assert numbers_equal(Fraction("0.3333333"), Fraction(1, 3))
    assert numbers_equal(Fraction(1, 3), Fraction("0.3333333"))
    assert not numbers_equal(Fraction("0.3333"), Fraction(1, 3))
    assert numbers_equal(Fraction("0.3333"), Fraction(1, 3), rel=1e-3)
    assert not numbers_equal(Fraction(-1, 2), Fraction(1, 2))
    assert numbers_equal(Fraction("1000000.5"), Fraction("1000000.4"))  # relative, not absolute
    assert numbers_equal(Fraction(3), Fraction("3.0000001"))  # one side a decimal: the tolerance applies
    assert numbers_equal(Fraction("3.0000001"), Fraction(3))


def test_math_verify_notes():
    assert symbolic_equal("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}") == (True, "math-verify")
    assert symbolic_equal("x^2", "x^3") == (False, "math-verify")
    assert symbolic_equal("x", "") == (None, "math-verify: reference not parsable")
    assert symbolic_equal("", "x") == (None, "math-verify: answer not parsable")


def test_answers_equal_picks_its_method():
    assert answers_equal("1,000", "1000") == (True, "numeric")
    assert answers_equal("999", "1000") == (False, "numeric")
    assert answers_equal("\\{1, 2\\}", "\\{2, 1\\}") == (True, "math-verify")
    # Math-Verify cannot read the reference: the texts must agree once spacing, case and \text are gone
    assert answers_equal("} {", "}{") == (True, "string")
    assert answers_equal("}{x", "}{") == (False, "math-verify: reference not parsable")
    assert answers_equal("\\text{}", "\\text{}") == (False, "math-verify: reference not parsable")  # empty


def test_check_math_reasons():
    v = check_math("so\n#### 1,000", "#### 1000")
    assert v and isinstance(v, Verdict)
    assert (v.ok, v.predicted, v.expected) == (True, "1,000", "1000")
    assert v.reason == "'1,000' == '1000' (numeric; answer via ####)"
    v = check_math("I get 7 in the end", "#### 8")
    assert not v and v.reason == "'7' != '8' (numeric; answer via last number)"
    v = check_math("no idea", "#### 8")
    assert v.reason == "no final answer found (looked for ####, \\boxed{}, 'the answer is', a last number)"
    assert (v.ok, v.predicted, v.expected) == (False, None, "8")
    v = check_math("it is 3", "\\boxed{x^2}")  # a symbolic reference: no last-number guess
    assert v.reason == "no final answer found (looked for ####, \\boxed{}, 'the answer is')"
    v = check_math("\\boxed{ }", "#### 8")
    assert not v and v.reason.startswith("no final answer found")
    v = check_math("The answer is $x^{2}$.", "\\boxed{x^2}")
    assert v.ok and v.reason == "'x^{2}' == 'x^2' (math-verify; answer via the answer is)"
