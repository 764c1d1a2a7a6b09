"""The tokenizer stage: the core's byte-level BPE trainer (`mixloom.tokenizer`) on the curated train split,
saved as a `PreTrainedTokenizerFast` directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from mixloom.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS, train_tokenizer

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "iter_texts", "load_tokenizer", "train_tokenizer"]


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


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
