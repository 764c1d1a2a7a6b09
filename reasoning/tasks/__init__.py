"""Task kinds: how seed problems become prompts and how completions are judged."""

from __future__ import annotations

from mixloom.registry import Registry
from mixloom.sections.generate import TaskSpec
from reasoning.tasks.base import Check, Problem, Quarantined, Seeds, Task

TASKS = Registry(
    "task",
    {
        "math_cot": "reasoning.tasks.math_cot:MathCoT",
        "pal": "reasoning.tasks.pal:PAL",
        "code": "reasoning.tasks.code:Code",
    },
)

__all__ = ["TASKS", "Check", "Problem", "Quarantined", "Seeds", "Task", "make_task"]


def make_task(spec: TaskSpec) -> Task:
    return TASKS.get(spec.kind)(spec)
