"""What the TRL stages (sft, rm, dpo, grpo) share: locating data and model, common trainer arguments,
conversational data shaping, and saving the result with its log, plot and manifest.

Each stage module (`sft.py`, `rm.py`, `dpo.py`, `grpo.py`) is then one small function: read rows, build
its TRL config and trainer, train, `finish`. Learn the pattern once, read the others at a glance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.manifest import stable_hash
from mixloom.recipe import Recipe
from training import refs
from training.dist import pick_device
from training.logs import JsonlLog, plot_loss, quiet_libraries
from training.stages import section, write_stage_manifest
from training.threads import ThreadTuner


@dataclass
class StageIO:
    recipe: Recipe
    stage: str
    cfg: Any
    out: Path
    data_files: list[Path]
    model_dir: Path
    device: str
    started: float = field(default_factory=time.time)
    threads: int = 0

    @property
    def source(self) -> str:
        return f"{self.recipe.path}: train.{self.stage}.data ({self.data_files[0].parent})"


def prepare(recipe: Recipe, run_dir: Path, stage: str) -> StageIO:
    """Locate the stage's data and start model; call it before importing trl (it quiets library noise)."""
    cfg = section(recipe, stage)
    quiet_libraries()
    files = refs.data_files(recipe, run_dir, cfg.data, f"train.{stage}.data")
    model = refs.model_dir(
        recipe, run_dir, _default_model(recipe, run_dir, cfg.model), f"train.{stage}.model"
    )
    device = pick_device(cfg.device)
    tuner = ThreadTuner(device)  # TRL's CPU steps suffer from spinning threads on a busy machine too
    return StageIO(
        recipe, stage, cfg, refs.stage_dir(run_dir, stage), files, model, device, threads=tuner.threads
    )


def _default_model(recipe: Recipe, run_dir: Path, ref: str) -> str:
    """`train.sft` falls back to the pretrained model when the recipe has no SFT stage."""
    if ref == "train.sft" and not (recipe.train and recipe.train.sft):
        return "train.pretrain"
    return ref


def trainer_args(io: StageIO, **extra: Any) -> dict[str, Any]:
    """Arguments every TRL config takes here: offline, no checkpoints mid-run, seeded, CPU-safe."""
    cfg, cpu = io.cfg, io.device == "cpu"
    args = {
        "output_dir": str(io.out / "trainer"),
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps or -1,
        "learning_rate": cfg.lr,
        "lr_scheduler_type": "cosine",
        "warmup_steps": cfg.warmup,
        "per_device_train_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "seed": io.recipe.seed,
        "data_seed": io.recipe.seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": report_to(cfg.report_to),
        "use_cpu": cpu,
        "bf16": not cpu,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,  # training.live.StepProgress shows the progress
        "model_init_kwargs": {"dtype": "float32"},
    }
    args.update(extra)
    return args


def report_to(names: list[str]) -> list[str] | str:
    """`report_to: [wandb]` etc.: each tracker must be installed (a missing one fails before training)."""
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        raise UserError(
            f"report_to: {', '.join(missing)} is not installed; `pip install {' '.join(missing)}` or remove it"
        )
    return names or "none"


def tokenizer(io: StageIO):
    from training.tokenizer import load_tokenizer

    tok = load_tokenizer(io.model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def conversation(x: Any, role: str) -> list[dict[str, str]]:
    """A message list: strings become one message of `role`; message lists are cleaned to role/content."""
    if isinstance(x, str):
        return [{"role": role, "content": x}]
    if isinstance(x, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in x):
        return [{"role": str(m["role"]), "content": str(m["content"] or "")} for m in x]
    raise ValueError(f"expected a string or a list of {{role, content}} messages, got {type(x).__name__}")


def preference_rows(rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Preference pairs in TRL's conversational explicit-prompt form (what the chat template expects)."""
    refs.require_columns(rows, ["prompt", "chosen", "rejected"], source)
    out = []
    for i, r in enumerate(rows):
        try:
            out.append(
                {
                    "prompt": conversation(r["prompt"], "user"),
                    "chosen": conversation(r["chosen"], "assistant"),
                    "rejected": conversation(r["rejected"], "assistant"),
                }
            )
        except ValueError as e:
            raise UserError(f"{source}: row {i}: {e}") from None
    return out


def holdout_split(rows: list[dict[str, Any]], fraction: float, seed: int, key: str = "messages"):
    """Deterministic train/held-out split by content hash, so `mixloom eval` finds the same held-out rows."""
    if fraction <= 0:
        return rows, []
    cut = int(fraction * 10_000)
    held = [int(stable_hash([seed, r[key]]), 16) % 10_000 < cut for r in rows]
    train = [r for r, h in zip(rows, held, strict=True) if not h]
    if not train:
        raise UserError(f"train.*.holdout {fraction} leaves no training rows out of {len(rows)}; lower it")
    return train, [r for r, h in zip(rows, held, strict=True) if h]


def dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    return Dataset.from_list(rows)


def train_and_finish(trainer, io: StageIO, results: dict[str, Any]) -> dict[str, Any]:
    if trainer.train_dataset is not None and len(trainer.train_dataset) == 0:
        raise UserError(
            f"{io.source}: no example is left to train on (examples longer than max_length "
            f"{io.cfg.max_length} are dropped); raise train.{io.stage}.max_length"
        )
    from training.live import attach

    attach(trainer, io.stage)
    trainer.train()
    return finish(trainer, io, results)


def finish(trainer, io: StageIO, results: dict[str, Any]) -> dict[str, Any]:
    """Save model + tokenizer, the trainer's log history as JSONL, a loss plot and the stage manifest."""
    model_dir = io.out / "model"
    trainer.save_model(str(model_dir))  # main process only, as the Trainer does
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(str(model_dir))
    history = trainer.state.log_history
    log = JsonlLog(io.out / "log.jsonl", enabled=trainer.is_world_process_zero())
    for rec in history:
        log.write({"step": rec.get("step", trainer.state.global_step), **rec})
    steps = [r for r in history if "loss" in r]
    if trainer.is_world_process_zero() and steps:
        plot_loss(steps, io.out / "loss.png", title=f"{io.stage} ({io.model_dir.name})")
    summary = next((r for r in reversed(history) if "train_runtime" in r), {})
    rewards = [r["reward"] for r in history if "reward" in r]  # GRPO: mean reward per step
    if rewards:
        results = {**results, "mean_reward_first": rewards[0], "mean_reward_last": rewards[-1]}
    results = {
        "steps": trainer.state.global_step,
        "first_loss": steps[0]["loss"] if steps else None,
        "last_loss": steps[-1]["loss"] if steps else None,
        "train_runtime_s": summary.get("train_runtime"),
        "start_model": str(io.model_dir),
        "threads": io.threads or None,
        **results,
    }
    write_stage_manifest(io.recipe, io.stage, io.out, [*io.data_files, io.model_dir], results, io.started)
    return results
