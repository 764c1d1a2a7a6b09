"""Strict parsing of a rubric answer (a score and a short reason), and the cache of engine answers.

Strict because a label that was guessed from a rambling answer is worse than no label: an answer that does
not follow the format is retried and, if it never does, quarantined with the reason it failed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCORE = re.compile(r"^score:\s*([-+]?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
_REASON = re.compile(r"^reason:\s*(.*\S)\s*$", re.IGNORECASE)


class ParseError(ValueError):
    """Why an answer was not accepted (a short, stable phrase: it becomes a quarantine reason)."""


@dataclass(frozen=True)
class Rubric:
    answer_format: str = "lines"  # lines | json
    low: float = 0
    high: float = 5
    integer: bool = True
    max_reason_chars: int = 300


def _check_score(raw: object, r: Rubric) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ParseError("score is not a number")
    try:
        score = float(raw)
    except ValueError:
        raise ParseError("score is not a number") from None
    if r.integer and score != int(score):
        raise ParseError(f"score {score:g} is not a whole number")
    if not r.low <= score <= r.high:
        raise ParseError(f"score {score:g} outside {r.low:g}-{r.high:g}")
    return score


def _check_reason(reason: object, r: Rubric) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ParseError("no reason")
    return reason.strip()[: r.max_reason_chars]


def parse_answer(text: str, r: Rubric) -> tuple[float, str]:
    """`(score, reason)` from an answer, or ParseError. Lines format: the first non-blank line is
    `Score: N` and the next non-blank line is `Reason: ...` (anything after that is ignored)."""
    if r.answer_format == "json":
        body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        try:
            obj = json.loads(body)
        except json.JSONDecodeError:
            raise ParseError("not a JSON object") from None
        if not isinstance(obj, dict) or "score" not in obj:
            raise ParseError("no score field")
        return _check_score(obj["score"], r), _check_reason(obj.get("reason"), r)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        raise ParseError("empty answer")
    m = _SCORE.match(lines[0])
    if m is None:
        raise ParseError("first line is not 'Score: N'")
    score = _check_score(m.group(1), r)
    m2 = _REASON.match(lines[1]) if len(lines) > 1 else None
    if m2 is None:
        raise ParseError("no 'Reason: ...' line after the score")
    return score, _check_reason(m2.group(1), r)


class AnswerCache:
    """Engine answers by key (document text, prompt, model, sampling settings, attempt), in SQLite.

    One row per answer, committed per batch, so a killed run loses at most one batch of engine work."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")

    def get(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT key, answer FROM answers WHERE key IN ({','.join('?' * len(chunk))})"
            out.update(self.db.execute(q, chunk).fetchall())
        return out

    def put(self, items: dict[str, str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?)", list(items.items()))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self.db.close()
