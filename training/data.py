"""Pretraining data: documents streamed from Parquet shards, tokenised and packed into fixed-length blocks.

Each domain has its own stream, and a deficit scheduler picks the domain of every sequence so that the
tokens the model sees follow the mix shares at every step, not just over a whole pass. A stream reads one
shard at a time (never the whole corpus) in a seeded order, and its position — pass, shard, row and the
tokens already read but not yet emitted — is a small state that a checkpoint stores for exact resume.
Under DDP each process takes every `world`-th row of a shard, so processes see disjoint documents.
"""

from __future__ import annotations

import queue
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from mixloom.errors import UserError

IGNORE = -100


def _columns(f: Path) -> list[str]:
    return pq.ParquetFile(f).schema_arrow.names


def domain_token_counts(files: list[Path]) -> dict[str, int]:
    """Tokens per domain in a split, from the curator's `tokens` column (document counts if it is absent)."""
    counts: dict[str, int] = {}
    for f in files:
        cols = _columns(f)
        if "domain" not in cols or "text" not in cols:
            raise UserError(f"{f}: a curated shard needs columns `text` and `domain`; found {cols}")
        t = pq.read_table(f, columns=["domain", "tokens"] if "tokens" in cols else ["domain"]).to_pydict()
        weights = t.get("tokens") or [1] * len(t["domain"])
        for d, w in zip(t["domain"], weights, strict=True):
            counts[d] = counts.get(d, 0) + int(w or 0)
    return counts


def read_domain_texts(f: Path, domain: str, first_copy_only: bool = False) -> list[str]:
    """The non-empty texts of one domain in one shard (a shard is bounded in size by the curator)."""
    cols = ["text", "domain"] + (["epoch"] if first_copy_only and "epoch" in _columns(f) else [])
    t = pq.read_table(f, columns=cols, filters=[("domain", "=", domain)]).to_pydict()
    keep = t.get("epoch") or [0] * len(t["text"])
    return [x for x, e in zip(t["text"], keep, strict=True) if x and not e]


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids per document with EOS appended; special-token strings in raw text stay plain text."""
    ids = tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    eos = tokenizer.eos_token_id
    return [x + [eos] for x in ids]


@dataclass
class StreamState:
    passes: int = 0  # completed passes over this domain's documents
    shard: int = 0  # position in this pass's shard order
    row: int = 0  # next row of that shard (in the pass's permuted order)
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # read, not yet emitted


class DomainStream:
    """Blocks of `block + 1` tokens from one domain; consecutive blocks overlap by one token."""

    def __init__(
        self,
        files: list[Path],
        domain: str,
        tokenizer,
        block: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        state: StreamState | None = None,
        docs_per_read: int = 64,
    ):
        self.files, self.domain, self.tok, self.block = files, domain, tokenizer, block
        self.seed, self.rank, self.world, self.docs_per_read = seed, rank, world, docs_per_read
        self.state = state or StreamState()
        self._salt = zlib.crc32(domain.encode())
        self._buf = np.asarray(self.state.buffer, dtype=np.int64)
        self._texts: list[str] | None = None
        self._order: np.ndarray | None = None

    def _shard_order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self._salt, self.state.passes]).permutation(len(self.files))

    def _load_shard(self) -> None:
        f = self.files[self._shard_order()[self.state.shard]]
        texts = read_domain_texts(f, self.domain)[self.rank :: self.world]
        rng = np.random.default_rng([self.seed, self._salt, self.state.passes, self.state.shard])
        self._texts, self._order = texts, rng.permutation(len(texts))

    def _refill(self) -> None:
        """Tokenise the next few documents into the buffer, moving to the next shard or pass as needed."""
        empty_shards = 0
        while True:
            if self._texts is None:
                self._load_shard()
            assert self._texts is not None and self._order is not None
            if self.state.row < len(self._texts):
                idx = self._order[self.state.row : self.state.row + self.docs_per_read]
                ids = encode(self.tok, [self._texts[i] for i in idx])
                self.state.row += len(idx)
                self._buf = np.concatenate([self._buf, np.fromiter((t for x in ids for t in x), np.int64)])
                return
            empty_shards = 0 if self.state.row else empty_shards + 1
            if empty_shards > len(self.files):
                raise UserError(
                    f"domain '{self.domain}' has no documents for process {self.rank} in {self.files[0].parent}"
                )
            self.state.shard, self.state.row, self._texts = self.state.shard + 1, 0, None
            if self.state.shard == len(self.files):
                self.state.passes, self.state.shard = self.state.passes + 1, 0

    def next_block(self) -> np.ndarray:
        while len(self._buf) < self.block + 1:
            self._refill()
        out, self._buf = self._buf[: self.block + 1], self._buf[self.block :]
        return out

    def snapshot(self) -> StreamState:
        return StreamState(self.state.passes, self.state.shard, self.state.row, self._buf.copy())


class DeficitScheduler:
    """Deterministic weighted interleaving: the next block goes to the domain furthest below its share."""

    def __init__(self, shares: dict[str, float], emitted: dict[str, int] | None = None):
        total = sum(shares.values())
        self.shares = {d: w / total for d, w in sorted(shares.items()) if w > 0}
        self.emitted = dict(emitted or dict.fromkeys(self.shares, 0))

    def pick(self) -> str:
        n = sum(self.emitted.values()) + 1
        d = max(self.shares, key=lambda k: self.shares[k] * n - self.emitted[k])
        self.emitted[d] += 1
        return d


class PackedLoader:
    """Micro-batches `(x, y, domains)` of packed sequences, mixed by domain share, resumable via `state()`."""

    def __init__(
        self,
        files: list[Path],
        shares: dict[str, float],
        tokenizer,
        context: int,
        micro_batch: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        state: dict | None = None,
    ):
        state = state or {}
        self.micro_batch = micro_batch
        self.scheduler = DeficitScheduler(shares, state.get("emitted"))
        streams = state.get("streams", {})
        self.streams = {
            d: DomainStream(
                files,
                d,
                tokenizer,
                context,
                seed,
                rank,
                world,
                StreamState(**streams[d]) if d in streams else None,
            )
            for d in self.scheduler.shares
        }
        self.tokens = dict(state.get("tokens") or dict.fromkeys(self.streams, 0))

    def next_batch(self):
        import torch

        domains = [self.scheduler.pick() for _ in range(self.micro_batch)]
        blocks = np.stack([self.streams[d].next_block() for d in domains])
        for d in domains:
            self.tokens[d] += blocks.shape[1] - 1
        t = torch.from_numpy(blocks)
        return t[:, :-1], t[:, 1:], domains

    def state(self) -> dict:
        return {
            "emitted": dict(self.scheduler.emitted),
            "tokens": dict(self.tokens),
            "streams": {d: vars(s.snapshot()) for d, s in self.streams.items()},
        }


class Prefetcher:
    """Builds the next batches in a background thread so tokenisation overlaps the model's compute.

    Each batch travels with the loader state *after* it, so `state()` describes exactly the batches the
    trainer has consumed and a checkpoint resumes at the right place.
    """

    def __init__(self, loader: PackedLoader, depth: int = 4):
        self.loader = loader
        self._state = loader.state()
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, daemon=True, name="mixloom-data")
        self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                item = (self.loader.next_batch(), self.loader.state())
                while not self._stop.is_set():
                    try:
                        self._q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as e:  # handed to the trainer, raised there
            self._q.put((e, None))

    def next_batch(self):
        batch, state = self._q.get()
        if isinstance(batch, BaseException):
            raise batch
        self._state = state
        return batch

    def state(self) -> dict:
        return self._state

    @property
    def tokens(self) -> dict[str, int]:
        return dict(self._state["tokens"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def eval_blocks(files: list[Path], domain: str, tokenizer, context: int, max_tokens: int):
    """Validation blocks `(x, y)` for one domain, first `max_tokens` targets; the last block is padded."""
    import torch

    ids: list[int] = []
    for f in files:
        texts = read_domain_texts(f, domain, first_copy_only=True)
        for i in range(0, len(texts), 256):
            ids.extend(t for x in encode(tokenizer, texts[i : i + 256]) for t in x)
            if len(ids) > max_tokens:
                break
        if len(ids) > max_tokens:
            break
    ids = ids[: max_tokens + 1]
    if len(ids) < 2:
        return None
    n = -(-(len(ids) - 1) // context)
    x = torch.full((n, context), tokenizer.pad_token_id, dtype=torch.long)
    y = torch.full((n, context), IGNORE, dtype=torch.long)
    for b in range(n):
        chunk = torch.tensor(ids[b * context : b * context + context + 1])
        x[b, : len(chunk) - 1], y[b, : len(chunk) - 1] = chunk[:-1], chunk[1:]
    return x, y
