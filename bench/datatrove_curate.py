"""The datatrove side of `bench/curate.py`: the same quality rules in datatrove 0.10.1, run in its own venv.

Runs read → [normalize] → GopherQuality → GopherRepetition → C4Quality → FineWebQuality → write, plus
datatrove's three-stage exact dedup, with datatrove's LocalPipelineExecutor, and writes one JSON line per input
document with its decision (`reason`: null when kept, else `<rule set>:<datatrove reason>` or `dedup`) so the
bench can compare decisions. `--normalize` first applies the same transformations as mixloom's `normalize: {}`
(datatrove has no such formatter). With `--independent N` it instead evaluates every filter on its own on the
first N documents (no filter chain) and writes those reasons (`--stats`: and the statistics each rule set
thresholds, computed with datatrove's helpers), to compare each rule set separately.

Create the venv:  python -m venv .bench/venvs/datatrove &&
  .bench/venvs/datatrove/bin/pip install datatrove==0.10.1 "spacy>=3.8" regex orjson "xxhash<4" tokenizers
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from pathlib import Path

RULESETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\ufeff]")
_WHITESPACE = [
    (re.compile(r"\r\n?"), "\n"),
    (re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+"), " "),
    (re.compile(r" *\n *"), "\n"),
    (re.compile(r"\n{3,}"), "\n\n"),
]


def normalize_text(text: str) -> str:
    """The same transformations as mixloom's normalize step with its defaults."""
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", text))
    for pattern, repl in _WHITESPACE:
        text = pattern.sub(repl, text)
    return text.strip()


def make_filters(exclusions: Path | None, rules: tuple[str, ...] = RULESETS) -> list:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.writers import JsonlWriter

    classes = {
        "gopher_quality": GopherQualityFilter,
        "gopher_repetition": GopherRepetitionFilter,
        "c4": C4QualityFilter,
        "fineweb": FineWebQualityFilter,
    }
    out = []
    for name in rules:
        writer = JsonlWriter(str(exclusions / name), compression=None) if exclusions else None
        out.append(classes[name](exclusion_writer=writer))
    return out


def content(doc) -> str:
    return doc.text


def run_pipeline(corpus: list[Path], work: Path, workers: int, normalize: bool, dedup: bool) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.filters import LambdaFilter
    from datatrove.pipeline.formatters.base import BaseFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    class Normalize(BaseFormatter):
        """mixloom's `normalize: {}` defaults (NFKC, control characters, whitespace), which datatrove lacks."""

        name = "normalize"

        def format(self, text: str) -> str:
            return normalize_text(text)

    folder = corpus[0].parent
    tasks = len(corpus)
    config = ExactDedupConfig(content_getter=content)
    stage1 = [JsonlReader(str(folder), glob_pattern="*.jsonl", compression=None)]
    if normalize:
        stage1 += [Normalize(), LambdaFilter(lambda doc: len(doc.text) > 0)]
    stage1 += make_filters(work / "rejects")
    stage1.append(JsonlWriter(str(work / "kept"), compression=None))
    if dedup:
        stage1.append(ExactDedupSignature(output_folder=str(work / "sigs"), config=config))
    t0 = time.perf_counter()
    LocalPipelineExecutor(stage1, tasks=tasks, workers=workers, logging_dir=str(work / "logs1")).run()
    if dedup:
        LocalPipelineExecutor(
            [ExactFindDedups(str(work / "sigs"), str(work / "dups"), config=config)],
            tasks=1,
            logging_dir=str(work / "logs2"),
        ).run()
        stage3 = [
            JsonlReader(str(work / "kept"), compression=None),
            ExactDedupFilter(
                str(work / "dups"),
                config=config,
                exclusion_writer=JsonlWriter(str(work / "rejects" / "dedup")),
            ),
            JsonlWriter(str(work / "final"), compression=None),
        ]
        LocalPipelineExecutor(stage3, tasks=tasks, workers=workers, logging_dir=str(work / "logs3")).run()
    return {"seconds": time.perf_counter() - t0}


def _ids(folder: Path) -> list[tuple[str, str | None]]:
    rows = []
    for p in sorted(folder.glob("*.jsonl*")):
        opener = __import__("gzip").open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                rows.append((d["id"], d.get("metadata", {}).get("filter_reason")))
    return rows


def collect_decisions(work: Path, out: Path) -> None:
    """One line per document: {"id", "reason"}; reason null for kept documents."""
    with out.open("w", encoding="utf-8") as f:
        for name in (*RULESETS, "dedup"):
            for doc_id, reason in _ids(work / "rejects" / name):
                tag = "dedup" if name == "dedup" else f"{name}:{reason}"
                f.write(json.dumps({"id": doc_id, "reason": tag}) + "\n")
        for doc_id, _ in _ids(work / ("final" if (work / "final").exists() else "kept")):
            f.write(json.dumps({"id": doc_id, "reason": None}) + "\n")


def reference_stats(text: str) -> dict:
    """The statistics each rule set thresholds, computed with datatrove's own helpers (no early exit)."""
    import numpy as np
    from datatrove.pipeline.filters.c4_filters import (
        CITATION_REGEX,
        ELLIPSIS,
        END_PUNCTUATION,
        POLICY_SUBSTRINGS,
    )
    from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate,
        find_duplicates,
        find_top_duplicate,
        get_n_grams,
    )
    from datatrove.utils.text import (
        PUNCTUATION_SET,
        TERMINAL_PUNCTUATION,
        split_into_sentences,
        split_into_words,
    )

    words = split_into_words(text)
    ns = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    r: dict = {
        "gopher_word_count": len(ns),
        "gopher_mean_word_length": float(np.mean([len(w) for w in ns])) if ns else None,
        "gopher_alpha_words_frac": sum(any(c.isalpha() for c in w) for w in words) / len(words)
        if words
        else None,
        "gopher_stop_words": len(set(STOP_WORDS) & set(words)),
    }
    lines = text.splitlines()
    if lines:
        r["gopher_bullet_lines_frac"] = sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
        r["gopher_ellipsis_lines_frac"] = sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
    if text:
        paragraphs = re.split(r"\n{2,}", text.strip())
        a, b = find_duplicates(paragraphs)
        r["dup_para_frac"], r["dup_para_char_frac"] = a / len(paragraphs), b / len(text)
        pieces = re.split("\n+", text)
        a, b = find_duplicates(pieces)
        r["dup_line_frac"], r["dup_line_char_frac"] = a / len(pieces), b / len(text)
        for n in (2, 3, 4):
            grams = get_n_grams(words, n)
            r[f"top_{n}gram_frac"] = find_top_duplicate(grams) / len(text) if grams else 0.0
        for n in range(5, 11):
            r[f"dup_{n}gram_frac"] = find_all_duplicate(words, n) / len(text)
    sentences = 0
    for line in text.splitlines():  # C4's line rules, without its document-level rejections
        line = line.strip()
        w = line.split()
        if any(len(x) > 1000 for x in w):
            continue
        line = CITATION_REGEX.sub("", line)
        if not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS) or len(w) < 3:
            continue
        low = line.lower()
        if "javascript" in low or any(p in low for p in POLICY_SUBSTRINGS):
            continue
        sentences += len(split_into_sentences(line))
    r["c4_sentences"] = sentences
    kept = [x for x in text.split("\n") if x.strip() != ""]
    if kept:
        r["fineweb_line_punct_ratio"] = sum(x.endswith(tuple(TERMINAL_PUNCTUATION)) for x in kept) / len(kept)
        r["fineweb_short_line_ratio"] = sum(len(x) <= 30 for x in kept) / len(kept)
        r["fineweb_char_dup_ratio"] = find_duplicates(kept)[1] / len(text.replace("\n", ""))
        r["fineweb_list_ratio"] = text.count("\n") / len(words)
    return r


def independent(corpus: list[Path], n: int, normalize: bool, out: Path, stats: bool = False) -> None:
    """Each filter on its own over the first n documents: {"id", "<rule set>": reason or null, ...}, and
    with `stats` the reference statistics under "stats"."""
    from datatrove.data import Document

    filters = dict(zip(RULESETS, make_filters(None), strict=True))
    done = 0
    with out.open("w", encoding="utf-8") as f:
        for path in corpus:
            for line in path.open(encoding="utf-8"):
                if done >= n:
                    return
                d = json.loads(line)
                text = normalize_text(d["text"]) if normalize else d["text"]
                row = {"id": d["id"]}
                for name, flt in filters.items():
                    res = flt.filter(Document(text=text, id=d["id"]))
                    row[name] = None if res is True else (res[1] if isinstance(res, tuple) else "rejected")
                if stats:
                    row["stats"] = reference_stats(text)
                f.write(json.dumps(row) + "\n")
                done += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, nargs="+", help="JSONL shards (id, text), all in one folder")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--normalize", action="store_true", help="apply mixloom's default normalize first")
    ap.add_argument("--no-dedup", action="store_true")
    ap.add_argument("--decisions", type=Path, help="write per-document decisions here")
    ap.add_argument("--independent", type=int, default=0, help="also evaluate each filter alone on N docs")
    ap.add_argument("--independent-out", type=Path)
    ap.add_argument("--stats", action="store_true", help="with --independent: also the reference statistics")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.independent:
        independent(args.corpus, args.independent, args.normalize, args.independent_out, args.stats)
        return
    stats = run_pipeline(args.corpus, args.work, args.workers, args.normalize, not args.no_dedup)
    if args.decisions:
        collect_decisions(args.work, args.decisions)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
