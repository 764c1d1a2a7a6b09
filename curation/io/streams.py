"""Bytes of one input file, streamed: decompressed chunks and lines with explicit boundaries.

Three promises the readers build on:
- the checksum and size reported for a file are those of the bytes actually read (`RawFile.entry`), so a file
  that changes while it is read is recorded as it was read, not as it was when the run planned;
- a truncated or corrupt compressed stream raises `CorruptInput` after every complete record before the damage
  has been handed on (Python's gzip/zstd wrappers either raise with data still buffered or, for zstd, stop
  silently at a truncated frame);
- lines end at `\\n` only (a `\\r` before it is left for the reader to strip): no U+2028, `\\x0c`, `\\x85` splits.
"""

from __future__ import annotations

import bz2
import lzma
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash
import zstandard

from mixloom import storage

CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"


class CorruptInput(Exception):
    """A file whose bytes cannot be read to the end: truncated or corrupt compression, a broken Parquet file."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


class RawFile:
    """A file opened for reading whose bytes are hashed (xxh3-128) and counted as they are read."""

    def __init__(self, path: str | Path):
        self.path = storage.path(path)  # a URL is streamed from its filesystem, never copied whole
        with storage.guard(path):
            self.f = self.path.open("rb") if storage.is_url(path) else open(self.path, "rb")  # noqa: SIM115
        self._h = xxhash.xxh3_128()
        self.n = 0

    def read(self, n: int = CHUNK) -> bytes:
        b = self.f.read(n)
        self._h.update(b)
        self.n += len(b)
        return b

    def drain(self) -> None:
        """Read (and hash) what is left, so the checksum covers the whole file even after an early stop."""
        while self.read(CHUNK):
            pass

    def entry(self) -> dict[str, Any]:
        return {"bytes": self.n, "xxh3_128": self._h.hexdigest()}

    def size_now(self) -> int:
        if storage.is_url(self.path):
            return self.path.fs.info(self.path.path)["size"]
        return os.fstat(self.f.fileno()).st_size

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> RawFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decompressor(name: str) -> Any | None:
    if name.endswith(".gz"):
        return zlib.decompressobj(31)
    if name.endswith((".zst", ".zstd")):
        return zstandard.ZstdDecompressor().decompressobj()
    if name.endswith(".bz2"):
        return bz2.BZ2Decompressor()
    if name.endswith(".xz"):
        return lzma.LZMADecompressor()
    return None


_DECOMPRESS_ERRORS = (zlib.error, OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, ValueError)


def chunks(raw: RawFile) -> Iterator[bytes]:
    """The file's decompressed bytes in chunks; concatenated members/frames are read one after the other.

    Raises `CorruptInput` when a compressed stream is corrupt or ends before its end marker.
    """
    d = _decompressor(raw.path.name)
    if d is None:
        while b := raw.read(CHUNK):
            yield b
        return
    fed = False  # whether the current member has had input
    while True:
        data = raw.read(CHUNK)
        if not data:
            break
        while data:
            try:
                out = d.decompress(data)
            except _DECOMPRESS_ERRORS as e:
                raise CorruptInput("corrupt compressed data", f"{type(e).__name__}: {e}") from None
            fed = True
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                d, fed = _decompressor(raw.path.name), False
            else:
                data = b""
    if fed and not d.eof:
        raise CorruptInput("truncated compressed file", "the stream ends before its end marker")


def lines(raw: RawFile) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the `\\n`) for each line, split on `\\n` only; a UTF-8 BOM is dropped.

    On `CorruptInput` every complete line before the damage has been yielded; the exception's `line` is the
    number the unfinished line would have had and `records_before` how many lines came before it.
    """
    pending: list[bytes] = []  # pieces of the unfinished line (a long line is not re-copied per chunk)
    lineno = 0
    first = True
    try:
        for chunk in chunks(raw):
            if first:
                chunk, first = chunk.removeprefix(BOM), False
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                pending.append(chunk)
                continue
            pending.append(parts[0])
            parts[0] = b"".join(pending)
            pending = [parts.pop()]
            for p in parts:
                lineno += 1
                yield lineno, p
    except CorruptInput as e:
        e.line = lineno + 1  # type: ignore[attr-defined]
        e.records_before = lineno  # type: ignore[attr-defined]
        raise
    tail = b"".join(pending)
    if tail:
        lineno += 1
        yield lineno, tail


def read_all(raw: RawFile) -> bytes:
    """The whole decompressed content (formats that are one document: a JSON file, unsplit text)."""
    data = b"".join(chunks(raw))
    return data.removeprefix(BOM)
