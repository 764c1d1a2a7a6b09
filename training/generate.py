"""Text generation for evaluation with transformers `generate` (greedy for answers, sampled for pass@k).

Small models on a CPU are the common case here; for large runs, serve the saved model directory with
vLLM instead (it is a plain Llama checkpoint) and score the outputs by giving `prediction` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LM:
    model: Any
    tok: Any
    device: str
    context: int

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> LM:
        import torch
        from transformers import AutoModelForCausalLM

        from training.dist import pick_device
        from training.tokenizer import load_tokenizer

        dev = pick_device(device)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).to(dev).eval()
        tok = load_tokenizer(path)
        tok.padding_side = "left"
        return cls(model, tok, dev, int(getattr(model.config, "max_position_embeddings", 2048)))

    def stop_ids(self) -> list[int]:
        ids = [self.tok.eos_token_id]
        im_end = self.tok.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tok.unk_token_id:
            ids.append(im_end)
        return [i for i in ids if i is not None]

    def _generate(self, texts: list[str], max_new_tokens: int, **kw: Any) -> list[str]:
        import torch

        budget = max(1, self.context - max_new_tokens)
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        ids, mask = enc["input_ids"][:, -budget:], enc["attention_mask"][:, -budget:]
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max_new_tokens,
                eos_token_id=self.stop_ids(),
                pad_token_id=self.tok.pad_token_id,
                **kw,
            )
        return self.tok.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)


def chat(lm: LM, conversations: list[list[dict]], max_new_tokens: int, batch: int = 16) -> list[str]:
    """Greedy assistant replies to each conversation (rendered with the model's chat template)."""
    texts = [lm.tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    out: list[str] = []
    for i in range(0, len(texts), batch):
        out.extend(lm._generate(texts[i : i + batch], max_new_tokens, do_sample=False))
    return [o.strip() for o in out]


def sample(lm: LM, prompt: str, n: int, max_new_tokens: int, temperature: float, seed: int) -> list[str]:
    """n sampled continuations of a plain-text prompt (code completion style, as in HumanEval)."""
    import torch

    torch.manual_seed(seed)
    return lm._generate([prompt] * n, max_new_tokens, do_sample=True, temperature=temperature, top_p=0.95)
