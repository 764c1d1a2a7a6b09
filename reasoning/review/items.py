"""What a reviewer sees: every generated sample and every preference pair of a run, as review items.

Items are read from the generate stage's Parquet (`generate.samples`, `generate.pairs`) through the run
layout. A pair is shown as answers A and B in an order fixed by a hash of its id, so the position does not
reveal which one the checker preferred; the decision stores the picked sample id, never the letter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from mixloom.errors import UserError
from mixloom.layout import RunLayout


@dataclass(frozen=True)
class Answer:
    sample_id: str
    text: str
    verdict: bool | None  # the checker's verdict (None: unknown)
    reason: str


@dataclass(frozen=True)
class Item:
    id: str  # "s:<sample id>" or "p:<chosen id>|<rejected id>"
    kind: str  # "sample" or "pair"
    task: str
    problem_id: str
    problem: str
    answers: tuple[Answer, ...]  # one for a sample; A and B for a pair

    @property
    def checker_choice(self) -> str | None:
        """For a pair: the sample id the checker preferred (the pair's `chosen`)."""
        return self.id[2:].split("|", 1)[0] if self.kind == "pair" else None


def _rows(folder: Path) -> list[dict]:
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def load_items(layout: RunLayout) -> list[Item]:
    """Samples (by task, problem, index) then pairs; a clear error when the run has no generated data."""
    samples = _rows(layout.ref_path("generate.samples"))
    pairs = _rows(layout.ref_path("generate.pairs"))
    if not samples and not pairs:
        raise UserError(
            f"{layout.root}: no generated samples or pairs under {layout.ref_path('generate.samples')}; "
            "run `mixloom generate RECIPE` (or `mixloom run`) for this run first"
        )
    items: list[Item] = []
    for r in sorted(samples, key=lambda r: (r["task"], r["problem_id"], r["index"])):
        ans = Answer(r["sample_id"], r["assistant"] or r["completion"] or "", r["ok"], r["reason"] or "")
        items.append(
            Item(f"s:{r['sample_id']}", "sample", r["task"], r["problem_id"], r["user"] or "", (ans,))
        )
    by_id = {r["sample_id"]: r for r in samples}
    for r in pairs:
        c = Answer(r["chosen_id"], r["chosen"], _ok(by_id, r["chosen_id"], True), r["chosen_reason"] or "")
        b = Answer(
            r["rejected_id"], r["rejected"], _ok(by_id, r["rejected_id"], False), r["rejected_reason"] or ""
        )
        pid = f"p:{r['chosen_id']}|{r['rejected_id']}"
        flip = hashlib.sha256(pid.encode()).digest()[0] & 1
        items.append(
            Item(pid, "pair", r["task"], r["problem_id"], r["prompt"] or "", (b, c) if flip else (c, b))
        )
    return items


def _ok(by_id: dict[str, dict], sample_id: str, default: bool) -> bool:
    row = by_id.get(sample_id)
    return bool(row["ok"]) if row is not None else default
