"""GRPO reward functions backed by the shared verifiers (`verification.answers`, `verification.sandbox`).

TRL calls each with the batch's `prompts`, `completions` and the dataset's extra columns as keyword lists;
a reward is 1.0 for a verified completion and 0.0 otherwise. They are the generator's checkers, so a
program that games a test (exits early, returns an always-equal object, reads the tests) earns 0 here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_CODE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def completion_text(c: Any) -> str:
    """Text of a completion: a plain string, or the content of a conversational completion's messages."""
    if isinstance(c, str):
        return c
    return "".join(m.get("content") or "" for m in c if isinstance(m, dict))


def extract_code(text: str) -> str:
    """The first fenced code block, else the whole text (small models often skip the fence)."""
    m = _CODE.search(text)
    return m.group(1) if m else text


def math_reward(completions: list, answer: list, **_: Any) -> list[float]:
    from verification.answers import check_math

    return [
        1.0 if check_math(completion_text(c), str(a)) else 0.0
        for c, a in zip(completions, answer, strict=True)
    ]


def prompt_code(prompt: Any) -> str:
    """The problem's own code (a HumanEval prompt: imports and helpers the tests use), from a plain or a
    conversational prompt; run by the harness as trusted context before the tests."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content") or "" for m in prompt or [] if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users else ""


def code_reward(
    completions: list,
    test: list,
    entry_point: list,
    timeout: float = 5.0,
    prompts: list | None = None,
    **_: Any,
) -> list[float]:
    from verification.sandbox import Limits, run_tests_many

    contexts = [prompt_code(p) for p in prompts] if prompts is not None else [""] * len(completions)
    jobs = [
        (extract_code(completion_text(c)), t, e, ctx)
        for c, t, e, ctx in zip(completions, test, entry_point, contexts, strict=True)
    ]
    return [1.0 if r.passed else 0.0 for r in run_tests_many(jobs, Limits(timeout=timeout))]


def make(kind: str, timeout: float = 5.0) -> Callable[..., list[float]]:
    if kind == "math":
        return math_reward

    def code(completions: list, test: list, entry_point: list, **kw: Any) -> list[float]:
        return code_reward(completions, test, entry_point, timeout=timeout, prompts=kw.get("prompts"))

    code.__name__ = "code_reward"
    return code
