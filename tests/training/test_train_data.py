"""Streaming, packing and domain scheduling of pretraining data."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import wiki_paragraphs, write_curated

from training.data import (
    IGNORE,
    DeficitScheduler,
    DomainStream,
    PackedLoader,
    domain_token_counts,
    encode,
    eval_blocks,
)
from training.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def tok():
    paras = wiki_paragraphs()
    return train_tokenizer(iter([paras]), vocab_size=400)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    paras = wiki_paragraphs()
    docs = {"general": paras[:200], "other": paras[200:260]}
    return write_curated(tmp_path_factory.mktemp("data_run"), docs, shards=3)


def _files(run, split="train"):
    return sorted((run / "mix" / split).glob("*.parquet"))


def test_deficit_scheduler_tracks_shares_at_every_prefix():
    s = DeficitScheduler({"a": 0.7, "b": 0.2, "c": 0.1})
    picks = [s.pick() for _ in range(1000)]
    for n in (10, 100, 1000):
        for d, w in s.shares.items():
            assert abs(picks[:n].count(d) - w * n) <= 1
    assert DeficitScheduler({"a": 0.5, "b": 0.0}).shares == {"a": 1.0}


def test_domain_token_counts_read_the_curators_counts(run):
    counts = domain_token_counts(_files(run))
    paras = wiki_paragraphs()
    expected = sum(len(p.split()) for i, p in enumerate(paras[:200]) if i % 10 > 1)
    assert counts["general"] == expected


def test_stream_packs_every_document_in_order_of_its_permutation(run, tok):
    s = DomainStream(_files(run), "other", tok, block=64, seed=3)
    blocks = [s.next_block() for _ in range(150)]
    assert all(len(b) == 65 for b in blocks)
    assert all(b1[-1] == b2[0] for b1, b2 in zip(blocks, blocks[1:], strict=False))  # overlap of one token
    stream = np.concatenate([blocks[0], *[b[1:] for b in blocks[1:]]])
    eos = tok.eos_token_id
    docs = set()
    start = 0
    for i in np.flatnonzero(stream == eos):
        docs.add(tok.decode(stream[start:i].tolist()))
        start = i + 1
    texts = set(wiki_paragraphs()[200:260])
    assert len(docs) > 10 and docs <= texts  # whole documents, nothing invented


def test_stream_resumes_exactly_from_a_snapshot(run, tok):
    a = DomainStream(_files(run), "other", tok, block=256, seed=3, docs_per_read=4)
    for _ in range(75):  # through all shards and into the next pass
        a.next_block()
    assert a.state.passes >= 1
    snap = a.snapshot()
    b = DomainStream(_files(run), "other", tok, block=256, seed=3, state=snap, docs_per_read=4)
    for _ in range(80):
        assert np.array_equal(a.next_block(), b.next_block())


def test_processes_read_disjoint_documents(run, tok):
    seen = []
    for rank in (0, 1):
        s = DomainStream(_files(run), "general", tok, block=64, seed=0, rank=rank, world=2)
        s.next_block()
        seen.append({tuple(encode(tok, [t])[0]) for t in s._texts or []})
    assert seen[0] and seen[1] and not (seen[0] & seen[1])


def test_loader_state_round_trip(run, tok):
    shares = {"general": 0.75, "other": 0.25}
    a = PackedLoader(_files(run), shares, tok, context=16, micro_batch=4, seed=1)
    for _ in range(9):
        a.next_batch()
    b = PackedLoader(_files(run), shares, tok, context=16, micro_batch=4, seed=1, state=a.state())
    for _ in range(9):
        (xa, ya, da), (xb, yb, db) = a.next_batch(), b.next_batch()
        assert da == db and (xa == xb).all() and (ya == yb).all()
        assert (xa[:, 1:] == ya[:, :-1]).all()
    assert a.tokens == {"general": 18 * 4 * 16 * 3 // 4, "other": 18 * 4 * 16 // 4}


def test_eval_blocks_pad_the_tail_with_ignore(run, tok):
    x, y = eval_blocks(_files(run, "validation"), "other", tok, context=50, max_tokens=120)
    assert x.shape == (3, 50)
    assert (y[:2] != IGNORE).all() and (y[2, :20] != IGNORE).all() and (y[2, 20:] == IGNORE).all()
    assert int((y != IGNORE).sum()) == 120


def test_prefetcher_yields_the_same_batches_and_the_consumed_state(run, tok):
    from training.data import Prefetcher

    shares = {"general": 0.5, "other": 0.5}
    plain = PackedLoader(_files(run), shares, tok, context=16, micro_batch=4, seed=2)
    pre = Prefetcher(PackedLoader(_files(run), shares, tok, context=16, micro_batch=4, seed=2), depth=3)
    try:
        for _ in range(12):
            (xa, _, da), (xb, _, db) = plain.next_batch(), pre.next_batch()
            assert da == db and (xa == xb).all()
        import time

        time.sleep(0.2)  # the producer runs ahead; the state must not
        a, b = plain.state(), pre.state()
        assert a["emitted"] == b["emitted"] and a["tokens"] == b["tokens"] == pre.tokens
        for dom in shares:
            sa, sb = a["streams"][dom], b["streams"][dom]
            assert (sa["passes"], sa["shard"], sa["row"]) == (sb["passes"], sb["shard"], sb["row"])
            assert np.array_equal(sa["buffer"], sb["buffer"])
    finally:
        pre.close()
