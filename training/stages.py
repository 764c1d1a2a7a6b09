"""Stage entry points: recipe + run directory in, a stage directory with a model and a manifest out.

Every stage writes `OUT/train/<stage>/manifest.json` recording its inputs (with checksums), the recipe
section and its hash, code and package versions, and its results, so a run can be audited or cached.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.manifest import (
    stable_hash,
    stage_header,
    write_manifest,
)
from mixloom.recipe import Recipe
from training import refs

PACKAGES = ["torch", "transformers", "trl", "tokenizers", "accelerate", "datasets"]


def section(recipe: Recipe, stage: str) -> Any:
    cfg = getattr(recipe.train, stage, None) if recipe.train else None
    if cfg is None:
        raise UserError(
            f"{recipe.path}: train.{stage}: this recipe has no `train.{stage}` section; add one to run it"
        )
    return cfg


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def write_stage_manifest(
    recipe: Recipe, stage: str, out: Path, inputs: list[Path], results: dict[str, Any], started: float
) -> None:
    """Record what went in and what came out (only the main process writes under multi-process runs)."""
    if not is_main_process():
        return
    sect = recipe.section("train")["train"][stage]
    files = [f for p in inputs for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file()]
    write_manifest(
        out,
        {
            **stage_header(recipe, f"train.{stage}", sect, PACKAGES, files),
            "outputs": sorted(
                str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "checkpoint" not in str(p)
            ),
            "results": results,
            "wall_s": round(time.time() - started, 3),
        },
    )


def run_tokenizer(recipe: Recipe, run_dir: Path) -> dict[str, Any]:
    from training.tokenizer import iter_texts, train_tokenizer

    cfg, started = section(recipe, "tokenizer"), time.time()
    files = refs.data_files(recipe, run_dir, refs.tokenizer_data(recipe), "train.tokenizer.data")
    out = refs.stage_dir(run_dir, "tokenizer")
    tok = train_tokenizer(iter_texts(files, cfg.max_docs), cfg.vocab_size, cfg.min_frequency)
    tok.save_pretrained(out)
    results = {"vocab_size": len(tok), "special_tokens": tok.all_special_tokens}
    write_stage_manifest(recipe, "tokenizer", out, files, results, started)
    return results


def run_pretrain(
    recipe: Recipe, run_dir: Path, resume: bool = True, stop_at: int | None = None
) -> dict[str, Any]:
    from training.model import checkpoint_dir
    from training.pretrain import train

    cfg, started = section(recipe, "pretrain"), time.time()
    ckpt = checkpoint_dir(recipe, cfg)  # continue from a local checkpoint (with its tokenizer)
    tok_dir = ckpt or refs.stage_dir(run_dir, "tokenizer")
    if not (tok_dir / "tokenizer.json").exists() and ckpt is None:
        raise UserError(
            f"{recipe.path}: train.pretrain: no tokenizer at {tok_dir}; run `--stage tokenizer` first"
        )
    files = refs.data_files(recipe, run_dir, cfg.data, "train.pretrain.data")
    val = (
        refs.data_files(recipe, run_dir, cfg.validation, "train.pretrain.validation")
        if cfg.validation
        else []
    )
    out = refs.stage_dir(run_dir, "pretrain")
    config_hash = stable_hash([cfg.model_dump(mode="json"), recipe.seed, str(ckpt)])
    results = train(
        cfg,
        tok_dir,
        files,
        val,
        out,
        recipe.seed,
        config_hash,
        resume=resume,
        stop_at=stop_at,
        checkpoint_dir=ckpt,
    )
    if ckpt is not None:
        results["start_model"] = str(ckpt)
    if results["steps"] == cfg.steps:
        write_stage_manifest(recipe, "pretrain", out, [*files, *val, tok_dir], results, started)
    return results
