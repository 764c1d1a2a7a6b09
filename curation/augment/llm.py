"""LLM augmentation: `paraphrase` and `back_translate` through an OpenAI-compatible server, with a
meaning-preservation filter.

Why a server and not the generator's engines: curation never imports `reasoning` (the stage packages meet only
through files and protocols), and the OpenAI HTTP API is such a protocol. The same server the generator can use
(`python -m vllm.entrypoints.openai.api_server --model DIR`, or any hosted endpoint) serves both; requests carry
a seed derived from the recipe's seed and the document id, so a vLLM server returns the same text again.

The filter: a copy is kept only if its similarity to the original (cosine of character 3-gram counts, which
needs no model and tolerates inflection and reordering) lies in [min_similarity, max_similarity] (too low: the
meaning drifted; too high: a near copy that adds nothing), and, with `keep_numbers`, every number of the
original appears in it. Copies that fail are rejected with step `augment:<method>` and the reason.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import xxhash

from curation.augment.section import LLMMethod
from mixloom.errors import UserError

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def similarity(a: str, b: str) -> float:
    """Cosine similarity of the two texts' character 3-gram counts (lowercased, whitespace collapsed)."""

    def grams(s: str) -> Counter[str]:
        s = " ".join(s.lower().split())
        return Counter(s[i : i + 3] for i in range(max(len(s) - 2, 1)))

    x, y = grams(a), grams(b)
    dot = sum(v * y[k] for k, v in x.items())
    norm = math.sqrt(sum(v * v for v in x.values())) * math.sqrt(sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0


def check_meaning(original: str, new: str, m: LLMMethod) -> tuple[float, str | None]:
    """(similarity, reason to reject or None)."""
    if not new.strip():
        return 0.0, "empty output"
    sim = similarity(original, new)
    if sim < m.min_similarity:
        return sim, f"meaning: similarity {sim:.2f} < {m.min_similarity:g}"
    if sim > m.max_similarity:
        return sim, f"near copy: similarity {sim:.2f} > {m.max_similarity:g}"
    if m.keep_numbers:
        missing = sorted(set(_NUMBER.findall(original)) - set(_NUMBER.findall(new)))
        if missing:
            return sim, f"numbers lost: {', '.join(missing[:3])}"
    return sim, None


class Client:
    """A thin OpenAI-compatible chat client: retries come from the `openai` package itself."""

    def __init__(self, m: LLMMethod):
        import openai

        e = m.engine
        key = os.environ.get(e.api_key_env, "") if e.api_key_env else ""
        self.m = m
        self.client = openai.OpenAI(
            base_url=e.base_url, api_key=key or "EMPTY", max_retries=e.retries, timeout=e.request_timeout
        )

    def ask(self, prompt: str, seed: int) -> str:
        import openai

        e = self.m.engine
        try:
            r = self.client.chat.completions.create(
                model=e.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=e.temperature,
                max_tokens=e.max_tokens,
                seed=seed,
            )
        except (openai.APIConnectionError, openai.NotFoundError, openai.AuthenticationError) as err:
            raise UserError(
                f"augment: the server at {e.base_url} (model {e.model!r}) failed: {type(err).__name__}: "
                f"{str(err)[:200]}; start it (e.g. `python -m vllm.entrypoints.openai.api_server --model DIR`) "
                "or fix augment.<method>.engine"
            ) from None
        return (r.choices[0].message.content or "").strip()


def _seed(seed: int, *parts: object) -> int:
    return xxhash.xxh3_64_intdigest(":".join(map(str, (seed, *parts))).encode()) % (2**31 - 1)


def rewrite(client: Client, name: str, text: str, seed: int, doc_id: str, copy: int) -> str:
    """One paraphrase, or one round trip through the pivot language."""
    m = client.m
    s = _seed(seed, doc_id, name, copy)
    if name == "paraphrase":
        return client.ask(m.prompt.format(text=text), s)
    there = client.ask(m.prompt.format(text=text, language=m.pivot), s)  # type: ignore[union-attr]
    return client.ask(m.prompt.format(text=there, language="English"), s + 1)


def llm_copies(
    rows: list[dict[str, Any]], name: str, m: LLMMethod, seed: int
) -> list[tuple[dict, str, float, str | None, int]]:
    """For each (row, copy): (row, new text, similarity, reject reason or None, copy), in input order."""
    client = Client(m)
    jobs = [(r, k) for r in rows for k in range(m.copies)]
    with ThreadPoolExecutor(max_workers=m.engine.concurrency) as pool:
        texts = list(pool.map(lambda j: rewrite(client, name, j[0]["text"], seed, j[0]["id"], j[1]), jobs))
    out = []
    for (r, k), new in zip(jobs, texts, strict=True):
        sim, reason = check_meaning(r["text"], new, m)
        out.append((r, new, sim, reason, k))
    return out
