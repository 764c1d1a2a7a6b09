"""Many small inputs, few shards: read groups of consecutive files and packing of the shards they write.

A read task per file made one shard (and, downstream, one pass task, one curated part, one rejects file and one
mix part) per input file: 10,000 one-record files wrote 30,000 output files. Here a read task covers up to
`GROUP_FILES` consecutive files of a source (bounded by bytes too, so large files keep a task each), and
consecutive shards of a source that fit in `shard_docs`/`shard_bytes` are packed into one. Both depend only on
the recipe and the files, never on the worker count, so outputs stay byte-identical across executors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from curation.io.writers import write_parquet
from mixloom import storage

if TYPE_CHECKING:
    from curation.plan import Plan

GROUP_FILES = 1000  # files per read task at most: small files share shards; large ones get a task each


def read_groups(plan: Plan, inputs: list[dict]) -> list[tuple[str, list[int]]]:
    """Consecutive files of a source → read groups (stem, input indices), bounded by file count and bytes.

    Depends only on the recipe and the files, never on the worker count, so outputs stay byte-identical.
    """
    groups: list[tuple[str, list[int]]] = []
    limit = plan.recipe.execution.shard_bytes
    i = 0
    for s in plan.sources:
        cur: list[int] = []
        size = 0
        first = len(groups)
        for _ in s.files:
            if cur and (len(cur) >= GROUP_FILES or size + inputs[i]["bytes"] > limit):
                groups.append((f"{s.name}-{len(groups) - first:05d}", cur))
                cur, size = [], 0
            cur.append(i)
            size += inputs[i]["bytes"]
            i += 1
        if cur:
            groups.append((f"{s.name}-{len(groups) - first:05d}", cur))
    return groups


def pack_shards(shards: list[dict], out: Path, ex, max_docs: int, max_bytes: int) -> list[dict]:
    """Consecutive shards of a source that fit together become one: the shard count (and so every later file
    count) follows `shard_docs`/`shard_bytes`, not the number of input files or read groups."""
    packs: list[list[dict]] = []
    for sh in shards:
        cur = packs[-1] if packs else []
        if (
            cur
            and cur[0]["source"] == sh["source"]
            and sum(c["docs"] for c in cur) + sh["docs"] <= max_docs
            and sum(c.get("bytes", 0) for c in cur) + sh.get("bytes", 0) <= max_bytes
        ):
            cur.append(sh)
        else:
            packs.append([sh])
    merged = [p for p in packs if len(p) > 1]
    jobs = [(str(out / "packs" / f"{p[0]['name']}.parquet"), [s["path"] for s in p]) for p in merged]
    ex.map(concat_shards, jobs, desc="pack")
    return [
        p[0]
        if len(p) == 1
        else {
            "name": p[0]["name"],
            "path": str(out / "packs" / f"{p[0]['name']}.parquet"),
            "source": p[0]["source"],
            **{k: sum(s.get(k, 0) for s in p) for k in ("docs", "tokens", "bytes")},
        }
        for p in packs
    ]


def parquet_rows(path: Path) -> int:
    return storage.parquet_rows(path)


def concat_shards(job: tuple[str, list[str]]) -> str:
    target, paths = job
    if not storage.path(target).exists():  # written atomically: present means complete (resume)
        write_parquet(pl.concat([storage.read_parquet(p) for p in paths]), storage.path(target))
    return target
