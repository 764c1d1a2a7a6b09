"""What every task provides: seed loading (bad records quarantined), prompts, and batch verification."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixloom.sections.generate import TaskSpec
from reasoning.engines.base import Prompt


@dataclass
class Problem:
    id: str
    fields: dict[str, Any]
    reference: str  # the answer (math) or the tests (code), what verification compares against


@dataclass
class Quarantined:
    task: str
    seed_file: str
    line: int
    reason: str
    record: str


@dataclass
class Check:
    """One sample's verification: ok, why, and the extracted answer (for majority voting)."""

    ok: bool
    reason: str
    answer: str | None = None


@dataclass
class Seeds:
    problems: list[Problem]
    quarantined: list[Quarantined] = field(default_factory=list)
    shots: list[Problem] = field(default_factory=list)
    read: int = 0


def read_records(path: Path) -> list[tuple[int, Any, str]]:
    """(line number, parsed record or None, raw text) for a .jsonl, .jsonl.gz or .json (list) file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        text = f.read()
    if path.suffix == ".json":
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
        return [(i + 1, rec, json.dumps(rec)) for i, rec in enumerate(items)]
    out = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            out.append((i + 1, json.loads(line), line))
        except json.JSONDecodeError:
            out.append((i + 1, None, line))
    return out


class Task:
    """Base class: a task kind turns seed records into prompts and judges completions."""

    kind = ""
    template = ""
    required: tuple[str, ...] = ()

    def __init__(self, spec: TaskSpec):
        self.spec = spec

    # seeds ----------------------------------------------------------------------------------
    def problem(self, rec: dict[str, Any], line: int, stem: str) -> Problem:
        raise NotImplementedError

    def invalid(self, rec: Any) -> str | None:
        """Why a record cannot be used, or None."""
        if not isinstance(rec, dict):
            return "not a JSON object"
        missing = [k for k in self.required if not isinstance(rec.get(k), str) or not rec[k].strip()]
        return f"missing or empty field(s): {', '.join(missing)}" if missing else None

    def load(self, path: Path) -> Seeds:
        rows = read_records(path)
        seeds = Seeds(problems=[], read=len(rows))
        seen: set[str] = set()
        for line, rec, raw in rows:
            why = "not valid JSON" if rec is None else self.invalid(rec)
            problem = None if why else self.problem(rec, line, path.name.split(".")[0])
            if problem is not None and problem.id in seen:
                why = f"repeated problem id {problem.id!r}"
            if why or problem is None:
                seeds.quarantined.append(Quarantined(self.spec.id, str(path), line, str(why), raw[:2000]))
            else:
                seen.add(problem.id)
                seeds.problems.append(problem)
        return seeds

    def take_shots(self, problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
        """(few-shot exemplars, problems to generate for); exemplars are never generated for."""
        return [], problems

    def shot_count(self, shots: Sequence[Problem]) -> int:
        """Exemplars in each prompt (provenance)."""
        return len(shots)

    # prompts --------------------------------------------------------------------------------
    def stop(self) -> list[str]:
        return list(self.spec.stop) if self.spec.stop is not None else self.default_stop()

    def default_stop(self) -> list[str]:
        return []

    def prompt(self, p: Problem, shots: Sequence[Problem], hint: str | None = None) -> Prompt:
        raise NotImplementedError

    def user_message(self, p: Problem) -> str:
        raise NotImplementedError

    def assistant_message(self, p: Problem, completion: str) -> str:
        return completion.strip()

    def hint(self, p: Problem) -> str | None:
        return None

    def reference_completion(self, p: Problem) -> str | None:
        """The seed's own solution written as a completion, when the seed carries one (`references: true`)."""
        return None

    # verification ---------------------------------------------------------------------------
    def verify(self, items: Sequence[tuple[Problem, str]]) -> list[Check]:
        raise NotImplementedError

    def answer_key(self, check: Check) -> str | None:
        return check.answer

    def groups(self, p: Problem) -> dict[str, str]:
        """What the manifest breaks rates down by for this problem (e.g. MATH's subject and level)."""
        return {}

    def sandbox_mode(self) -> str | None:
        """The sandbox mode verdicts come from (`namespaces`, or the fallback `hooks`); None: no code runs."""
        return None
