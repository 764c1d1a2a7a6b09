"""Format readers: each yields raw records with their location, or a quarantine reason for a bad one.

A record is `Rec(loc, data, error, preview)`: `loc` is the line (or row) number used in lineage, `data` a dict of
fields (None when bad), `error` the reason a record could not be read, `preview` the start of the raw bytes.
Readers take a `RawFile` (bytes hashed as read) and never raise for bad content: a file that cannot be read to
its end yields one last record with the reason (`Rec.whole_file`), after every record read before the damage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from curation.io.csv_records import read_csv
from curation.io.streams import CorruptInput, RawFile, lines, read_all

PREVIEW = 200
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


@dataclass(slots=True)
class Rec:
    loc: int
    data: dict[str, Any] | None
    error: str | None = None  # a stable category, e.g. "malformed JSON"
    preview: str | None = None
    detail: str | None = None  # the specifics: column, byte offset
    whole_file: bool = False  # the reason covers the rest of the file (truncated, corrupt)


def _preview(raw: bytes) -> str:
    return raw[:PREVIEW].decode("utf-8", errors="replace")


def corrupt_rec(e: CorruptInput, records: int) -> Rec:
    """The one reject that stands for the unreadable rest of a file, with the count read before it."""
    loc = getattr(e, "line", records + 1)
    return Rec(loc, None, e.reason, None, f"{e.detail}; {records} records read before it", whole_file=True)


def parse_json(text: str, check_surrogates: bool = True) -> tuple[Any, str | None, str | None]:
    """(value, None, None) or (None, reason, detail): never raises for hostile JSON."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, "malformed JSON", f"{e.msg} at column {e.colno}"
    except RecursionError:
        return None, "JSON nested too deeply", "nesting exceeds Python's recursion limit"
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        return None, "JSON value out of range", str(e)[:200]
    if check_surrogates and _SURROGATE_ESCAPE.search(text):  # paired escapes are fine: check deeply
        reason, detail = check_encodable(obj)
        if reason is not None:
            return None, reason, detail
    return obj, None, None


def check_encodable(obj: Any) -> tuple[str | None, str | None]:
    """A parsed value whose strings all encode as UTF-8 (JSON's `\\ud800` escapes decode to lone surrogates)."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return "lone surrogate in a JSON string", f"\\u{ord(e.object[e.start]):04x} has no pair"
    except (RecursionError, ValueError) as e:
        return "JSON value out of range", str(e)[:200]
    return None, None


def read_jsonl(raw: RawFile, encoding: str = "utf-8", **_: Any) -> Iterator[Rec]:
    n = 0
    try:
        for lineno, line in lines(raw):
            if not line.strip():
                continue
            n += 1
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError as e:
                yield Rec(lineno, None, f"invalid {encoding}", _preview(line), f"at byte {e.start}")
                continue
            obj, reason, detail = parse_json(text)
            if reason is not None:
                yield Rec(lineno, None, reason, _preview(line), detail)
            elif not isinstance(obj, dict):
                yield Rec(lineno, None, "JSON line is not an object", _preview(line), type(obj).__name__)
            else:
                yield Rec(lineno, obj)
    except CorruptInput as e:
        yield corrupt_rec(e, n)


def read_json(raw: RawFile, encoding: str = "utf-8", **_: Any) -> Iterator[Rec]:
    """A JSON array of objects, or an object of objects keyed by id (the key becomes field `_key`)."""
    try:
        data = read_all(raw)
    except CorruptInput as e:
        yield corrupt_rec(e, 0)
        return
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        yield Rec(1, None, "unreadable JSON file", _preview(data), f"invalid {encoding} at byte {e.start}")
        return
    obj, reason, detail = parse_json(text, check_surrogates=False)
    if reason is not None:
        yield Rec(1, None, "unreadable JSON file", _preview(data), f"{reason}: {detail}")
        return
    deep = bool(_SURROGATE_ESCAPE.search(text))  # then each entry is checked on its own
    if isinstance(obj, dict):
        for i, (k, v) in enumerate(obj.items(), 1):
            bad = check_encodable([k, v]) if deep else (None, None)
            if bad[0] is not None:
                yield Rec(i, None, bad[0], None, bad[1])
            elif isinstance(v, dict):
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
            bad = check_encodable(v) if deep else (None, None)
            if bad[0] is not None:
                yield Rec(i, None, bad[0], None, bad[1])
            elif isinstance(v, dict):
                yield Rec(i, v)
            else:
                yield Rec(
                    i, None, "entry is not an object", str(v)[:PREVIEW], f"item {i} is a {type(v).__name__}"
                )
    else:
        yield Rec(1, None, "JSON file is not a list or mapping of records", _preview(data))


def read_parquet(raw: RawFile, batch_rows: int = 8192, **_: Any) -> Iterator[Rec]:
    """Rows of a Parquet file. The bytes are hashed first (Parquet is read by seeking, not in one pass); a file
    that cannot be opened or decoded, or that changes size meanwhile, ends with one whole-file reject."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw.drain()
    raw.f.seek(0)
    row = 0
    try:
        with pq.ParquetFile(raw.f) as pf:
            for batch in pf.iter_batches(batch_size=batch_rows):
                for rec in batch.to_pylist():
                    row += 1
                    yield Rec(row, rec)
        if raw.size_now() != raw.n:
            raise CorruptInput("file changed while being read", f"{raw.n} bytes hashed, {raw.size_now()} now")
    except (pa.ArrowException, OSError, ValueError) as e:
        yield corrupt_rec(CorruptInput("unreadable Parquet file", str(e).splitlines()[0][:300]), row)
    except CorruptInput as e:
        yield corrupt_rec(e, row)


def read_text(raw: RawFile, encoding: str = "utf-8", split_on: str = "none", **_: Any) -> Iterator[Rec]:
    """Plain text: one document per file, or split on blank lines, lines, or before lines matching a regex.

    Lines end at `\\n` (a `\\r` before it is dropped); `loc` is the first line of each document. A document with
    bytes that are not valid in `encoding` is quarantined whole.
    """
    if split_on == "none":
        try:
            data = read_all(raw)
        except CorruptInput as e:
            yield corrupt_rec(e, 0)
            return
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            yield Rec(
                line,
                None,
                f"invalid {encoding}",
                _preview(data[e.start :]),
                f"at byte {e.start} (line {line})",
            )
            return
        if text.strip():
            yield Rec(1, {"text": text.replace("\r\n", "\n")})
        return
    yield from _split_text(raw, encoding, split_on)


def _split_text(raw: RawFile, encoding: str, split_on: str) -> Iterator[Rec]:
    starts = re.compile(split_on.removeprefix("regex:")) if split_on.startswith("regex:") else None
    buf: list[str] = []
    first = 0
    bad: str | None = None  # the decoding problem of the document being gathered
    n = 0

    def emit() -> Iterator[Rec]:
        nonlocal n
        if bad is not None:
            n += 1
            yield Rec(first, None, f"invalid {encoding}", None, bad)
        elif "".join(buf).strip():
            n += 1
            yield Rec(first, {"text": "\n".join(buf).strip("\n")})

    try:
        for lineno, rawline in lines(raw):
            try:
                ln = rawline.removesuffix(b"\r").decode(encoding)
                err = None
            except UnicodeDecodeError as e:
                ln, err = "", f"at byte {e.start} of line {lineno}"
            if split_on == "line":
                if err is not None:
                    n += 1
                    yield Rec(lineno, None, f"invalid {encoding}", _preview(rawline), err)
                elif ln.strip():
                    n += 1
                    yield Rec(lineno, {"text": ln})
                continue
            boundary = (not ln.strip() and err is None) if starts is None else bool(starts.match(ln))
            if boundary:
                yield from emit()
                buf, bad, first = ([] if starts is None else [ln]), None, lineno
                continue
            if not buf and bad is None:
                first = lineno
            buf.append(ln)
            bad = bad or err
    except CorruptInput as e:
        yield from emit()
        yield corrupt_rec(e, n)
        return
    yield from emit()


READERS = {
    "jsonl": read_jsonl,
    "json": read_json,
    "csv": read_csv,
    "parquet": read_parquet,
    "text": read_text,
}
