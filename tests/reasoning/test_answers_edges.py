"""Edges of `verification.answers` that the mutation check (scripts/mutation.sh, docs/mutation.md) found
untested: which boxes count as the last line's answer, dollar signs and letters around "the answer is",
the caller's timeout reaching Math-Verify, clean-up of letters, and the Math-Verify worker's life: stopped and
started again, dead, unable to start, started where a stray module lies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from fractions import Fraction

import pytest

from verification.answers import (
    _boxed,
    _Worker,
    answers_equal,
    check_math,
    extract_answer,
    normalize,
    to_number,
)


@pytest.mark.parametrize(
    "text, answer",
    [
        ("\\boxed{2}, \\boxed{3}", "2, 3"),  # boxes at the very start of the text
        ("so:\n\\boxed{2} and \\boxed{3}", "2, 3"),  # and at the very start of a line
        ("\\boxed{2} and \\boxed{3}\nThat is all.", "2, 3"),  # text on a later line
        ("first\nthen \\boxed{1}\nfinally \\boxed{2}", "2"),  # a box on an earlier line is not part of it
    ],
)
def test_the_boxes_of_the_last_boxed_line_are_one_answer(text, answer):
    assert _boxed(text) == answer


@pytest.mark.parametrize(
    "text, answer",
    [
        ("So the final answer is $$42$$.", "42"),  # display math: both dollars go
        ("The answer is XY.", "XY"),  # only dollars are stripped, not the letters of the answer
        ("the answer is $X$", "X"),
    ],
)
def test_the_answer_is_loses_its_dollars_and_nothing_else(text, answer):
    assert extract_answer(text) == (answer, "the answer is")


def test_the_callers_timeout_reaches_math_verify():
    slow = "9^{9^{9^{9}}}"  # Math-Verify cannot settle this in a second
    assert answers_equal(slow, "2", timeout=1.0) == (False, "math-verify timed out after 1 s")
    v = check_math(f"\\boxed{{{slow}}}", "\\boxed{2}", timeout=1.0)
    assert not v and v.reason.endswith("(math-verify timed out after 1 s; answer via boxed)")
    assert answers_equal("\\sqrt{9}", "\\sqrt{9}") == (True, "math-verify")  # a fresh worker afterwards


def test_a_stopped_worker_is_gone_and_the_next_question_starts_another():
    w = _Worker()
    assert w.proc is None
    assert w.equal("\\frac{1}{2}", "0.5", 10) == {"eq": True}
    first = w.proc
    assert first is not None and first.poll() is None  # one long-lived process
    assert w.equal("x^2", "x^3", 10) == {"eq": False} and w.proc is first
    w._kill()
    assert w.proc is None and first.poll() is not None  # the process really ended
    w._kill()  # stopping twice is harmless
    assert w.equal("2", "2", 10) == {"eq": True}
    assert w.proc is not None and w.proc is not first
    w._kill()


def test_clean_up_keeps_the_answers_own_letters_and_drops_any_variable_name():
    assert normalize("Box X.") == "Box X"  # only a trailing period goes
    assert normalize("X = 5") == normalize("x = 5") == "5"
    assert to_number("N = 12") == Fraction(12)


def test_a_warm_worker_answers_well_within_a_one_second_timeout():
    w = _Worker()
    try:
        assert w.equal("\\sqrt{9}", "3", 10) == {"eq": True}  # warm: the parser is loaded
        assert w.equal("\\sqrt{16}", "4", 1.0) == {"eq": True}
    finally:
        w._kill()


def _fake_worker(code: str) -> subprocess.Popen:
    """A process in the worker's place that misbehaves as `code` says."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os, sys\nprint('ready', flush=True)\n" + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_a_worker_that_stopped_reading_is_reported_dead_and_replaced():
    w = _Worker()
    w.proc = fake = _fake_worker("os.close(0)\nprint('closed', flush=True)\nimport time\ntime.sleep(60)")
    assert fake.stdout.readline() == "closed\n"
    assert w.equal("x", "x", 10) == {"error": "worker died"}
    assert w.proc is None and fake.wait(timeout=10) is not None
    assert w.equal("x", "x", 10) == {"eq": True}  # a real worker takes over
    w._kill()


def test_a_worker_that_dies_on_a_question_is_reported_dead_not_timed_out():
    w = _Worker()
    w.proc = fake = _fake_worker("sys.stdin.readline()\nos._exit(1)")
    assert w.equal("x", "x", 10) == {"error": "worker died"}
    assert w.proc is None and fake.poll() is not None


def test_a_worker_stuck_past_the_timeout_is_killed_and_reported_as_a_timeout():
    # Math-Verify's own alarm cannot stop a computation stuck in C: the caller's timeout must end the process
    w = _Worker()
    late = "sys.stdin.readline()\nimport time\ntime.sleep(8)\nprint('{\"eq\": true}', flush=True)"
    w.proc = fake = _fake_worker(late)  # answers, but only long after the caller's 1 s (+ 1 s grace)
    assert w.equal("x", "x", 1.0) == {"timeout": True}
    assert w.proc is None and fake.poll() is not None  # killed, not left running


def test_a_worker_that_cannot_start_says_why(monkeypatch):
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(sys, "executable", false)
    w = _Worker()
    with pytest.raises(RuntimeError) as e:
        w.equal("x", "x", 10)
    assert str(e.value) == "the math-verify worker did not start (is math-verify installed?)"
    assert w.proc is None


def test_the_worker_ignores_modules_in_the_working_directory(tmp_path, monkeypatch):
    # untrusted answers are parsed in the worker: a stray json.py where the run starts must not be imported
    (tmp_path / "json.py").write_text("import os\nos._exit(3)\n")
    monkeypatch.chdir(tmp_path)
    w = _Worker()
    try:
        assert w.equal("\\frac{1}{2}", "0.5", 10) == {"eq": True}
    finally:
        w._kill()
