"""pal (program-aided): the model writes Python that prints the answer; the sandbox runs it and the
printed result is compared with the reference like a math answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from reasoning.engines.base import Prompt
from reasoning.tasks.base import Check, Problem
from reasoning.tasks.math_cot import MathCoT, final_answer
from verification.answers import answers_equal, extract_answer
from verification.sandbox import Limits, run_many, sandbox_mode

INSTRUCTION = "Write a Python program that solves the problem and prints only the final answer."

# Hand-written exemplars in the PAL style (the seed files have no programs to borrow).
EXEMPLARS = [
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "money_initial = 23\nbagels = 5\nbagel_cost = 3\nmoney_spent = bagels * bagel_cost\n"
        "money_left = money_initial - money_spent\nprint(money_left)",
    ),
    (
        "Michael had 58 golf balls. On Tuesday, he lost 23 golf balls. On Wednesday, he lost 2 more. "
        "How many golf balls did he have at the end of Wednesday?",
        "golf_balls_initial = 58\ngolf_balls_lost_tuesday = 23\ngolf_balls_lost_wednesday = 2\n"
        "golf_balls_left = golf_balls_initial - golf_balls_lost_tuesday - golf_balls_lost_wednesday\n"
        "print(golf_balls_left)",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed each day, from "
        "Monday to Thursday. How many computers are now in the server room?",
        "computers_initial = 9\ncomputers_per_day = 5\nnum_days = 4\n"
        "computers_added = computers_per_day * num_days\ncomputers_total = computers_initial + computers_added\n"
        "print(computers_total)",
    ),
]
FENCE = "```"


def extract_code(completion: str) -> str:
    """The program: a fenced block if there is one, else the text up to a closing fence."""
    if m := re.search(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", completion, re.DOTALL):
        return m.group(1).strip("\n")
    return completion.split(FENCE)[0].strip("\n")


class PAL(MathCoT):
    kind = "pal"
    template = "pal-fewshot-v1"

    def take_shots(self, problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
        return [], problems

    def shot_count(self, shots: Sequence[Problem]) -> int:
        return len(EXEMPLARS[: self.spec.shots])

    def default_stop(self) -> list[str]:
        return [FENCE] if self.spec.format == "text" else []

    def prompt(self, p: Problem, shots: Sequence[Problem], hint: str | None = None) -> Prompt:
        q = self._question(p, hint)
        ex = EXEMPLARS[: self.spec.shots]
        if self.spec.format == "chat":
            msgs = [{"role": "system", "content": INSTRUCTION}]
            for eq, code in ex:
                msgs += [
                    {"role": "user", "content": eq},
                    {"role": "assistant", "content": f"{FENCE}python\n{code}\n{FENCE}"},
                ]
            return [*msgs, {"role": "user", "content": q}]
        parts = [INSTRUCTION, ""]
        for eq, code in ex:
            parts += [f"Question: {eq}", f"{FENCE}python", code, FENCE, ""]
        parts += [f"Question: {q}", f"{FENCE}python", ""]
        return "\n".join(parts)

    def assistant_message(self, p: Problem, completion: str) -> str:
        return f"{FENCE}python\n{extract_code(completion)}\n{FENCE}"

    def sandbox_mode(self) -> str | None:
        return sandbox_mode()

    def verify(self, items: Sequence[tuple[Problem, str]]) -> list[Check]:
        codes = [extract_code(c) for _, c in items]
        runs = run_many(
            [c if c.strip() else "raise SystemExit('empty program')" for c in codes],
            Limits(timeout=self.spec.timeout),
        )
        out = []
        for (p, _), run in zip(items, runs, strict=True):
            expected = final_answer(p.reference)
            if not run.ok:
                out.append(Check(False, f"program failed: {run.reason}"))
                continue
            lines = [ln for ln in run.stdout.strip().splitlines() if ln.strip()]
            if not lines:
                out.append(Check(False, "program printed nothing"))
                continue
            printed, _ = extract_answer(lines[-1])
            printed = printed or lines[-1].strip()
            ok, method = answers_equal(printed, expected, self.spec.timeout)
            rel = "==" if ok else "!="
            out.append(Check(ok, f"printed {printed!r} {rel} {expected!r} ({method})", printed))
        return out
