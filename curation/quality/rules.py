"""The four published rule sets: parameters (published thresholds as defaults), scores and checks.

Each rule set mirrors datatrove 0.10.1's filter of the same name (GopherQualityFilter, GopherRepetitionFilter,
C4QualityFilter, FineWebQualityFilter): same statistics, same thresholds, same order of checks. As there,
`null` (or 0) disables a Gopher threshold and -1 disables a C4 count. A rule set returns its score columns
and its checks in order; a document's reason is the first failing check, as `<rule set>:<check>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from pydantic import field_validator

from curation.quality import lines as L
from curation.quality.batch import TextBatch
from curation.quality.charsets import GOPHER_STOP_WORDS
from mixloom.schema import Strict


class RuleParams(Strict):
    """Thresholds of one rule set (unknown keys are errors)."""


class GopherQualityParams(RuleParams):
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    # the reference's name; it is the minimum share of words with a letter
    max_non_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    stop_words: list[str] = list(GOPHER_STOP_WORDS)


class GopherRepetitionParams(RuleParams):
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] = [(2, 0.2), (3, 0.18), (4, 0.16)]  # (n, max character fraction)
    dup_n_grams: list[tuple[int, float]] = [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]

    @field_validator("top_n_grams", "dup_n_grams")
    @classmethod
    def _sizes(cls, v: list[tuple[int, float]]) -> list[tuple[int, float]]:
        if any(n < 2 or n > 64 for n, _ in v) or len({n for n, _ in v}) != len(v):
            raise ValueError("n-gram sizes must be distinct, between 2 and 64")
        return v


class C4Params(RuleParams):
    remove_lines: bool = False  # mixloom: rewrite kept documents to their kept lines, as the reference does
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5
    min_words_per_line: int = 3
    max_word_length: int = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True


class FineWebParams(RuleParams):
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    stop_chars: list[str] | None = None  # default: the terminal punctuation of many scripts
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3


@dataclass
class Check:
    """One rule: documents where `fails` is true are rejected with `reason`; `margin` feeds quality_score."""

    reason: str
    fails: np.ndarray
    margin: np.ndarray


@dataclass
class Result:
    scores: dict[str, np.ndarray]
    checks: list[Check]
    new_text: pl.Series | None = None  # C4 with remove_lines: the kept lines of each document


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.where(den > 0, r, np.where(num > 0, np.inf, 0.0))


def _max(reason: str, value: np.ndarray, thr: float | None, enabled: bool | None = None) -> Check | None:
    """Fails when value > thr (skipped when thr is falsy, as in the reference, unless `enabled` says otherwise)."""
    if not (thr if enabled is None else enabled):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        margin = np.clip(
            np.nan_to_num((thr - value) / max(abs(thr), 1e-9), nan=0.0, posinf=1, neginf=-1), -1, 1
        )
        return Check(reason, np.nan_to_num(value, nan=-np.inf) > thr, margin)


def _min(reason: str, value: np.ndarray, thr: float | None, enabled: bool | None = None) -> Check | None:
    """Fails when value < thr (skipped when thr is falsy, unless `enabled` says otherwise)."""
    if not (thr if enabled is None else enabled):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        margin = np.clip(
            np.nan_to_num((value - thr) / max(abs(thr), 1e-9), nan=0.0, posinf=1, neginf=-1), -1, 1
        )
        return Check(reason, np.nan_to_num(value, nan=np.inf) < thr, margin)


def _flag(reason: str, fails: np.ndarray) -> Check:
    """A yes/no rule: margin -1 when it fails, +1 otherwise."""
    return Check(reason, fails, np.where(fails, -1.0, 1.0))


def gopher_quality(b: TextBatch, p: GopherQualityParams, active: np.ndarray) -> Result:
    t = b.word_counts(tuple(p.stop_words))
    words = t["words"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_len = t["nonsym_chars"] / t["nonsym_words"]  # NaN without words: no length check fails
    g = L.gopher_line_stats(b.lines, active)
    s = {
        "gopher_word_count": t["nonsym_words"],
        "gopher_mean_word_length": mean_len,
        "gopher_hash_ratio": _ratio(b.count("#"), words),
        "gopher_ellipsis_ratio": _ratio(b.count("...") + b.count("…"), words),
        "gopher_bullet_lines_frac": _ratio(g["bullet_lines"], g["lines"]),
        "gopher_ellipsis_lines_frac": _ratio(g["ellipsis_lines"], g["lines"]),
        "gopher_alpha_words_frac": _ratio(t["alpha_words"], words),
        "gopher_stop_words": t["stop_words"],
    }
    checks = [
        _min("few_words", s["gopher_word_count"], p.min_doc_words),
        _max("many_words", s["gopher_word_count"], p.max_doc_words),
        _min("mean_word_length", mean_len, p.min_avg_word_length),
        _max("mean_word_length", mean_len, p.max_avg_word_length),
        _max("hash_ratio", s["gopher_hash_ratio"], p.max_symbol_word_ratio),
        _max("ellipsis_ratio", s["gopher_ellipsis_ratio"], p.max_symbol_word_ratio),
        _max("bullet_lines", s["gopher_bullet_lines_frac"], p.max_bullet_lines_ratio),
        _max("ellipsis_lines", s["gopher_ellipsis_lines_frac"], p.max_ellipsis_lines_ratio),
        _min("alpha_words", s["gopher_alpha_words_frac"], p.max_non_alpha_words_ratio),
        _min("stop_words", s["gopher_stop_words"], p.min_stop_words),
    ]
    return Result(s, [c for c in checks if c])


def gopher_repetition(b: TextBatch, p: GopherRepetitionParams, active: np.ndarray) -> Result:
    r = L.repetition_stats(b.lines, active)
    grams = b.ngrams([k for k, _ in p.top_n_grams], [k for k, _ in p.dup_n_grams], active)
    n = b.n_chars
    s = {
        "dup_para_frac": _ratio(r["dup_paragraphs"], r["paragraphs"]),
        "dup_para_char_frac": _ratio(r["dup_paragraph_chars"], n),
        "dup_line_frac": _ratio(r["dup_lines"], r["lines"]),
        "dup_line_char_frac": _ratio(r["dup_line_chars"], n),
    }
    empty = n == 0
    checks = [_flag("empty", empty)]
    for name, thr in (
        ("dup_para_frac", p.dup_para_frac),
        ("dup_para_char_frac", p.dup_para_char_frac),
        ("dup_line_frac", p.dup_line_frac),
        ("dup_line_char_frac", p.dup_line_char_frac),
    ):
        checks.append(_max(name, s[name], thr))
    for kind, pairs in (("top", p.top_n_grams), ("dup", p.dup_n_grams)):
        for k, thr in pairs:
            name = f"{kind}_{k}gram_frac"
            s[name] = _ratio(grams[f"{kind}_{k}"], n)
            checks.append(_max(name, s[name], thr, enabled=thr is not None))
    return Result(s, [c for c in checks if c])


def c4(b: TextBatch, p: C4Params, active: np.ndarray) -> Result:
    """C4's line rules on the `active` documents (those still kept: only they are rewritten)."""
    c = L.c4_lines(b.lines, p, active)
    nd = b.n
    if b.line_sentences is not None:
        sent = b.line_sentences[c.line]
        for i in np.flatnonzero(c.kept & c.exact).tolist():
            sent[i] = b.sentences_of(c.clean[i])
    else:
        sent = np.ones(len(c.line), dtype=np.int64)
    first_lorem = _first(c.doc, c.lorem, c.line, nd)
    first_curly = _first(c.doc, c.curly, c.line, nd)
    lorem = first_lorem < first_curly
    curly = first_curly < first_lorem
    s = {
        "c4_sentences": L.per_doc(c.doc, sent * c.kept, nd).astype(np.int64),
        "c4_kept_lines": L.per_doc(c.doc, c.kept, nd).astype(np.int64),
        "c4_lines": np.bincount(b.lines.line_doc, minlength=nd),
        "c4_lorem_ipsum": lorem,
        "c4_curly_bracket": curly,
    }
    checks = [_flag("lorem_ipsum", lorem), _flag("curly_bracket", curly)]
    if p.min_num_sentences != -1:
        few = _min("few_sentences", s["c4_sentences"].astype(np.float64), p.min_num_sentences, enabled=True)
        few.fails &= ~(lorem | curly)
        checks.append(few)
    result = Result(s, checks)
    if p.remove_lines:
        passed = active & ~np.any([ch.fails for ch in checks], axis=0)
        result.new_text = _kept_text(b.text, c, passed)
    return result


def _kept_text(text: pl.Series, c: L.C4Lines, passed: np.ndarray) -> pl.Series:
    """Documents that pass become their kept lines joined by newlines (stripped); others stay as they are."""
    joined = (
        pl.DataFrame({"doc": c.doc, "clean": c.clean, "kept": c.kept})
        .filter("kept")
        .group_by("doc", maintain_order=True)
        .agg(pl.col("clean").str.join("\n"))
    )
    new = np.array(text.to_list(), dtype=object)
    rows = joined["doc"].to_numpy()
    sel = passed[rows]
    new[np.flatnonzero(passed)] = ""  # passing documents with no kept line become empty
    new[rows[sel]] = joined["clean"].str.strip_chars(L.PY_WHITESPACE).to_numpy()[sel]
    return pl.Series(text.name, new.tolist(), dtype=pl.String)


def _first(doc: np.ndarray, flag: np.ndarray, line: np.ndarray, n: int) -> np.ndarray:
    """Index of the first flagged line of each document (inf when none)."""
    out = np.full(n, np.inf)
    if flag.any():
        np.minimum.at(out, doc[flag], line[flag].astype(np.float64))
    return out


def fineweb(b: TextBatch, p: FineWebParams, active: np.ndarray) -> Result:
    f = L.fineweb_line_stats(b.lines, p.short_line_length, p.stop_chars, active)
    nl = f["newlines"]
    s = {
        "fineweb_line_punct_ratio": _ratio(f["stop_lines"], f["lines"]),
        "fineweb_short_line_ratio": _ratio(f["short_lines"], f["lines"]),
        "fineweb_char_dup_ratio": _ratio(f["dup_line_chars"], b.n_chars - nl),
        "fineweb_list_ratio": _ratio(nl, b.word_counts(())["words"]),
    }
    empty = f["lines"] == 0
    punct = _min("line_punct_ratio", s["fineweb_line_punct_ratio"], p.line_punct_thr, enabled=True)
    if p.line_punct_exclude_zero:
        punct.fails &= s["fineweb_line_punct_ratio"] != 0
    checks = [
        _flag("empty", empty),
        punct,
        _max("short_line_ratio", s["fineweb_short_line_ratio"], p.short_line_thr, enabled=True),
        _max("char_dup_ratio", s["fineweb_char_dup_ratio"], p.char_duplicates_ratio, enabled=True),
        _max("list_ratio", s["fineweb_list_ratio"], p.new_line_ratio, enabled=True),
    ]
    return Result(s, [c for c in checks if c])


@dataclass(frozen=True)
class RuleSet:
    name: str
    params: type[RuleParams]
    evaluate: Callable[[TextBatch, Any, np.ndarray], Result]  # (batch, params, documents to score)
    sentences: Callable[[Any], bool] = lambda p: False  # whether the token pass must count sentences


RULESETS: dict[str, RuleSet] = {
    "gopher_quality": RuleSet("gopher_quality", GopherQualityParams, gopher_quality),
    "gopher_repetition": RuleSet("gopher_repetition", GopherRepetitionParams, gopher_repetition),
    "c4": RuleSet("c4", C4Params, c4, sentences=lambda p: p.min_num_sentences != -1),
    "fineweb": RuleSet("fineweb", FineWebParams, fineweb),
}
