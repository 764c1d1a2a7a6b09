"""line_dedup: remove boilerplate lines repeated across documents (C4-style), a GlobalStep that edits text.

map (per shard): the xxh3-64 hash of every distinct line (whitespace-stripped, at least `min_chars` long) of
each document, counted once per document: a table (h, docs). reduce: per-hash document counts summed over
shards, hash range by hash range so memory stays bounded, and the lines seen in >= `min_repeats` documents
written to `<workdir>/boilerplate_lines.parquet`. The decisions are empty: nothing is rejected by id.

apply (next pass, per shard): the engine calls `step.apply(df, artifacts)`; the lines whose hash is in the
boilerplate set (`artifacts["lines"]`) are removed from `text` (other lines, blank ones included, stay as they
were), the count goes to `lines_removed`, and a document left without any non-blank line is rejected as
`boilerplate_only`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import xxhash
from pydantic import Field

from curation.steps.base import REJECT, GlobalStep, Reduced, StepContext, StepInfo, reject_where
from mixloom.schema import Strict

FILE = "boilerplate_lines.parquet"
ROWS_PER_PART = 4_000_000  # (hash, count) rows aggregated at once in the reduce
MAP_SCHEMA = {"h": pl.UInt64, "docs": pl.UInt32}


class LineDedupParams(Strict):
    min_repeats: int = Field(3, ge=2, description="a line in at least this many documents is boilerplate")
    min_chars: int = Field(1, ge=1, description="shorter (stripped) lines are never counted nor removed")


def _line_key(line: str) -> int:
    return xxhash.xxh3_64_intdigest(line.encode("utf-8", "surrogatepass"))


@lru_cache(maxsize=4)
def _boilerplate(path: str) -> np.ndarray:
    """Sorted boilerplate hashes (cached per worker process: every shard of a pass reads the same file)."""
    return np.sort(pl.read_parquet(path)["h"].to_numpy())


@dataclass
class LineDedup(GlobalStep):
    params: LineDedupParams
    name: str = "line_dedup"
    modifies_text: bool = True

    def _keys(self, text: str) -> set[int]:
        return {
            _line_key(s) for s in (ln.strip() for ln in text.split("\n")) if len(s) >= self.params.min_chars
        }

    def map(self, df: pl.DataFrame) -> pl.DataFrame:
        if REJECT in df.columns:
            df = df.filter(pl.col(REJECT).is_null())
        keys = [k for t in df["text"].fill_null("").to_list() for k in self._keys(t)]
        if not keys:
            return pl.DataFrame(schema=MAP_SCHEMA)
        frame = pl.DataFrame({"h": pl.Series(keys, dtype=pl.UInt64)})
        return frame.group_by("h").agg(pl.len().cast(pl.UInt32).alias("docs")).sort("h")

    def reduce(self, paths: list[Path], workdir: Path) -> Reduced:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        files = [str(p) for p in paths]
        total = pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
        parts = max(1, -(-total // ROWS_PER_PART))
        found = []
        for k in range(parts):  # one hash range at a time: memory ~ ROWS_PER_PART rows, not the corpus
            lf = pl.scan_parquet(files).filter((pl.col("h") % parts) == k)
            agg = lf.group_by("h").agg(pl.col("docs").sum()).filter(pl.col("docs") >= self.params.min_repeats)
            found.append(agg.collect())
        table = pl.concat(found) if found else pl.DataFrame(schema={"h": pl.UInt64, "docs": pl.UInt32})
        table.sort("h").write_parquet(workdir / FILE)
        return Reduced(
            pl.DataFrame(schema={"id": pl.String, REJECT: pl.String}),
            artifacts={"lines": workdir / FILE},
            report={"boilerplate_lines": table.height},
        )

    def apply(self, df: pl.DataFrame, artifacts: dict[str, Path]) -> pl.DataFrame:
        """Remove the boilerplate lines from `text`; count them in `lines_removed`."""
        bad = _boilerplate(str(artifacts["lines"]))
        texts, removed = [], []
        for t in df["text"].fill_null("").to_list():
            lines = t.split("\n")
            keys = np.array(
                [
                    _line_key(s) if len(s) >= self.params.min_chars else 0
                    for s in (ln.strip() for ln in lines)
                ],
                dtype=np.uint64,
            )
            pos = np.clip(np.searchsorted(bad, keys), 0, max(len(bad) - 1, 0))
            drop = (bad[pos] == keys) if len(bad) else np.zeros(len(lines), dtype=bool)
            drop &= np.array([len(ln.strip()) >= self.params.min_chars for ln in lines], dtype=bool)
            removed.append(int(drop.sum()))
            texts.append(
                "\n".join(ln for ln, d in zip(lines, drop, strict=True) if not d) if drop.any() else t
            )
        out = df.with_columns(
            pl.Series("text", texts, dtype=pl.String),
            pl.Series("lines_removed", removed, dtype=pl.Int64),
        )
        return reject_where(
            out, (pl.col("lines_removed") > 0) & (pl.col("text").str.strip_chars() == ""), "boilerplate_only"
        )


def build(params: LineDedupParams, ctx: StepContext) -> LineDedup:
    return LineDedup(params)


INFO = StepInfo(name="line_dedup", params=LineDedupParams, build=build, doc=__doc__ or "")
