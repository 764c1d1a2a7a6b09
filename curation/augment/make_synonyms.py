"""Build `synonyms.tsv.gz` (shipped beside this file) from Princeton WordNet 3.0's database files.

Why WordNet and why a shipped table: it is the synonym source the augmentation literature uses (EDA, Wei & Zou
2019), its licence allows copying with the notice kept (see data/README.md), and no pip package ships its data
(nltk and `wn` download it at run time, which this project cannot do). Debian's `wordnet-base` installs the
database under /usr/share/wordnet; this script reads it directly (no nltk) and keeps only what replacement
needs, so the runtime has no dependency at all:

- words whose senses are attested in the SemCor sense-tagged corpus (`tagsense_cnt` >= MIN_TAGGED), i.e.
  words seen in sense-tagged text, and only their part of speech with the most tagged senses and its first,
  most frequent sense (WordNet lists senses by
  frequency), so a replacement keeps the usual meaning;
- synonyms that are single lowercase words and common themselves; function words are never replaced.

    python -m curation.augment.make_synonyms /usr/share/wordnet
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

MIN_TAGGED = 1
POS = ("noun", "verb", "adj", "adv")
STOP = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "as",
        "of",
        "at",
        "by",
        "for",
        "in",
        "into",
        "on",
        "onto",
        "to",
        "from",
        "with",
        "without",
        "about",
        "over",
        "under",
        "be",
        "am",
        "is",
        "are",
        "was",
        "were",
        "been",
        "being",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "not",
        "no",
        "yes",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "me",
        "him",
        "her",
        "them",
        "us",
        "my",
        "your",
        "our",
        "their",
        "his",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "each",
        "every",
        "one",
        "two",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "than",
        "too",
        "very",
        "just",
        "also",
        "up",
        "down",
        "out",
        "off",
        "again",
        "once",
        "get",
        "got",
        "make",
        "made",
        "go",
        "went",
        "say",
        "said",
        "after",
        "before",
        "since",
        "until",
        "while",
        "because",
        "though",
        "although",
        "during",
        "against",
        "between",
        "through",
        "across",
        "around",
        "behind",
        "near",
        "like",
    ]
)
WORD = re.compile(r"^[a-z]{3,}$")
OUT = Path(__file__).with_name("synonyms.tsv.gz")


def _index(root: Path) -> dict[str, list[tuple[int, str, str]]]:
    """lemma → [(tagged count, pos, first synset offset)] over the parts of speech it has."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for pos in POS:
        for line in (root / f"index.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue  # the licence header
            f = line.split()
            p_cnt = int(f[3])
            tagged, offsets = int(f[5 + p_cnt]), f[6 + p_cnt :]
            out.setdefault(f[0], []).append((tagged, pos, offsets[0]))
    return out


def _synset_words(root: Path, pos: str, offset: str, cache: dict[str, bytes]) -> list[str]:
    data = cache.setdefault(pos, (root / f"data.{pos}").read_bytes())
    line = data[int(offset) : data.index(b"\n", int(offset))].decode("latin-1").split()
    n = int(line[3], 16)
    return [re.sub(r"\(.*\)$", "", line[4 + 2 * k]).lower() for k in range(n)]


def _same_form(a: str, b: str) -> bool:
    """WordNet lists some inflected forms as lemmas ("looking"): keep their synonyms in the same form."""
    return all(a.endswith(x) == b.endswith(x) for x in ("ing", "ed"))


def build(root: Path) -> dict[str, list[str]]:
    index = _index(root)
    common = {w for w, senses in index.items() if sum(t for t, _, _ in senses) >= 1}
    cache: dict[str, bytes] = {}
    table: dict[str, list[str]] = {}
    for lemma, senses in index.items():
        tagged, pos, offset = max(senses)
        if tagged < MIN_TAGGED or lemma in STOP or not WORD.match(lemma):
            continue
        syns = [
            w
            for w in _synset_words(root, pos, offset, cache)
            if w != lemma and WORD.match(w) and w in common and w not in STOP and _same_form(lemma, w)
        ]
        if syns:
            table[lemma] = sorted(set(syns))
    return table


def main(root: str = "/usr/share/wordnet") -> None:
    table = build(Path(root))
    text = "".join(f"{w}\t{','.join(s)}\n" for w, s in sorted(table.items()))
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:  # mtime=0: the same input gives the same bytes
        f.write(text.encode())
    print(f"{len(table)} words → {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
