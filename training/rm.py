"""Reward model on preference pairs: a scalar head on the chat model (TRL `RewardTrainer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixloom.recipe import Recipe
from training import align, refs


def build(recipe: Recipe, run_dir: Path):
    io = align.prepare(recipe, run_dir, "rm")
    from trl import RewardConfig, RewardTrainer

    rows = align.preference_rows(refs.read_rows(io.data_files), io.source)
    args = RewardConfig(**align.trainer_args(io, max_length=io.cfg.max_length))
    trainer = RewardTrainer(
        model=str(io.model_dir),
        args=args,
        train_dataset=align.dataset(rows),
        processing_class=align.tokenizer(io),
    )
    return trainer, io, {"pairs": len(rows)}


def run(recipe: Recipe, run_dir: Path) -> dict[str, Any]:
    return align.train_and_finish(*build(recipe, run_dir))
