"""Where a stage reads from: recipe references (`curate.train`, `generate.sft`, `train.pretrain`) or paths.

Stages meet only through files, so a reference is just a conventional location under the run directory.
Readers here load small tables (SFT sets, pairs, prompts) into rows; big corpora are streamed by `data.py`.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.recipe import Recipe

STAGES = ("tokenizer", "pretrain", "sft", "rm", "dpo", "grpo")
# the data references training stages accept (their files are found through mixloom.layout.RunLayout)
DATA_REFS = (
    "curate.curated",  # every kept document, before the mix (what the run's own tokenizer learns from)
    "mix.train",
    "mix.validation",
    "mix.test",
    "curate.train",  # = mix.train (the older name)
    "curate.validation",
    "curate.test",
    "generate.sft",
    "generate.pairs",
    "review.sft",  # written by `mixloom review export` (the review stage)
    "review.pairs",
)
_EXTS = (".parquet", ".jsonl", ".json")


def stage_dir(run_dir: Path, stage: str) -> Path:
    return RunLayout(run_dir).stage_dir("eval" if stage == "eval" else f"train.{stage}")


def is_ref(ref: str) -> bool:
    return ref in DATA_REFS or (ref.startswith("train.") and ref.removeprefix("train.") in STAGES)


def data_path(recipe: Recipe, run_dir: Path, ref: str) -> Path:
    """The file or directory a `data:` value names (not checked for existence)."""
    if ref in DATA_REFS:
        return RunLayout(run_dir).ref_path(ref)
    if ref.startswith(("curate.", "generate.", "review.")):
        raise UserError(f"{recipe.path}: unknown data reference '{ref}'; known: {', '.join(DATA_REFS)}")
    return recipe.resolve(ref)


def data_files(recipe: Recipe, run_dir: Path, ref: str, where: str) -> list[Path]:
    """The data files behind a reference, sorted; a clear error when there are none yet."""
    p = data_path(recipe, run_dir, ref)
    if p.is_dir():  # one format per directory: Parquet shards win over any JSON copies beside them
        found = [f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")]
        ext = next((e for e in _EXTS if any(f.suffix == e for f in found)), None)
        files = sorted(f for f in found if f.suffix == ext)
    elif any(c in str(p) for c in "*?["):
        files = sorted(Path(f) for f in glob.glob(str(p)))
    else:
        files = [p] if p.exists() else []
    if not files:
        hint = _producer_hint(ref)
        raise UserError(f"{recipe.path}: {where}: no data files at {p}" + (f"; {hint}" if hint else ""))
    return files


def _producer_hint(ref: str) -> str:
    if ref.startswith(("curate.", "mix.")):
        return "run `mixloom curate` for this recipe first"
    if ref.startswith("generate."):
        return "run `mixloom generate` for this recipe first"
    if ref.startswith("review."):
        return "run `mixloom review export RUN` for this run first"
    return "check the path (relative paths start at the recipe's base_dir)"


def model_dir(recipe: Recipe, run_dir: Path, ref: str, where: str) -> Path:
    """A model directory: `train.<stage>` means that stage's saved model, anything else is a path."""
    if ref.startswith("train."):
        stage = ref.removeprefix("train.")
        if stage not in STAGES or stage == "tokenizer":
            raise UserError(f"{recipe.path}: {where}: unknown model reference '{ref}'")
        p = stage_dir(run_dir, stage) / "model"
        fix = f"run `mixloom train {recipe.path.name} --stage {stage}` first"
    else:
        p = recipe.resolve(ref)
        fix = "give a local model directory (config.json + weights + tokenizer)"
    if not (p / "config.json").exists():
        raise UserError(f"{recipe.path}: {where}: no model at {p}; {fix}")
    return p


def read_rows(files: list[Path], columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of small Parquet/JSONL/JSON files, in file order (SFT sets, preference pairs, prompts)."""
    rows: list[dict[str, Any]] = []
    for f in files:
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows.extend(pq.read_table(f, columns=columns).to_pylist())
        elif f.suffix == ".jsonl":
            with open(f, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as e:
                            raise UserError(
                                f"{f}:{n}: not valid JSON ({e.msg}); fix or remove the line"
                            ) from None
        else:
            data = json.loads(f.read_text(encoding="utf-8"))
            rows.extend(data if isinstance(data, list) else list(data.values()))
    if columns:
        rows = [{k: r.get(k) for k in columns} for r in rows]
    return rows


def require_columns(rows: list[dict[str, Any]], needed: list[str], source: str) -> None:
    if not rows:
        raise UserError(f"{source}: no rows")
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise UserError(f"{source}: missing column(s) {missing}; found {sorted(rows[0])}")


def tokenizer_data(recipe: Recipe) -> str:
    """What `train.tokenizer` learns from: its `data:`, else the curated documents when the mix counts shares
    in this tokenizer's tokens (the mix needs it first), else the train split."""
    from mixloom.sections.curate import TOKENIZER_STAGE, mix_tokenizer

    cfg = recipe.get("train.tokenizer")
    if cfg.data:
        return cfg.data
    return "curate.curated" if mix_tokenizer(recipe) == TOKENIZER_STAGE else "curate.train"
