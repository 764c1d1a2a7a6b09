"""Direct preference optimisation on preference pairs against a frozen copy of the start model (TRL `DPOTrainer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixloom.recipe import Recipe
from training import align, refs


def build(recipe: Recipe, run_dir: Path):
    io = align.prepare(recipe, run_dir, "dpo")
    from trl import DPOConfig, DPOTrainer

    rows = align.preference_rows(refs.read_rows(io.data_files), io.source)
    args = DPOConfig(**align.trainer_args(io, max_length=io.cfg.max_length, beta=io.cfg.beta))
    trainer = DPOTrainer(
        model=str(io.model_dir),
        args=args,
        train_dataset=align.dataset(rows),
        processing_class=align.tokenizer(io),
    )
    return trainer, io, {"pairs": len(rows), "beta": io.cfg.beta}


def run(recipe: Recipe, run_dir: Path) -> dict[str, Any]:
    return align.train_and_finish(*build(recipe, run_dir))
