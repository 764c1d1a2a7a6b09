"""math_cot: chain-of-thought solutions to GSM8K-style problems, verified by answer equivalence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reasoning.engines.base import Prompt
from reasoning.tasks.base import Check, Problem, Task
from verification.answers import check_math, extract_answer, to_number

INSTRUCTION = (
    "Solve the grade-school math problem. Think step by step, then give the final answer "
    'on its own line after "####".'
)


def clean_solution(answer: str) -> str:
    """GSM8K solutions without their <<calculator>> annotations (what a model should learn to write)."""
    return re.sub(r"<<[^<>]*>>", "", answer).strip()


def final_answer(answer: str) -> str:
    found, _ = extract_answer(answer, fallback_last_number=False)
    return (found or answer).strip()


class MathCoT(Task):
    kind = "math_cot"
    template = "gsm8k-fewshot-v1"
    required = ("question", "answer")

    def invalid(self, rec: Any) -> str | None:
        why = super().invalid(rec)
        if why is None and "####" not in rec["answer"]:
            return "answer has no '#### N' final answer"
        return why

    def problem(self, rec: dict[str, Any], line: int, stem: str) -> Problem:
        pid = str(rec.get("id") or f"{stem}-{line:05d}")
        return Problem(pid, {"question": rec["question"].strip(), "solution": rec["answer"]}, rec["answer"])

    def take_shots(self, problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
        k = self.spec.shots
        return problems[:k], problems[k:]

    def default_stop(self) -> list[str]:
        return ["\nQuestion:", "\n\n\n"] if self.spec.format == "text" else []

    def _question(self, p: Problem, hint: str | None) -> str:
        q = p.fields["question"]
        return f"{q}\n(Hint: the final answer is {hint}.)" if hint else q

    def prompt(self, p: Problem, shots: Sequence[Problem], hint: str | None = None) -> Prompt:
        if self.spec.format == "chat":
            msgs = [{"role": "system", "content": INSTRUCTION}]
            for s in shots:
                msgs += [
                    {"role": "user", "content": s.fields["question"]},
                    {"role": "assistant", "content": clean_solution(s.fields["solution"])},
                ]
            return [*msgs, {"role": "user", "content": self._question(p, hint)}]
        parts = [INSTRUCTION, ""]
        for s in shots:
            parts += [
                f"Question: {s.fields['question']}",
                f"Answer: {clean_solution(s.fields['solution'])}",
                "",
            ]
        parts += [f"Question: {self._question(p, hint)}", "Answer:"]
        return "\n".join(parts)

    def user_message(self, p: Problem) -> str:
        return p.fields["question"]

    def hint(self, p: Problem) -> str | None:
        return final_answer(p.reference)

    def reference_completion(self, p: Problem) -> str | None:
        return " " + clean_solution(p.fields["solution"])

    def verify(self, items: Sequence[tuple[Problem, str]]) -> list[Check]:
        out = []
        for p, completion in items:
            v = check_math(completion, p.reference, timeout=self.spec.timeout)
            out.append(Check(v.ok, v.reason, v.predicted))
        return out

    def answer_key(self, check: Check) -> str | None:
        return canonical(check.answer)


def canonical(answer: str | None) -> str | None:
    """A vote key: numbers by value (so 1,000 and 1000.0 agree), other answers as trimmed text."""
    if answer is None:
        return None
    num = to_number(answer)
    return str(num) if num is not None else re.sub(r"\s+", "", answer)
