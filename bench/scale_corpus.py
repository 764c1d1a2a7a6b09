"""A large two-domain corpus built at run time from the real local text in ../shared/data.

General text: WikiText-2 paragraphs (validation + test); financial text: FiQA posts and SemEval-2017 headlines.
Both are a few MB, so the corpus repeats them with variations (copy k rotates a paragraph's sentences and swaps
a few adjacent words, seeded by k and the paragraph), so that exact dedup keeps most copies, as on a real crawl
with near-duplicates. Every 5,000th document reuses an earlier id, so the duplicate-id check has work too.
Written as JSONL files per source (`general-*.jsonl`, `financial-*.jsonl`), streamed: the builder stays small.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FILES_PER_SOURCE = 8


def available() -> bool:
    return (DATA / "wikitext2" / "valid.txt").exists() and (DATA / "finance" / "fiqa_posts.json").exists()


def _wiki() -> list[str]:
    out = []
    for name in ("valid.txt", "test.txt"):
        for line in (DATA / "wikitext2" / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 80 and not line.startswith("="):
                out.append(line)
    return out


def _finance() -> list[str]:
    posts = json.loads((DATA / "finance" / "fiqa_posts.json").read_text(encoding="utf-8"))
    heads = json.loads((DATA / "finance" / "semeval2017_task5_headlines.json").read_text(encoding="utf-8"))
    texts = [p["sentence"] for p in posts.values()] + [h["title"] for h in heads]
    # a financial document: a few consecutive posts/headlines (microblog threads, news digests)
    return [" ".join(texts[i : i + 6]) for i in range(0, len(texts), 3)]


def _vary(text: str, k: int, i: int) -> str:
    if k == 0:
        return text
    rng = random.Random(k * 1_000_003 + i)
    sents = re.split(r"(?<=[.!?]) ", text)
    r = k % len(sents)
    words = " ".join(sents[r:] + sents[:r]).split(" ")
    for _ in range(3):
        j = rng.randrange(max(len(words) - 1, 1))
        words[j : j + 2] = words[j : j + 2][::-1]
    return " ".join(words)


def _docs(texts: list[str], prefix: str) -> Iterator[dict]:
    k, n = 0, 0
    while True:
        for i, t in enumerate(texts):
            n += 1
            doc_id = f"{prefix}-{k}-{i}" if n % 5000 else f"{prefix}-0-{i}"  # now and then an id repeats
            yield {"id": doc_id, "text": _vary(t, k, i)}
        k += 1


def build(out: Path, total_bytes: int, financial_share: float = 0.3) -> dict[str, int]:
    """Write about `total_bytes` of JSONL under `out`; returns documents and bytes written."""
    out.mkdir(parents=True, exist_ok=True)
    stats = {"docs": 0, "bytes": 0}
    for name, texts, share in (
        ("general", _wiki(), 1 - financial_share),
        ("financial", _finance(), financial_share),
    ):
        budget = int(total_bytes * share)
        files = [(out / f"{name}-{i:02d}.jsonl").open("w", encoding="utf-8") for i in range(FILES_PER_SOURCE)]
        written = 0
        for doc in _docs(texts, name):
            line = json.dumps(doc, ensure_ascii=False) + "\n"
            files[min(written * FILES_PER_SOURCE // budget, FILES_PER_SOURCE - 1)].write(line)
            written += len(line.encode())
            stats["docs"] += 1
            if written >= budget:
                break
        for f in files:
            f.close()
        stats["bytes"] += written
    return stats
