"""GRPO rewards and pass@k use the same checkers as the generator: a gamed program earns reward 0 and
counts as a failure in pass@k; a guessed math answer earns 0."""

from __future__ import annotations

import pytest
from test_sandbox_gaming import GAMED, PROMPT, TEST

from training import metrics
from training.rewards import code_reward, make, math_reward

HONEST = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```"


def reply(code: str) -> list[dict]:
    return [{"role": "assistant", "content": f"```python\n{code}```"}]


def test_gamed_programs_earn_reward_zero():
    completions = [HONEST, *(reply(code) for code, _ in GAMED.values())]
    prompts = [[{"role": "user", "content": PROMPT}]] * len(completions)
    rewards = code_reward(
        completions, [TEST] * len(completions), ["add"] * len(completions), timeout=10, prompts=prompts
    )
    assert rewards[0] == 1.0
    assert dict(zip(GAMED, rewards[1:], strict=True)) == dict.fromkeys(GAMED, 0.0)


def test_reward_function_made_for_trl_passes_the_prompt_as_context():
    # HumanEval/32-style: the tests call a helper that only the problem's prompt defines
    prompt = 'def double(x):\n    return 2 * x\n\ndef add(a, b):\n    """a + b"""\n'
    test = "def check(candidate):\n    assert candidate(2, 3) == double(2.5)\n"
    fn = make("code", timeout=10)
    assert fn(
        [HONEST], test=[test], entry_point=["add"], prompts=[[{"role": "user", "content": prompt}]]
    ) == [1.0]


@pytest.mark.parametrize(
    ("completion", "answer", "reward"),
    [
        ("The total is AZYUK2A", "#### 2", 0.0),
        ("so it is \\frac{10}{9}", "9", 0.0),
        ("So $\\boxed{\\frac{10}{9}}$", "\\frac{10}{9}", 1.0),
        ("The answer is (3, \\frac{\\pi}{2}).", "\\left( 3, \\frac{\\pi}{2} \\right)", 1.0),
    ],
)
def test_math_reward_uses_the_shared_checker(completion, answer, reward):
    assert math_reward([completion], answer=[answer]) == [reward]


def test_pass_at_k_counts_gamed_programs_as_failures():
    from verification.sandbox import run_tests

    programs = [PROMPT + "    return a + b\n"] + [code for code, _ in GAMED.values()]
    passed = [run_tests(p, TEST, "add", context=PROMPT).passed for p in programs]
    assert passed == [True] + [False] * len(GAMED)
    assert metrics.pass_at_k(len(passed), sum(passed), 1) == pytest.approx(1 / len(passed))
