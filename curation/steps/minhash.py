"""`dedup: {method: minhash}`: near-duplicate removal with MinHash LSH (a GlobalStep).

map (per shard, any process): shingles -> datasketch-compatible signatures -> one 64-bit key per LSH band,
plus what verification needs; the engine writes this small table to Parquet.
reduce (once): candidate pairs band by band from those files, verified against the Jaccard threshold,
clustered; one keeper per cluster (highest `prefer` column, then smallest id); the rest are rejected as
`near_duplicate` with `duplicate_of` (the keeper), `cluster_id` (the cluster's smallest id) and
`cluster_size`. Keepers appear in the decisions too, with a null reject reason, so a report can count
clusters. A summary is written to `<workdir>/minhash.json`.

Bands and rows come from datasketch's optimal-parameter routine unless given. Because candidates are
verified, the default weights favour recall (few true pairs missed); with `verify: none` they are
datasketch's balanced defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.minhash import signature as sg
from curation.minhash import text as tx
from curation.minhash.cluster import reduce_minhash
from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext

MAP_CHUNK = 1024  # documents hashed at once inside a shard: keeps temporaries small (and reused)


class MinhashParams(BaseModel):
    """Parameters of `dedup: {method: minhash, ...}`."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["minhash"]
    threshold: float = Field(
        0.8, gt=0, le=1, description="Jaccard similarity at which documents are duplicates"
    )
    num_perm: int = Field(128, ge=2, le=1024, description="MinHash permutations (signature length)")
    ngram: int = Field(5, ge=1, le=64, description="shingle size, in words or characters")
    shingle: Literal["words", "chars"] = Field("words", description="word n-grams or character n-grams")
    lowercase: bool = True
    hash: Literal["fast", "sha1"] = Field(
        "fast",
        description="shingle hash: vectorised 64-bit (fast) or datasketch's default sha1_hash32 (slow)",
    )
    bands: int | None = Field(
        None, ge=1, description="LSH bands (give with rows; default: datasketch optimum)"
    )
    rows: int | None = Field(None, ge=1, description="signature values per band")
    false_positive_weight: float | None = Field(None, ge=0, le=1)
    false_negative_weight: float | None = Field(None, ge=0, le=1)
    verify: Literal["exact", "signature", "none"] = Field(
        "exact",
        description="check candidates by exact Jaccard of shingle sets, by signature estimate, or not",
    )
    prefer: str | None = Field("quality_score", description="keep the cluster member with the highest value")
    seed: int | None = Field(None, description="permutation seed (default: the recipe seed)")

    @model_validator(mode="after")
    def _check(self) -> MinhashParams:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they are chosen for the threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def weights(self) -> tuple[float, float]:
        fp_default, fn_default = (0.5, 0.5) if self.verify == "none" else (0.05, 0.95)
        fp = self.false_positive_weight if self.false_positive_weight is not None else fp_default
        fn = self.false_negative_weight if self.false_negative_weight is not None else fn_default
        return fp, fn


def _empty_map_schema(bands: int, num_perm: int, verify: str) -> dict:
    schema: dict = {"id": pl.String, "q": pl.Float64}
    schema.update({f"b{j}": pl.UInt64 for j in range(bands)})
    if verify == "exact":
        schema["sh"] = pl.List(pl.UInt32)
    elif verify == "signature":
        schema["sig"] = pl.Array(pl.UInt32, num_perm)
    return schema


@dataclass
class MinhashStep(GlobalStep):
    """Picklable: plain fields only; datasketch is imported inside the worker on first use."""

    threshold: float
    num_perm: int
    ngram: int
    shingle: str
    lowercase: bool
    hash: str
    bands: int
    rows: int
    verify: str
    prefer: str | None
    seed: int
    workdir: Path | None = None
    name: str = "dedup"
    modifies_text: bool = False

    # --- signatures -----------------------------------------------------------------------------------------

    def shingle_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document index, 32-bit shingle hash) for every shingle of the texts, grouped by document."""
        if self.hash == "sha1":
            shingles: list[str] = []
            docs: list[int] = []
            for i, t in enumerate(texts):
                s = (
                    tx.word_shingles_reference(t, self.ngram, self.lowercase)
                    if self.shingle == "words"
                    else tx.char_shingles_reference(t, self.ngram, self.lowercase)
                )
                shingles += s
                docs += [i] * len(s)
            return np.asarray(docs, dtype=np.int64), sg.sha1_hashes(shingles)
        if self.shingle == "words":
            doc, h64 = tx.word_ngram_hashes(tx.tokenize(texts, self.lowercase), self.ngram)
        else:
            doc, h64 = tx.char_ngram_hashes(texts, self.ngram, self.lowercase)
        return doc, sg.top32(h64)

    def signatures(self, texts: list[str]) -> np.ndarray:
        """MinHash signatures (len(texts) x num_perm, uint32), equal to datasketch's for the same hash."""
        doc, h32 = self.shingle_hashes(texts)
        return sg.signatures(h32, doc, len(texts), self.num_perm, self.seed)

    # --- GlobalStep -----------------------------------------------------------------------------------------

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        """Per shard: band keys (and verification data) of every not-yet-rejected document with shingles."""
        if REJECT in df.columns:
            df = df.filter(pl.col(REJECT).is_null())
        parts = [self._map_chunk(df.slice(s, MAP_CHUNK)) for s in range(0, df.height, MAP_CHUNK)]
        parts = [p for p in parts if p.height]
        schema = _empty_map_schema(self.bands, self.num_perm, self.verify)
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)

    def _map_chunk(self, df: pl.DataFrame) -> pl.DataFrame:
        texts = df["text"].fill_null("").to_list()
        doc, h32 = self.shingle_hashes(texts)
        sig = sg.signatures(h32, doc, len(texts), self.num_perm, self.seed)
        counts = np.bincount(doc, minlength=len(texts))
        has = counts > 0  # a document without shingles cannot be a near-duplicate (exact dedup's job)
        keys = sg.band_keys(sig[has], self.bands, self.rows)
        if self.prefer and self.prefer in df.columns:
            q = df[self.prefer].cast(pl.Float64, strict=False)
        else:
            q = pl.Series("q", [None] * df.height, dtype=pl.Float64)
        cols: dict = {"id": df["id"].filter(pl.Series(has)), "q": q.filter(pl.Series(has)).alias("q")}
        cols.update({f"b{j}": keys[:, j] for j in range(self.bands)})
        if self.verify == "exact":
            offsets = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(h32, type=pa.uint32()))
            cols["sh"] = pl.Series("sh", lists).filter(pl.Series(has))
        elif self.verify == "signature":
            cols["sig"] = pl.Series("sig", sig[has])
        return pl.DataFrame(cols)

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        decisions, stats = reduce_minhash(list(paths), self.bands, self.threshold, self.verify)
        summary = {**asdict(stats), "bands": self.bands, "rows": self.rows, "threshold": self.threshold}
        return Reduced(decisions, report={"minhash": summary})


def build_minhash(params: MinhashParams, ctx: StepContext) -> MinhashStep:
    if params.bands is not None:
        bands, rows = params.bands, params.rows
    else:
        bands, rows = sg.lsh_params(params.threshold, params.num_perm, *params.weights())
    return MinhashStep(
        threshold=params.threshold,
        num_perm=params.num_perm,
        ngram=params.ngram,
        shingle=params.shingle,
        lowercase=params.lowercase,
        hash=params.hash,
        bands=bands,
        rows=rows,
        verify=params.verify,
        prefer=params.prefer,
        seed=params.seed if params.seed is not None else ctx.seed,
        workdir=ctx.workdir,
    )
