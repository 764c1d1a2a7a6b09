"""transformers fallback engine: `model.generate`, one prompt at a time with its own seed.

Slower than vLLM (no continuous batching or paged KV cache) but runs wherever transformers does; one
prompt per call keeps results independent of batch composition.
"""

from __future__ import annotations

from collections.abc import Sequence

from reasoning.engines.base import (
    Completion,
    Generation,
    Prompt,
    Sampling,
    cut_at_stop,
    is_chat,
    repeat_greedy,
    sample_count,
)


class TransformersEngine:
    kind = "transformers"

    def __init__(self, model: str, seed: int = 0, dtype: str = "auto", device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = str(model)
        self.seed = seed
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tok = AutoTokenizer.from_pretrained(self.model)
        self.lm = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype).to(self.device).eval()

    def _encode(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return self.tok(prompt, add_special_tokens=True)["input_ids"]
        ids = self.tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

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
        import torch

        is_chat(prompts)
        spec = Sampling(sample_count(n, temperature), temperature, top_p, max_tokens, seed, list(stop or []))
        eos = self.lm.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        stops = {self.tok.eos_token_id, self.tok.pad_token_id, *eos_ids}
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else eos_ids[0]
        out = []
        for i, prompt in enumerate(prompts):
            ids = torch.tensor([self._encode(prompt)], device=self.device)
            s = spec.seed_for(i)
            torch.manual_seed(self.seed if s is None else s)
            sample = temperature > 0
            with torch.no_grad():
                gen = self.lm.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    do_sample=sample,
                    num_return_sequences=spec.n,
                    temperature=temperature if sample else None,
                    top_p=top_p if sample else None,
                    top_k=0,
                    max_new_tokens=max_tokens,
                    pad_token_id=pad,
                    stop_strings=spec.stop or None,
                    tokenizer=self.tok if spec.stop else None,
                )
            comps = []
            for row in gen[:, ids.shape[1] :].tolist():
                end = next((j for j, t in enumerate(row) if t in stops), len(row))
                text, stopped = cut_at_stop(self.tok.decode(row[:end], skip_special_tokens=True), spec.stop)
                reason = "stop" if stopped or end < len(row) or len(row) < max_tokens else "length"
                comps.append(Completion(text, end, reason))
            out.append(Generation(comps, prompt_tokens=ids.shape[1]))
        return repeat_greedy(out, n)

    def close(self) -> None:
        self.lm = None  # type: ignore[assignment]
