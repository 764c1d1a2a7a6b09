"""Engine for any OpenAI-compatible server (a vLLM server, a hosted endpoint).

Requests run concurrently on a thread pool; each retries with exponential backoff on connection errors,
timeouts, 429 and 5xx. Per-completion token counts come from the returned logprobs when the server
sends them, else from an even split of `usage.completion_tokens`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reasoning.engines.base import (
    Completion,
    Generation,
    Prompt,
    Sampling,
    is_chat,
    repeat_greedy,
    sample_count,
)


class OpenAIEngine:
    kind = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str | None = None,
        concurrency: int = 8,
        retries: int = 4,
        backoff: float = 0.5,
        request_timeout: float = 120.0,
    ):
        import openai

        self.model = str(model)
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.client = openai.OpenAI(
            base_url=base_url, api_key=key or "EMPTY", max_retries=0, timeout=request_timeout
        )
        self.concurrency, self.retries, self.backoff = concurrency, retries, backoff
        self._retryable = (
            openai.APIConnectionError,
            openai.APITimeoutError,
            openai.RateLimitError,
            openai.InternalServerError,
        )

    def _call(self, fn, **kwargs: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return fn(**kwargs)
            except self._retryable:
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _one(self, prompt: Prompt, spec: Sampling, seed: int | None) -> Generation:
        common: dict[str, Any] = {
            "model": self.model,
            "n": spec.n,
            "temperature": spec.temperature,
            "top_p": spec.top_p,
            "max_tokens": spec.max_tokens,
            "seed": seed,
        }
        if spec.stop:
            common["stop"] = spec.stop
        if isinstance(prompt, str):
            r = self._call(self.client.completions.create, prompt=prompt, logprobs=0, **common)
            texts = [(c.text, c.finish_reason, _count(c.logprobs, "tokens")) for c in r.choices]
        else:
            r = self._call(self.client.chat.completions.create, messages=prompt, logprobs=True, **common)
            texts = [
                (c.message.content or "", c.finish_reason, _count(c.logprobs, "content")) for c in r.choices
            ]
        usage = getattr(r, "usage", None)
        even = (usage.completion_tokens // max(1, len(texts))) if usage else 0
        comps = [Completion(t, k if k is not None else even, f) for t, f, k in texts]
        return Generation(comps, prompt_tokens=usage.prompt_tokens if usage else 0)

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
        is_chat(prompts)
        spec = Sampling(sample_count(n, temperature), temperature, top_p, max_tokens, seed, list(stop or []))
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            futs = [pool.submit(self._one, p, spec, spec.seed_for(i)) for i, p in enumerate(prompts)]
            return repeat_greedy([f.result() for f in futs], n)

    def close(self) -> None:
        self.client.close()


def _count(logprobs: Any, attr: str) -> int | None:
    items = getattr(logprobs, attr, None) if logprobs is not None else None
    return len(items) if items is not None else None
