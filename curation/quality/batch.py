"""A batch of texts and the statistics the rule sets ask of it, each computed once.

Token statistics are computed group by group (a few MB of text at a time) so the temporary arrays stay small
and n-gram positions fit the packed sort keys of `tokens.py`.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np
import polars as pl

from curation.quality import lines as L
from curation.quality import tokens as T

_WS_CHUNK = re.compile(r"(\s*)(\S+)")
GROUP_CHARS = 4_000_000  # characters per token pass: bounds the temporary arrays


class TextBatch:
    """The texts of one batch; statistics are computed on first use, for the documents asked about."""

    def __init__(self, text: pl.Series, vocab: T.Vocab) -> None:
        self.text = text.fill_null("")
        self.vocab = vocab
        self.n = len(text)
        self.line_sentences: np.ndarray | None = None
        self._groups: list[tuple[int, int, T.TokenArrays]] = []
        self._counts: dict[tuple[str, ...], dict[str, np.ndarray]] = {}

    @cached_property
    def n_chars(self) -> np.ndarray:
        return self.text.str.len_chars().to_numpy().astype(np.int64)

    @cached_property
    def lines(self) -> L.LineTable:
        return L.LineTable(self.text)

    def count(self, literal: str) -> np.ndarray:
        return self.text.str.count_matches(literal, literal=True).to_numpy().astype(np.int64)

    def tokenize(self, sentences: bool) -> None:
        """Tokenize every document once, group by group; with `sentences`, also count the sentences of every
        splitlines() line (C4), which needs each token's line only during this pass."""
        if self._groups or not self.n:
            return
        self.vocab.maybe_reset()
        line_doc = self.lines.line_doc
        line_chunks = self.lines.splitlines["chunks"].to_numpy().astype(np.int64)
        texts = self.text.to_list()
        counts = []
        for d0, d1 in self._bounds():
            l0, l1 = (int(x) for x in np.searchsorted(line_doc, [d0, d1]))
            tok = T.tokenize_group(self.vocab, texts[d0:d1], line_chunks[l0:l1], line_doc[l0:l1] - d0, l0)
            if sentences:
                counts.append(T.sentences_per_line(tok, self.vocab.arrays(), l1 - l0, l0))
            tok.line = None  # only the sentence count needs it
            self._groups.append((d0, d1, tok))
        if sentences:
            self.line_sentences = np.concatenate(counts) if counts else np.zeros(0, np.int64)

    def word_counts(self, stop_words: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Words, symbol-free words and their characters, words with a letter, distinct stop words: per doc.
        (Cheap next to tokenizing, so always for every document.)"""
        if stop_words in self._counts:
            return self._counts[stop_words]
        if not stop_words and self._counts:  # any cached pass has the word counts
            return next(iter(self._counts.values()))
        v = self.vocab.arrays()
        stop_ids = np.array([self.vocab.ids[w] for w in stop_words if w in self.vocab.ids], np.int32)
        parts = [T.doc_counts(tok, v, stop_ids) for _, _, tok in self._groups]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
        self._counts[stop_words] = out
        return out

    def ngrams(self, top_ns: list[int], dup_ns: list[int], active: np.ndarray) -> dict[str, np.ndarray]:
        """Gopher repetition n-gram character counts of the `active` documents (0 for the others)."""
        v = self.vocab.arrays()
        keys = [f"top_{n}" for n in top_ns] + [f"dup_{n}" for n in dup_ns]
        out = {k: np.zeros(self.n, dtype=np.int64) for k in keys}
        for d0, d1, tok in self._groups:
            act = active[d0:d1]
            if not act.any():
                continue
            sub = tok if act.all() else _select(tok, act)
            for k, a in T.ngram_stats(sub, v, top_ns, dup_ns).items():
                out[k][d0 + np.flatnonzero(act)] = a
        return out

    def sentences_of(self, text: str) -> int:
        """spaCy Sentencizer sentence count of one line, exactly: runs of whitespace other than one space are
        tokens there too (they count as words), which the array path ignores."""
        chunks = _WS_CHUNK.findall(text)
        cids = [self.vocab.chunks[chunk] for _, chunk in chunks]
        lens, offs, flat = self.vocab.chunks.table()
        kinds = self.vocab.arrays()["kind"]
        count, seen_end = 1, False
        for (ws, _), cid in zip(chunks, cids, strict=True):
            ks = [T.WORD] if ws and ws != " " else []
            for k in ks + kinds[flat[offs[cid] : offs[cid] + lens[cid]]].tolist():
                if k == T.WORD and seen_end:
                    count, seen_end = count + 1, False
                elif k == T.SENT_END:
                    seen_end = True
        return count

    def _bounds(self) -> list[tuple[int, int]]:
        bounds = [0]
        acc = 0
        for i, c in enumerate(self.n_chars.tolist()):
            if acc and acc + c > GROUP_CHARS:
                bounds.append(i)
                acc = 0
            acc += c
        bounds.append(self.n)
        return list(zip(bounds[:-1], bounds[1:], strict=True))


def _select(tok: T.TokenArrays, docs: np.ndarray) -> T.TokenArrays:
    """The tokens of the selected documents of a group."""
    lens = np.diff(tok.doc_start)
    return T.TokenArrays(
        ids=tok.ids[np.repeat(docs, lens)],
        doc_start=np.concatenate(([0], np.cumsum(lens[docs]))),
        line=None,
    )
