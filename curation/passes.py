"""One pass over one shard: apply the previous global step's decisions, run the local steps, map the next
global step. Each task writes its outputs atomically and a done marker last, so a killed run resumes here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curation.io.writers import empty_rejects, to_rejects, write_parquet
from curation.plan import PlannedStep
from curation.remote import local_artifacts
from curation.steps.base import REJECT
from curation.steps.invariants import StepInvariantError, check_step
from curation.tokens import count_expr
from mixloom import storage
from mixloom.manifest import write_json_atomic

_STEP_CACHE: dict[str, list] = {}  # per worker process: steps (and their loaded models) reused across shards


@dataclass(frozen=True)
class PassJob:
    shard: str
    in_path: str
    out_dir: str
    key: str  # the pass's hash: identifies its steps
    steps: tuple[PlannedStep, ...]  # local steps
    apply: Applied | None  # the previous global step's decisions and artifacts
    map_step: PlannedStep | None  # the global step to map at the end
    tokenizer: str


@dataclass(frozen=True)
class Applied:
    """A reduced global step as the next pass sees it: the step, its decisions file and its artifacts."""

    step: PlannedStep
    decisions: str
    artifacts: dict[str, Path]


def _split(df: pl.DataFrame, label: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    if REJECT not in df.columns:
        return df, empty_rejects()
    bad = df.filter(pl.col(REJECT).is_not_null())
    return df.filter(pl.col(REJECT).is_null()).drop(REJECT), to_rejects(bad, label)


def _stat(before: pl.DataFrame, after: pl.DataFrame, rej: pl.DataFrame, seconds: float) -> dict[str, Any]:
    reasons = rej.group_by("reason").len().sort("reason").rows() if rej.height else []
    return {
        "docs_in": before.height,
        "docs_out": after.height,
        "tokens_in": int(before["tokens"].sum() or 0),
        "tokens_out": int(after["tokens"].sum() or 0),
        "seconds": round(seconds, 4),
        "reasons": dict(reasons),
    }


def _guarded(label: str, run: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """A step's failure on real data (a SQL or Polars expression that fails at run time) names the step."""
    try:
        return run()
    except (ValueError, pl.exceptions.PolarsError) as e:
        raise StepInvariantError(f"step {label} failed: {str(e).splitlines()[0][:500]}") from None


def run_pass(job: PassJob) -> dict[str, Any]:
    out = storage.path(job.out_dir)  # the run's storage (a URL on a cluster), never the driver's disk
    done = out / f"{job.shard}.done.json"
    if done.exists():
        return json.loads(done.read_text())
    cached = _STEP_CACHE.setdefault(
        job.key, [s.step for s in job.steps] + [job.map_step.step if job.map_step else None]
    )
    df = storage.read_parquet(job.in_path)
    stats: dict[str, dict[str, Any]] = {}
    rejects: list[pl.DataFrame] = []

    if job.apply is not None:
        label, step = job.apply.step.label, job.apply.step.step
        t0 = time.perf_counter()
        dec = (
            storage.scan_parquet(job.apply.decisions).filter(pl.col("id").is_in(df["id"].implode())).collect()
        )
        before = df
        # decision columns (cluster_id, contaminated_by, ...) stay on kept documents as scores; a later
        # step's columns of the same name replace an earlier one's
        replaced = [c for c in dec.columns if c != "id" and c in df.columns]
        marked = df.drop(replaced).join(dec, on="id", how="left")
        artifacts = local_artifacts(job.apply.artifacts)  # a URL (run on object storage) copied once
        marked = _guarded(label, lambda: step.apply(marked, artifacts))
        check_step(label, before, marked)
        kept, rej = _split(marked, label)
        if step.modifies_text:
            kept = kept.with_columns(count_expr(job.tokenizer).alias("tokens"))
        stats[label] = _stat(before, kept, rej, time.perf_counter() - t0)
        rejects.append(rej)
        df = kept

    for planned, step in zip(job.steps, cached, strict=False):
        label = planned.label
        t0 = time.perf_counter()
        before = df
        res = _guarded(label, lambda: step.process(df))  # noqa: B023 - called at once
        check_step(label, before, res)
        kept, rej = _split(res, label)
        if step.modifies_text:
            kept = kept.with_columns(count_expr(job.tokenizer).alias("tokens"))
        stats[label] = _stat(before, kept, rej, time.perf_counter() - t0)
        if hasattr(step, "counts") and (counts := step.counts(res)):  # e.g. pii matches per type
            stats[label]["counts"] = counts
        rejects.append(rej)
        df = kept

    if job.apply is None and not job.steps:
        storage.copy(job.in_path, out / f"{job.shard}.parquet")  # nothing changed: no rewrite
    else:
        write_parquet(df, out / f"{job.shard}.parquet")
    if job.map_step is not None:
        label = job.map_step.label
        t0 = time.perf_counter()
        keys = cached[-1].map(df)
        write_parquet(keys, out / f"{job.shard}.map.parquet")
        stats[f"{label} (map)"] = {"seconds": round(time.perf_counter() - t0, 4)}
    rej_all = pl.concat(rejects, how="vertical_relaxed") if rejects else None
    if rej_all is not None and rej_all.height:
        write_parquet(rej_all, out / f"{job.shard}.rejects.parquet")
    result = {"shard": job.shard, "docs": df.height, "tokens": int(df["tokens"].sum() or 0), "steps": stats}
    write_json_atomic(done, result)
    return result
