"""Process check: arithmetic claims in a chain are recomputed; a right answer reached through a false step
is rejected with reason `false step`. Measured on GSM8K references, unaltered and with one annotation's
result changed."""

from __future__ import annotations

import random
import re

import pytest
from gen_helpers import GSM8K, read_jsonl

from mixloom.sections.generate import TaskSpec
from reasoning.tasks import make_task
from verification.process import evaluate, false_steps, process_reason

_ANN = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_NUMBER = re.compile(r"-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)")


def change_one_result(answer: str, rng: random.Random) -> str | None:
    """The solution with one calculator annotation's result changed (+1 in its last decimal place)."""
    anns = [m for m in _ANN.finditer(answer) if _NUMBER.search(m.group(2))]
    if not anns:
        return None
    m = rng.choice(anns)
    num = _NUMBER.search(m.group(2))
    assert num is not None
    text = num.group().replace(",", "")
    places = len(text.split(".")[1]) if "." in text else 0
    bumped = f"{float(text) + 10**-places:.{places}f}" if places else str(int(text) + 1)
    start = m.start(2) + num.start()
    return answer[:start] + bumped + answer[m.start(2) + num.end() :]


def measure(rows: list[dict]) -> tuple[float, float]:
    rng = random.Random(0)
    unaltered = sum(bool(false_steps(r["answer"])) for r in rows) / len(rows)
    altered = [a for r in rows if (a := change_one_result(r["answer"], rng)) is not None]
    return unaltered, sum(bool(false_steps(a)) for a in altered) / len(altered)


def test_shipped_gsm8k_references_altered_flagged_unaltered_not():
    rows = read_jsonl(GSM8K / "train.jsonl") + read_jsonl(GSM8K / "test.jsonl")
    unaltered, altered = measure(rows)
    assert unaltered <= 0.01 and altered >= 0.95, (unaltered, altered)


def test_full_gsm8k_when_available(shared_data):
    rows = read_jsonl(shared_data / "gsm8k" / "train.jsonl") + read_jsonl(
        shared_data / "gsm8k" / "test.jsonl"
    )
    unaltered, altered = measure(rows)
    print(
        f"process check on {len(rows)} GSM8K references: unaltered flagged {unaltered:.4f}, altered {altered:.4f}"
    )
    assert unaltered <= 0.01 and altered >= 0.95, (unaltered, altered)


@pytest.mark.parametrize(
    ("chain", "false"),
    [
        ("Half is 48/2 = <<48/2=24>>24 clips.", False),
        ("Half is 48/2 = <<48/2=25>>25 clips.", True),
        ("So 3 × 4 = 12 and 12 + 5 = 17.", False),
        ("So 3 × 4 = 13 and 13 + 4 = 17.", True),
        ("He pays $12 * 3 = $36.", False),
        ("He pays $12 x 3 = $38.", True),
        ("A third is <<10/3=3.33>>3.33 each.", False),
        ("2 + 3 + 4 = 9 apples", False),
        ("2 + 3 + 4 = 10 apples", True),
        ("60 students x 2/3 = 40 students", False),  # a longer expression than the claim we can read
        ("1 - 3/7 = 4/7 of her money", False),  # a fraction on the right
        ("$1 / 2 = 50 cents", False),  # a unit conversion
    ],
)
def test_claims(chain, false):
    assert bool(false_steps(chain)) is false, false_steps(chain)


def test_evaluator_never_runs_code_and_bounds_work():
    assert evaluate("__import__('os').system('true')") is None
    assert evaluate("9**9**9") is None
    assert evaluate("1/0") is None
    assert evaluate("(2 + 3) * 4") == 20


def test_math_cot_process_check_rejects_right_answer_with_false_step():
    rows = read_jsonl(GSM8K / "train.jsonl")
    honest = f" {rows[0]['answer']}"
    forged = change_one_result(rows[0]["answer"], random.Random(1))
    assert forged is not None
    on = make_task(TaskSpec(kind="math_cot", seeds=str(GSM8K / "train.jsonl"), process_check=True))
    off = make_task(TaskSpec(kind="math_cot", seeds=str(GSM8K / "train.jsonl")))
    p = on.load(GSM8K / "train.jsonl").problems[0]
    good, bad = on.verify([(p, honest), (p, forged)])
    assert good.ok and not bad.ok
    assert bad.reason.startswith("false step: <<") and process_reason(forged) in bad.reason
    assert all(c.ok for c in off.verify([(p, honest), (p, forged)]))  # the check is opt-in


def test_process_check_applies_to_math_cot_only():
    with pytest.raises(ValueError, match="process_check"):
        TaskSpec(kind="pal", seeds="x.jsonl", process_check=True)
