"""Checkpoints that resume exactly: weights, optimizer, LR schedule, every process's RNG and data position.

A resumed run produces the same losses as an uninterrupted one because nothing that influences the next
step lives outside the checkpoint. Files are written to a temp name and renamed, so a crash mid-save
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from mixloom.errors import UserError
from mixloom.manifest import atomic_path


def rng_state() -> dict[str, Any]:
    import torch

    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict[str, Any]) -> None:
    import torch

    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def checkpoints(ckpt_dir: Path) -> list[Path]:
    return sorted(ckpt_dir.glob("step-*.pt"))


def save(ckpt_dir: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    import torch

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / f"step-{step:07d}.pt"
    with atomic_path(path) as tmp:
        torch.save({"step": step, **payload}, tmp)
    for old in checkpoints(ckpt_dir)[:-keep]:
        old.unlink()
    return path


def load_latest(ckpt_dir: Path, config_hash: str, world: int) -> dict[str, Any] | None:
    """The newest checkpoint, if any; refuses one written for a different recipe section or process count."""
    import torch

    found = checkpoints(ckpt_dir)
    if not found:
        return None
    ck = torch.load(found[-1], map_location="cpu", weights_only=False)
    if ck["config_hash"] != config_hash:
        raise UserError(
            f"{found[-1]}: checkpoint was written for a different train.pretrain section; "
            "delete the checkpoints, pass --no-resume, or use another --out directory"
        )
    if ck["world"] != world:
        raise UserError(
            f"{found[-1]}: checkpoint was written by {ck['world']} process(es), this run has {world}; "
            f"resume with the same number of processes"
        )
    return ck
