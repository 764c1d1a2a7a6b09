"""Read one input file into bounded document shards; quarantine bad records with file, line and reason.

Documents get the columns of `curation.steps.base.BASE_SCHEMA`:
`id` (the source's id field when given, else the file and record number: unique and stable),
`origin` (`file:line` for lineage), `meta` (the record's other fields as JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from curation.io.records import READERS, Rec
from curation.io.streams import RawFile
from curation.io.writers import REJECT_SCHEMA, write_parquet
from curation.steps.base import BASE_SCHEMA, REJECT
from curation.tokens import count_expr
from mixloom import storage
from mixloom.errors import UserError
from mixloom.manifest import write_json_atomic


@dataclass(frozen=True)
class ReadTask:
    source: str
    domain: str
    path: str  # absolute
    rel: str  # as shown in ids, origins and messages
    fmt: str
    text_field: str
    id_field: str | None
    split_on: str
    fields: tuple[str, ...] | None
    sql: str | None
    polars: str | None
    max_doc_bytes: int
    encoding: str
    shard_docs: int
    shard_bytes: int
    tokenizer: str
    out_dir: str
    stem: str  # shard name prefix, e.g. "fiqa-00000"


def _reject_row(
    t: ReadTask, rec_id: str, loc: int, reason: str, text: str | None, detail: str | None = None
) -> dict[str, Any]:
    return {
        "id": rec_id,
        "source": t.source,
        "domain": t.domain,
        "origin": f"{t.rel}:{loc}",
        "step": "read",
        "reason": reason,
        "text": text,
        "details": json.dumps({"file": t.rel, "line": loc, "detail": detail}) if detail or loc else None,
    }


def _doc_of(t: ReadTask, rec: Rec) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A raw record → (document row, None) or (None, reject row)."""
    data = rec.data
    local_id = f"{t.source}/{t.rel}#{rec.loc:07d}"
    if data is None:
        return None, _reject_row(
            t, local_id, rec.loc, rec.error or "unreadable record", rec.preview, rec.detail
        )
    if t.fmt == "text":
        text = data["text"]
    elif t.text_field not in data:
        return None, _reject_row(
            t, local_id, rec.loc, f"missing text field '{t.text_field}'", json.dumps(data, default=str)[:200]
        )
    else:
        text = data[t.text_field]
    if not isinstance(text, str):
        return None, _reject_row(
            t,
            local_id,
            rec.loc,
            f"text field '{t.text_field}' is not a string",
            json.dumps(data, default=str)[:200],
        )
    if not text.strip():
        return None, _reject_row(t, local_id, rec.loc, "empty text", text)
    nbytes = len(text.encode("utf-8", errors="surrogatepass"))
    if nbytes > t.max_doc_bytes:
        return None, _reject_row(
            t,
            local_id,
            rec.loc,
            "document too large",
            text[:200],
            f"{nbytes} bytes > max_doc_bytes={t.max_doc_bytes}",
        )
    if t.id_field:
        raw_id = data.get(t.id_field)
        if raw_id is None or raw_id == "":
            return None, _reject_row(t, local_id, rec.loc, f"missing id field '{t.id_field}'", text[:200])
        doc_id = f"{t.source}/{raw_id}"
    else:
        doc_id = local_id
    skip = {t.text_field, t.id_field} if t.fmt != "text" else {"text"}
    meta = {k: v for k, v in data.items() if k not in skip and (t.fields is None or k in t.fields)}
    try:
        meta_json = json.dumps(meta, ensure_ascii=False, default=str)
    except (RecursionError, ValueError) as e:
        return None, _reject_row(t, local_id, rec.loc, "unserialisable fields", text[:200], str(e)[:200])
    return {
        "id": doc_id,
        "source": t.source,
        "domain": t.domain,
        "text": text,
        "origin": f"{t.rel}:{rec.loc}",
        "meta": meta_json,
        "_raw": data,
    }, None


def _prefilter(t: ReadTask, docs: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """The source's own SQL/Polars filter on the raw records (before normalisation to documents)."""
    if not (t.sql or t.polars) or not docs:
        return docs, []
    try:
        keep = _prefilter_keep(t, docs)
    except (ValueError, pl.exceptions.PolarsError) as e:
        key = "sql" if t.sql else "polars"
        raise UserError(
            f"sources.{t.source}.{key} failed on {t.rel}: {str(e).splitlines()[0][:300]} "
            "(fix the filter; fields differ between files?)"
        ) from None
    kept, rejected = [], []
    for i, d in enumerate(docs):
        if i in keep:
            kept.append(d)
        else:
            rejected.append(
                _reject_row(t, d["id"], int(d["origin"].rsplit(":", 1)[1]), "source filter", d["text"][:200])
                | {"step": f"source:{t.source}"}
            )
    return kept, rejected


def _prefilter_keep(t: ReadTask, docs: list[dict[str, Any]]) -> set[int]:
    raw = pl.from_dicts([d["_raw"] for d in docs], infer_schema_length=None, strict=False)
    raw = raw.with_columns(pl.Series("__row", range(len(docs)), dtype=pl.Int64))
    keep = set(range(len(docs)))
    if t.sql:
        from curation.steps.sql import run_query, where_to_query

        out = run_query(where_to_query(t.sql), raw)
        keep &= set(out["__row"].to_list())
    if t.polars:
        from curation.steps.polars_expr import compile_expr

        keep &= set(raw.filter(compile_expr(t.polars))["__row"].to_list())
    return keep


def _docs_frame(docs: list[dict[str, Any]], tokenizer: str) -> pl.DataFrame:
    cols = {k: [d[k] for d in docs] for k in ("id", "source", "domain", "text", "origin", "meta")}
    df = pl.DataFrame(cols, schema={k: v for k, v in BASE_SCHEMA.items() if k != "tokens"})
    return df.with_columns(count_expr(tokenizer).alias("tokens")).select(list(BASE_SCHEMA))


@dataclass(frozen=True)
class ReadGroup:
    """Consecutive files of one source read by one task into shared shards: thousands of small files make a
    few shards (and a few output files), not one shard each."""

    stem: str
    out_dir: str
    files: tuple[ReadTask, ...]


def read_group(g: ReadGroup) -> dict[str, Any]:
    """Read the files into shards `<stem>-<k>.parquet` plus `<stem>.rejects.parquet`; resumable via a done marker.

    The result lists per file: records (counted as read), kept docs, rejects by reason, and the size and
    checksum of the bytes actually read.
    """
    out = storage.path(g.out_dir)  # the run's storage (a URL on a cluster), never the driver's disk
    done = out / f"{g.stem}.done.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = g.files[0]
    shards: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    buf: list[dict[str, Any]] = []
    buf_bytes = 0
    files = [
        {"file": t.rel, "source": t.source, "records": 0, "docs": 0, "rejected": 0, "reasons": {}}
        for t in g.files
    ]

    def flush() -> None:
        nonlocal buf, buf_bytes
        by_task: dict[int, list[dict[str, Any]]] = {}
        for d in buf:
            by_task.setdefault(d["_task"], []).append(d)
        kept: list[dict[str, Any]] = []
        for k, docs in by_task.items():  # a source filter sees one file's records (fields may differ)
            ok, rej = _prefilter(g.files[k], docs)
            kept += ok
            for r in rej:
                _count(files[k], r)
            rejects.extend(rej)
            files[k]["docs"] += len(ok)
        if kept:
            df = _docs_frame(kept, t0.tokenizer)
            name = f"{g.stem}-{len(shards):05d}"
            write_parquet(df, out / f"{name}.parquet")
            shards.append(
                {"name": name, "docs": df.height, "tokens": int(df["tokens"].sum()), "bytes": buf_bytes}
            )
        buf, buf_bytes = [], 0

    for k, t in enumerate(g.files):
        f = files[k]
        with RawFile(t.path) as raw:
            for rec in READERS[t.fmt](raw, encoding=t.encoding, split_on=t.split_on):
                f["records"] += 1
                doc, rej = _doc_of(t, rec)
                if rej is not None:
                    rejects.append(rej)
                    _count(f, rej)
                    continue
                doc["_task"] = k
                buf.append(doc)
                buf_bytes += len(doc["text"])
                if len(buf) >= t.shard_docs or buf_bytes >= t.shard_bytes:
                    flush()
            raw.drain()
            f.update(raw.entry())
        if f["records"] == 0:
            rej = _reject_row(t, f"{t.source}/{t.rel}#empty", 0, "empty file", None)
            rejects.append(rej)
            _count(f, rej)
            f["records"] = 1  # the empty file itself is the one accounted input
    flush()
    rej_df = pl.DataFrame(rejects, schema=REJECT_SCHEMA) if rejects else pl.DataFrame(schema=REJECT_SCHEMA)
    write_parquet(rej_df, out / f"{g.stem}.rejects.parquet")
    result = {"stem": g.stem, "shards": shards, "files": files}
    write_json_atomic(done, result)
    return result


def _count(f: dict[str, Any], rej: dict[str, Any]) -> None:
    f["rejected"] += 1
    f["reasons"][rej["reason"]] = f["reasons"].get(rej["reason"], 0) + 1


def read_file(t: ReadTask) -> dict[str, Any]:
    """One file as its own group: its result plus the shards it wrote."""
    res = read_group(ReadGroup(t.stem, t.out_dir, (t,)))
    return {**res["files"][0], "shards": res["shards"]}


__all__ = ["ReadGroup", "ReadTask", "read_file", "read_group", "REJECT"]
