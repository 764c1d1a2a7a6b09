"""Parquet outputs of the generate stage: per-batch sample parts (the unit of resumption), the SFT set,
preference pairs and quarantined seed records, each row with its provenance."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixloom.manifest import atomic_path
from reasoning.select import Sample, pairs

PROVENANCE = [
    ("engine", pa.string()),
    ("model", pa.string()),
    ("template", pa.string()),
    ("sampling", pa.string()),
    ("seed_file", pa.string()),
    (
        "sandbox",
        pa.string(),
    ),  # the sandbox mode behind the verdict (namespaces, or the fallback hooks); "" for none
]
SAMPLE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("task", pa.string()),
        ("problem_id", pa.string()),
        ("index", pa.int32()),
        ("prompt", pa.string()),
        ("user", pa.string()),
        ("completion", pa.string()),
        ("assistant", pa.string()),
        ("tokens", pa.int32()),
        ("finish_reason", pa.string()),
        ("ok", pa.bool_()),
        ("reason", pa.string()),
        ("answer", pa.string()),
        ("vote_key", pa.string()),
        ("rationalized", pa.bool_()),
        ("reference", pa.bool_()),
        ("seed", pa.int64()),
        ("duplicate", pa.bool_()),
        ("selected", pa.bool_()),
        *PROVENANCE,
    ]
)
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
SFT_SCHEMA = pa.schema(
    [
        ("messages", pa.list_(MESSAGE)),
        ("sample_id", pa.string()),
        ("task", pa.string()),
        ("problem_id", pa.string()),
        ("index", pa.int32()),
        ("verdict", pa.bool_()),
        ("reason", pa.string()),
        ("rationalized", pa.bool_()),
        ("reference", pa.bool_()),
        ("seed", pa.int64()),
        *PROVENANCE,
    ]
)
PAIR_SCHEMA = pa.schema(
    [
        ("prompt", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("task", pa.string()),
        ("problem_id", pa.string()),
        ("chosen_id", pa.string()),
        ("rejected_id", pa.string()),
        ("chosen_reason", pa.string()),
        ("rejected_reason", pa.string()),
        *PROVENANCE,
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("seed_file", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("record", pa.string()),
    ]
)
_META = b"mixloom.generate"


def write_table_atomic(table: pa.Table, path: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write via a temp file and rename: a crash leaves the old file or none, never half of one."""
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META: json.dumps(meta)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def part_meta(path: Path) -> dict[str, Any] | None:
    """The key and stats stored in a finished part, or None when absent or unreadable."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[_META])
    except (OSError, KeyError, ValueError, pa.ArrowInvalid):
        return None


def samples_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SAMPLE_SCHEMA)


def read_samples(parts: Iterable[Path]) -> pa.Table:
    tables = [pq.read_table(p, schema=SAMPLE_SCHEMA) for p in parts]
    return pa.concat_tables(tables) if tables else SAMPLE_SCHEMA.empty_table()


def _prov(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k, _ in PROVENANCE}


def sft_rows(samples: pa.Table) -> list[dict[str, Any]]:
    """One chat per selected sample: the problem as the user turn, the solution as the assistant turn."""
    out = []
    for r in samples.filter(samples["selected"]).to_pylist():
        out.append(
            {
                "messages": [
                    {"role": "user", "content": r["user"]},
                    {"role": "assistant", "content": r["assistant"]},
                ],
                "sample_id": r["sample_id"],
                "task": r["task"],
                "problem_id": r["problem_id"],
                "index": r["index"],
                "verdict": r["ok"],
                "reason": r["reason"],
                "rationalized": r["rationalized"],
                "reference": r["reference"],
                "seed": r["seed"],
                **_prov(r),
            }
        )
    return out


def pair_rows(samples: pa.Table, per_problem: dict[str, int]) -> list[dict[str, Any]]:
    """Preference pairs per problem: chosen = a verified sample, rejected = a failed one."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in samples.to_pylist():
        groups.setdefault((r["task"], r["problem_id"]), []).append(r)
    out = []
    for (task, _), rows in groups.items():
        by_index = {r["index"]: r for r in rows}
        objs = [
            Sample(
                task,
                r["problem_id"],
                r["index"],
                r["completion"],
                r["tokens"],
                r["finish_reason"],
                ok=r["ok"],
                duplicate=r["duplicate"],
                reference=bool(r["reference"]),
            )
            for r in rows
        ]
        for good, bad in pairs(objs, per_problem.get(task, 1)):
            g, b = by_index[good.index], by_index[bad.index]
            out.append(
                {
                    "prompt": g["user"],
                    "chosen": g["assistant"],
                    "rejected": b["assistant"],
                    "task": task,
                    "problem_id": g["problem_id"],
                    "chosen_id": g["sample_id"],
                    "rejected_id": b["sample_id"],
                    "chosen_reason": g["reason"],
                    "rejected_reason": b["reason"],
                    **_prov(g),
                }
            )
    return out


def write_final(
    out: Path, samples: pa.Table, per_problem: dict[str, int], quarantined: list[dict[str, Any]], jsonl: bool
) -> dict[str, Path]:
    """Write sft/, pairs/ and quarantine/ from all sample parts; returns the written paths."""
    tables = {
        "sft": pa.Table.from_pylist(sft_rows(samples), schema=SFT_SCHEMA),
        "pairs": pa.Table.from_pylist(pair_rows(samples, per_problem), schema=PAIR_SCHEMA),
        "quarantine": pa.Table.from_pylist(quarantined, schema=QUARANTINE_SCHEMA),
    }
    written = {}
    for name, table in tables.items():
        written[name] = write_table_atomic(table, out / name / "part-00000.parquet")
        if jsonl and name != "quarantine":  # beside the folder: readers of sft/ must not see the rows twice
            written[f"{name}_jsonl"] = _write_jsonl(table, out / f"{name}.jsonl")
    return written


def _write_jsonl(table: pa.Table, path: Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in table.to_pylist():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
