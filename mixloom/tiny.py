"""Tiny local models for tests, benchmarks and the built-in examples.

Nothing may come from a model hub at run time, so every example that needs a model builds one here:
the one byte-level BPE tokenizer trainer (`mixloom.tokenizer`, with its chat template, so chat APIs
work) on the given texts and a small random LlamaForCausalLM. The sizes keep attention head_dim >= 32, which vLLM's
CPU attention backend requires, and the directory loads in vLLM, transformers and TRL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mixloom.manifest import stable_hash
from mixloom.tokenizer import BOS, EOS, IM_END, PAD, train_tokenizer

_DONE = "tiny.json"


def make_tiny_model(
    out_dir: str | Path,
    texts: Iterable[str],
    vocab_size: int = 512,
    seed: int = 0,
    hidden: int = 64,
    heads: int = 2,
    layers: int = 2,
    intermediate: int = 128,
    context: int = 4096,
    reuse: bool = True,
) -> Path:
    """Write a tiny random Llama + tokenizer as a Hugging Face directory and return its path.

    With `reuse`, a directory already made with the same arguments is returned as is (the
    arguments' hash is stored in `tiny.json`), so examples can call this on every run.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = list(texts)
    if hidden // heads < 32:
        raise ValueError(f"head_dim = hidden/heads = {hidden // heads}; vLLM needs >= 32")
    out = Path(out_dir)
    spec = {
        "vocab_size": vocab_size,
        "seed": seed,
        "hidden": hidden,
        "heads": heads,
        "layers": layers,
        "intermediate": intermediate,
        "context": context,
        "texts": stable_hash(texts),
        "tokenizer": "chatml-1",  # the shared trainer and chat template (mixloom.tokenizer)
    }
    marker = out / _DONE
    if reuse and marker.exists() and json.loads(marker.read_text()).get("spec") == spec:
        return out

    hf_tok = train_tokenizer([texts], vocab_size, min_frequency=1, model_max_length=context)

    torch.manual_seed(seed)
    ids = hf_tok.convert_tokens_to_ids
    config = LlamaConfig(
        vocab_size=len(hf_tok),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        max_position_embeddings=context,
        tie_word_embeddings=True,
        bos_token_id=ids(BOS),
        eos_token_id=[ids(EOS), ids(IM_END)],
        pad_token_id=ids(PAD),
        dtype="float32",
    )
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    hf_tok.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    marker.write_text(json.dumps({"spec": spec}, indent=2) + "\n")
    return out


def default_texts() -> list[str]:
    """A small built-in corpus (math and code flavoured) for when the caller has no texts."""
    base = [
        "Question: Tom has 3 apples and buys 4 more. How many apples does he have?\n"
        "Answer: 3 + 4 = 7. The answer is 7.\n#### 7",
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
        "The answer is \\boxed{42}. Let's think step by step.",
        "for i in range(10):\n    total += i * 2\nreturn total",
    ]
    return base * 8
