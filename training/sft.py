"""Supervised fine-tuning on chat `messages`, loss on assistant tokens only (TRL `SFTTrainer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.recipe import Recipe
from training import align, refs


def sft_rows(rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Conversations cleaned to role/content; each must contain an assistant turn to learn from."""
    refs.require_columns(rows, ["messages"], source)
    out = []
    for i, r in enumerate(rows):
        try:
            msgs = align.conversation(list(r["messages"] or []), "user")
        except ValueError as e:
            raise UserError(f"{source}: row {i}: messages: {e}") from None
        if not any(m["role"] == "assistant" for m in msgs):
            raise UserError(f"{source}: row {i}: no assistant message; SFT learns only from assistant turns")
        out.append({"messages": msgs})
    return out


def build(recipe: Recipe, run_dir: Path):
    io = align.prepare(recipe, run_dir, "sft")
    from trl import SFTConfig, SFTTrainer

    rows = sft_rows(refs.read_rows(io.data_files), io.source)
    train, held = align.holdout_split(rows, io.cfg.holdout, recipe.seed)
    args = SFTConfig(
        **align.trainer_args(io, max_length=io.cfg.max_length, assistant_only_loss=True, packing=False)
    )
    trainer = SFTTrainer(
        model=str(io.model_dir),
        args=args,
        train_dataset=align.dataset(train),
        processing_class=align.tokenizer(io),
    )
    return trainer, io, {"examples": len(train), "heldout": len(held)}


def run(recipe: Recipe, run_dir: Path) -> dict[str, Any]:
    return align.train_and_finish(*build(recipe, run_dir))
