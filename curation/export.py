"""`mixloom export RUN --format hf|jsonl|mds`: the mix in the formats training stacks read.

- `hf`: Parquet in the Hugging Face Hub layout (`data/<split>-00000-of-00001.parquet`), which
  `datasets.load_dataset(DIR)` loads as a DatasetDict; `--push-to-hub REPO` uploads the same splits.
- `jsonl`: one `<split>.jsonl` per split, e.g. for TRL (`load_dataset("json", data_files=...)`, text field `text`).
- `mds`: MosaicML streaming shards (`<split>/index.json`, `shard.NNNNN.mds`) for `streaming.StreamingDataset`.
  Written here by a small writer of the documented MDS v2 layout, because the `mosaicml-streaming` package
  cannot be a dependency: its top-level import needs torchvision, whose CUDA wheels break vLLM on the CPU
  build of torch (and its pins would downgrade transformers). Its reader loads these shards (tested).

Rows are shuffled with a seeded permutation (the recipe's seed unless `--seed`), so the export is
deterministic; the mix's own order is already interleaved across sources. Columns default to
`id, text, source, domain`: the score columns and the JSON `meta` stay behind unless selected.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.manifest import write_json_atomic

DEFAULT_COLUMNS = ["id", "text", "source", "domain"]
FORMATS = ("hf", "jsonl", "mds")


def read_split(layout: RunLayout, split: str) -> pl.DataFrame:
    files = sorted(layout.mix(split).glob("part-*.parquet"))
    frames = [pl.read_parquet(f) for f in files]
    frames += [pl.read_ndjson(f) for f in sorted(layout.mix(split).glob("part-*.jsonl"))]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def select_columns(df: pl.DataFrame, columns: list[str] | None, split: str) -> pl.DataFrame:
    cols = df.columns if columns == ["all"] else (columns or DEFAULT_COLUMNS)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise UserError(
            f"--columns: {', '.join(missing)} not in the {split} mix; available: {', '.join(df.columns)}"
        )
    return df.select(cols)


def shuffle(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    order = np.random.default_rng(seed).permutation(df.height)
    return df[order]


def export_run(
    run: Path,
    fmt: str,
    out: Path | None = None,
    columns: list[str] | None = None,
    splits: list[str] | None = None,
    seed: int | None = None,
) -> dict:
    """Write the export; returns what was written (also saved as `export.json` beside it)."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    layout = RunLayout(run)
    if not layout.manifest.exists():
        raise UserError(f"{run}: no manifest.json here; run `mixloom curate RECIPE` (or `mixloom run`) first")
    manifest = json.loads(layout.manifest.read_text())
    if manifest.get("status") == "failed":
        raise UserError(
            f"{run}: the curation failed at the mix ({manifest['mix_error']['message'].splitlines()[0]})"
        )
    available = (
        sorted(p.name for p in layout.mix_root.iterdir() if p.is_dir()) if layout.mix_root.exists() else []
    )
    names = splits or available
    unknown = [s for s in names if s not in available]
    if not names or unknown:
        raise UserError(
            f"--split {', '.join(unknown) or '(none)'}: not in {layout.mix_root}; have {available}"
        )
    seed = manifest.get("seed", 0) if seed is None else seed
    out = out or layout.root / "export" / fmt
    tables = {s: shuffle(select_columns(read_split(layout, s), columns, s), seed) for s in names}
    for split, df in tables.items():
        if fmt == "hf":
            path = out / "data" / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            df.write_parquet(path, compression="zstd", statistics=True)
        elif fmt == "jsonl":
            out.mkdir(parents=True, exist_ok=True)
            df.write_ndjson(out / f"{split}.jsonl")
        else:
            from curation.io.mds import write_mds

            write_mds(df, out / split)
    info = {
        "run": str(run),
        "format": fmt,
        "seed": seed,
        "columns": next(iter(tables.values())).columns,
        "rows": {s: df.height for s, df in tables.items()},
        "path": str(out),
    }
    write_json_atomic(out / "export.json", info)
    return info


def push_to_hub(path: Path, repo: str, private: bool) -> None:
    """Upload the Parquet export as a Hub dataset (needs network, `HF_HUB_OFFLINE=0` and a login)."""
    import os

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise UserError(
            "--push-to-hub: the hub is switched off (HF_HUB_OFFLINE=1, mixloom's default); "
            "run with HF_HUB_OFFLINE=0 after `huggingface-cli login`"
        )
    from datasets import load_dataset

    ds = load_dataset(str(path))
    try:
        ds.push_to_hub(repo, private=private)
    except Exception as e:  # network or auth: the user's to fix, one line
        raise UserError(f"--push-to-hub {repo}: {type(e).__name__}: {e}") from None
