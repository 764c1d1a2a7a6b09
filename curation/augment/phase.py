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

from curation.augment.labels import check_labels, classifier_fingerprint
from curation.augment.llm import llm_copies, similarity
from curation.augment.rules import sentence_shuffle, word_replace
from curation.augment.section import AugmentSection
from curation.io.writers import to_rejects, write_parquet
from curation.steps.base import REJECT
from curation.tokens import count_expr
from mixloom import storage
from mixloom.errors import RecipeError
from mixloom.manifest import code_version, stable_hash
from mixloom.recipe import Recipe

LINEAGE = {
    "parent_id": pl.String,
    "aug_method": pl.String,
    "aug_settings": pl.String,
    "aug_similarity": pl.Float64,
}
RULES = ("word_replace", "sentence_shuffle")
AUGMENT_STEP = "augment"  # the funnel row and reject step of copies the meaning filter refused


def section(recipe: Recipe) -> AugmentSection | None:
    """The recipe's `augment:` checked against its sources, with label classifiers made absolute paths."""
    aug = recipe.get("augment")
    if aug is None:
        return None
    aug = aug.model_copy(deep=True)
    for name, method in aug.methods().items():
        for s in method.sources:
            if s not in recipe.sources:
                raise RecipeError(
                    str(recipe.path),
                    f"augment.{name}.sources",
                    f"unknown source '{s}'",
                    f"use one of {', '.join(recipe.sources)}",
                )
        lk = method.label
        if lk is not None and lk.classifier is not None:
            path = recipe.resolve(lk.classifier)
            if not (path / "config.json").is_file():
                raise RecipeError(
                    str(recipe.path),
                    f"augment.{name}.label.classifier",
                    f"{path} is not a model directory (no config.json)",
                    "give the directory of a transformers text-classification model (save_pretrained)",
                )
            lk.classifier = str(path)
    return aug


def label_classifiers(aug: AugmentSection | None) -> list[str]:
    """The label classifier directories that the augment methods read."""
    methods = aug.methods().values() if aug is not None else []
    return [m.label.classifier for m in methods if m.label is not None and m.label.classifier is not None]


def _copy(row: dict, name: str, m: Any, k: int, seed: int, text: str, sim: float, reason: str | None) -> dict:
    settings = m.model_dump(mode="json", exclude={"sources"})
    return {
        **row,
        "id": f"{row['id']}~{name}{k}",
        "text": text,
        "parent_id": row["id"],
        "aug_method": name,
        "aug_settings": json.dumps({**settings, "copy": k, "seed": seed}, sort_keys=True),
        "aug_similarity": sim,
        REJECT: reason,
    }


def _copies(rows: list[dict[str, Any]], aug: AugmentSection, seed: int) -> list[dict[str, Any]]:
    """Every copy of these rows, each with REJECT set when the meaning (or label) filter refused it."""
    out = []
    for name, m in aug.methods().items():
        made = _method_copies([r for r in rows if r["source"] in m.sources], name, m, seed)
        if m.label is not None:
            check_labels(made, m.label, name)
        out += made
    return out


def _method_copies(mine: list[dict[str, Any]], name: str, m: Any, seed: int) -> list[dict[str, Any]]:
    out = []
    if name not in RULES:
        for r, text, sim, reason, k in llm_copies(mine, name, m, seed):
            out.append(_copy(r, name, m, k, seed, text, sim, reason))
    else:
        for r in mine:
            for k in range(m.copies):
                if name == "word_replace":
                    text, n = word_replace(r["text"], seed, r["id"], k, m.rate)
                    text = text if n >= m.min_replaced else None
                else:
                    text = sentence_shuffle(r["text"], seed, r["id"], k, m.min_sentences)
                if text is not None and text != r["text"]:  # nothing to copy: no document is made
                    out.append(_copy(r, name, m, k, seed, text, similarity(r["text"], text), None))
    return out


def augment_shard(job: tuple[str, str, dict, int, str]) -> dict[str, Any]:
    """One read shard → originals + kept copies, and the refused copies as rejects (a worker task)."""
    in_path, out_path, aug_json, seed, tokenizer = job
    out = storage.path(out_path)  # the run's storage: a URL on a cluster
    rej_path = out.with_suffix(".rejects.parquet")
    if not (out.exists() and rej_path.exists()):  # both written by an earlier run with the same key
        aug = AugmentSection.model_validate(aug_json)
        df = storage.read_parquet(in_path).with_columns(
            pl.lit(None, dtype=t).alias(c) for c, t in LINEAGE.items()
        )
        wanted = {s for m in aug.methods().values() for s in m.sources}
        rows = _copies(df.filter(pl.col("source").is_in(list(wanted))).to_dicts(), aug, seed)
        schema = {**df.schema, REJECT: pl.String}
        new = pl.DataFrame(rows, schema=schema).with_columns(count_expr(tokenizer).alias("tokens"))
        bad = new.filter(pl.col(REJECT).is_not_null())
        write_parquet(to_rejects(bad, "augment"), rej_path)  # rejects first: a crash redoes the shard
        write_parquet(pl.concat([df, new.filter(pl.col(REJECT).is_null()).drop(REJECT)]), out)
    kept = storage.read_parquet(out, columns=["aug_method"]).drop_nulls()["aug_method"].value_counts()
    rej = storage.read_parquet(rej_path)
    return {
        "kept": dict(zip(kept["aug_method"], kept["count"], strict=True)),
        "rejected": {
            m: int(n) for m, n in rej.group_by(pl.col("id").str.extract(r"~([a-z_]+)\d+$")).len().rows()
        },
        "reasons": dict(rej.group_by("reason").len().rows()),
        "originals": storage.parquet_rows(in_path),
        "tokens_in": int(storage.read_parquet(in_path, columns=["tokens"])["tokens"].sum() or 0),
        "tokens_out": int(storage.read_parquet(out, columns=["tokens"])["tokens"].sum() or 0),
    }


def augment_phase(
    recipe: Recipe, shards: list[dict], read_key: str, work: Path, tokenizer: str, ex
) -> tuple[list[dict], str, dict, dict, list[Path]]:
    """Rewrite the read shards with augmented copies; returns (shards, cache key, manifest entry, the funnel
    row of step `augment` (copies made, those the meaning filter refused), its reject files)."""
    aug = section(recipe)
    if aug is None:
        return shards, read_key, {}, {}, []
    aug_json = aug.model_dump(mode="json")
    models = {p: classifier_fingerprint(p) for p in label_classifiers(aug)}  # a retrained one re-checks all
    key = stable_hash(
        {"read": read_key, "augment": aug_json, "seed": recipe.seed, "models": models, "code": code_version()}
    )
    out = work / f"augment-{key}"
    storage.makedirs(out)
    jobs = [(s["path"], str(out / f"{s['name']}.parquet"), aug_json, recipe.seed, tokenizer) for s in shards]
    results = ex.map(augment_shard, jobs, desc="augment")
    created: dict[str, int] = {}
    kept: dict[str, int] = {}
    # the funnel row: originals in, originals + copies that passed the meaning filter out, refusals as reasons
    row: dict[str, Any] = {"docs_in": 0, "docs_out": 0, "tokens_in": 0, "tokens_out": 0, "reasons": {}}
    for res in results:
        for m, n in res["kept"].items():
            created[m] = created.get(m, 0) + n
            kept[m] = kept.get(m, 0) + n
        for m, n in res["rejected"].items():
            created[m] = created.get(m, 0) + n
        for reason, n in res["reasons"].items():
            row["reasons"][reason] = row["reasons"].get(reason, 0) + n
        row["docs_in"] += res["originals"]
        row["docs_out"] += res["originals"] + sum(res["kept"].values())
        row["tokens_in"] += res["tokens_in"]
        row["tokens_out"] += res["tokens_out"]
    new_shards = [{**s, "path": str(out / f"{s['name']}.parquet")} for s in shards]
    report = {"created": created, "filtered": kept, "total": sum(created.values()), "settings": aug_json}
    return new_shards, key, report, row, sorted(out.glob("*.rejects.parquet"))


def augment_report(created: dict, finals: list[Path], mix_report: dict | None) -> dict[str, Any]:
    """Per method: copies made, kept after every step; per domain: the augmented share of the mix."""
    kept = (
        pl.concat([storage.scan_parquet(f).select("aug_method") for f in finals])
        .drop_nulls()
        .group_by("aug_method")
        .len()
        .collect()
    )
    kept_by = dict(zip(kept["aug_method"], kept["len"], strict=True))
    methods = {
        m: {"created": n, "passed_filter": created["filtered"].get(m, 0), "kept": int(kept_by.get(m, 0))}
        for m, n in created["created"].items()
    }
    return {
        "total": created["total"],
        "methods": methods,
        "mix": augment_mix_shares(mix_report),
        "settings": created["settings"],
    }


def augment_mix_shares(mix_report: dict | None) -> dict[str, Any]:
    """Per domain: the augmented share of the mix, and its cap."""
    return {
        d: {k: v[k] for k in ("augmented_share", "max_augmented_share") if k in v}
        for d, v in ((mix_report or {}).get("domains") or {}).items()
    }


ORPHAN_STEP = "augment:parent"


def drop_orphans(finals: list[Path], out: Path) -> tuple[list[Path], list[Path], dict[str, Any]]:
    """After every step: a copy whose parent some step rejected is rejected too (step `augment:parent`), so
    no copy of a document the recipe threw out reaches the mix. Parent and copies share a shard, so this is
    per shard. Returns the new final shards, their reject files and the funnel row."""
    storage.makedirs(out)
    kept_files, reject_files = [], []
    row: dict[str, Any] = {"docs_in": 0, "docs_out": 0, "tokens_in": 0, "tokens_out": 0, "reasons": {}}
    for f in finals:
        dst, rej = out / f.name, out / f"{f.stem}.rejects.parquet"
        df = storage.read_parquet(f)
        if not (dst.exists() and rej.exists()):  # rejects first: a crash between the two redoes the shard
            orphan = pl.col("parent_id").is_not_null() & ~pl.col("parent_id").is_in(df["id"].implode())
            bad = df.filter(orphan).with_columns(pl.lit("parent rejected").alias(REJECT))
            write_parquet(to_rejects(bad, ORPHAN_STEP), rej)
            write_parquet(df.filter(~orphan), dst)
        kept = storage.read_parquet(dst, columns=["tokens"])
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
