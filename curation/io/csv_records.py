"""CSV records with explicit boundaries: each record is the physical lines Python's `csv` parser consumed for it.

Python's `csv` alone loses records on hostile input: a field over `field_size_limit` (131,072 characters) raises
mid-record and parsing restarts inside the field (one 150 KB article became 1,440 "documents"), and a quote that
is never closed silently swallows every following row. Here there is no field-size limit (a long document is
quarantined later by `max_doc_bytes`, with its size), a record that cannot be parsed is quarantined with its
first line, and parsing restarts at the line after it. A quoted field still open at the end of the file, or one
that grows past `max_record_bytes`, is an unterminated quote: its first line is quarantined and the lines it
swallowed are parsed again as records.
"""

from __future__ import annotations

import csv
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any

from curation.io.streams import CorruptInput, RawFile, lines

PREVIEW = 200
MAX_RECORD_BYTES = 256 << 20


class _Unterminated(Exception):
    pass


class _Feed:
    """The decoded physical lines handed to `csv.reader`, remembering those of the record being parsed."""

    def __init__(self, source: Iterator[tuple[int, bytes]], encoding: str, limit: int):
        self.source, self.encoding, self.limit = source, encoding, limit
        self.replay: deque[tuple[int, bytes]] = deque()  # lines to parse again after an unterminated quote
        self.record: list[tuple[int, bytes]] = []  # lines consumed for the current record
        self.size = 0
        self.corrupt: CorruptInput | None = None

    def start(self) -> None:
        self.record, self.size = [], 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.replay:
            lineno, raw = self.replay.popleft()
        else:
            try:
                lineno, raw = next(self.source)
            except CorruptInput as e:  # the data ends here: finish the records before it, then report it
                self.corrupt = e
                raise StopIteration from None
        self.record.append((lineno, raw))
        self.size += len(raw)
        if self.size > self.limit:
            raise _Unterminated
        # undecodable bytes become lone surrogates, so the record's boundaries stay exact; the record that
        # holds them is quarantined once it is complete
        return raw.decode(self.encoding, errors="surrogateescape") + "\n"


def _undecodable(row: list[str], encoding: str) -> str | None:
    try:
        "\x1f".join(row).encode("utf-8")
    except UnicodeEncodeError as e:
        return f"invalid {encoding} byte 0x{ord(e.object[e.start]) - 0xDC00:02x} in the record"
    return None


def _records(feed: _Feed) -> Iterator[tuple[int, list[str] | None, str | None, str | None]]:
    """(first line, fields, None, None) per record, or (first line, None, reason, detail) for a bad one."""
    while True:
        reader = csv.reader(feed, strict=True)
        try:
            while True:
                feed.start()
                row = next(reader)
                bad = _undecodable(row, feed.encoding)
                if bad is None:
                    yield feed.record[0][0], row, None, None
                else:
                    yield feed.record[0][0], None, f"invalid {feed.encoding}", bad
        except StopIteration:
            if not feed.record:
                return
            yield from _unterminated(feed)  # strict mode only stops inside an open quote at the very end
        except _Unterminated:
            yield from _unterminated(feed)
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                yield from _unterminated(feed)
            elif len(feed.record) > 1:  # a quote ran over line ends into later rows: give those rows back
                yield from _unterminated(
                    feed, "malformed CSV", f"{e} (in a quoted field opened on this line)"
                )
            else:
                yield feed.record[0][0], None, "malformed CSV", str(e)


def _unterminated(
    feed: _Feed, reason: str = "unterminated quoted field", detail: str = ""
) -> Iterator[tuple[int, None, str, str]]:
    """Quarantine the record's first line; the lines it swallowed are parsed again."""
    (first, _), *rest = feed.record
    feed.replay.extendleft(reversed(rest))
    yield first, None, reason, detail or f"a quote opened on line {first} is never closed"


def read_csv(
    raw: RawFile, encoding: str = "utf-8", max_record_bytes: int = MAX_RECORD_BYTES, **_: Any
) -> Iterator[Any]:
    from curation.io.records import Rec, corrupt_rec

    csv.field_size_limit(sys.maxsize)
    feed = _Feed(lines(raw), encoding, max_record_bytes)
    header: list[str] | None = None
    n = 0
    try:
        for loc, row, reason, detail in _records(feed):
            preview = b"\n".join(r for _, r in feed.record)[:PREVIEW].decode("utf-8", "replace")
            if header is None:
                if row is None:
                    yield Rec(loc, None, f"unreadable CSV header: {reason}", preview, detail, whole_file=True)
                    return
                if row:
                    header = row
                continue
            if row is not None and not row:
                continue  # a blank line
            n += 1
            if row is None:
                yield Rec(loc, None, reason, preview, detail)
            elif len(row) != len(header):
                yield Rec(
                    loc,
                    None,
                    "wrong number of CSV fields",
                    preview,
                    f"row has {len(row)} fields, header has {len(header)}",
                )
            else:
                yield Rec(loc, dict(zip(header, row, strict=True)))
    except CorruptInput as e:
        feed.corrupt = e
    if feed.corrupt is not None:
        yield corrupt_rec(feed.corrupt, n)
