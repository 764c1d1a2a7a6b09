"""Line- and paragraph-level statistics of a batch, computed with Polars on exploded lines.

The reference rules split text in slightly different ways, and the counts only agree on close calls if each
is reproduced: `str.splitlines()` (Gopher quality, C4), `str.split("\\n")` (FineWeb), `re.split("\\n+")` and
`re.split("\\n{2,}", text.strip())` (Gopher repetition). One explode of `split("\\n")` serves the first three
(splitlines only differs when a text has \\r, \\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028 or \\u2029). Repeats of
a line or paragraph within a document are found by a 64-bit hash of its text. All per-document results are
NumPy arrays aligned with the batch rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from curation.quality.charsets import (
    C4_CITATION,
    C4_POLICY_SUBSTRINGS,
    LINE_BREAKS,
    NON_SPACE_RUN,
    PY_WHITESPACE,
    TERMINAL_PUNCTUATION,
)

WS = r"[\s\x1c-\x1f]"  # Python whitespace, as a regex class
_K = 0x9E3779B97F4A7C15


def per_doc(doc: np.ndarray, values, n_docs: int) -> np.ndarray:
    """Sum of `values` (bools or numbers) per document index."""
    return np.bincount(doc, weights=np.asarray(values, dtype=np.float64), minlength=n_docs)


def _explode(text: pl.Series, pieces: pl.Expr) -> pl.DataFrame:
    """(doc, piece) rows in order; documents with no pieces have no rows."""
    return (
        pl.DataFrame({"t": text})
        .with_row_index("doc")
        .select("doc", pieces.alias("piece"))
        .explode("piece")
        .filter(pl.col("piece").is_not_null())
    )


def _repeat(frame: pl.DataFrame) -> np.ndarray:
    """True for every piece already seen earlier in its document (hash of the text, mixed with the doc)."""
    key = pl.col("piece").hash(17) ^ (pl.col("doc").cast(pl.UInt64) * _K)
    return (~frame.select(key.is_first_distinct()).to_series()).to_numpy()


class LineTable:
    """The `split("\\n")` pieces of every document of a batch, computed once."""

    def __init__(self, text: pl.Series) -> None:
        self.text = text
        self.n = len(text)
        self.nl = _explode(text, pl.col("t").str.split("\n"))
        self.nl_doc = self.nl["doc"].to_numpy().astype(np.int64)
        per = np.bincount(self.nl_doc, minlength=self.n)
        self.nl_last = np.zeros(len(self.nl_doc), dtype=bool)
        self.nl_last[np.cumsum(per)[per > 0] - 1] = True

    @cached_property
    def splitlines(self) -> pl.DataFrame:
        """Lines as `str.splitlines()` returns them (`doc`, `piece`) plus their whitespace chunk counts."""
        if self.text.str.contains(LINE_BREAKS).any():
            t = self.text.str.replace_all(LINE_BREAKS, "\n")
            parts = pl.col("t").str.split("\n")
            drop_last = (pl.col("t").str.ends_with("\n") | (pl.col("t") == "")).cast(pl.Int64)
            frame = _explode(t, parts.list.head(parts.list.len() - drop_last))
        else:  # no final empty piece after a trailing newline (or for an empty text)
            empty_last = self.nl_last & (self.nl["piece"].str.len_bytes() == 0).to_numpy()
            frame = self.nl.filter(pl.Series(~empty_last))
        return frame.with_columns(chunks=pl.col("piece").str.count_matches(NON_SPACE_RUN))

    @cached_property
    def line_doc(self) -> np.ndarray:
        """The document of each splitlines() line."""
        return self.splitlines["doc"].to_numpy().astype(np.int64)


def gopher_line_stats(t: LineTable, active: np.ndarray) -> dict[str, np.ndarray]:
    """splitlines() lines starting with a bullet and ending with an ellipsis, per (active) document."""
    rows = active[t.line_doc]
    f = t.splitlines.filter(pl.Series(rows)).select(
        bullet=pl.col("piece").str.contains(rf"^{WS}*[•-]"),
        ellipsis=pl.col("piece").str.contains(rf"(?:\.\.\.|…){WS}*$"),
    )
    doc = t.line_doc[rows]
    return {
        "lines": np.bincount(doc, minlength=t.n),
        "bullet_lines": per_doc(doc, f["bullet"].to_numpy(), t.n),
        "ellipsis_lines": per_doc(doc, f["ellipsis"].to_numpy(), t.n),
    }


def repetition_stats(t: LineTable, active: np.ndarray) -> dict[str, np.ndarray]:
    """Duplicate paragraphs (split on 2+ newlines of the stripped text) and lines (split on 1+ newlines)."""
    n = t.n
    out: dict[str, np.ndarray] = {}
    docs = np.flatnonzero(active)
    text = t.text if len(docs) == n else t.text.gather(docs)
    paras = _explode(text.str.strip_chars(PY_WHITESPACE), pl.col("t").str.extract_all(r"[^\n]+(?:\n[^\n]+)*"))
    doc = docs[paras["doc"].to_numpy().astype(np.int64)]
    dup = _repeat(paras)
    out["paragraphs"] = np.maximum(np.bincount(doc, minlength=n), 1)  # re.split always gives one piece
    out["dup_paragraphs"] = per_doc(doc, dup, n)
    out["dup_paragraph_chars"] = per_doc(doc, paras["piece"].str.len_chars().to_numpy() * dup, n)
    nonempty = (t.nl["piece"].str.len_bytes() > 0).to_numpy() & active[t.nl_doc]
    runs = t.nl.filter(pl.Series(nonempty))
    doc = t.nl_doc[nonempty]
    dup = _repeat(runs)
    lead = t.text.str.starts_with("\n").to_numpy()
    trail = t.text.str.ends_with("\n").to_numpy()
    # re.split("\n+") also yields "" before a leading and after a trailing newline run; two "" repeat
    out["lines"] = np.bincount(doc, minlength=n) + lead + trail
    out["dup_lines"] = per_doc(doc, dup, n) + (lead & trail)
    out["dup_line_chars"] = per_doc(doc, runs["piece"].str.len_chars().to_numpy() * dup, n)
    return out


def fineweb_line_stats(
    t: LineTable, short_line_length: int, stop_chars: list[str] | None, active: np.ndarray
) -> dict[str, np.ndarray]:
    """Non-blank `split("\\n")` lines: how many end in a stop char, are short, or repeat (characters)."""
    n = t.n
    ends = list(TERMINAL_PUNCTUATION) if stop_chars is None else stop_chars
    if all(len(e) == 1 for e in ends):
        stop = pl.col("piece").str.slice(-1).is_in(ends)
    else:
        stop = pl.any_horizontal([pl.col("piece").str.ends_with(e) for e in ends] or [pl.lit(False)])
    rows = active[t.nl_doc]
    nonblank = np.zeros(len(rows), dtype=bool)
    nonblank[rows] = t.nl["piece"].filter(pl.Series(rows)).str.contains(r"[^\s\x1c-\x1f]").to_numpy()
    f = t.nl.filter(pl.Series(nonblank))
    flags = f.select(stop=stop, chars=pl.col("piece").str.len_chars())
    chars = flags["chars"].to_numpy()
    doc = t.nl_doc[nonblank]
    return {
        "lines": np.bincount(doc, minlength=n),
        "stop_lines": per_doc(doc, flags["stop"].to_numpy(), n),
        "short_lines": per_doc(doc, chars <= short_line_length, n),
        "dup_line_chars": per_doc(doc, chars * _repeat(f), n),
        "newlines": np.bincount(t.nl_doc, minlength=n) - (np.bincount(t.nl_doc, minlength=n) > 0),
    }


@dataclass
class C4Lines:
    """splitlines() lines that pass C4's word-count, word-length and punctuation rules, in order."""

    line: np.ndarray  # index into LineTable.splitlines
    doc: np.ndarray
    clean: pl.Series  # stripped, citations removed: what the line contributes to the text
    kept: np.ndarray  # survives every line rule
    lorem: np.ndarray  # this line rejects the document (lorem ipsum)
    curly: np.ndarray  # this line rejects the document (curly bracket)
    exact: np.ndarray  # count its sentences from `clean`, one line at a time


def c4_lines(t: LineTable, p, active: np.ndarray) -> C4Lines:
    """C4's line rules in the reference order: too long a word, no terminal punctuation, too few words drop
    the line; then "lorem ipsum" rejects the document, "javascript" drops the line, "{" rejects the document,
    and policy phrases drop the line. Cheap rules run first, on all lines; the rest only on survivors."""
    f = t.splitlines.with_row_index("line").filter(pl.Series(active[t.line_doc]))
    if p.min_words_per_line > 0:
        f = f.filter(pl.col("chunks") >= p.min_words_per_line)
    f = f.select("line", "doc", stripped=pl.col("piece").str.strip_chars(PY_WHITESPACE))
    cited = pl.col("stripped").str.contains("[", literal=True) if p.remove_citations else pl.lit(False)
    if p.filter_no_terminal_punct:  # citations can hide the final punctuation: keep lines with "["
        f = f.filter(pl.col("stripped").str.contains(r"[.?!\"']$") | cited)
    f = f.with_columns(
        clean=pl.when(cited).then(pl.col("stripped").str.replace_all(C4_CITATION, "")).otherwise("stripped")
    )
    if p.filter_no_terminal_punct:
        f = f.filter(pl.col("clean").str.contains(r"[.?!\"']$") & ~pl.col("clean").str.ends_with("..."))
    if p.max_word_length != -1:
        f = f.filter(~_has_long_word(f["stripped"], p.max_word_length))
    lower = f.select(pl.col("clean").str.to_lowercase()).to_series()
    has = lambda s: lower.str.contains(s, literal=True).to_numpy()  # noqa: E731
    none = np.zeros(f.height, dtype=bool)
    lorem = has("lorem ipsum") if p.filter_lorem_ipsum else none
    rest = ~lorem & ~has("javascript") if p.filter_javascript else ~lorem
    curly = rest & f["clean"].str.contains("{", literal=True).to_numpy() if p.filter_curly_bracket else none
    kept = rest & ~curly
    if p.filter_policy:
        kept &= ~np.any([has(s) for s in C4_POLICY_SUBSTRINGS], axis=0) if f.height else kept
    # citations removed, or whitespace that spaCy turns into tokens: count sentences exactly, in Python
    exact = f.select(
        (pl.col("clean") != pl.col("stripped")) | pl.col("clean").str.contains(r"  |[^\S ]|[\x1c-\x1f]")
    ).to_series()
    return C4Lines(
        line=f["line"].to_numpy().astype(np.int64),
        doc=f["doc"].to_numpy().astype(np.int64),
        clean=f["clean"],
        kept=kept,
        lorem=lorem,
        curly=curly,
        exact=exact.to_numpy(),
    )


def _has_long_word(stripped: pl.Series, max_len: int) -> pl.Series:
    """Any whitespace-separated word longer than `max_len` (only long lines are checked word by word)."""
    long_line = (stripped.str.len_chars() > max_len).to_numpy()
    out = np.zeros(len(stripped), dtype=bool)
    for i in np.flatnonzero(long_line):
        out[i] = any(len(w) > max_len for w in stripped[int(i)].split())
    return pl.Series(out)
