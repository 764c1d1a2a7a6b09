"""Rule-based augmentation: `word_replace` (WordNet synonyms) and `sentence_shuffle`.

Both are pure functions of (text, seed, document id, copy number), so results never depend on sharding or
worker count. `word_replace` touches only plain lowercase words that are in the synonym table: capitalised
words (names, tickers, sentence starts), anything with a digit, `$`, `@`, `#`, `_` or a dot inside, URLs, and
everything inside backticks or fenced code blocks stays as it is.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

import xxhash

SYNONYMS = Path(__file__).with_name("synonyms.tsv.gz")
# code spans, fenced blocks and URLs are copied through untouched
_PROTECTED = re.compile(r"```.*?```|`[^`\n]*`|https?://\S+|www\.\S+", re.S)
# a plain lowercase word: not glued to digits, identifiers, handles, paths or dotted names
_WORD = re.compile(r"(?<![\w$@#/\\.'-])[a-z]+(?![\w/\\'-]|\.\w|\()")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@cache
def synonyms() -> dict[str, tuple[str, ...]]:
    with gzip.open(SYNONYMS, "rt", encoding="utf-8") as f:
        return {w: tuple(s.split(",")) for w, s in (line.rstrip("\n").split("\t") for line in f)}


def _u(seed: int, *parts: object) -> int:
    return xxhash.xxh3_64_intdigest(":".join(map(str, (seed, *parts))).encode())


def word_replace(text: str, seed: int, doc_id: str, copy: int, rate: float) -> tuple[str, int]:
    """Replace about `rate` of the replaceable words by a synonym; returns (new text, words replaced)."""
    table = synonyms()
    out: list[str] = []
    changed = 0
    pos = 0

    def sub(chunk: str, base: int) -> str:
        nonlocal changed

        def one(m: re.Match[str]) -> str:
            nonlocal changed
            word = m.group(0)
            options = table.get(word)
            if not options or _u(seed, doc_id, copy, base + m.start()) % 10_000 >= rate * 10_000:
                return word
            changed += 1
            return options[_u(seed, doc_id, copy, base + m.start(), "pick") % len(options)]

        return _WORD.sub(one, chunk)

    for m in _PROTECTED.finditer(text):
        out.append(sub(text[pos : m.start()], pos))
        out.append(m.group(0))
        pos = m.end()
    out.append(sub(text[pos:], pos))
    return "".join(out), changed


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


def sentence_shuffle(text: str, seed: int, doc_id: str, copy: int, min_sentences: int) -> str | None:
    """The sentences in a seeded new order, or None when there are too few or code is present (order
    matters there) or the order comes out unchanged."""
    if "```" in text or "\n    " in text:
        return None
    sents = split_sentences(text)
    if len(sents) < min_sentences:
        return None
    order = sorted(range(len(sents)), key=lambda i: _u(seed, doc_id, copy, "shuffle", i))
    if order == list(range(len(sents))):
        order = order[1:] + order[:1]
    return " ".join(sents[i] for i in order)
