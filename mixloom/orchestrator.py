"""`mixloom run`: the recipe's stages in order (curate → generate → train stages → eval → report).

Each stage's cache key hashes its recipe section, its input files' checksums, the keys of the stages it reads
from, and the code version. A stage whose key matches the one recorded at its last successful run is skipped,
so rerunning an unchanged recipe does no work, and changing one section re-runs that stage and what depends on
it only. Within a stage, finished shards, batches and checkpoints are reused, so a killed run resumes where it
stopped (curation: per shard and per pass; generation: per batch; pretraining: from its last checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixloom.manifest import code_version, file_checksum, stable_hash, write_json_atomic
from mixloom.progress import console
from mixloom.recipe import Recipe

STATE = ".mixloom-state.json"
TRAIN_ORDER = ("tokenizer", "pretrain", "sft", "rm", "dpo", "grpo")


@dataclass
class Stage:
    name: str
    deps: list[str]
    section: dict[str, Any]
    inputs: list[Path] = field(default_factory=list)
    run: Callable[[], Any] | None = None


def _files(recipe: Recipe, patterns: list[str]) -> list[Path]:
    import glob

    out: list[Path] = []
    for pat in patterns:
        p = recipe.resolve(pat)
        if glob.has_magic(str(p)):
            out += [Path(x) for x in sorted(glob.glob(str(p), recursive=True))]
        elif p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.exists():
            out.append(p)
    return out


def plan_stages(recipe: Recipe, run_dir: Path) -> list[Stage]:
    import json

    dumped = recipe.model_dump(mode="json")
    stages: list[Stage] = []
    if recipe.sources:
        from curation.pipeline import curate

        pats = [p for s in recipe.sources.values() for p in ([s.path] if isinstance(s.path, str) else s.path)]
        stages.append(
            Stage(
                "curate",
                [],
                {
                    k: dumped[k]
                    for k in ("sources", "steps", "mix", "splits", "seed", "augment")
                    if k in dumped
                },
                _files(recipe, pats),
                lambda: curate(recipe, out=run_dir),
            )
        )
    if recipe.generate is not None:
        import reasoning

        gen = dumped["generate"]
        seeds = [t["seeds"] for t in gen.get("tasks", []) if t.get("seeds")]
        stages.append(
            Stage(
                "generate",
                [],
                {"generate": gen, "seed": recipe.seed},
                _files(recipe, seeds),
                lambda: reasoning.run(recipe, run_dir),
            )
        )
    if recipe.train is not None:
        import training

        configured = training.configured_stages(recipe)
        prev: list[str] = ["curate"] if recipe.sources else []
        for s in [s for s in TRAIN_ORDER if s in configured]:
            deps = list(prev)
            if s in ("sft", "rm", "dpo", "grpo") and recipe.generate is not None:
                deps.append("generate")
            section = json.loads(json.dumps(dumped["train"].get(s)))
            stages.append(
                Stage(
                    f"train.{s}",
                    deps,
                    {"train": section, "seed": recipe.seed},
                    [],
                    (lambda s=s: training.run_stage(recipe, s, run_dir, resume=True)),
                )
            )
            prev = [f"train.{s}"] if s in ("tokenizer", "pretrain") else prev
        if dumped["train"].get("eval"):
            stages.append(
                Stage(
                    "eval",
                    [st.name for st in stages],
                    {"eval": dumped["train"]["eval"]},
                    [],
                    lambda: training.run_eval(recipe, run_dir),
                )
            )
    return stages


def stage_key(stage: Stage, keys: dict[str, str]) -> str:
    return stable_hash(
        {
            "section": stage.section,
            "inputs": [(str(p), file_checksum(p)) for p in stage.inputs],
            "deps": {d: keys.get(d) for d in stage.deps},
            "code": code_version(),
        }
    )


def run_recipe(
    recipe: Recipe, out: Path | None = None, force: bool = False, only: list[str] | None = None
) -> dict[str, Any]:
    """Run every stage of the recipe (or `only` these), skipping those whose cache key is unchanged."""
    import json

    run_dir = recipe.output_dir(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {}
    keys: dict[str, str] = {}
    summary: dict[str, Any] = {}
    for stage in plan_stages(recipe, run_dir):
        key = keys[stage.name] = stage_key(stage, keys)
        if only and stage.name not in only and stage.name.split(".")[0] not in only:
            summary[stage.name] = "not selected"
            continue
        if not force and state.get(stage.name, {}).get("key") == key:
            console.print(f"[dim]{stage.name}: unchanged, cached[/]", highlight=False)
            summary[stage.name] = "cached"
            continue
        console.print(f"[bold]{stage.name}[/] …", highlight=False)
        t0 = time.perf_counter()
        assert stage.run is not None
        stage.run()
        seconds = time.perf_counter() - t0
        state[stage.name] = {"key": key, "seconds": round(seconds, 2), "finished": time.time()}
        write_json_atomic(state_path, state)
        summary[stage.name] = f"ran in {seconds:.1f}s"
    from mixloom.report import build_report

    if (run_dir / "manifest.json").exists():
        from mixloom.datacard import write_data_card

        write_data_card(run_dir)
    summary["report"] = str(build_report(run_dir))
    return summary
