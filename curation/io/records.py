"""Format readers: each yields raw records with their location, or a quarantine reason for a bad one.

A record is `Rec(loc, data, error, preview)`: `loc` is the line (or row) number used in lineage, `data` a dict of
fields (None when bad), `error` the reason a record could not be read, `preview` the start of the raw bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.io.files import open_binary

PREVIEW = 200


@dataclass(slots=True)
class Rec:
    loc: int
    data: dict[str, Any] | None
    error: str | None = None  # a stable category, e.g. "malformed JSON"
    preview: str | None = None
    detail: str | None = None  # the specifics: column, byte offset


def _preview(raw: bytes) -> str:
    return raw[:PREVIEW].decode("utf-8", errors="replace")


def read_jsonl(path: Path, encoding: str = "utf-8", **_: Any) -> Iterator[Rec]:
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                yield Rec(lineno, None, f"invalid {encoding}", _preview(raw), f"at byte {e.start}")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield Rec(lineno, None, "malformed JSON", _preview(raw), f"{e.msg} at column {e.colno}")
                continue
            if not isinstance(obj, dict):
                yield Rec(lineno, None, "JSON line is not an object", _preview(raw), type(obj).__name__)
                continue
            yield Rec(lineno, obj)


def read_json(path: Path, encoding: str = "utf-8", **_: Any) -> Iterator[Rec]:
    """A JSON array of objects, or an object of objects keyed by id (the key becomes field `_key`)."""
    with open_binary(path) as f:
        raw = f.read()
    try:
        obj = json.loads(raw.decode(encoding))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        yield Rec(1, None, "unreadable JSON file", _preview(raw), str(e))
        return
    if isinstance(obj, dict):
        items = [(k, v) for k, v in obj.items()]
        for i, (k, v) in enumerate(items, 1):
            if isinstance(v, dict):
                yield Rec(i, {"_key": k, **v})
            else:
                yield Rec(
                    i,
                    None,
                    "entry is not an object",
                    str(v)[:PREVIEW],
                    f"entry {k!r} is a {type(v).__name__}",
                )
    elif isinstance(obj, list):
        for i, v in enumerate(obj, 1):
            if isinstance(v, dict):
                yield Rec(i, v)
            else:
                yield Rec(
                    i, None, "entry is not an object", str(v)[:PREVIEW], f"item {i} is a {type(v).__name__}"
                )
    else:
        yield Rec(1, None, "JSON file is not a list or mapping of records", _preview(raw))


def read_csv(path: Path, encoding: str = "utf-8", **_: Any) -> Iterator[Rec]:
    with open_binary(path) as fb:
        text = io.TextIOWrapper(fb, encoding=encoding, errors="strict", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as e:
            yield Rec(1, None, f"invalid {encoding}", None, f"in the header at byte {e.start}")
            return
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as e:
                yield Rec(
                    reader.line_num + 1,
                    None,
                    f"invalid {encoding}",
                    None,
                    f"at byte {e.start}; rest of file unreadable",
                )
                return
            except csv.Error as e:
                yield Rec(reader.line_num, None, "malformed CSV", None, str(e))
                continue
            if not row:
                continue
            if len(row) != len(header):
                yield Rec(
                    reader.line_num,
                    None,
                    "wrong number of CSV fields",
                    ",".join(row)[:PREVIEW],
                    f"row has {len(row)} fields, header has {len(header)}",
                )
                continue
            yield Rec(reader.line_num, dict(zip(header, row, strict=True)))


def read_parquet(path: Path, batch_rows: int = 8192, **_: Any) -> Iterator[Rec]:
    import pyarrow.parquet as pq

    row = 0
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=batch_rows):
            for rec in batch.to_pylist():
                row += 1
                yield Rec(row, rec)


def read_text(path: Path, encoding: str = "utf-8", split_on: str = "none", **_: Any) -> Iterator[Rec]:
    """Plain text: one document per file, or split on blank lines, lines, or before lines matching a regex.

    `loc` is the first line of each document. Invalid bytes quarantine the whole file (its lines are not trusted).
    """
    with open_binary(path) as f:
        raw = f.read()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        yield Rec(
            line, None, f"invalid {encoding}", _preview(raw[e.start :]), f"at byte {e.start} (line {line})"
        )
        return
    if split_on == "none":
        if text.strip():
            yield Rec(1, {"text": text})
        return
    lines = text.splitlines(keepends=True)
    if split_on == "line":
        for i, ln in enumerate(lines, 1):
            if ln.strip():
                yield Rec(i, {"text": ln.rstrip("\r\n")})
        return
    starts = re.compile(split_on.removeprefix("regex:")) if split_on.startswith("regex:") else None
    buf: list[str] = []
    first = 1
    for i, ln in enumerate(lines, 1):
        boundary = (not ln.strip()) if starts is None else bool(starts.match(ln.rstrip("\r\n")))
        if boundary:
            if "".join(buf).strip():
                yield Rec(first, {"text": "".join(buf).strip("\n")})
            buf = [] if starts is None else [ln]
            first = i + 1 if starts is None else i
        else:
            if not buf:
                first = i
            buf.append(ln)
    if "".join(buf).strip():
        yield Rec(first, {"text": "".join(buf).strip("\n")})


READERS = {
    "jsonl": read_jsonl,
    "json": read_json,
    "csv": read_csv,
    "parquet": read_parquet,
    "text": read_text,
}
