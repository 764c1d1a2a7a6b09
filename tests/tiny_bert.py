"""A BERT small enough to build (and train for a moment) inside a test: a word vocabulary, one layer, width 32.

No model can be downloaded here, so tests that need a transformers classifier make one from their own texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def word_tokenizer(d: Path, words: Iterable[str], fast: bool = True):
    """A BERT tokenizer whose vocabulary is `words` (plus BERT's special tokens), saved in `d`; `fast=False`
    for the Python `BertTokenizer` (detoxify's checkpoints name that class, and a model trained with one
    tokenizes its inputs the same way)."""
    import transformers

    (d / "vocab.txt").write_text("\n".join([*SPECIAL, *words]) + "\n")
    cls = transformers.BertTokenizerFast if fast else transformers.BertTokenizer
    tok = cls.from_pretrained(d)  # reads vocab.txt
    tok.save_pretrained(d)
    assert len(tok) == len(SPECIAL) + len(set(words)), "the vocabulary was not read"
    return tok


def tiny_config(tok, **overrides: Any):
    """One layer, two heads, width 32 (any of it overridden), for `tok`'s vocabulary."""
    import transformers

    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    return transformers.BertConfig(vocab_size=len(tok), **{**sizes, **overrides})
