"""The tiny local model: loads in transformers with a working chat template; reused when unchanged."""

from __future__ import annotations

import pytest

from mixloom.tiny import default_texts, make_tiny_model


def test_tiny_model_loads_and_round_trips_text(tiny_model_dir):
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(tiny_model_dir)
    assert cfg.model_type == "llama"
    assert cfg.hidden_size // cfg.num_attention_heads >= 32
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Natalia sold 48/2 = 24 clips in May. ünïcode ✓\n#### 72"
    assert tok.decode(tok(text)["input_ids"]) == text
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], tokenize=False
    )
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n"


def test_tiny_model_is_reused_when_unchanged_and_rebuilt_when_changed(tmp_path):
    texts = default_texts()
    path = make_tiny_model(tmp_path / "m", texts, vocab_size=300)
    weights = path / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    make_tiny_model(tmp_path / "m", texts, vocab_size=300)
    assert weights.stat().st_mtime_ns == stamp
    make_tiny_model(tmp_path / "m", texts, vocab_size=300, seed=1)
    assert weights.stat().st_mtime_ns != stamp


def test_head_dim_below_32_is_refused(tmp_path):
    with pytest.raises(ValueError, match="head_dim"):
        make_tiny_model(tmp_path / "m", default_texts(), hidden=64, heads=4)
