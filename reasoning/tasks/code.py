"""code: HumanEval-style problems (`prompt`, `test`, `entry_point`); each sample's code runs its tests in
the sandbox and passes or fails. The verdict is the harness's (`verification.sandbox.run_tests`): the
candidate runs in a process of its own, the problem's prompt and tests in the harness's, so exiting early,
always-equal return values or reading the tests never pass."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reasoning.engines.base import Prompt
from reasoning.tasks.base import Check, Problem, Task
from verification.sandbox import Limits, run_tests_many, sandbox_mode

FENCE = "```"
CHAT_INSTRUCTION = (
    "Complete the following Python function. Reply with the whole function in a Python code block."
)


def full_code(prompt: str, completion: str, entry_point: str, chat: bool) -> str:
    """The program to test. Text mode continues the prompt. A chat reply brings its own code block: when
    it defines the entry point it follows the prompt (whose imports and helpers it may use, and whose
    docstring-only stub it redefines), otherwise it is taken as the body continuing the prompt."""
    if not chat:
        return prompt + completion
    m = re.search(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", completion, re.DOTALL)
    code = m.group(1) if m else completion
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        return f"{prompt}\n\n{code}"
    return prompt + code


class Code(Task):
    kind = "code"
    template = "humaneval-completion-v1"
    required = ("prompt", "test", "entry_point")

    def problem(self, rec: dict[str, Any], line: int, stem: str) -> Problem:
        pid = str(rec.get("task_id") or rec.get("id") or f"{stem}-{line:05d}")
        fields = {"prompt": rec["prompt"], "entry_point": rec["entry_point"].strip()}
        if isinstance(rec.get("canonical_solution"), str):
            fields["canonical_solution"] = rec["canonical_solution"]
        return Problem(pid, fields, rec["test"])

    def default_stop(self) -> list[str]:
        if self.spec.format == "chat":
            return []
        return ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n@", FENCE]

    def _chat_text(self, p: Problem) -> str:
        return f"{CHAT_INSTRUCTION}\n{FENCE}python\n{p.fields['prompt']}{FENCE}"

    def prompt(self, p: Problem, shots: Sequence[Problem], hint: str | None = None) -> Prompt:
        if self.spec.format == "chat":
            return [{"role": "user", "content": self._chat_text(p)}]
        return p.fields["prompt"]

    def user_message(self, p: Problem) -> str:
        return self._chat_text(p)

    def reference_completion(self, p: Problem) -> str | None:
        sol = p.fields.get("canonical_solution")
        if sol is None:
            return None
        return f"{FENCE}python\n{p.fields['prompt']}{sol}{FENCE}" if self.spec.format == "chat" else sol

    def code_of(self, p: Problem, completion: str) -> str:
        return full_code(p.fields["prompt"], completion, p.fields["entry_point"], self.spec.format == "chat")

    def assistant_message(self, p: Problem, completion: str) -> str:
        return f"{FENCE}python\n{self.code_of(p, completion).strip()}\n{FENCE}"

    def verify(self, items: Sequence[tuple[Problem, str]]) -> list[Check]:
        jobs = [
            (self.code_of(p, c), p.reference, p.fields["entry_point"], p.fields["prompt"]) for p, c in items
        ]
        runs = run_tests_many(jobs, Limits(timeout=self.spec.timeout))
        return [Check(r.ok, "tests passed" if r.ok else f"tests failed: {r.reason}") for r in runs]

    def sandbox_mode(self) -> str | None:
        return sandbox_mode()

    def answer_key(self, check: Check) -> str | None:
        return None
