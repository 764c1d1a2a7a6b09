"""Documents for the `annotate` stage: from the curated corpus, from recipe sources' raw files, or from files.

Why a reader here and not curation's: stage packages never import each other, and annotation needs only
`(id, text, domain)` of records, not curation's lineage and quarantine. Raw files matter because a quality
classifier used by this run's curation cannot be trained on this run's curated output (a cycle).
Sampling is seeded per document id (a hash of seed and id), so it does not depend on file order.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.manifest import stable_hash
from mixloom.recipe import Recipe
from reasoning.annotate_section import CURATED, DocFiles, DocSet

_BLANK = re.compile(r"\n[ \t\r]*\n")  # a blank line is one with only spaces (as WikiText has)
SUFFIX_FORMAT = {".jsonl": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}


@dataclass
class Doc:
    id: str
    text: str
    domain: str


def expand(recipe: Recipe, path: str) -> list[Path]:
    p = recipe.resolve(path)
    if glob.has_magic(str(p)):
        return [Path(f) for f in sorted(glob.glob(str(p), recursive=True)) if Path(f).is_file()]
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    return [p] if p.is_file() else []


def _records(f: Path, spec: DocFiles) -> list[tuple[str, str]]:
    """(record id, text) of every record of one file that has a string text field."""
    fmt = spec.format or SUFFIX_FORMAT.get(f.suffix)
    if fmt is None:
        raise UserError(f"{f}: cannot tell the format; set format: jsonl | json | parquet | csv | text")
    if fmt == "text":
        raw = f.read_text(encoding="utf-8", errors="replace")
        parts = {"none": [raw], "line": raw.splitlines(), "blank_line": _BLANK.split(raw)}[spec.split_on]
        return [(f"{f.name}#{i}", t.strip()) for i, t in enumerate(parts) if t.strip()]
    if fmt in ("json", "jsonl"):  # records may differ in shape: read them as Python objects, not a frame
        rows = _json_rows(f, fmt)
        fields = sorted({k for r in rows[:100] for k in r})
    else:
        df = pl.read_parquet(f) if fmt == "parquet" else pl.read_csv(f, infer_schema_length=0)
        rows, fields = df.to_dicts(), df.columns
    if rows and spec.text not in fields:
        raise UserError(f"{f}: no field '{spec.text}' (fields: {', '.join(fields[:20])}); set text:")
    out = []
    for i, r in enumerate(rows):
        t, rid = r.get(spec.text), r.get(spec.id) if spec.id else None
        if isinstance(t, str) and t.strip():
            out.append((str(rid) if rid is not None else f"{f.name}#{i}", t))
    return out


def _json_rows(f: Path, fmt: str) -> list[dict]:
    """Objects of a JSON array, of an object keyed by id (the key becomes `_key`), or of JSON lines;
    malformed lines are skipped (labels are a sample; curation quarantines them with reasons)."""
    raw = f.read_text(encoding="utf-8", errors="replace")
    if fmt == "json":
        data = json.loads(raw)
        rows = (
            [{"_key": k, **v} for k, v in data.items() if isinstance(v, dict)]
            if isinstance(data, dict)
            else data
        )
        return [r for r in rows if isinstance(r, dict)]
    out = []
    for line in raw.splitlines():
        try:
            obj = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _from_files(recipe: Recipe, spec: DocFiles, label: str, domain: str) -> list[Doc]:
    files = expand(recipe, spec.path)
    if not files:
        raise UserError(f"{recipe.path}: {label}: no files at {recipe.resolve(spec.path)}")
    return [Doc(f"{domain}/{rid}", text, domain) for f in files for rid, text in _records(f, spec)]


def _from_source(recipe: Recipe, name: str, label: str) -> list[Doc]:
    src = recipe.sources.get(name)
    if src is None:
        raise UserError(
            f"{recipe.path}: {label}: unknown source '{name}' (sources: {', '.join(recipe.sources)})"
        )
    if src.split_on.startswith("regex:"):
        raise UserError(f"{recipe.path}: {label}: source '{name}' splits on a regex; give paths: instead")
    docs: list[Doc] = []
    for path in [src.path] if isinstance(src.path, str) else src.path:
        spec = DocFiles(path=path, format=src.format, text=src.text, id=src.id, split_on=src.split_on)  # type: ignore[arg-type]
        docs += [
            Doc(f"{name}/{d.id.split('/', 1)[1]}", d.text, src.domain)
            for d in _from_files(recipe, spec, label, name)
        ]
    return docs


def _from_curated(layout: RunLayout, label: str) -> list[Doc]:
    folder = layout.ref_path(CURATED)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise UserError(f"{label}: no curated shards at {folder}; run the curate stage first")
    df = pl.read_parquet(files, columns=["id", "text", "domain"])
    return [Doc(i, t, d) for i, t, d in df.iter_rows()]


def sample_key(seed: int, doc_id: str) -> str:
    return stable_hash([seed, doc_id])


def load_docs(recipe: Recipe, layout: RunLayout, spec: DocSet, label: str) -> list[Doc]:
    """The documents of one set, filtered by length, cut to max_chars, seeded sample of `n`, sorted by id."""
    if spec.from_ == CURATED:
        docs = _from_curated(layout, label)
    elif spec.sources:
        docs = [d for name in spec.sources for d in _from_source(recipe, name, label)]
    else:
        docs = [
            d
            for i, p in enumerate(spec.paths)
            for d in _from_files(recipe, p, f"{label}.paths.{i}", Path(p.path).stem)
        ]
    seen: set[str] = set()
    kept = []
    for d in docs:
        if len(d.text) >= spec.min_chars and d.id not in seen:
            seen.add(d.id)
            kept.append(Doc(d.id, d.text[: spec.max_chars], d.domain))
    if spec.n is not None and len(kept) > spec.n:
        kept = sorted(kept, key=lambda d: sample_key(recipe.seed, d.id))[: spec.n]
    return sorted(kept, key=lambda d: d.id)


def files_of(recipe: Recipe, spec: DocSet) -> list[str]:
    """Data-file paths (or the reference) a doc set reads, for the run graph."""
    if spec.from_:
        return [spec.from_]
    if spec.sources:
        out: list[str] = []
        for name in spec.sources:
            src = recipe.sources.get(name)
            if src is not None:
                out += [src.path] if isinstance(src.path, str) else list(src.path)
        return out
    return [p.path for p in spec.paths]
