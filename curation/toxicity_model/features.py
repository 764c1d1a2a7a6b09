"""Hashed character and word n-grams of many texts at once, in numpy (no Python loop per n-gram).

Why not scikit-learn's HashingVectorizer: its analyzers run a Python loop per document and per n-gram
(about 5k tweets/s for char n-grams here), while the toxicity step must score 20k+ documents/s per core.
Here all texts are joined into one byte array; a polynomial hash of every substring comes from one cumulative
sum (hash(s..e) = (C[e] - C[s-1]) * P^e with C[j] = sum b[k] * P^-k, all mod 2^64, P odd), so every n-gram
of every length is a handful of vectorised array operations. The same function feeds training (a sparse
matrix) and scoring (a weighted sum per document), so the two can never disagree.

Text preparation, in order: identity terms masked to one shared token (`curation.identity.mask`), lower
case, @mentions, URLs and HTML entities dropped, every byte that is not a letter, digit or non-ASCII
turned into a space. Features: char n-grams of 2-5 bytes inside word boundaries (like scikit-learn's
`char_wb`; they survive misspellings such as "k1ll" or "stupd"), word unigrams and bigrams, and (when the
text mentions any group) each word again as "word in a text about a group": "vermin" near a group weighs more
than "vermin" alone, whichever group it is (measured: +1 to +3 points of F1 on held-out templates and HateCheck). Each occurrence
has value 1/sqrt(number of n-grams of its kind in the document), so length does not drive the score.
Optional negation scope (`negation=1`): words after "not", "no", "never", "n't"... up to the next punctuation
become different unigrams. Off in the shipped model: it lowered macro F1 on both the held-out templates and
HateCheck when measured (a linear model still cannot tell "no one should kill X" from a threat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from curation.identity import MASK, mask_lower

# @mentions, URLs, HTML entities, retweet marks; the first character is matched first (2x faster)
_NOISE = re.compile(r"[@h&r](?:(?<=@)\w+|(?<=h)ttps?://\S+|(?<=&)#?\w+;|(?<=\br)t\b)")
_KEEP = np.full(256, 32, dtype=np.uint8)  # byte → byte after cleaning (space for everything dropped)
for _c in b"abcdefghijklmnopqrstuvwxyz0123456789":
    _KEEP[_c] = _c
_KEEP[128:] = np.arange(128, 256, dtype=np.uint8)  # UTF-8 bytes of non-ASCII letters
_KEEP[10] = 10  # the document separator, kept until documents are located
_P = np.uint64(1_000_003)
_PINV = np.uint64(pow(1_000_003, -1, 1 << 64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the high bits of h * _MIX index the table
_SALT_WORD = np.uint64(0x51ED27A3C1B2F00D)
_SALT_BIGRAM = np.uint64(0x2545F4914F6CDD1D)
_SALT_ID = np.uint64(0x3C6EF372FE94F82B)
_SALT_NEG = np.uint64(0x6A09E667F3BCC909)
_SALT_SCOPE = (
    np.uint64(0),
    np.uint64(0xBB67AE8584CAA73B),
    np.uint64(0xA54FF53A5F1D36F1),
)  # -, negated, reported
_BREAKS = np.zeros(256, dtype=bool)  # bytes that end a clause (negation scope)
_BREAKS[list(b".!?;:,\n")] = True
NEGATORS = (
    "not", "no", "never", "nobody", "none", "nothing", "nor", "neither", "t", "cannot", "without", "refuse",
    "refuses", "stop",
)  # fmt: skip
# words that introduce someone else's words: what follows them in the clause is reported, not asserted
REPORTERS = (
    "say", "says", "said", "saying", "claim", "claims", "claimed", "claiming", "write", "writes", "wrote",
    "writing", "written", "post", "posted", "posting", "tweet", "tweeted", "shout", "shouted", "shouting",
    "chant", "chanted", "chanting", "insist", "insists", "insisted", "insisting", "idea", "myth", "notion", "slogan", "slogans", "quote", "quoted", "quotes", "quoting", "reading", "told",
    "telling", "tell", "tells", "calling", "statements", "comments", "comment", "remarks", "phrase",
    "thinks", "believe", "believes", "suggest", "suggests", "suggesting", "repeating", "repeat", "claim",
)  # fmt: skip
_MASK_HASH: np.uint64  # set below, once _hashes is defined


@dataclass(frozen=True)
class FeatureConfig:
    bits: int = 20  # 2^bits hash buckets
    char_min: int = 2
    char_max: int = 5
    word_ngrams: int = 2
    max_chars: int = 2000  # characters of each text that are featurised
    norm: int = 2  # each occurrence counts 1/count^(1/norm): 2 → 1/sqrt(count), 1 → 1/count (a mean)
    identity_words: int = 1  # 1: in texts that mention a group, each word also counts as "word near a group"
    negation: int = 0  # 1: a word after "not", "no", "never", "n't"... in its clause is a different unigram
    long_chars: int = 512  # beyond this many char n-grams (words: long_words) a text's score is its mean,
    long_words: int = 64  # so long documents score like tweet-length text instead of drifting with length
    scope: int = 0  # 1: n-grams in a negated, reported or quoted stretch are different features
    neg_window: int = 0  # a negation's scope: at most this many words (0: to the end of the clause)
    neg_stop_group: int = 0  # 1: a group mention ends a negation's scope ("no doubt <group> are ...")
    neg_idioms: int = 0  # 1: a negator followed within 3 words by "doubt", "wonder", "lie"... negates nothing

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def prepare(texts: list[str], max_chars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The cleaned bytes of all texts, one space between texts and at both ends, each byte's text index
    (the space before a text belongs to it), each byte's clause number (punctuation starts a clause) and
    whether it is inside double quotes."""
    joined = "\n".join(t[:max_chars].replace("\n", " ") for t in texts)
    joined = _NOISE.sub(" ", mask_lower(joined.lower())).replace("\u201c", '"').replace("\u201d", '"')
    raw = np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)
    b = np.concatenate([np.array([32], np.uint8), _KEEP[raw], np.array([32], np.uint8)])
    sep = b == 10
    owner = np.cumsum(sep, dtype=np.int64)
    b[sep] = 32
    clause = np.cumsum(np.concatenate([[False], _BREAKS[raw], [False]]), dtype=np.int64)
    mark = np.concatenate([[0], raw == 34, [0]]).astype(np.int64)  # '"'
    qc = np.cumsum(mark)
    starts = np.minimum(np.searchsorted(owner, np.arange(len(texts))), len(qc) - 1)  # texts' first bytes
    base = qc[starts] - mark[starts]
    quoted = ((qc - base[owner]) % 2 == 1) | (mark > 0)
    return b, owner, clause, quoted


def _hashes(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C (prefix sums of b[k] * P^-k, with C[-1] = 0 at index 0) and P^k, both wrapping mod 2^64."""
    n = len(b)
    with np.errstate(over="ignore"):
        pinv = np.empty(n, np.uint64)
        pinv[0] = 1
        pinv[1:] = _PINV
        pinv = np.cumprod(pinv, dtype=np.uint64)
        ppow = np.empty(n, np.uint64)
        ppow[0] = 1
        ppow[1:] = _P
        ppow = np.cumprod(ppow, dtype=np.uint64)
        c = np.zeros(n + 1, np.uint64)
        np.cumsum(b.astype(np.uint64) * pinv, dtype=np.uint64, out=c[1:])
    return c, ppow


def _word_hash(word: str) -> np.uint64:
    b = np.frombuffer(f" {word} ".encode(), np.uint8)
    c, ppow = _hashes(b)
    with np.errstate(over="ignore"):
        return ((c[len(b) - 1] - c[1]) * ppow[len(b) - 2]) ^ _SALT_WORD


def _negated(
    wh: np.ndarray, wclause: np.ndarray, cues: np.ndarray | None = None, window: int = 0, idioms: int = 0
) -> np.ndarray:
    """Words after a cue (default: a negator) in the same clause (the cue itself excluded), at most `window`
    words after it (0: to the end of the clause)."""
    neg = np.isin(wh, _NEG_HASHES if cues is None else cues)
    if cues is None and idioms:  # "no doubt", "not gonna lie", "never forget", "can't deny": no negation
        idiom = np.isin(wh, _IDIOM_HASHES)
        for k in (1, 2, 3):
            neg[:-k] &= ~idiom[k:]
    idx = np.arange(len(wh))
    last = np.maximum.accumulate(np.where(neg, idx, -1))  # the latest cue at or before each word
    first = np.searchsorted(wclause, wclause, side="left")  # first word of each word's clause
    inside = (last >= first) & ~neg
    return inside & (idx - last <= window) if window else inside


def ngrams(texts: list[str], cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text index, bucket, value) of every n-gram occurrence of every text."""
    b, owner, clause, quoted = prepare(texts, cfg.max_chars)
    c, ppow = _hashes(b)
    n = len(b)
    space = b == 32
    nsp = np.concatenate([[0], np.cumsum(space, dtype=np.int32)])  # spaces in b[:i]
    pos, keys, kinds = [], [], []
    with np.errstate(over="ignore"):
        # words: maximal runs of non-space bytes
        edge = np.diff(np.concatenate([[0], (~space).astype(np.int8), [0]]))
        ws, we = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)  # we: one past the end
        wh = ((c[we] - c[ws]) * ppow[we - 1]) ^ _SALT_WORD
        # the identity token has no unigram or char n-grams of its own (so a bare mention scores nothing);
        # it shows only inside word bigrams ("hate qqidq", "qqidq are")
        ident = wh == _MASK_HASH
        inmask = np.zeros(n + 1, np.int32)
        np.add.at(inmask, ws[ident], 1)
        np.add.at(inmask, we[ident], -1)
        msum = np.concatenate([[0], np.cumsum(np.cumsum(inmask[:n]) > 0, dtype=np.int32)])
        for k in range(cfg.char_min, min(cfg.char_max, n) + 1):  # slices, not fancy indexing: 3x faster
            h = (c[k:] - c[: n + 1 - k]) * ppow[k - 1 :]  # h[i] = hash of b[i .. i+k-1]
            inner = nsp[k - 1 : n] - nsp[1 : n + 2 - k]  # spaces strictly inside
            touch = msum[k:] - msum[: n + 1 - k]  # bytes of an identity token inside
            ok = np.flatnonzero((inner == 0) & (touch == 0) & ~(space[: n + 1 - k] & space[k - 1 :]))
            pos.append(ok)
            keys.append(h[ok])
            kinds.append(np.zeros(len(ok), np.int8))
        wsalt = np.zeros(len(ws), np.uint64)  # per word: 0, or the salt of its scope
        if cfg.scope and len(ws):  # n-grams in a negated or reported stretch become different features
            wclause = clause[ws] + np.cumsum(np.isin(wh, _BREAK_HASHES))  # "but" starts a clause
            nclause = wclause + np.cumsum(ident) if cfg.neg_stop_group else wclause
            wsc = np.where(_negated(wh, nclause, None, cfg.neg_window, cfg.neg_idioms), 1, 0)
            wsc = np.where(wsc == 0, np.where(_negated(wh, wclause, _REP_HASHES) | quoted[ws], 2, 0), wsc)
            wsalt = np.array(_SALT_SCOPE, np.uint64)[wsc]
            start = np.zeros(n + 1, np.int64)
            start[ws] = 1
            bsalt = wsalt[np.maximum(np.cumsum(start) - 1, 0)]  # per byte: its word's salt
            for i in range(len(pos)):  # the char n-grams; byte p + 1 is inside the word a gram starts in
                keys[i] = keys[i] ^ bsalt[pos[i] + 1]
        uni = wh
        if cfg.negation and len(ws):
            uni = np.where(_negated(wh, clause[ws]), wh ^ _SALT_NEG, wh)
        uni = uni ^ wsalt
        pos.append(ws[~ident])
        keys.append(uni[~ident])
        kinds.append(np.ones(int((~ident).sum()), np.int8))
        if cfg.identity_words and ident.any():
            has = np.zeros(len(texts) + 1, bool)
            has[owner[ws[ident]]] = True
            near = np.flatnonzero(~ident & has[owner[ws]])
            pos.append(ws[near])
            keys.append(wh[near] ^ _SALT_ID ^ wsalt[near])
            kinds.append(np.ones(len(near), np.int8))
        if cfg.word_ngrams >= 2 and len(ws) > 1:
            same = np.flatnonzero(owner[ws[1:]] == owner[ws[:-1]])
            pos.append(ws[same])
            keys.append((wh[same] * _SALT_BIGRAM + wh[same + 1]) ^ _SALT_BIGRAM ^ wsalt[same + 1])
            kinds.append(np.ones(len(same), np.int8))
        doc = owner[np.concatenate(pos)]
        bucket = ((np.concatenate(keys) * _MIX) >> np.uint64(64 - cfg.bits)).astype(np.int64)
    kind = np.concatenate(kinds)
    slot = doc * 2 + kind
    counts = np.bincount(slot, minlength=2 * len(texts)).astype(np.float32)
    cap = np.where(kind == 0, cfg.long_chars, cfg.long_words).astype(np.float32)
    n = counts[slot]
    # 1/sqrt(count of this kind in the text) up to the cap; beyond it sqrt(cap)/count (a scaled mean)
    value = np.minimum(n, cap) ** (-1.0 / cfg.norm) * np.minimum(n, cap) / n
    return doc, bucket, value


def matrix(texts: list[str], cfg: FeatureConfig):
    """A scipy CSR matrix (texts x 2^bits) for training."""
    from scipy.sparse import csr_matrix

    doc, bucket, value = ngrams(texts, cfg)
    m = csr_matrix((value, (doc, bucket)), shape=(len(texts), 1 << cfg.bits), dtype=np.float32)
    m.sum_duplicates()
    return m


def logits(texts: list[str], cfg: FeatureConfig, weights: np.ndarray, bias: float) -> np.ndarray:
    """The linear model's logit per text: bias + sum of weight * value over its n-grams."""
    if not texts:
        return np.zeros(0)
    doc, bucket, value = ngrams(texts, cfg)
    return bias + np.bincount(doc, weights=weights[bucket] * value, minlength=len(texts))


_MASK_HASH = _word_hash(MASK)
_NEG_HASHES = np.array([_word_hash(w) for w in NEGATORS], dtype=np.uint64)
_REP_HASHES = np.array([_word_hash(w) for w in REPORTERS], dtype=np.uint64)
# words that, up to 3 words after a negator, make it an idiom that asserts ("no doubt", "not gonna lie")
IDIOMS = (
    "doubt", "wonder", "joke", "joking", "kidding", "lie", "lying", "question", "forget", "deny", "denying",
    "only", "surprise", "surprised", "secret", "mistake", "exaggeration", "offense", "offence",
)  # fmt: skip
_IDIOM_HASHES = np.array([_word_hash(w) for w in IDIOMS], dtype=np.uint64)
_BREAK_HASHES = np.array([_word_hash(w) for w in ("but", "however", "although", "though")], dtype=np.uint64)
