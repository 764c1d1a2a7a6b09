"""GRPO reward functions backed by the generator's verifiers (imported lazily: they live in `reasoning`).

TRL calls each with the batch's `completions` and the dataset's extra columns as keyword lists; a reward
is 1.0 for a verified completion and 0.0 otherwise.
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


def code_reward(
    completions: list, test: list, entry_point: list, timeout: float = 5.0, **_: Any
) -> list[float]:
    from verification.sandbox import run_tests

    return [
        1.0 if run_tests(extract_code(completion_text(c)), t, e, timeout=timeout).passed else 0.0
        for c, t, e in zip(completions, test, entry_point, strict=True)
    ]


def make(kind: str, timeout: float = 5.0) -> Callable[..., list[float]]:
    if kind == "math":
        return math_reward

    def code(completions: list, test: list, entry_point: list, **kw: Any) -> list[float]:
        return code_reward(completions, test, entry_point, timeout=timeout)

    code.__name__ = "code_reward"
    return code
