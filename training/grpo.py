"""GRPO with verifiable rewards: the generator's math checker and code sandbox score sampled completions
(TRL `GRPOTrainer`, generation through transformers here; TRL's vLLM path can be switched on for GPUs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.recipe import Recipe
from training import align, refs, rewards

_NEEDS = {"math": ["answer"], "code": ["test", "entry_point"]}


def grpo_rows(rows: list[dict[str, Any]], kinds: list[str], source: str) -> list[dict[str, Any]]:
    """Conversational prompts plus the columns the reward functions read (`answer`, `test`, `entry_point`)."""
    if rows and "prompt" not in rows[0] and "question" in rows[0]:
        rows = [{**r, "prompt": r["question"]} for r in rows]
    needed = ["prompt"] + [c for k in kinds for c in _NEEDS[k]]
    refs.require_columns(rows, needed, source)
    out = []
    for i, r in enumerate(rows):
        try:
            out.append({"prompt": align.conversation(r["prompt"], "user"), **{c: r[c] for c in needed[1:]}})
        except ValueError as e:
            raise UserError(f"{source}: row {i}: prompt: {e}") from None
    return out


def build(recipe: Recipe, run_dir: Path, reward_funcs: list | None = None):
    """`reward_funcs` replaces the recipe's verifiers (any TRL reward function)."""
    io = align.prepare(recipe, run_dir, "grpo")
    from trl import GRPOConfig, GRPOTrainer

    cfg = io.cfg
    rows = grpo_rows(refs.read_rows(io.data_files), cfg.rewards, io.source)
    funcs = reward_funcs or [rewards.make(k, timeout=cfg.sandbox_timeout) for k in cfg.rewards]
    extra = {
        "num_generations": cfg.num_generations,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "beta": cfg.beta,
        "use_vllm": False,
        "log_completions": False,
        "generation_batch_size": max(cfg.num_generations, cfg.batch_size * cfg.grad_accum),
    }
    trainer = GRPOTrainer(
        model=str(io.model_dir),
        reward_funcs=funcs,
        args=GRPOConfig(**align.trainer_args(io, **extra)),
        train_dataset=align.dataset(rows),
        processing_class=align.tokenizer(io),
    )
    return trainer, io, {"prompts": len(rows), "rewards": [getattr(f, "__name__", str(f)) for f in funcs]}


def run(recipe: Recipe, run_dir: Path, reward_funcs: list | None = None) -> dict[str, Any]:
    return align.train_and_finish(*build(recipe, run_dir, reward_funcs))
