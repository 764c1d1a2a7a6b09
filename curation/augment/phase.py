"""The augmentation phase of curation: after reading, before the steps.

Each read shard is rewritten with its original documents plus their augmented copies, so every copy goes
through the same steps (quality, dedup, toxicity, ...) as everything else and is accounted for like any
document (kept in curated/, or in rejects/ with step and reason). Every document gains three lineage columns:
`parent_id` (null for originals), `aug_method` and `aug_settings` (JSON); a copy's id is
`<parent id>~<method><copy>`, so `mixloom trace` leads from a copy to its parent. Splits hash `parent_id`
when present, so a copy always lands in its parent's split (see `curation.splits`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from curation.augment.rules import sentence_shuffle, word_replace
from curation.augment.section import AugmentSection
from curation.io.writers import to_rejects, write_parquet
from curation.steps.base import REJECT
from curation.tokens import count_expr
from mixloom.errors import RecipeError
from mixloom.manifest import code_version, stable_hash
from mixloom.recipe import Recipe

LINEAGE = {"parent_id": pl.String, "aug_method": pl.String, "aug_settings": pl.String}


def section(recipe: Recipe) -> AugmentSection | None:
    aug = recipe.get("augment")
    if aug is None:
        return None
    for name, method in aug.methods().items():
        for s in method.sources:
            if s not in recipe.sources:
                raise RecipeError(
                    str(recipe.path),
                    f"augment.{name}.sources",
                    f"unknown source '{s}'",
                    f"use one of {', '.join(recipe.sources)}",
                )
    return aug


def _copies(row: dict[str, Any], aug: AugmentSection, seed: int) -> list[dict[str, Any]]:
    out = []
    for name, m in aug.methods().items():
        if row["source"] not in m.sources:
            continue
        settings = m.model_dump(mode="json", exclude={"sources"})
        for k in range(m.copies):
            if name == "word_replace":
                text, n = word_replace(row["text"], seed, row["id"], k, m.rate)
                text = text if n >= m.min_replaced else None
            else:
                text = sentence_shuffle(row["text"], seed, row["id"], k, m.min_sentences)
            if text is None or text == row["text"]:
                continue
            out.append(
                {
                    **row,
                    "id": f"{row['id']}~{name}{k}",
                    "text": text,
                    "parent_id": row["id"],
                    "aug_method": name,
                    "aug_settings": json.dumps({**settings, "copy": k, "seed": seed}, sort_keys=True),
                }
            )
    return out


def augment_shard(job: tuple[str, str, dict, int, str]) -> dict[str, int]:
    """One read shard → originals + copies (a worker task: plain arguments, result written to disk)."""
    in_path, out_path, aug_json, seed, tokenizer = job
    if Path(out_path).exists():  # written atomically by an earlier (possibly killed) run with the same key
        done = pl.read_parquet(out_path, columns=["aug_method"]).drop_nulls()["aug_method"].value_counts()
        return dict(zip(done["aug_method"], done["count"], strict=True))
    aug = AugmentSection.model_validate(aug_json)
    df = pl.read_parquet(in_path).with_columns(pl.lit(None, dtype=t).alias(c) for c, t in LINEAGE.items())
    wanted = {s for m in aug.methods().values() for s in m.sources}
    rows = [
        c
        for r in df.filter(pl.col("source").is_in(list(wanted))).iter_rows(named=True)
        for c in _copies(r, aug, seed)
    ]
    if rows:
        new = pl.DataFrame(rows, schema=df.schema).with_columns(count_expr(tokenizer).alias("tokens"))
        df = pl.concat([df, new.cast(df.schema)])
    write_parquet(df, Path(out_path))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["aug_method"]] = counts.get(r["aug_method"], 0) + 1
    return counts


def augment_phase(
    recipe: Recipe, shards: list[dict], read_key: str, work: Path, tokenizer: str, ex
) -> tuple[list[dict], str, dict]:
    """Rewrite the read shards with augmented copies; returns (shards, cache key, manifest entry)."""
    aug = section(recipe)
    if aug is None:
        return shards, read_key, {}
    aug_json = aug.model_dump(mode="json")
    key = stable_hash({"read": read_key, "augment": aug_json, "seed": recipe.seed, "code": code_version()})
    out = work / f"augment-{key}"
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(s["path"], str(out / f"{s['name']}.parquet"), aug_json, recipe.seed, tokenizer) for s in shards]
    results = ex.map(augment_shard, jobs, desc="augment")
    created: dict[str, int] = {}
    for res in results:
        for m, n in res.items():
            created[m] = created.get(m, 0) + n
    new_shards = [{**s, "path": str(out / f"{s['name']}.parquet")} for s in shards]
    return new_shards, key, {"created": created, "total": sum(created.values()), "settings": aug_json}


def augment_report(created: dict, finals: list[Path], mix_report: dict | None) -> dict[str, Any]:
    """Per method: copies made, kept after every step; per domain: the augmented share of the mix."""
    kept = (
        pl.concat([pl.scan_parquet(str(f)).select("aug_method") for f in finals])
        .drop_nulls()
        .group_by("aug_method")
        .len()
        .collect()
    )
    kept_by = dict(zip(kept["aug_method"], kept["len"], strict=True))
    methods = {m: {"created": n, "kept": int(kept_by.get(m, 0))} for m, n in created["created"].items()}
    shares = {
        d: {k: v[k] for k in ("augmented_share", "max_augmented_share") if k in v}
        for d, v in ((mix_report or {}).get("domains") or {}).items()
    }
    return {"total": created["total"], "methods": methods, "mix": shares, "settings": created["settings"]}


ORPHAN_STEP = "augment:parent"


def drop_orphans(finals: list[Path], out: Path) -> tuple[list[Path], list[Path], dict[str, Any]]:
    """After every step: a copy whose parent some step rejected is rejected too (step `augment:parent`), so
    no copy of a document the recipe threw out reaches the mix. Parent and copies share a shard, so this is
    per shard. Returns the new final shards, their reject files and the funnel row."""
    out.mkdir(parents=True, exist_ok=True)
    kept_files, reject_files = [], []
    row: dict[str, Any] = {"docs_in": 0, "docs_out": 0, "tokens_in": 0, "tokens_out": 0, "reasons": {}}
    for f in finals:
        dst, rej = out / f.name, out / f"{f.stem}.rejects.parquet"
        df = pl.read_parquet(f)
        if not (dst.exists() and rej.exists()):  # rejects first: a crash between the two redoes the shard
            orphan = pl.col("parent_id").is_not_null() & ~pl.col("parent_id").is_in(df["id"].implode())
            bad = df.filter(orphan).with_columns(pl.lit("parent rejected").alias(REJECT))
            write_parquet(to_rejects(bad, ORPHAN_STEP), rej)
            write_parquet(df.filter(~orphan), dst)
        kept = pl.read_parquet(dst, columns=["tokens"])
        row["docs_in"] += df.height
        row["tokens_in"] += int(df["tokens"].sum() or 0)
        row["docs_out"] += kept.height
        row["tokens_out"] += int(kept["tokens"].sum() or 0)
        if df.height > kept.height:
            row["reasons"]["parent rejected"] = (
                row["reasons"].get("parent rejected", 0) + df.height - kept.height
            )
        kept_files.append(dst)
        reject_files.append(rej)
    return kept_files, reject_files, row
