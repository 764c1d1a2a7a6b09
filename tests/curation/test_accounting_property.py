"""Property: for random JSONL/CSV/text inputs with random corruption and random SQL/Polars step recipes, every
record the files hold ends exactly once in curated/ or rejects/ (counted here, independently of the readers),
and no step changes who the documents are; a step that tries stops the run with an error naming it.

Bounded (`MIXLOOM_PROPERTY_EXAMPLES`, default 100, derandomized) so it runs in the default suite; set the variable
to search more, randomly.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib

import polars as pl
import pytest
import zstandard
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from curation.pipeline import curate
from curation.steps.base import BASE_SCHEMA
from mixloom.errors import UserError
from mixloom.recipe import parse_recipe

EXAMPLES = int(os.environ.get("MIXLOOM_PROPERTY_EXAMPLES", "100"))

SAFE_STEPS = [
    {"sql": "length(text) >= 4"},
    {"sql": "SELECT *, length(text) AS n_chars FROM docs WHERE length(text) % 3 != 0"},
    {"sql": {"query": "SELECT * FROM docs WHERE tokens > 1", "reason": "short"}},
    {"polars": {"filter": "pl.col('tokens') > 2", "reason": "few tokens"}},
    {"polars": {"with_columns": {"n": "pl.col('text').str.len_chars()"}, "filter": "pl.col('n') < 30"}},
]
BREAKING_STEPS = [
    {"sql": "SELECT * REPLACE (id || '_x' AS id) FROM docs"},
    {"sql": "SELECT * FROM docs UNION ALL SELECT * REPLACE (id || '_2' AS id) FROM docs"},
    {"sql": "SELECT * REPLACE ('elsewhere' AS origin) FROM docs"},
    {"polars": {"with_columns": {"id": "pl.lit('same')"}}},
    {"polars": {"with_columns": {"text": "pl.col('tokens')"}}},
    {"polars": {"with_columns": {"source": "pl.lit('other')"}}},
]

text_chars = st.characters(codec="utf-8", exclude_characters="\n")
csv_chars = st.characters(codec="utf-8", exclude_characters='\n\r",\x00')


@st.composite
def input_file(draw, index: int) -> tuple[str, bytes, dict]:
    """(file name, bytes, source entry) of one random, possibly damaged file."""
    fmt = draw(st.sampled_from(["jsonl", "csv", "line", "blank_line"]))
    n = draw(st.integers(0, 12))
    if fmt == "jsonl":
        recs = []
        for i in range(n):
            t = draw(st.text(text_chars, max_size=30))
            if draw(st.integers(0, 9)) == 0:
                recs.append('{"text": "odd \\udc80 escape"}')
            else:
                recs.append(json.dumps({"text": t, "i": i}, ensure_ascii=draw(st.booleans())))
        data = "\n".join(recs).encode() + (b"\n" if recs and draw(st.booleans()) else b"")
        header = 0
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([i, draw(st.text(csv_chars, max_size=30))])
        data, header = buf.getvalue().encode(), len("id,text\n")
    else:
        data = "\n".join(draw(st.text(text_chars, max_size=20)) for _ in range(n)).encode()
        header = 0
    body = bytearray(data)
    quoted = False
    for op in draw(st.lists(st.sampled_from(["bad_byte", "quote", "crlf", "blank", "cut"]), max_size=3)):
        if op == "bad_byte" and len(body) > header:
            body.insert(draw(st.integers(header, len(body))), 0xFF)
        elif op == "quote" and fmt == "csv" and len(body) > header and not quoted:
            quoted = True  # one stray quote: a second one could close it and join lines into one record
            starts = [header] + [i + 1 for i in range(header, len(body) - 1) if body[i] == 0x0A]
            body.insert(draw(st.sampled_from(starts)) + 2, ord('"'))  # opens a quote that never closes
        elif op == "crlf":
            body = bytearray(bytes(body).replace(b"\n", b"\r\n"))
            header += 1 if header else 0  # the header line (kept intact: it names the fields) grew by its \r
        elif op == "blank":
            body.extend(b"\n\n")
        elif op == "cut" and len(body) > header:
            del body[draw(st.integers(header, len(body))) :]
    if draw(st.booleans()):
        body[:0] = b"\xef\xbb\xbf"
        header += 3
    blob, comp = bytes(body), draw(st.sampled_from(["", "", ".gz", ".zst"]))
    if comp:
        blob = gzip.compress(blob, mtime=0) if comp == ".gz" else zstandard.ZstdCompressor().compress(blob)
        if draw(st.booleans()) and len(blob) > 4:
            blob = blob[: draw(st.integers(1, len(blob) - 1))]  # a truncated download
    suffix = {"jsonl": ".jsonl", "csv": ".csv"}.get(fmt, ".txt")
    name = f"f{index}{suffix}{comp}"
    src: dict = {"format": "text" if fmt in ("line", "blank_line") else fmt, "domain": "d"}
    if fmt in ("line", "blank_line"):
        src["split_on"] = fmt
    if fmt == "jsonl" and draw(st.booleans()):
        src["sql"] = "length(text) > 2"  # the source's own filter on raw records
    return name, blob, src


# -- the independent count ---------------------------------------------------------------------------


def _decompressed(name: str, blob: bytes) -> tuple[bytes, bool]:
    """(bytes a decompressor gets out, whether the stream was cut)."""
    if not name.endswith((".gz", ".zst")):
        return blob, False
    d = zlib.decompressobj(31) if name.endswith(".gz") else zstandard.ZstdDecompressor().decompressobj()
    try:
        return d.decompress(blob), not d.eof
    except (zlib.error, zstandard.ZstdError):
        return b"", True


def expected_records(name: str, blob: bytes, src: dict) -> int:
    data, cut = _decompressed(name, blob)
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    if cut:
        lines = lines[:-1]  # the unfinished line is part of the one quarantine record
    elif lines and lines[-1] == b"":
        lines.pop()
    if src["format"] == "csv":
        lines = lines[1:] if lines else []
        n = sum(1 for ln in lines if ln.rstrip(b"\r"))
    elif src.get("split_on") == "blank_line":
        n, inside = 0, False
        for ln in lines:
            try:
                blank = not ln.rstrip(b"\r").decode().strip()
            except UnicodeDecodeError:
                blank = False
            n += (not blank) and not inside
            inside = not blank
    elif src.get("split_on") == "line":
        n = 0
        for ln in lines:
            try:
                n += bool(ln.rstrip(b"\r").decode().strip())
            except UnicodeDecodeError:
                n += 1
    else:
        n = sum(1 for ln in lines if ln.strip())
    if cut:
        n += 1
    return max(n, 1)  # an empty file is one record: the "empty file" reject


@given(
    files=st.integers(1, 3).flatmap(lambda k: st.tuples(*[input_file(i) for i in range(k)])),
    steps=st.lists(st.sampled_from(SAFE_STEPS), max_size=3, unique_by=json.dumps),
    breaking=st.one_of(st.none(), st.tuples(st.sampled_from(BREAKING_STEPS), st.integers(0, 3))),
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="MIXLOOM_PROPERTY_EXAMPLES" not in os.environ,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_every_record_once_and_steps_keep_identity(tmp_path_factory, files, steps, breaking):
    d = tmp_path_factory.mktemp("prop")
    sources, expected = {}, {}
    for name, blob, src in files:
        (d / name).write_bytes(blob)
        sources[name.split(".")[0]] = {"path": str(d / name), **src}
        expected[name] = expected_records(name, blob, src)
    steps = list(steps)
    if breaking is not None:
        steps.insert(min(breaking[1], len(steps)), breaking[0])
    recipe = parse_recipe({"name": "prop", "sources": sources, "steps": steps}, d / "r.yaml")
    out = d / "out"
    try:
        m = curate(recipe, out=out, workers=1)
    except UserError as e:
        assert breaking is not None, f"unexpected error: {e}"
        i = steps.index(breaking[0])
        assert f"step {i}:" in str(e) or f"steps.{i}." in str(e), str(e)
        assert "\n" not in str(e).split("\n  fix:")[0]
        event("stopped: " + ("at run time" if f"step {i}:" in str(e) else "before work"))
        return
    event("ran: " + ("some kept, some rejected" if m["curated"]["docs"] and m["rejected"] else "one kind"))
    kept = pl.read_parquet(out / "curated" / "*.parquet") if m["curated"]["files"] else None
    rej = pl.read_parquet(out / "rejects" / "*.parquet")
    n_kept = 0 if kept is None else kept.height
    # accounting: file by file, against the count made here
    origins = rej["origin"].to_list() + ([] if kept is None else kept["origin"].to_list())
    got = {name: sum(1 for o in origins if o.rsplit(":", 1)[0].endswith(name)) for name in expected}
    assert got == expected
    assert n_kept + rej.height == m["read"]["records"] == sum(expected.values())
    ids = rej["id"].to_list() + ([] if kept is None else kept["id"].to_list())
    assert len(ids) == len(set(ids))  # nothing counted twice
    # step invariants: base columns and types kept; funnel rows add up
    if kept is not None:
        for col, dtype in BASE_SCHEMA.items():
            assert kept.schema[col] == dtype
    for row in m["steps"]:
        assert row.get("docs_in", 0) == row.get("docs_out", 0) + sum(row.get("reasons", {}).values())
    if breaking is not None:  # a breaking step that ran without error saw no documents
        i = steps.index(breaking[0])
        assert m["steps"][i].get("docs_in", 0) == 0


@pytest.mark.parametrize("blob", [b"", b"\xef\xbb\xbf", b"\n\n", b"\r\n"])
def test_empty_looking_files_are_one_record(tmp_path, blob):
    (tmp_path / "e.jsonl").write_bytes(blob)
    recipe = parse_recipe({"name": "e", "sources": {"e": {"path": str(tmp_path / "e.jsonl"), "domain": "d"}}})
    m = curate(recipe, out=tmp_path / "out", workers=1)
    assert m["read"]["records"] == 1 and m["rejected"] == 1 and m["read"]["reasons"] == {"empty file": 1}
