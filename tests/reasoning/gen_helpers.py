"""Paths and readers shared by the reasoning tests (a module of its own: `conftest` names collide)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GSM8K = ROOT / "data" / "gsm8k"
HUMANEVAL = ROOT / "data" / "humaneval" / "problems.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
