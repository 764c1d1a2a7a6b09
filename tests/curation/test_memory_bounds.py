"""Memory per task follows the shard, not the process's history: the quality step scores in slices and its
per-process caches restart when large, with the same results."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    paras = (ROOT / "data" / "wikitext2" / "wiki_valid_sample.txt").read_text(encoding="utf-8").split("\n \n")
    web = [json.loads(line)["text"] for line in (ROOT / "data" / "quality" / "web_noise.jsonl").open()]
    return [t.strip() for t in paras + web if t.strip()] + ["", "x"]


def test_quality_scores_the_same_in_slices_as_in_one_batch(monkeypatch):
    """The quality step scores a shard in slices of text (bounded memory); every rule is per document, so the
    frame it returns is the one a single batch gives, rewritten C4 text and score columns included."""
    from curation.steps import quality as Q

    texts = _texts()
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, "tokens": [0] * len(texts)})
    step = Q.Quality(
        Q.Params(
            rules=["gopher_quality", "gopher_repetition", "c4", "fineweb"],
            overrides={"c4.remove_lines": True},
        )
    )
    whole = step.process(df)
    monkeypatch.setattr(Q, "SLICE_CHARS", 3000)
    assert len(Q._slices(df["text"])) > 5
    sliced = step.process(df)
    assert sliced.equals(whole)
    assert whole["_reject"].null_count() not in (0, whole.height)  # some kept, some rejected


def test_chunk_cache_restarts_cleanly_when_full(monkeypatch):
    """A shard with more distinct chunks than the cache holds restarts it between groups; the old entries
    must go with the old table (they outlived it, and tokenizing the next group failed with an IndexError)."""
    from curation.quality import tokens as T
    from curation.steps import quality as Q

    texts = _texts()
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, "tokens": [0] * len(texts)})
    step = Q.Quality(Q.Params(rules=["gopher_quality", "gopher_repetition", "c4", "fineweb"]))
    expected = step.process(df)
    made: list[T.Vocab] = []

    class Recorded(T.Vocab):
        def __init__(self, tokenizer):
            super().__init__(tokenizer)
            made.append(self)

    monkeypatch.setattr(Q, "Vocab", Recorded)
    monkeypatch.setattr(T, "MAX_CHUNKS", 50)  # a tiny cache, then many groups
    monkeypatch.setattr(Q, "SLICE_CHARS", 2000)
    for _ in range(2):
        assert step.process(df).equals(expected)
    assert len(made) == 2  # one vocabulary per shard...
    assert all(len(v.chunks) < 50 + 2000 for v in made)  # ...whose cache restarted when full
    assert step._vocab is None  # and none outlives its shard (a worker's memory follows the shard)


def test_a_shard_scores_the_same_whatever_the_worker_scored_before():
    """The vocabulary is per shard, so a shard's scores do not depend on the shards a worker saw before."""
    from curation.steps import quality as Q

    texts = _texts()
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, "tokens": [0] * len(texts)})
    a, b = df.head(len(texts) // 2), df.tail(len(texts) - len(texts) // 2)
    rules = Q.Params(rules=["gopher_quality", "gopher_repetition", "c4", "fineweb"])
    fresh = Q.Quality(rules).process(b)
    used = Q.Quality(rules)
    used.process(a)
    assert used.process(b).equals(fresh)


def test_a_shard_vocabulary_is_freed_without_the_cycle_collector():
    """Workers release memory after each task without `gc.collect()`: the vocabulary (chunk cache included)
    must go by reference counting alone, i.e. hold no reference cycle."""
    import gc
    import weakref

    from curation.quality.tokenizer import chunk_tokenizer
    from curation.quality.tokens import Vocab

    gc.disable()
    try:
        v = Vocab(chunk_tokenizer())
        v.chunks["hello,"]  # tokenizes: fills the chunk cache and the token ids
        refs = [weakref.ref(v), weakref.ref(v.chunks), weakref.ref(v.ids)]
        del v
        assert [r() for r in refs] == [None, None, None]
    finally:
        gc.enable()
