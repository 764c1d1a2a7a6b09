"""The one small interface every engine implements, and helpers they share."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

Chat = list[dict[str, str]]
Prompt = str | Chat


@dataclass
class Completion:
    text: str
    tokens: int
    finish_reason: str | None = None


@dataclass
class Generation:
    """The `n` completions of one prompt."""

    completions: list[Completion]
    prompt_tokens: int = 0


@dataclass
class Sampling:
    """Sampling parameters of one job; `seed` is one int or one per prompt (so results do not depend on
    how prompts are batched)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | Sequence[int] | None = None
    stop: list[str] = field(default_factory=list)

    def seed_for(self, i: int) -> int | None:
        if self.seed is None or isinstance(self.seed, int):
            return self.seed
        return int(self.seed[i])


class Engine(Protocol):
    kind: str
    model: str

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | Sequence[int] | None = None,
        stop: Sequence[str] | None = None,
    ) -> list[Generation]: ...

    def close(self) -> None: ...


def sample_count(n: int, temperature: float) -> int:
    """Samples to draw: greedy decoding gives n identical answers, and vLLM, transformers and servers
    refuse n > 1 with temperature 0, so draw one and repeat it (see `repeat_greedy`)."""
    return 1 if temperature == 0 else n


def repeat_greedy(gens: list[Generation], n: int) -> list[Generation]:
    for g in gens:
        if len(g.completions) < n:
            g.completions = [g.completions[0]] * n if g.completions else []
    return gens


def is_chat(prompts: Sequence[Prompt]) -> bool:
    """True for a batch of chats, False for plain strings; mixed batches are a bug in the caller."""
    kinds = {isinstance(p, str) for p in prompts}
    if len(kinds) > 1:
        raise ValueError("a batch must be all plain prompts or all chats")
    return kinds == {False}


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text up to the first stop string (engines that return it, or stop late, agree with vLLM this way)."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def cpu_defaults() -> None:
    """Settings that make vLLM's CPU backend start fast and in-process; a GPU run keeps vLLM's own."""
    if has_gpu():
        return
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
