"""`mixloom review export RUN`: the review decisions applied to the generated SFT set and preference pairs.

Writes `review.sft` and `review.pairs` (paths from the run layout) in the generate stage's schemas plus a
`review` column saying what review did to each row, and `review/manifest.json` with the counts and the
agreement. Each item's outcome is the majority of its reviewers' latest decisions (`agreement.resolve`):

- SFT: a sample rejected by review is dropped; an edited one carries the corrected answer; a sample the
  checker failed but reviewers accepted (or corrected) is added; ties and unreviewed samples stay as generated.
- Pairs: a pair whose `rejected` answer reviewers preferred is flipped; a pair whose `chosen` sample reviewers
  rejected is dropped (unless the pair itself was confirmed); every correction adds a pair (the corrected
  answer over the original one).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixloom.layout import RunLayout
from mixloom.manifest import write_json_atomic
from reasoning.outputs import PAIR_SCHEMA, PROVENANCE, SFT_SCHEMA, write_table_atomic
from reasoning.review.agreement import agreement, resolve
from reasoning.review.items import Item, load_items
from reasoning.review.store import Decision, DecisionLog

REVIEW_COL = ("review", pa.string())
REVIEW_SFT_SCHEMA = SFT_SCHEMA.append(pa.field(*REVIEW_COL))
REVIEW_PAIR_SCHEMA = PAIR_SCHEMA.append(pa.field(*REVIEW_COL))


def decisions_path(layout: RunLayout) -> Path:
    return layout.stage_dir("review") / "decisions.sqlite"


def _rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def _outcomes(items: dict[str, Item], latest: dict[str, dict[str, Decision]]) -> dict[str, tuple]:
    return {i: resolve(by, items[i]) for i, by in latest.items() if i in items}


def _sft(samples: dict[str, dict], sft: list[dict], outcome: dict[str, tuple]) -> tuple[list[dict], Counter]:
    n: Counter[str] = Counter(dict.fromkeys(("unreviewed", "accepted", "edited", "dropped", "added"), 0))
    out = []
    in_sft = set()
    for row in sft:
        in_sft.add(row["sample_id"])
        what, d = outcome.get(f"s:{row['sample_id']}", ("none", None))
        if what == "reject":
            n["dropped"] += 1
            continue
        if what == "edit" and d is not None:
            row = {**row, "messages": [row["messages"][0], {"role": "assistant", "content": d.answer}]}
            n["edited"] += 1
        else:
            n["accepted" if what == "accept" else "unreviewed"] += 1
        out.append({**row, "review": {"accept": "accepted", "edit": "edited"}.get(what, "unreviewed")})
    for sid, s in samples.items():  # samples the checker failed (or that selection left out) but people kept
        what, d = outcome.get(f"s:{sid}", ("none", None))
        if sid in in_sft or what not in ("accept", "edit"):
            continue
        answer = d.answer if what == "edit" and d is not None else s["assistant"]
        out.append(
            {
                "messages": [
                    {"role": "user", "content": s["user"]},
                    {"role": "assistant", "content": answer},
                ],
                **{k: s[k] for k in ("sample_id", "task", "problem_id", "index", "reason", "rationalized")},
                **{k: s[k] for k in ("reference", "seed")},
                **{k: s[k] for k, _ in PROVENANCE},
                "verdict": s["ok"],
                "review": "added",
            }
        )
        n["added"] += 1
    return out, n


def _pairs(
    samples: dict[str, dict], pairs: list[dict], outcome: dict[str, tuple]
) -> tuple[list[dict], Counter]:
    n: Counter[str] = Counter(
        dict.fromkeys(("unreviewed", "confirmed", "flipped", "dropped", "corrections"), 0)
    )
    out = []
    for row in pairs:
        what, _ = outcome.get(f"p:{row['chosen_id']}|{row['rejected_id']}", ("none", None))
        if what == "rejected":
            swapped = {"chosen": row["rejected"], "rejected": row["chosen"]}
            swapped |= {"chosen_id": row["rejected_id"], "rejected_id": row["chosen_id"]}
            swapped |= {"chosen_reason": row["rejected_reason"], "rejected_reason": row["chosen_reason"]}
            out.append({**row, **swapped, "review": "flipped"})
            n["flipped"] += 1
        elif what != "chosen" and outcome.get(f"s:{row['chosen_id']}", ("none",))[0] in ("reject", "edit"):
            n["dropped"] += 1
        else:
            out.append({**row, "review": "confirmed" if what == "chosen" else "unreviewed"})
            n["confirmed" if what == "chosen" else "unreviewed"] += 1
    for item_id, (what, d) in sorted(outcome.items()):
        if what != "edit" or d is None or not item_id.startswith("s:"):
            continue
        s = samples[item_id[2:]]
        out.append(
            {
                "prompt": s["user"],
                "chosen": d.answer,
                "rejected": s["assistant"],
                "task": s["task"],
                "problem_id": s["problem_id"],
                "chosen_id": f"{s['sample_id']}+review{d.id}",
                "rejected_id": s["sample_id"],
                "chosen_reason": f"corrected by {d.reviewer}",
                "rejected_reason": f"review: {d.reason or 'edited'}",
                **{k: s[k] for k, _ in PROVENANCE},
                "review": "correction",
            }
        )
        n["corrections"] += 1
    return out, n


def export(layout: RunLayout) -> dict[str, Any]:
    """Apply the decisions and write review.sft, review.pairs and the review manifest; returns the manifest."""
    items = {i.id: i for i in load_items(layout)}
    log = DecisionLog(decisions_path(layout))
    latest = log.latest()
    outcome = _outcomes(items, latest)
    samples = {r["sample_id"]: r for r in _rows(layout.ref_path("generate.samples"))}
    sft_in = _rows(layout.ref_path("generate.sft"))
    pairs_in = _rows(layout.ref_path("generate.pairs"))
    sft, n_sft = _sft(samples, sft_in, outcome)
    pairs, n_pairs = _pairs(samples, pairs_in, outcome)
    paths = {
        "sft": write_table_atomic(
            pa.Table.from_pylist(sft, schema=REVIEW_SFT_SCHEMA),
            layout.ref_path("review.sft") / "part-00000.parquet",
        ),
        "pairs": write_table_atomic(
            pa.Table.from_pylist(pairs, schema=REVIEW_PAIR_SCHEMA),
            layout.ref_path("review.pairs") / "part-00000.parquet",
        ),
    }
    count, last = log.fingerprint()
    manifest = {
        "decisions": count,
        "last_decision": last,
        "items": {"total": len(items), "reviewed": len(outcome)},
        "outcomes": dict(Counter(w for w, _ in outcome.values())),
        "agreement": agreement(latest, items),
        "sft": {"generated": len(sft_in), "rows": len(sft), **n_sft},
        "pairs": {"generated": len(pairs_in), "rows": len(pairs), **n_pairs},
        "outputs": {k: str(p.relative_to(layout.root)) for k, p in paths.items()},
    }
    write_json_atomic(layout.stage_dir("review") / "manifest.json", manifest)
    return manifest
