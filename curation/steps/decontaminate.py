"""decontaminate: find evaluation items inside training documents by n-gram overlap (a GlobalStep).

Words are normalised as in MinHash (lower case, runs of Unicode word characters), so punctuation,
case and spacing do not hide a copied question. A document is contaminated by an eval item when they share
at least `min_ngrams` distinct word n-grams (default 13 words, as in GPT-3's and Llama's reports); an item
shorter than n words must appear whole.

map (per shard): only the contaminated documents, with `contaminated_by` (["<set>:<item id>", ...]) and
`contam_ngrams` (matching n-grams). reduce: the decisions (`contaminated:<set>` with `action: drop`, the
first set in `against` order; no reject with `action: flag`) and the report: `<workdir>/contamination.json`
(per set: items, contaminated items, documents; and every (set, item) -> document ids) plus
`contamination.parquet` with one row per (set, item, document).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from curation.minhash import text as tx
from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext, StepInfo
from mixloom.errors import UserError
from mixloom.schema import Strict

CHUNK = 4096
MAP_SCHEMA = {
    "id": pl.String,
    "contaminated_by": pl.List(pl.String),
    "contam_ngrams": pl.Int64,
    "contam_set": pl.String,
}


class EvalSet(Strict):
    path: str = Field(description="jsonl, json (a list of records) or parquet file")
    field: str = Field("question", description="the text field of each item")
    name: str | None = Field(None, description="label in reasons and reports (default: the file name)")
    id: str | None = Field(None, description="item id field (default: the item's row number)")


class DecontaminateParams(Strict):
    against: list[EvalSet] = Field(min_length=1)
    ngram: int = Field(13, ge=1, le=64, description="n-gram size in normalised words")
    min_ngrams: int = Field(1, ge=1, description="shared distinct n-grams that make an item a match")
    action: Literal["drop", "flag"] = "drop"
    lowercase: bool = True


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the eval items, per n-gram length (n, and each shorter item's length)."""

    labels: list[str]  # "<set>:<item id>" per item
    set_of: np.ndarray  # set index per item
    sets: list[str]
    lengths: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # m -> (hashes, items)
    whole: np.ndarray | None = None  # per item: True when shorter than n (matched whole)


def _read_items(spec: EvalSet, path: Path, where: str) -> tuple[list[str], list[str]]:
    if not path.exists():
        raise UserError(f"{where}.path: eval file {path} does not exist; fix the path (relative to base_dir)")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            df = pl.read_ndjson(path, infer_schema_length=None)
        elif suffix == ".json":
            df = pl.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        elif suffix == ".parquet":
            df = pl.read_parquet(path)
        else:
            raise UserError(
                f"{where}.path: {path}: unsupported eval file type '{suffix}' (use jsonl, json or parquet)"
            )
    except (pl.exceptions.PolarsError, json.JSONDecodeError, ValueError, TypeError) as e:
        raise UserError(f"{where}.path: cannot read {path}: {str(e).splitlines()[0]}") from None
    for key, col in (("field", spec.field), ("id", spec.id)):
        if col is not None and col not in df.columns:
            raise UserError(
                f"{where}.{key}: '{col}' is not a field of {path}; fields: {', '.join(df.columns[:30])}"
            )
    texts = df[spec.field].cast(pl.String).fill_null("").to_list()
    ids = df[spec.id].cast(pl.String).to_list() if spec.id else [str(i) for i in range(df.height)]
    return texts, ids


def build_index(params: DecontaminateParams, ctx: StepContext) -> EvalIndex:
    labels: list[str] = []
    set_of: list[int] = []
    texts: list[str] = []
    names: list[str] = []
    for k, spec in enumerate(params.against):
        where = f"steps.{ctx.index}.decontaminate.against.{k}"
        path = ctx.resolve(spec.path)
        name = spec.name or path.stem
        if ":" in name:
            raise UserError(
                f"{where}.name: '{name}' contains ':'; give the set a name without it (`name: ...`)"
            )
        if name in names:
            raise UserError(
                f"{where}.name: eval set name '{name}' is used twice; give each set a distinct name"
            )
        names.append(name)
        t, ids = _read_items(spec, path, where)
        texts += t
        labels += [f"{name}:{i}" for i in ids]
        set_of += [k] * len(t)
    words = tx.tokenize(texts, params.lowercase)
    counts = np.bincount(words.doc, minlength=len(texts))
    index = EvalIndex(
        labels, np.asarray(set_of, dtype=np.int64), names, whole=(counts > 0) & (counts < params.ngram)
    )
    lens = {params.ngram} | {int(c) for c in np.unique(counts[index.whole])}
    for m in sorted(lens):
        doc, h = tx.word_ngram_hashes(words, m, short="none")
        keep = counts[doc] >= params.ngram if m == params.ngram else counts[doc] == m
        doc, h = doc[keep], h[keep]
        order = np.lexsort((doc, h))
        index.lengths[m] = (h[order], doc[order])
    return index


@dataclass
class Decontaminate(GlobalStep):
    params: DecontaminateParams
    index: EvalIndex
    name: str = "decontaminate"
    modifies_text: bool = False

    def matches(self, texts: list[str]) -> pl.DataFrame:
        """(doc, item, n-grams matched) for every document-item pair that passes `min_ngrams`."""
        words = tx.tokenize(texts, self.params.lowercase)
        found_doc, found_item, found_hash = [], [], []
        for m, (hashes, items) in self.index.lengths.items():
            if len(hashes) == 0:
                continue
            doc, h = tx.word_ngram_hashes(words, m, short="none")
            lo = np.searchsorted(hashes, h, side="left")
            hi = np.searchsorted(hashes, h, side="right")
            n = hi - lo
            hit = np.flatnonzero(n)
            if len(hit) == 0:
                continue
            reps = n[hit]
            pos = np.repeat(lo[hit], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
            found_doc.append(np.repeat(doc[hit], reps))
            found_item.append(items[pos])
            found_hash.append(np.repeat(h[hit], reps))
        if not found_doc:
            return pl.DataFrame(schema={"doc": pl.Int64, "item": pl.Int64, "ngrams": pl.UInt32})
        pairs = pl.DataFrame(
            {
                "doc": np.concatenate(found_doc),
                "item": np.concatenate(found_item),
                "h": np.concatenate(found_hash),
            }
        )
        agg = pairs.unique().group_by("doc", "item").agg(pl.len().alias("ngrams"))
        need = np.where(self.index.whole[agg["item"].to_numpy()], 1, self.params.min_ngrams)
        return agg.filter(pl.Series(agg["ngrams"].to_numpy() >= need)).sort("doc", "item")

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        if REJECT in df.columns:
            df = df.filter(pl.col(REJECT).is_null())
        parts = []
        for s in range(0, df.height, CHUNK):
            chunk = df.slice(s, CHUNK)
            found = self.matches(chunk["text"].fill_null("").to_list())
            if found.height == 0:
                continue
            labels = pl.Series(self.index.labels)
            set_names = pl.Series(self.index.sets)
            found = found.with_columns(
                label=labels.gather(found["item"]),
                set=set_names.gather(pl.Series(self.index.set_of).gather(found["item"])),
                set_k=pl.Series(self.index.set_of).gather(found["item"]),
            )
            per_doc = found.group_by("doc").agg(
                pl.col("label").alias("contaminated_by"),
                pl.col("ngrams").sum().cast(pl.Int64).alias("contam_ngrams"),
                pl.col("set").sort_by("set_k").first().alias("contam_set"),
            )
            ids = chunk["id"].gather(per_doc["doc"])
            parts.append(per_doc.with_columns(id=ids).select(list(MAP_SCHEMA)))
        return pl.concat(parts) if parts else pl.DataFrame(schema=MAP_SCHEMA)

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        found = (
            pl.concat([pl.read_parquet(p) for p in paths]).sort("id")
            if paths
            else pl.DataFrame(schema=MAP_SCHEMA)
        )
        if self.params.action == "drop":
            reason = pl.concat_str(pl.lit("contaminated:"), pl.col("contam_set"))
        else:
            reason = pl.lit(None, dtype=pl.String)
        report = self.write_report(found, Path(workdir))
        decisions = found.select("id", reason.alias(REJECT), "contaminated_by", "contam_ngrams")
        return Reduced(
            decisions,
            artifacts={"contamination": Path(workdir) / "contamination.parquet"},
            report={"contamination": report},
        )

    def write_report(self, found: pl.DataFrame, workdir: Path) -> dict:
        """The summary (+ item -> documents) and contamination.parquet (set, item, id)."""
        workdir.mkdir(parents=True, exist_ok=True)
        rows = found.select("id", pl.col("contaminated_by").alias("label")).explode("label")
        rows = rows.with_columns(
            pl.col("label").str.split_exact(":", 1).struct.rename_fields(["set", "item"]).alias("parts")
        ).unnest("parts")
        rows = rows.select("set", "item", "id").sort("set", "item", "id")
        rows.write_parquet(workdir / "contamination.parquet")
        sets = {}
        for k, name in enumerate(self.index.sets):
            mine = rows.filter(pl.col("set") == name)
            sets[name] = {
                "items": int((self.index.set_of == k).sum()),
                "contaminated_items": mine["item"].n_unique(),
                "documents": mine["id"].n_unique(),
            }
        by_item = rows.group_by("set", "item", maintain_order=True).agg(pl.col("id").alias("documents"))
        report = {
            "ngram": self.params.ngram,
            "action": self.params.action,
            "sets": sets,
            "matches": by_item.to_dicts(),
        }
        return report


def build(params: DecontaminateParams, ctx: StepContext) -> Decontaminate:
    return Decontaminate(params, build_index(params, ctx))


INFO = StepInfo(
    name="decontaminate",
    params=DecontaminateParams,
    build=build,
    doc=__doc__ or "",
    reads=lambda p: [s.path for s in p.against],
)
