"""datasketch-compatible MinHash signatures for a batch of documents, and LSH band keys.

datasketch's default scheme ("affine32", datasketch >= 2.0): a 32-bit shingle hash h is pre-mixed with
MurmurHash3's 32-bit finaliser, then permutation k gives `a_k * h + b_k mod 2^32`; the signature is the
minimum per permutation. The permutation parameters are datasketch's (`MinHash(num_perm, seed).permutations`,
drawn the same way), so for the same seed and hash function the values equal `MinHash.update_batch`'s.
The work is one (num_perm x shingles) product per block of documents instead of a Python call per shingle.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from curation.minhash.text import U64, fmix64

U32 = np.uint32
EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: a document without shingles keeps it
BLOCK = 1 << 14  # shingles per (num_perm x block) product: 8 MB at 128 permutations


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 arrays equal to datasketch's `MinHash(num_perm, seed).permutations` (affine32).

    The same RandomState draws as `MinHash._init_permutations` (a test compares them), without importing
    datasketch, whose package import (scipy included) would cost every worker process a second or more.
    """
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=U32) * U32(2) + U32(1)  # odd: a bijection mod 2^32
    b = gen.randint(0, 1 << 32, num_perm, dtype=U32)
    return a, b


@lru_cache(maxsize=32)
def lsh_params(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive/negative areas: datasketch's own routine."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, fp_weight, fn_weight)


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> U32(16))
    h = h * U32(0x85EBCA6B)
    h ^= h >> U32(13)
    h = h * U32(0xC2B2AE35)
    return h ^ (h >> U32(16))


def top32(h64: np.ndarray) -> np.ndarray:
    """The 32-bit value a shingle contributes: the top half of its 64-bit hash."""
    return (h64 >> U64(32)).astype(U32)


def sha1_hashes(shingles: list[str]) -> np.ndarray:
    """datasketch's default hash (`sha1_hash32` of the UTF-8 bytes), one Python call per shingle (slow)."""
    out = np.empty(len(shingles), dtype=U32)
    for i, s in enumerate(shingles):
        out[i] = int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little")
    return out


def signatures(h32: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) from shingle hashes grouped by document index `doc`."""
    a, b = permutations(num_perm, seed)
    sig = np.full((n_docs, num_perm), EMPTY, dtype=U32)
    if len(h32) == 0:
        return sig
    hv = fmix32(h32.astype(U32))
    counts = np.bincount(doc, minlength=n_docs)
    docs = np.flatnonzero(counts)
    ends = np.cumsum(counts[docs])
    starts = ends - counts[docs]
    buf = np.empty((num_perm, BLOCK), dtype=U32)  # reused: no page faults for a fresh product per block
    lo = 0
    while lo < len(docs):
        # as many whole documents as fit in BLOCK shingles (at least one)
        hi = max(int(np.searchsorted(ends, starts[lo] + BLOCK, side="right")), lo + 1)
        s, e = int(starts[lo]), int(ends[hi - 1])
        prod = buf[:, : e - s] if e - s <= BLOCK else np.empty((num_perm, e - s), dtype=U32)
        np.multiply(a[:, None], hv[None, s:e], out=prod)
        np.add(prod, b[:, None], out=prod)
        sig[docs[lo:hi]] = np.minimum.reduceat(prod, starts[lo:hi] - s, axis=1).T
        lo = hi
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): a hash of the band's `rows` signature values."""
    keys = np.zeros((sig.shape[0], bands), dtype=U64)
    with np.errstate(over="ignore"):
        for j in range(bands):
            h = np.full(sig.shape[0], U64(j + 1), dtype=U64)
            for k in range(j * rows, (j + 1) * rows):
                h *= U64(0x9E3779B97F4A7C15)
                h += sig[:, k].astype(U64)
                h = fmix64(h)
            keys[:, j] = h
    return keys
