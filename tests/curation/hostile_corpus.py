"""A corpus of hostile inputs, each file with its record count worked out here, independently of the readers.

`build(dir)` writes the files and returns the recipe `sources:` plus `expected`: file name → records (every
record the file holds that a reader can reach, plus one for the quarantine of an unreadable rest).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import zlib
from pathlib import Path

import polars as pl
import zstandard

WORDS = [
    "the",
    "bank",
    "held",
    "rates",
    "while",
    "shares",
    "of",
    "the",
    "miner",
    "rose",
    "on",
    "strong",
    "copper",
    "demand",
]


def sentence(i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(8)) + f" number {i}."


def jsonl_bytes(n: int, start: int = 0) -> bytes:
    return "".join(
        json.dumps({"text": sentence(start + i), "n": start + i}) + "\n" for i in range(n)
    ).encode()


def complete_lines(data: bytes) -> int:
    """Non-blank lines that end with \\n (what survives of a truncated stream), counted by hand."""
    return sum(1 for ln in data.split(b"\n")[:-1] if ln.strip())


def decompress_prefix(kind: str, blob: bytes) -> bytes:
    """All bytes a decompressor yields from a truncated stream before it runs out."""
    if kind == "gz":
        return zlib.decompressobj(31).decompress(blob)
    if kind == "bz2":
        return bz2.BZ2Decompressor().decompress(blob)
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(blob)
    return zstandard.ZstdDecompressor().decompressobj().decompress(blob)


COMPRESS = {
    "gz": lambda b: gzip.compress(b, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda b: zstandard.ZstdCompressor(level=3).compress(b),
}


def build(d: Path) -> tuple[dict, dict[str, int]]:
    d.mkdir(parents=True, exist_ok=True)
    expected: dict[str, int] = {}

    # -- JSONL: truncated compressed files (the damaged tail is one quarantined record) -----------
    for kind, comp in COMPRESS.items():
        raw = jsonl_bytes(5000 if kind == "zst" else 800, start=10_000 * len(expected))
        blob = comp(raw)
        cut = blob[: int(len(blob) * 0.55)]
        (d / f"trunc.jsonl.{kind}").write_bytes(cut)
        expected[f"trunc.jsonl.{kind}"] = complete_lines(decompress_prefix(kind, cut)) + 1
    # a file of two gzip members and a good zstd file read whole
    two = gzip.compress(jsonl_bytes(3, 50_000), mtime=0) + gzip.compress(jsonl_bytes(4, 50_010), mtime=0)
    (d / "members.jsonl.gz").write_bytes(two)
    expected["members.jsonl.gz"] = 7

    # -- JSONL: hostile records -------------------------------------------------------------------
    lines = [
        "\ufeff" + json.dumps({"text": "A BOM starts this file; the record is fine."}),
        '{"text": "lone \\ud800 surrogate"}',
        '{"text": "a paired \\ud83d\\ude00 surrogate is fine"}',
        "[" * 100_000 + "]" * 100_000,
        '{"text": "big int", "n": ' + "7" * 5000 + "}",
        '{"text": "broken',
        json.dumps({"text": "a line with\u2028a line separator and \x0c form feed inside"}),
        '{"text": 42}',
        json.dumps({"text": "ok again"}),
    ]
    (d / "hostile.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected["hostile.jsonl"] = len(lines)

    # -- JSON array: one bad entry does not take the file with it; a too-deep file is one reject -------
    (d / "array.json").write_text(
        '[{"text": "fine entry"}, {"text": "lone \\ud800"}, 5, {"text": "also fine"}]'
    )
    expected["array.json"] = 4
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    expected["deep.json"] = 1

    # -- CSV: a 150 KB field, an unterminated quote, a BOM header -------------------------------------
    rows = [("1", "short one"), ("2", "x" * 150_000), ("3", 'a "quoted" word, and a comma')]
    body = "".join(f'{i},"{t.replace(chr(34), chr(34) * 2)}"\r\n' for i, t in rows)
    (d / "big_field.csv").write_text("\ufeffid,text\r\n" + body, encoding="utf-8")
    expected["big_field.csv"] = 3
    unterminated = 'id,text\n1,"fine"\n2,"never closed\n3,"after it"\n4,plain\n5,"last"\n'
    (d / "unterminated.csv").write_text(unterminated)
    expected["unterminated.csv"] = 5  # each physical data line is one record: 4 kept, line 3 quarantined

    # -- text ------------------------------------------------------------------------------------------
    weird = "one\u2028still one\ntwo\x0cstill two\nthree\x1cstill three\nfour\x85still four\nfive\n"
    (d / "lines.txt").write_text(weird, encoding="utf-8")
    expected["lines.txt"] = 5
    (d / "crlf.txt").write_bytes(b"para one\r\nstill one\r\n\r\npara two\r\n\r\n\r\npara three\r\n")
    expected["crlf.txt"] = 3

    # -- Parquet: a corrupt file beside a good one ---------------------------------------------------
    pl.DataFrame({"text": [sentence(i) for i in range(5)]}).write_parquet(d / "good.parquet")
    expected["good.parquet"] = 5
    (d / "corrupt.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 50 + b"PAR1")
    expected["corrupt.parquet"] = 1

    sources = {
        "jl": {"path": str(d / "*.jsonl*"), "format": "jsonl", "domain": "a"},
        "arr": {"path": str(d / "*.json"), "format": "json", "domain": "a"},
        "csv": {"path": str(d / "*.csv"), "format": "csv", "text": "text", "domain": "a"},
        "lines": {"path": str(d / "lines.txt"), "format": "text", "split_on": "line", "domain": "b"},
        "paras": {"path": str(d / "crlf.txt"), "format": "text", "split_on": "blank_line", "domain": "b"},
        "pq": {"path": str(d / "*.parquet"), "format": "parquet", "domain": "b"},
    }
    return sources, expected
