"""A writer of MosaicML streaming's MDS v2 shards (`index.json` + `shard.NNNNN.mds`), uncompressed.

The layout, as `streaming.base.format.mds.MDSWriter` writes it: each shard is `uint32 n`, `uint32 offsets[n+1]`
(absolute byte offsets of the samples), the shard's JSON config, then the samples; a sample is the `uint32`
sizes of its variable-size columns followed by each column's bytes, columns in sorted name order. Strings are
UTF-8 (`str`), integers `int64`, floats `float64`, booleans `uint8`. Why not the package itself: see `curation/export.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from mixloom.errors import UserError

SIZE_LIMIT = 1 << 26  # bytes per shard, MDSWriter's default


def _encoding(name: str, dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "str"
    if dtype == pl.Boolean:
        return "uint8"
    if dtype.is_integer():
        return "int64"
    if dtype.is_float():
        return "float64"
    raise UserError(
        f"--format mds: column type {dtype} has no MDS encoding here; choose str, int or float columns"
    )


def _encode(value, encoding: str) -> bytes:
    if encoding == "str":
        return ("" if value is None else str(value)).encode("utf-8")
    if encoding == "int64":
        return np.int64(0 if value is None else value).tobytes()
    if encoding == "uint8":
        return np.uint8(bool(value)).tobytes()
    return np.float64(np.nan if value is None else value).tobytes()


def write_mds(df: pl.DataFrame, out: Path, size_limit: int = SIZE_LIMIT) -> list[Path]:
    """Write `df` as MDS shards under `out`; returns the shard paths (index.json beside them)."""
    out.mkdir(parents=True, exist_ok=True)
    # MDS has no null: an integer column with gaps (a score a step gave only some documents) becomes float/NaN
    df = df.with_columns(
        pl.col(c).cast(pl.Float64) for c, t in df.schema.items() if t.is_integer() and df[c].null_count()
    )
    names = sorted(df.columns)
    encodings = [_encoding(c, df.schema[c]) for c in names]
    sizes = [None if e == "str" else 1 if e == "uint8" else 8 for e in encodings]
    config = {
        "column_encodings": encodings,
        "column_names": names,
        "column_sizes": sizes,
        "compression": None,
        "format": "mds",
        "hashes": [],
        "size_limit": size_limit,
        "version": 2,
    }
    config_bytes = json.dumps(config, sort_keys=True).encode("utf-8")
    shards: list[dict] = []
    paths: list[Path] = []
    samples: list[bytes] = []
    used = 8 + len(config_bytes)

    def flush() -> None:
        n = len(samples)
        offsets = np.array([0, *map(len, samples)], dtype=np.int64).cumsum()
        offsets += 4 + 4 * (n + 1) + len(config_bytes)
        data = np.uint32(n).tobytes() + offsets.astype(np.uint32).tobytes() + config_bytes + b"".join(samples)
        path = out / f"shard.{len(shards):05d}.mds"
        path.write_bytes(data)
        paths.append(path)
        shards.append(
            {
                **config,
                "raw_data": {"basename": path.name, "bytes": len(data), "hashes": {}},
                "samples": n,
                "zip_data": None,
            }
        )

    for row in df.select(names).iter_rows():
        cols = [_encode(v, e) for v, e in zip(row, encodings, strict=True)]
        head = np.array([len(c) for c, s in zip(cols, sizes, strict=True) if s is None], dtype=np.uint32)
        sample = head.tobytes() + b"".join(cols)
        if samples and used + len(sample) + 4 > size_limit:
            flush()
            samples, used = [], 8 + len(config_bytes)
        samples.append(sample)
        used += len(sample) + 4
    if samples or not shards:
        flush()
    (out / "index.json").write_text(json.dumps({"shards": shards, "version": 2}, sort_keys=True))
    return paths
