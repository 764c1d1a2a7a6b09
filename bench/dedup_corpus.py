"""Benchmark corpus for near-duplicate detection: real local documents plus planted, edited copies.

`build(n, ...)` takes the first `n` documents of `bench.corpus.iter_documents()` (Python sources and
/usr/share/doc, ~2.5 kB each), copies a fraction of them with random word edits (substitutions, deletions
and insertions at a rate drawn log-uniformly from 0.5% to 20% of the words, so the copies' true Jaccard
similarity spans both sides of a 0.8 threshold), shuffles everything and writes JSONL shards. The planted
pairs are listed in `planted.jsonl`. Everything is seeded: the same machine gives the same corpus.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import iter_documents  # noqa: E402

_SPLIT = re.compile(r"(\s+)")


def edit_words(text: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    """Substitute, delete or insert words at `rate` of the words; whitespace is kept as it was."""
    parts = _SPLIT.split(text)
    for i in range(0, len(parts), 2):  # even positions are words, odd ones the whitespace between
        if parts[i] and rng.random() < rate:
            op = rng.random()
            if op < 0.7:
                parts[i] = rng.choice(vocab)
            elif op < 0.85:
                parts[i] = ""
            else:
                parts[i] = parts[i] + " " + rng.choice(vocab)
    return "".join(parts)


def build(n: int, out: Path, copies: float = 0.1, shard_docs: int = 4000, seed: int = 0) -> dict:
    """Write `out/shard-*.jsonl` (about `shard_docs` documents each, so a shard's size does not grow with
    the corpus) and `out/planted.jsonl`; returns a summary (cached by `out/meta.json`)."""
    meta_path = out / "meta.json"
    want = {"n": n, "copies": copies, "shard_docs": shard_docs, "seed": seed}
    if meta_path.exists() and json.loads(meta_path.read_text()).get("params") == want:
        return json.loads(meta_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("shard-*.jsonl"):  # a previous build's shards (another count) must not linger
        old.unlink()
    rng = random.Random(seed)
    docs = [{"id": f"d{i:07d}", "text": d["text"]} for i, d in enumerate(islice(iter_documents(), n))]
    if len(docs) < n:
        raise SystemExit(f"only {len(docs)} local documents available, asked for {n}")
    vocab = [w for d in rng.sample(docs, min(2000, n)) for w in d["text"].split()[:50]]
    planted = []
    for k, i in enumerate(sorted(rng.sample(range(n), int(n * copies)))):
        rate = math.exp(rng.uniform(math.log(0.005), math.log(0.2)))
        copy = {"id": f"p{k:07d}", "text": edit_words(docs[i]["text"], rate, vocab, rng)}
        planted.append({"original": docs[i]["id"], "copy": copy["id"], "rate": round(rate, 5)})
        docs.append(copy)
    rng.shuffle(docs)
    shards = -(-len(docs) // shard_docs)
    nbytes = 0
    for s in range(shards):
        with (out / f"shard-{s:04d}.jsonl").open("w", encoding="utf-8") as f:
            for d in docs[s::shards]:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
                nbytes += len(d["text"].encode())
    with (out / "planted.jsonl").open("w") as f:
        for p in planted:
            f.write(json.dumps(p) + "\n")
    meta = {"params": want, "docs": len(docs), "planted": len(planted), "bytes": nbytes}
    meta_path.write_text(json.dumps(meta))
    return meta


def load_texts(out: Path) -> dict[str, str]:
    texts = {}
    for p in sorted(out.glob("shard-*.jsonl")):
        for line in p.open(encoding="utf-8"):
            d = json.loads(line)
            texts[d["id"]] = d["text"]
    return texts


def load_planted(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "planted.jsonl").open()]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(build(n, Path(sys.argv[2] if len(sys.argv) > 2 else f".bench/dedup/corpus-{n}")))
