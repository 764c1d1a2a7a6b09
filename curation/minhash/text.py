"""Words, shingles and their hashes for many documents at once, in numpy.

Why not hash each shingle in Python (like a plain datasketch loop)? A 2.5 kB document has ~400 shingles, so
a corpus has hundreds of millions; a Python call per shingle dominates the run. Here a batch of documents
becomes one array of code points, words are runs of word characters, and every hash is an array
expression. The hashes are plain integer arithmetic mod 2^64, so they are stable across machines and
library versions; the pure-Python `*_reference` functions below compute the same values one shingle at a
time and are what a datasketch `MinHash(hashfunc=...)` uses to check the vectorised path.

Definitions (the reference functions are the spec):
- words: `re.findall(r"\\w+", text.lower())` (Unicode word characters: `str.isalnum()` or `_`);
- word hash: Horner over code points, `h = h * P + ord(c) mod 2^64`;
- word n-gram hash: `fmix64(sum fmix64(word_hash_k) * Q^(n-1-k))`; a document with fewer than n (but
  some) words gives one shingle of all its words (when `short="whole"`);
- char n-gram hash: `fmix64(Horner over the n code points)` of the text lowercased with whitespace runs
  collapsed to one space; a shorter non-empty text is one shingle;
- the 32-bit value fed to MinHash is the top half of the 64-bit hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

U64 = np.uint64
MASK64 = (1 << 64) - 1
P_CHAR = 0x100000001B3  # FNV-64 prime: multiplier for code points
Q_WORD = 0x9E3779B97F4A7C15  # golden-ratio constant: multiplier for word hashes in an n-gram
_WORD_RE = re.compile(r"\w+")


# --- pure-Python reference (one value at a time) -----------------------------------------------------------


def fmix64_int(h: int) -> int:
    """MurmurHash3's 64-bit finaliser on a Python int."""
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    return h ^ (h >> 33)


def _horner(s: str) -> int:
    h = 0
    for c in s:
        h = (h * P_CHAR + ord(c)) & MASK64
    return h


def words_reference(text: str, lowercase: bool = True) -> list[str]:
    return _WORD_RE.findall(text.lower() if lowercase else text)


def _by_document(parts_doc: list[np.ndarray], parts_hash: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the shingle parts, finish their hashes, and order them by document (stable)."""
    if not parts_doc:
        return np.zeros(0, np.int64), np.zeros(0, U64)
    sdoc = np.concatenate(parts_doc)
    with np.errstate(over="ignore"):
        shash = fmix64(np.concatenate(parts_hash))
    order = np.argsort(sdoc, kind="stable")
    return sdoc[order], shash[order]


def _runs(first: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of whole runs `first[i] .. first[i] + lens[i]` laid end to end, and each run's offset in them."""
    idx = np.repeat(first, lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
    seg = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=seg[1:])
    return idx, seg


def word_shingles_reference(text: str, n: int, lowercase: bool = True, short: str = "whole") -> list[str]:
    """The word n-grams of `text`, each as its words joined by one space."""
    ws = words_reference(text, lowercase)
    if len(ws) < n:
        return [" ".join(ws)] if ws and short == "whole" else []
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def word_shingle_hash64(shingle: str | bytes) -> int:
    s = shingle.decode("utf-8") if isinstance(shingle, bytes) else shingle
    h = 0
    for w in s.split(" "):
        h = (h * Q_WORD + fmix64_int(_horner(w))) & MASK64
    return fmix64_int(h)


def word_shingle_hash32(shingle: str | bytes) -> int:
    """The 32-bit hash of one word shingle: a datasketch `hashfunc` equal to the vectorised path."""
    return word_shingle_hash64(shingle) >> 32


def normalize_chars(text: str, lowercase: bool = True) -> str:
    return " ".join((text.lower() if lowercase else text).split())


def char_shingles_reference(text: str, n: int, lowercase: bool = True) -> list[str]:
    t = normalize_chars(text, lowercase)
    if len(t) < n:
        return [t] if t else []
    return [t[i : i + n] for i in range(len(t) - n + 1)]


def char_shingle_hash32(shingle: str | bytes) -> int:
    """The 32-bit hash of one character shingle: a datasketch `hashfunc` equal to the vectorised path."""
    s = shingle.decode("utf-8") if isinstance(shingle, bytes) else shingle
    return fmix64_int(_horner(s)) >> 32


# --- vectorised ---------------------------------------------------------------------------------------------


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise (uint64 wraps: that is the mod 2^64)."""
    h = h ^ (h >> U64(33))
    h *= U64(0xFF51AFD7ED558CCD)
    h ^= h >> U64(33)
    h *= U64(0xC4CEB9FE1A85EC53)
    h ^= h >> U64(33)
    return h


@lru_cache(maxsize=1)
def _word_table() -> np.ndarray:
    """word-character flag for every code point, built once per process (~0.2 s, 1.1 MB)."""
    table = np.fromiter((chr(i).isalnum() for i in range(0x110000)), dtype=bool, count=0x110000)
    table[ord("_")] = True
    return table


def _powers(base: int, n: int) -> np.ndarray:
    """base^0 .. base^(n-1) mod 2^64."""
    out = np.full(max(n, 1), base, dtype=U64)
    out[0] = 1
    return np.cumprod(out)[:n]


def _inverse64(p: int) -> int:
    """Multiplicative inverse of an odd p mod 2^64 (Newton's iteration doubles the correct bits)."""
    x = p
    for _ in range(6):
        x = (x * (2 - p * x)) & MASK64
    return x


_TABLES: list[np.ndarray] = []  # [P^j, P^-j] for j < len, grown on demand, reused by every batch


def _prefix_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    if not _TABLES or len(_TABLES[0]) < n:
        size = 1 << max(20, (n - 1).bit_length())
        _TABLES[:] = [_powers(P_CHAR, size), _powers(_inverse64(P_CHAR), size)]
    return _TABLES[0], _TABLES[1]


def _codepoints(texts: list[str], sep: str = "\n") -> tuple[np.ndarray, np.ndarray]:
    """All texts as one uint32 code-point array joined by `sep`, and each text's start offset."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(lengths[:-1] + len(sep), out=starts[1:])
    cp = np.frombuffer(sep.join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cp, starts


def _segment_horner(
    values: np.ndarray, seg_starts: np.ndarray, seg_lens: np.ndarray, base: int
) -> np.ndarray:
    """Horner hash `sum v_j * base^(len-1-j)` of consecutive segments of `values` (segments non-empty)."""
    seg_ends = seg_starts + seg_lens
    from_end = np.repeat(seg_ends - 1, seg_lens) - np.arange(len(values), dtype=np.int64)
    with np.errstate(over="ignore"):
        terms = values * _powers(base, int(seg_lens.max()))[from_end]
        return np.add.reduceat(terms, seg_starts)


@dataclass
class Words:
    """Every word of a batch of documents, in order: which document it belongs to, and its hash."""

    doc: np.ndarray  # int64 document index per word (non-decreasing)
    hash: np.ndarray  # uint64 Horner hash of the word's code points
    n_docs: int


def tokenize(texts: list[str], lowercase: bool = True) -> Words:
    """Split documents into words and hash every word, all at once."""
    if lowercase:
        texts = [t.lower() for t in texts]
    if not texts:
        return Words(np.zeros(0, np.int64), np.zeros(0, U64), 0)
    cp, doc_starts = _codepoints(texts, "\n")
    isw = _word_table()[cp]
    edges = np.flatnonzero(isw[1:] != isw[:-1]) + 1
    if len(isw) and isw[0]:
        edges = np.concatenate(([0], edges))
    if len(isw) and isw[-1]:
        edges = np.concatenate((edges, [len(isw)]))
    w_start, w_end = edges[0::2], edges[1::2]
    if len(w_start) == 0:
        return Words(np.zeros(0, np.int64), np.zeros(0, U64), len(texts))
    # Horner hash of cp[s:e] = P^(e-1) * (G[e] - G[s]) with G the prefix sums of cp[j] * P^-j: three passes
    # over the code points instead of one per word character.
    ppow, pinv = _prefix_tables(len(cp))
    prefix = np.zeros(len(cp) + 1, dtype=U64)
    with np.errstate(over="ignore"):
        np.cumsum(cp * pinv[: len(cp)], out=prefix[1:])
        hashes = (prefix[w_end] - prefix[w_start]) * ppow[w_end - 1]
    doc = np.searchsorted(doc_starts, w_start, side="right") - 1
    return Words(doc, hashes, len(texts))


def word_ngram_hashes(words: Words, n: int, short: str = "whole") -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word n-gram, with their document index (grouped by document, in order).

    `short="whole"`: a document with 0 < words < n gives one shingle of all its words; `"none"`: nothing.
    """
    doc, wh = words.doc, words.hash
    if len(wh) == 0:
        return _by_document([], [])
    with np.errstate(over="ignore"):
        hm = fmix64(wh.copy())
        parts_doc, parts_hash = [], []
        m = len(hm) - n + 1
        if m > 0:
            s = hm[:m].copy()
            for k in range(1, n):
                s *= U64(Q_WORD)
                s += hm[k : m + k]
            ok = doc[:m] == doc[n - 1 :]
            parts_doc.append(doc[:m][ok])
            parts_hash.append(s[ok])
        if short == "whole":
            counts = np.bincount(doc, minlength=words.n_docs)
            short_docs = np.flatnonzero((counts > 0) & (counts < n))
            if len(short_docs):
                lens = counts[short_docs]
                idx, seg = _runs(np.searchsorted(doc, short_docs, side="left"), lens)
                parts_doc.append(short_docs)
                parts_hash.append(_segment_horner(hm[idx], seg, lens, Q_WORD))
    return _by_document(parts_doc, parts_hash)


def char_ngram_hashes(texts: list[str], n: int, lowercase: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character n-gram of the normalised texts, with their document index."""
    norm = [normalize_chars(t, lowercase) for t in texts]
    if not norm:
        return _by_document([], [])
    cp, starts = _codepoints(norm, "\x00")
    lens = np.fromiter((len(t) for t in norm), dtype=np.int64, count=len(norm))
    cp64 = cp.astype(U64)
    parts_doc, parts_hash = [], []
    with np.errstate(over="ignore"):
        m = len(cp64) - n + 1
        if m > 0:
            s = cp64[:m].copy()
            for k in range(1, n):
                s *= U64(P_CHAR)
                s += cp64[k : m + k]
            pos_doc = np.repeat(np.arange(len(norm)), lens + 1)[:m]
            ok = np.arange(n, m + n) <= starts[pos_doc] + lens[pos_doc]  # window ends inside its document
            parts_doc.append(pos_doc[:m][ok])
            parts_hash.append(s[ok])
        short = np.flatnonzero((lens > 0) & (lens < n))
        if len(short):
            idx_lens = lens[short]
            idx, seg = _runs(starts[short], idx_lens)
            parts_doc.append(short)
            parts_hash.append(_segment_horner(cp64[idx], seg, idx_lens, P_CHAR))
    return _by_document(parts_doc, parts_hash)
