"""The model: a Llama-architecture decoder configured from the recipe's `train.pretrain.model`.

Plain `LlamaForCausalLM`, so the saved directory loads in transformers, TRL and vLLM without custom code.
"""

from __future__ import annotations

import json
from pathlib import Path

from mixloom.sections.train import ModelSection


def ffn_width(m: ModelSection) -> int:
    """SwiGLU MLP width: 8/3 * width rounded up to a multiple of 64 (keeps the parameter count of a 4x MLP)."""
    if m.ffn:
        return m.ffn
    return -(-(8 * m.width // 3) // 64) * 64


def llama_config(m: ModelSection, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=m.width,
        intermediate_size=ffn_width(m),
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        num_key_value_heads=m.kv_heads or m.heads,
        head_dim=m.width // m.heads,
        max_position_embeddings=m.context,
        rope_parameters={"rope_type": "default", "rope_theta": m.rope_theta},
        tie_word_embeddings=m.tie_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attention_dropout=0.0,
        initializer_range=0.02,
        use_cache=False,
    )


def build_model(m: ModelSection, tokenizer, seed: int):
    """A freshly initialised model; the seed fixes the initial weights."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(m, tokenizer))
    model.config.use_cache = True  # saved config: generation should use the KV cache
    return model


def param_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def checkpoint_dir(recipe, cfg) -> Path | None:
    """The checkpoint directory `train.pretrain.model` names, or None for a new model (raises if unusable)."""
    from mixloom.errors import RecipeError

    if not isinstance(cfg.model, str):
        return None
    d = recipe.resolve(cfg.model)
    if not (d / "config.json").is_file():
        raise RecipeError(
            str(recipe.path),
            "train.pretrain.model",
            f"no Hugging Face checkpoint at {d} (no config.json)",
            "give a local model directory (save_pretrained output), or a model shape {layers, heads, width, context}",
        )
    if not (d / "tokenizer.json").is_file() and not (d / "tokenizer_config.json").is_file():
        raise RecipeError(
            str(recipe.path),
            "train.pretrain.model",
            f"{d} has no tokenizer",
            "save the tokenizer beside the model",
        )
    return d


def context_length(cfg, ckpt: Path | None) -> int:
    """Sequence length of pretraining: the model shape's, or `context` / the checkpoint's (at most 2048)."""
    if ckpt is None:
        return cfg.model.context
    if cfg.context:
        return cfg.context
    config = json.loads((ckpt / "config.json").read_text())
    return min(int(config.get("max_position_embeddings") or 2048), 2048)


def load_checkpoint(ckpt: Path):
    """Continue pretraining from a local checkpoint, in float32 (CPU-safe; autocast handles bf16 on GPU)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    model.config.use_cache = True
    return model
