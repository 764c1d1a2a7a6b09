"""Write `spacy_tokens.jsonl.gz`: spaCy's blank-English tokenization of real texts from data/, the reference the
quality tokenizer (`curation.quality.tokenizer.split_words`) is checked against in the default test suite.

Run with an interpreter that has spaCy (not a mixloom dependency), e.g. the datatrove bench venv:
    .bench/venvs/datatrove/bin/python tests/data/make_spacy_tokens.py
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("spacy_tokens.jsonl.gz")


def texts() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    paras = [p.strip() for p in (ROOT / "data/wikitext2/wiki_valid_sample.txt").read_text().split("\n \n")]
    out += [("wikitext2", p) for p in paras if len(p) > 80][:100]
    posts = json.loads((ROOT / "data/finance/fiqa_posts.json").read_text())
    out += [("fiqa", v["sentence"]) for v in list(posts.values())[:80]]
    heads = json.loads((ROOT / "data/finance/semeval2017_task5_headlines.json").read_text())
    out += [("headlines", h["title"]) for h in heads[:40]]
    with open(ROOT / "data/gsm8k/train.jsonl") as f:
        out += [("gsm8k", json.loads(line)["answer"]) for line in list(f)[:60]]
    with open(ROOT / "data/toxicity/davidson_sample.csv", newline="") as f:
        out += [("davidson", r["tweet"]) for r in list(csv.DictReader(f))[:60]]
    return out


def main() -> None:
    import spacy

    nlp = spacy.blank("en")
    with gzip.open(OUT, "wt", encoding="utf-8") as f:
        for source, text in texts():
            tokens = [t.text for t in nlp(text) if not t.is_space]
            f.write(json.dumps({"source": source, "text": text, "tokens": tokens}, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} with spaCy {spacy.__version__}")


if __name__ == "__main__":
    main()
