"""Token-level statistics of a batch of documents, computed on flat NumPy arrays.

Each distinct whitespace chunk is tokenized once per process (spaCy-compatible, `tokenizer.py`) into token ids
kept in one flat table; every token id carries the features the rules need (length, symbol-only, has a
letter, sentence punctuation class, a 64-bit content hash), computed in bulk. A batch then becomes one int32
array of token ids, gathered from the table, and all per-document counts, n-gram repetition and sentence
counts are array operations over it: no per-word Python work.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import polars as pl

from curation.quality.charsets import PUNCTUATION_SET
from curation.quality.tokenizer import ChunkTokenizer

WORD, SENT_END, PUNCT = 0, 1, 2  # sentencizer classes: other, sentence-ending char, other punctuation
POS_BITS = 24  # n-gram positions are packed into the low bits of a sort key (more for huge groups)
MAX_CHUNKS = 100_000  # distinct chunks cached per process before the cache restarts (~150 bytes each)
MAX_VOCAB = 500_000  # distinct tokens before the vocabulary restarts (between batches only; ~150 bytes each)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_BASE = np.uint64(0x9E3779B1 * 0x100000001B3 & ((1 << 64) - 1) | 1)  # odd base of the character hash


class Vocab:
    """Token ids and their features. New tokens only get an id while chunks are tokenized; their features
    are computed in bulk (Polars/NumPy) the next time `arrays()` is called."""

    def __init__(self, tokenizer: ChunkTokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids = _TokenIds()
        self._arrays: dict[str, np.ndarray] = {k: np.empty(0, t) for k, t in _FEATURES.items()}
        self.chunks = _ChunkCache(self.ids, tokenizer)  # not `self`: no cycle, freed as soon as dropped

    def arrays(self) -> dict[str, np.ndarray]:
        """Feature arrays indexed by token id."""
        if self.ids.pending:
            tail = token_features(self.ids.pending, self.tokenizer.punct_chars)
            self._arrays = {k: np.concatenate((self._arrays[k], tail[k])) for k in _FEATURES}
            self.ids.pending = []
        return self._arrays

    def maybe_reset(self) -> None:
        """Start afresh between batches once the vocabulary is very large (ids only matter within a batch)."""
        if len(self.ids) > MAX_VOCAB:
            self.__init__(self.tokenizer)


_FEATURES = {
    "length": np.int64,
    "nonsym": bool,
    "alpha": bool,
    "kind": np.int8,
    "hash": np.uint64,
}
_NON_SYMBOL = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(PUNCTUATION_SET)) + "]"


def token_features(tokens: list[str], punct_chars: frozenset[str]) -> dict[str, np.ndarray]:
    """Per-token features, as the reference computes them per word:
    `nonsym`: has a character outside datatrove's PUNCTUATION_SET; `alpha`: has a letter (str.isalpha, i.e.
    Unicode category L); `kind`: the spaCy Sentencizer class (sentence-ending char, other punctuation — every
    character in a P category — or anything else); `hash`: a 64-bit content hash (a polynomial hash of the
    characters, mixed with the length), for comparing word sequences."""
    s = pl.Series(tokens, dtype=pl.String)
    f = pl.DataFrame({"t": s}).select(
        length=pl.col("t").str.len_chars(),
        nonsym=pl.col("t").str.contains(_NON_SYMBOL),
        alpha=pl.col("t").str.contains(r"\p{L}"),
        punct=pl.col("t").str.contains(r"^\p{P}+$"),
        end=pl.col("t").is_in(list(punct_chars)),
    )
    length = f["length"].to_numpy().astype(np.int64)
    kind = np.where(f["end"].to_numpy(), SENT_END, np.where(f["punct"].to_numpy(), PUNCT, WORD)).astype(
        np.int8
    )
    cps = np.frombuffer("".join(tokens).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    max_len = int(length.max()) if len(length) else 0
    pows = np.ones(max_len + 1, dtype=np.uint64)
    if max_len:
        pows[1:] = np.cumprod(np.full(max_len, _BASE, dtype=np.uint64))
    ends = np.cumsum(length)
    starts = ends - length
    exp = np.repeat(ends - 1, length) - np.arange(len(cps))  # position counted from the token's end
    chash = np.add.reduceat(cps * pows[exp], starts) if len(cps) else np.zeros(0, np.uint64)
    h = chash ^ (length.astype(np.uint64) * _MULT)
    h ^= h >> np.uint64(31)
    h *= _MIX
    h ^= h >> np.uint64(29)
    return {
        "length": length,
        "nonsym": f["nonsym"].to_numpy(),
        "alpha": f["alpha"].to_numpy(),
        "kind": kind,
        "hash": h,
    }


class _TokenIds(dict):
    """token → id; a new token gets the next id and waits in `pending` for its features."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[str] = []

    def __missing__(self, tok: str) -> int:
        i = self[tok] = len(self)
        self.pending.append(tok)
        return i


class _ChunkCache(dict):
    """chunk → chunk id, with each chunk's token ids in one flat table. `__missing__` tokenizes, so
    `map(cache.__getitem__, chunks)` stays in C, and a batch's token ids are then one NumPy gather."""

    def __init__(self, ids: _TokenIds, tokenizer: ChunkTokenizer) -> None:
        super().__init__()
        self.ids = ids
        self.tokenizer = tokenizer
        self._pending: list[tuple[int, ...]] = []
        self._len = np.empty(0, np.int64)
        self._off = np.empty(0, np.int64)
        self._flat = np.empty(0, np.int32)

    def __missing__(self, chunk: str) -> int:
        cid = self[chunk] = len(self)
        self._pending.append(tuple(map(self.ids.__getitem__, self.tokenizer._tokenize(chunk))))
        return cid

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens per chunk, offset of each chunk's tokens, flat token ids), indexed by chunk id."""
        if self._pending:
            lens = np.fromiter(map(len, self._pending), dtype=np.int64, count=len(self._pending))
            flat = np.fromiter(chain.from_iterable(self._pending), dtype=np.int32, count=int(lens.sum()))
            self._off = np.concatenate((self._off, len(self._flat) + np.cumsum(lens) - lens))
            self._len = np.concatenate((self._len, lens))
            self._flat = np.concatenate((self._flat, flat))
            self._pending = []
        return self._len, self._off, self._flat

    def maybe_clear(self) -> None:
        """Start afresh when the table is large (only between groups: ids must stay valid within one)."""
        if len(self) >= MAX_CHUNKS:
            self.clear()  # dict.__init__ keeps the entries: without this, old chunk ids outlived their table
            self.__init__(self.ids, self.tokenizer)


@dataclass
class TokenArrays:
    """Tokens of a group of documents: ids, and the document and line each token belongs to."""

    ids: np.ndarray  # int32, all tokens of the group in order
    doc_start: np.ndarray  # int64, n_docs + 1 offsets into ids
    line: np.ndarray | None  # int64, global index of each token's splitlines() line (while tokenizing)


def tokenize_group(
    vocab: Vocab, texts: list[str], chunks_per_line: np.ndarray, line_doc: np.ndarray, line0: int
) -> TokenArrays:
    """Tokenize `texts`, given the whitespace chunk count and (group-local) document of each of their
    splitlines() lines, in order; `line0` is the global index of the first line."""
    chunks = " ".join(texts).split()
    if len(chunks) != int(chunks_per_line.sum()):
        raise AssertionError("chunk counts of lines and text disagree")  # whitespace definitions diverged
    cache = vocab.chunks
    cache.maybe_clear()
    cids = np.fromiter(map(cache.__getitem__, chunks), dtype=np.int64, count=len(chunks))
    lens, offs, flat = cache.table()
    n_tok = lens[cids]
    before = np.cumsum(n_tok) - n_tok  # where each chunk's tokens go
    ids = flat[np.repeat(offs[cids] - before, n_tok) + np.arange(int(n_tok.sum()))]
    tok_per_line = np.bincount(
        np.repeat(np.arange(len(chunks_per_line)), chunks_per_line), n_tok, len(chunks_per_line)
    )
    tok_per_line = tok_per_line.astype(np.int64)
    per_doc = np.bincount(line_doc, tok_per_line, len(texts)).astype(np.int64)
    return TokenArrays(
        ids=ids,
        doc_start=np.concatenate(([0], np.cumsum(per_doc))),
        line=np.repeat(np.arange(line0, line0 + len(chunks_per_line)), tok_per_line),
    )


def doc_counts(t: TokenArrays, v: dict[str, np.ndarray], stop_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-document word counts used by the Gopher quality and FineWeb rules."""
    n_docs = len(t.doc_start) - 1
    doc = np.repeat(np.arange(n_docs), np.diff(t.doc_start))
    nonsym = v["nonsym"][t.ids]
    out = {
        "words": np.diff(t.doc_start),
        "nonsym_words": np.bincount(doc, weights=nonsym, minlength=n_docs).astype(np.int64),
        "nonsym_chars": np.bincount(doc, weights=v["length"][t.ids] * nonsym, minlength=n_docs),
        "alpha_words": np.bincount(doc, weights=v["alpha"][t.ids], minlength=n_docs).astype(np.int64),
    }
    stop = np.zeros(n_docs, dtype=np.int64)
    if len(stop_ids):
        hit = np.isin(t.ids, stop_ids)
        pairs = np.unique(doc[hit].astype(np.int64) * (int(t.ids.max()) + 1) + t.ids[hit])
        stop = np.bincount(pairs // (int(t.ids.max()) + 1), minlength=n_docs)
    out["stop_words"] = stop
    return out


def sentences_per_line(t: TokenArrays, v: dict[str, np.ndarray], n_lines: int, line0: int) -> np.ndarray:
    """spaCy Sentencizer sentence count of each line: 1 + the words preceded by a sentence end since the last word."""
    kind = v["kind"][t.ids]
    cum_end = np.cumsum(kind == SENT_END)
    words = np.flatnonzero(kind == WORD)
    out = np.ones(n_lines, dtype=np.int64)
    if not len(words):
        return out
    wl = t.line[words]
    # sentence ends seen before each word, counted from the previous word of the same line or the line start
    first_tok = np.searchsorted(t.line, wl)  # first token of the word's line (t.line is sorted)
    before_line = np.where(first_tok > 0, cum_end[np.maximum(first_tok - 1, 0)], 0)
    prev = np.empty_like(words)
    prev[0] = -1
    prev[1:] = words[:-1]
    same = np.zeros(len(words), dtype=bool)
    same[1:] = wl[1:] == wl[:-1]
    base = np.where(same, cum_end[np.maximum(prev, 0)], before_line)
    boundary = cum_end[words] - base > 0
    out += np.bincount(wl[boundary] - line0, minlength=n_lines)[:n_lines]
    return out


def ngram_stats(
    t: TokenArrays, v: dict[str, np.ndarray], top_ns: list[int], dup_ns: list[int]
) -> dict[str, np.ndarray]:
    """Gopher repetition character counts per document.

    `top_{n}`: characters of the most frequent n-gram (words joined by spaces) times its count, ties going to
    the earliest; `dup_{n}`: characters of duplicated n-grams found by the reference greedy scan (a repeat
    skips its n words). An n-gram can only repeat where its (n-1)-gram prefix repeats, so each n extends a
    rolling hash at the previous n's repeated positions only. N-grams are compared as word sequences; the
    reference compares duplicated n-grams by their concatenated characters, so there "ab c" also repeats
    "a bc" — a case too rare to be worth re-hashing every position for each n.
    """
    n_docs = len(t.doc_start) - 1
    doc = np.repeat(np.arange(n_docs), np.diff(t.doc_start))
    doc_end = t.doc_start[1:][doc]
    cs = np.concatenate(([0], np.cumsum(v["length"][t.ids])))
    h = v["hash"][t.ids]
    bits = max(POS_BITS, len(t.ids).bit_length())
    pos, g = np.arange(len(t.ids), dtype=np.int64), h
    out: dict[str, np.ndarray] = {}
    for n in range(2, max([*top_ns, *dup_ns], default=1) + 1):
        ok = pos + n <= doc_end[pos]
        pos = pos[ok]
        g = g[ok] * _MULT + h[pos + n - 1]
        first, count, member_pos, member_grp = _repeats(pos, g, doc, bits)
        if n in top_ns:
            out[f"top_{n}"] = _top(n, first, count, doc, t.doc_start, cs, bits)
        if n in dup_ns:
            out[f"dup_{n}"] = _greedy_dups(n, member_pos, member_grp, doc, n_docs, cs)
        pos, g = member_pos, g[np.searchsorted(pos, member_pos)]
    return out


def _repeats(pos: np.ndarray, g: np.ndarray, doc: np.ndarray, bits: int):
    """Groups of equal n-grams (same document, same hash) seen at least twice.

    Sorting keys that pack the position into the low bits of the hash gives equal hashes together, by
    position; only those runs are then split by document (a cross-document hash collision). Returns each
    group's first position and size, and the members' positions (ascending) with their group ids.
    """
    e = np.empty(0, np.int64)
    if not len(pos):
        return e, e, e, e
    mask = np.uint64((1 << bits) - 1)
    keys = np.sort((g & ~mask) | pos.view(np.uint64))
    hk = keys >> np.uint64(bits)
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(hk[1:], hk[:-1], out=new[1:])
    run = np.flatnonzero(new)
    size = np.diff(np.append(run, len(keys)))
    in_rep = np.repeat(size >= 2, size)
    p = (keys[in_rep] & mask).view(np.int64)
    if not len(p):
        return e, e, e, e
    d = doc[p]
    start = np.empty(len(p), dtype=bool)
    start[0] = True
    start[1:] = new[in_rep][1:] | (d[1:] != d[:-1])
    starts = np.flatnonzero(start)
    count = np.diff(np.append(starts, len(p)))
    keep = np.repeat(count >= 2, count)  # a run split by documents can leave single members
    gid = np.cumsum(start) - 1
    rep = count >= 2
    by_pos = np.sort((p[keep].view(np.uint64) << np.uint64(32)) | gid[keep].view(np.uint64))
    return (
        p[starts][rep],
        count[rep],
        (by_pos >> np.uint64(32)).view(np.int64),
        (by_pos & np.uint64(0xFFFFFFFF)).view(np.int64),
    )


def _top(n, grp_first, grp_count, doc, doc_start, cs, bits: int) -> np.ndarray:
    """Characters of each document's most frequent n-gram times its count (ties: the earliest)."""
    doc_len = np.diff(doc_start)
    n_docs = len(doc_len)
    mask = np.uint64((1 << bits) - 1)
    best = np.zeros(n_docs, dtype=np.uint64)
    rep = grp_count >= 2
    if rep.any():  # count in the high bits, earliest first position winning ties in the low bits
        val = (grp_count[rep].astype(np.uint64) << np.uint64(bits)) | (
            mask - grp_first[rep].astype(np.uint64)
        )
        np.maximum.at(best, doc[grp_first[rep]], val)
    count = (best >> np.uint64(bits)).astype(np.int64)
    first = (mask - (best & mask)).astype(np.int64)
    has = doc_len >= n
    single = has & (count == 0)  # no repeated n-gram: the first one, once
    first[single] = doc_start[:-1][single]
    count[single] = 1
    chars = np.zeros(n_docs, dtype=np.int64)
    f = first[has]
    chars[has] = count[has] * (cs[f + n] - cs[f] + n - 1)
    return chars


def _greedy_dups(n, member_pos, member_grp, doc, n_docs, cs) -> np.ndarray:
    """The reference scan: at a repeat of an n-gram already seen, count its characters and jump n words.
    Only positions of repeated n-grams (ascending) can change the scan's state, so only they are visited."""
    if not len(member_pos):
        return np.zeros(n_docs, dtype=np.int64)
    seen: set[int] = set()
    nxt = -1
    hits = []
    for p, gr in zip(member_pos.tolist(), member_grp.tolist(), strict=True):
        if p < nxt:
            continue
        if gr in seen:
            hits.append(p)
            nxt = p + n
        else:
            seen.add(gr)
    if not hits:
        return np.zeros(n_docs, dtype=np.int64)
    hp = np.asarray(hits, dtype=np.int64)
    return np.bincount(doc[hp], weights=cs[hp + n] - cs[hp], minlength=n_docs).astype(np.int64)
