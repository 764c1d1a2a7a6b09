"""Readers: every format and compression, and bad input quarantined with file, line and reason."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest
import zstandard

from curation.io.readers import ReadTask, read_file


def _task(path, tmp_path, fmt="jsonl", **kw) -> ReadTask:
    base = dict(
        source="s",
        domain="d",
        path=str(path),
        rel=path.name,
        fmt=fmt,
        text_field="text",
        id_field=None,
        split_on="none",
        fields=None,
        sql=None,
        polars=None,
        max_doc_bytes=10_000,
        encoding="utf-8",
        shard_docs=1000,
        shard_bytes=1 << 30,
        tokenizer="approx",
        out_dir=str(tmp_path / "out"),
        stem="s-00000",
    )
    return ReadTask(**{**base, **kw})


def _read(task):
    res = read_file(task)
    out = task.out_dir
    docs = (
        pl.concat([pl.read_parquet(f"{out}/{s['name']}.parquet") for s in res["shards"]])
        if res["shards"]
        else None
    )
    rej = pl.read_parquet(f"{out}/{task.stem}.rejects.parquet")
    return res, docs, rej


LINES = [{"text": "The Bank of England held rates.", "n": 1}, {"text": "Shares of Glencore rose.", "n": 2}]


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_jsonl_plain_and_compressed(tmp_path, suffix):
    raw = "".join(json.dumps(r) + "\n" for r in LINES).encode()
    p = tmp_path / f"a.jsonl{suffix}"
    p.write_bytes(
        gzip.compress(raw) if suffix == ".gz" else zstandard.compress(raw) if suffix == ".zst" else raw
    )
    res, docs, rej = _read(_task(p, tmp_path))
    assert docs["text"].to_list() == [r["text"] for r in LINES]
    assert docs["origin"].to_list() == [f"{p.name}:1", f"{p.name}:2"]
    assert [json.loads(m)["n"] for m in docs["meta"]] == [1, 2]
    assert docs["tokens"].to_list() == [7, 5]  # words and punctuation
    assert rej.height == 0 and res["records"] == 2


def test_bad_jsonl_records_are_quarantined_with_line_and_reason(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(
        b'{"text": "good one"}\n'
        b'{"text": "broken\n'  # malformed JSON
        b'{"text": "caf\xe9 latin-1 bytes"}\n'  # invalid UTF-8
        b'{"body": "no text field"}\n'
        b'{"text": 42}\n'
        b'{"text": "   "}\n'
        b"[1, 2]\n"
        + b'{"text": "'
        + b"x" * 20_000
        + b'"}\n'  # too large
        + b'{"text": "good two"}\n'
    )
    res, docs, rej = _read(_task(p, tmp_path))
    assert docs["text"].to_list() == ["good one", "good two"]
    reasons = dict(zip(rej["origin"], rej["reason"], strict=True))
    assert reasons == {
        "bad.jsonl:2": "malformed JSON",
        "bad.jsonl:3": "invalid utf-8",
        "bad.jsonl:4": "missing text field 'text'",
        "bad.jsonl:5": "text field 'text' is not a string",
        "bad.jsonl:6": "empty text",
        "bad.jsonl:7": "JSON line is not an object",
        "bad.jsonl:8": "document too large",
    }
    assert json.loads(rej.filter(pl.col("origin") == "bad.jsonl:8")["details"][0])["detail"].startswith(
        "20000 bytes > max_doc_bytes=10000"
    )
    assert res["records"] == 9 and res["docs"] + res["rejected"] == res["records"]
    assert rej["step"].unique().to_list() == ["read"]


def test_empty_file_is_quarantined(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    res, docs, rej = _read(_task(p, tmp_path))
    assert docs is None
    assert rej["reason"].to_list() == ["empty file"] and rej["id"][0].endswith("#empty")


def test_json_object_of_records_uses_keys(tmp_path, data_dir):
    p = data_dir / "finance" / "fiqa_posts.json"
    res, docs, rej = _read(_task(p, tmp_path, fmt="json", text_field="sentence", id_field="_key"))
    assert docs.height == 675 and rej.height == 0
    assert docs["id"][0] == "s/14860" and "$FIO" in docs["text"][0]


def test_csv_rows_and_bad_row(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('id,text\n1,"Profit rose, said the CEO."\n2,short,extra\n3,Losses narrowed.\n')
    res, docs, rej = _read(_task(p, tmp_path, fmt="csv", id_field="id"))
    assert docs["id"].to_list() == ["s/1", "s/3"]
    assert rej["reason"].to_list() == ["wrong number of CSV fields"]


def test_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    pl.DataFrame({"content": ["alpha beta", None, "gamma"], "k": [1, 2, 3]}).write_parquet(p)
    res, docs, rej = _read(_task(p, tmp_path, fmt="parquet", text_field="content"))
    assert docs["text"].to_list() == ["alpha beta", "gamma"]
    assert rej["reason"].to_list() == ["text field 'content' is not a string"]


def test_text_split_modes(tmp_path, data_dir):
    p = data_dir / "wikitext2" / "wiki_valid_sample.txt"
    _, whole, _ = _read(_task(p, tmp_path / "a", fmt="text", max_doc_bytes=1 << 20))
    _, paras, _ = _read(_task(p, tmp_path / "b", fmt="text", split_on="blank_line"))
    _, arts, _ = _read(_task(p, tmp_path / "c", fmt="text", split_on="regex:^ = [^=].* = $"))
    assert whole.height == 1
    assert arts.height > 5 and all(t.startswith(" = ") or t.startswith("= ") for t in arts["text"])
    assert paras.height > arts.height
    # lineage: the origin line really holds the start of the document
    lines = p.read_text().splitlines()
    for text, origin in paras.select("text", "origin").head(20).iter_rows():
        assert lines[int(origin.rsplit(":", 1)[1]) - 1].strip() == text.splitlines()[0].strip()


def test_invalid_utf8_text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"fine line\nbad \xff byte\n")
    _, docs, rej = _read(_task(p, tmp_path, fmt="text"))
    assert docs is None and rej["reason"].to_list() == ["invalid utf-8"] and rej["origin"][0] == "t.txt:2"


def test_shards_are_bounded(tmp_path):
    p = tmp_path / "many.jsonl"
    p.write_text("".join(json.dumps({"text": f"document number {i}"}) + "\n" for i in range(25)))
    res, docs, _ = _read(_task(p, tmp_path, shard_docs=10))
    assert [s["docs"] for s in res["shards"]] == [10, 10, 5]
    assert docs["id"].n_unique() == 25


def test_source_prefilter_rejects_with_reason(tmp_path, data_dir):
    p = data_dir / "finance" / "semeval2017_task5_headlines.json"
    res, docs, rej = _read(_task(p, tmp_path, fmt="json", text_field="title", sql="sentiment > 0"))
    assert docs.height > 0 and all(json.loads(m)["sentiment"] > 0 for m in docs["meta"])
    assert set(rej["reason"]) == {"source filter"} and docs.height + rej.height == res["records"]
