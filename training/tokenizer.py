"""Byte-level BPE tokenizer trained on the curated train split, saved as a `PreTrainedTokenizerFast` directory.

The chat template is ChatML-like and wraps each assistant turn, end-of-turn token included, in
`{% generation %}` markers, so `apply_chat_template(..., return_assistant_tokens_mask=True)` marks exactly the
tokens SFT should learn (and the model learns to stop).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

BOS, EOS, PAD = "<|bos|>", "<|endoftext|>", "<|pad|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [EOS, BOS, PAD, IM_START, IM_END]

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] }}{{ '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)


def iter_texts(files: list[Path], max_docs: int | None = None, batch_rows: int = 1024) -> Iterator[list[str]]:
    """Batches of `text` values streamed from Parquet shards (never the whole corpus in memory)."""
    seen = 0
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=["text"]):
            texts = [t for t in batch.column(0).to_pylist() if t]
            if max_docs is not None:
                texts = texts[: max_docs - seen]
            seen += len(texts)
            yield texts
            if max_docs is not None and seen >= max_docs:
                return


def train_tokenizer(batches: Iterator[list[str]], vocab_size: int, min_frequency: int = 2):
    """Train byte-level BPE and wrap it as a transformers fast tokenizer with specials and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(batches, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END],
        chat_template=CHAT_TEMPLATE,
        model_max_length=1 << 30,
        clean_up_tokenization_spaces=False,
    )


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
