"""Process-group setup for multi-process training (`torchrun` / `accelerate launch`), a no-op for one process.

The launchers set RANK / WORLD_SIZE / LOCAL_RANK; NCCL is used on GPUs and gloo on CPUs, so the
multi-process path can be exercised on a laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(pref: str) -> str:
    import torch

    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if pref == "cuda" and not torch.cuda.is_available():
        from mixloom.errors import UserError

        raise UserError("device: cuda was asked for but no CUDA device is visible; use device: auto or cpu")
    return pref


def setup(pref: str = "auto") -> Dist:
    import torch
    import torch.distributed as dist

    device = pick_device(pref)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(device=device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(rank, world, local, device)


def all_reduce_sum(t):
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def gather(obj: Any, d: Dist) -> list[Any]:
    """Every process's object, in rank order (on every process)."""
    if d.world == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def teardown(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
