"""Task kinds: how seed problems become prompts and how completions are judged."""

from __future__ import annotations

from mixloom.sections.generate import TaskSpec
from reasoning.tasks.base import Check, Problem, Quarantined, Seeds, Task
from reasoning.tasks.code import Code
from reasoning.tasks.math_cot import MathCoT
from reasoning.tasks.pal import PAL

TASKS: dict[str, type[Task]] = {"math_cot": MathCoT, "pal": PAL, "code": Code}

__all__ = ["TASKS", "Check", "Problem", "Quarantined", "Seeds", "Task", "make_task"]


def make_task(spec: TaskSpec) -> Task:
    return TASKS[spec.kind](spec)
