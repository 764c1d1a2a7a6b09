"""math_cot: chain-of-thought solutions to math problems, verified by answer equivalence.

Seeds are GSM8K-style (`question`, `answer` ending in `#### N`) or MATH-style (`problem`, `solution` with
the final answer in `\\boxed{}`, `answer`, `subject`, `level`); the style is read per record. MATH-style
prompts ask for a boxed answer, and samples are grouped by subject and level for the manifest's rates.
With `process_check: true`, a sample whose final answer is right but whose chain holds a false
arithmetic step is rejected with reason `false step` (`verification.process`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reasoning.engines.base import Prompt
from reasoning.tasks.base import Check, Problem, Task
from verification.answers import boxes, check_math, extract_answer, to_number
from verification.process import process_reason

INSTRUCTION = (
    "Solve the grade-school math problem. Think step by step, then give the final answer "
    'on its own line after "####".'
)
MATH_INSTRUCTION = (
    "Solve the competition math problem. Think step by step, then give the final answer in \\boxed{}."
)
MATH_TEMPLATE = "math-boxed-fewshot-v1"


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
        if isinstance(rec, dict) and "question" not in rec and "problem" in rec:
            return self._invalid_math(rec)
        why = super().invalid(rec)
        if why is None and "####" not in rec["answer"]:
            return "answer has no '#### N' final answer"
        return why

    def _invalid_math(self, rec: dict[str, Any]) -> str | None:
        """A MATH-style record needs a problem and a final answer (`answer`, or a box in `solution`)."""
        if not isinstance(rec.get("problem"), str) or not rec["problem"].strip():
            return "missing or empty field(s): problem"
        answer, solution = rec.get("answer"), rec.get("solution")
        if isinstance(answer, str) and answer.strip():
            return None
        if isinstance(solution, str) and boxes(solution):
            return None
        return "MATH-style record without a final answer (no `answer`, no \\boxed{} in `solution`)"

    def problem(self, rec: dict[str, Any], line: int, stem: str) -> Problem:
        if "question" not in rec:
            return self._math_problem(rec, line, stem)
        pid = str(rec.get("id") or f"{stem}-{line:05d}")
        return Problem(pid, {"question": rec["question"].strip(), "solution": rec["answer"]}, rec["answer"])

    def _math_problem(self, rec: dict[str, Any], line: int, stem: str) -> Problem:
        pid = str(rec.get("unique_id") or rec.get("id") or f"{stem}-{line:05d}")
        solution = rec.get("solution") if isinstance(rec.get("solution"), str) else None
        answer = rec.get("answer") if isinstance(rec.get("answer"), str) and rec["answer"].strip() else None
        reference = answer if answer is not None else boxes(solution or "")[-1][1]
        fields = {"question": rec["problem"].strip(), "solution": solution, "style": "math"}
        for key in ("subject", "level"):
            if rec.get(key) is not None:
                fields[key] = str(rec[key])
        if self.kind == "math_cot":
            self.template = MATH_TEMPLATE
        return Problem(pid, fields, reference)

    def groups(self, p: Problem) -> dict[str, str]:
        return {k: p.fields[k] for k in ("subject", "level") if p.fields.get(k)}

    def take_shots(self, problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
        k = self.spec.shots
        return problems[:k], problems[k:]

    def default_stop(self) -> list[str]:
        return ["\nQuestion:", "\n\n\n"] if self.spec.format == "text" else []

    def _question(self, p: Problem, hint: str | None) -> str:
        q = p.fields["question"]
        return f"{q}\n(Hint: the final answer is {hint}.)" if hint else q

    def prompt(self, p: Problem, shots: Sequence[Problem], hint: str | None = None) -> Prompt:
        instruction = MATH_INSTRUCTION if p.fields.get("style") == "math" else INSTRUCTION
        shots = [s for s in shots if s.fields.get("solution")]
        if self.spec.format == "chat":
            msgs = [{"role": "system", "content": instruction}]
            for s in shots:
                msgs += [
                    {"role": "user", "content": s.fields["question"]},
                    {"role": "assistant", "content": clean_solution(s.fields["solution"])},
                ]
            return [*msgs, {"role": "user", "content": self._question(p, hint)}]
        parts = [instruction, ""]
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
        if not p.fields.get("solution"):
            return None
        return " " + clean_solution(p.fields["solution"])

    def verify(self, items: Sequence[tuple[Problem, str]]) -> list[Check]:
        out = []
        for p, completion in items:
            v = check_math(completion, p.reference, timeout=self.spec.timeout)
            if v.ok and self.spec.process_check and (why := process_reason(completion)):
                out.append(Check(False, f"{why}; final answer right: {v.reason}", v.predicted))
                continue
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
