"""The model: a Llama-architecture decoder configured from the recipe's `train.pretrain.model`.

Plain `LlamaForCausalLM`, so the saved directory loads in transformers, TRL and vLLM without custom code.
"""

from __future__ import annotations

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
