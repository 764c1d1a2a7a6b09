"""Run a curation job: read → passes of steps over shards (with global reduces between them) → mix → splits.

Layout of the output directory:
  manifest.json           inputs, recipe hash, per-step funnel, rejects by reason, mix, splits, timings
  curated/part-*.parquet  every kept document (before mix sampling), with its score columns
  rejects/*.parquet       every rejected document or record, with step and reason
  mix/<split>/part-*.parquet  the sampled mix, with `epoch` (0 = first copy) and `split`
  _work/                  per-phase results keyed by a hash of their inputs (cache and resume)
Every input record ends in exactly one of curated/ or rejects/.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from curation.executors import make_executor
from curation.io.readers import ReadTask, read_file
from curation.io.writers import write_parquet, write_table
from curation.mix import plan_mix
from curation.passes import PassJob, run_pass
from curation.plan import Plan, make_plan
from curation.splits import assign_splits
from curation.steps.base import REJECT
from curation.tokens import describe, tokenizer_entry, unit_label
from mixloom.manifest import code_version, file_entry, package_versions, stable_hash, write_manifest
from mixloom.progress import console
from mixloom.recipe import Recipe

PACKAGES = [
    "mixloom",
    "polars",
    "duckdb",
    "pyarrow",
    "datasketch",
    "detoxify",
    "lingua-language-detector",
    "alt-profanity-check",
    "ray",
]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _read_phase(plan: Plan, inputs: list[dict], work: Path, ex) -> tuple[list[dict], Path, list[dict]]:
    r = plan.recipe
    key = stable_hash(
        {
            "sources": r.section("sources"),
            "inputs": [(i["path"], i["xxh3_128"]) for i in inputs],
            "shard": [r.execution.shard_docs, r.execution.shard_bytes],
            "tok": plan.tokenizer,
            "code": code_version(),
        }
    )
    out = work / f"read-{key}"
    out.mkdir(parents=True, exist_ok=True)
    tasks = []
    for s in plan.sources:
        src = r.sources[s.name]
        for i, f in enumerate(s.files):
            try:
                rel = str(f.relative_to(r.root))
            except ValueError:
                rel = str(f)
            tasks.append(
                ReadTask(
                    source=s.name,
                    domain=src.domain,
                    path=str(f),
                    rel=rel,
                    fmt=s.fmt,
                    text_field=src.text,
                    id_field=src.id,
                    split_on=src.split_on,
                    fields=tuple(src.fields) if src.fields else None,
                    sql=src.sql,
                    polars=src.polars,
                    max_doc_bytes=src.max_doc_bytes,
                    encoding=src.encoding,
                    shard_docs=r.execution.shard_docs,
                    shard_bytes=r.execution.shard_bytes,
                    tokenizer=plan.tokenizer,
                    out_dir=str(out),
                    stem=f"{s.name}-{i:05d}",
                )
            )
    results = ex.map(read_file, tasks, desc="read")
    shards = [
        {"name": sh["name"], "path": str(out / f"{sh['name']}.parquet"), **sh}
        for res in results
        for sh in res["shards"]
    ]
    return shards, out, results


def _duplicate_ids(shards: list[dict], out: Path) -> Path | None:
    """Ids must be unique: later repeats of a source's id field are rejected (reason `duplicate id`)."""
    if not shards:
        return None
    ids = pl.concat(
        [
            pl.scan_parquet(s["path"])
            .select("id")
            .with_columns(pl.lit(k).alias("_shard"))
            .with_row_index("_row")
            for k, s in enumerate(shards)
        ]
    ).collect()
    dups = ids.filter(pl.col("id").is_duplicated())
    if dups.is_empty():
        return None
    first = dups.sort("_shard", "_row").group_by("id", maintain_order=True).first()
    later = dups.join(first, on=["id", "_shard", "_row"], how="anti")
    # ids repeat, so decisions are keyed by (id, shard, row): stored per shard for the first pass
    path = out / "duplicate_ids.parquet"
    write_parquet(later.select("id", "_shard", "_row", pl.lit("duplicate id").alias(REJECT)), path)
    return path


def _run_passes(
    plan: Plan, shards: list[dict], read_key: str, work: Path, ex
) -> tuple[list[Path], list[Path], dict, dict]:
    """Run every pass; returns the final shard files, all reject files, the per-step funnel and the reduce reports."""
    funnel: dict[str, dict[str, Any]] = {}
    reports: dict[str, dict[str, Any]] = {}
    reject_files: list[Path] = []
    prev_key, inputs = read_key, [Path(s["path"]) for s in shards]
    names = [s["name"] for s in shards]
    decisions: Path | None = None
    for p in plan.passes:
        entries = [plan.recipe.steps[int(label.split(":")[0])] for label, _ in p.steps]
        map_entry = plan.recipe.steps[int(p.map_step[0].split(":")[0])] if p.map_step else None
        key = stable_hash({"prev": prev_key, "steps": entries, "map": map_entry, "seed": plan.recipe.seed})
        out = work / f"pass{p.index}-{key}"
        out.mkdir(parents=True, exist_ok=True)
        apply = (p.apply[0], p.apply[1], str(decisions)) if p.apply and decisions else None
        jobs = [
            PassJob(
                shard=n,
                in_path=str(i),
                out_dir=str(out),
                key=key,
                steps=tuple(p.steps),
                apply=apply,
                map_step=p.map_step,
                tokenizer=plan.tokenizer,
            )
            for n, i in zip(names, inputs, strict=True)
        ]
        results = ex.map(run_pass, jobs, desc=f"pass {p.index + 1}/{len(plan.passes)}")
        for res in results:
            for label, st in res["steps"].items():
                agg = funnel.setdefault(label, {})
                for k, v in st.items():
                    if k == "reasons":
                        rs = agg.setdefault("reasons", {})
                        for reason, n in v.items():
                            rs[reason] = rs.get(reason, 0) + n
                    else:
                        agg[k] = agg.get(k, 0) + v
        reject_files += sorted(out.glob("*.rejects.parquet"))
        inputs = [out / f"{n}.parquet" for n in names]
        if p.map_step is not None:
            decisions = out / "decisions.parquet"
            if not (out / "decisions.done").exists():
                t0 = time.perf_counter()
                label, step = p.map_step
                dec = step.reduce([out / f"{n}.map.parquet" for n in names], out / "reduce")
                write_parquet(dec, decisions)
                (out / "decisions.done").write_text(f"{time.perf_counter() - t0:.3f}\n")
            for report in sorted((out / "reduce").glob("*.json")):  # e.g. contamination.json, minhash.json
                reports.setdefault(p.map_step[0], {})[report.stem] = json.loads(report.read_text())
            funnel.setdefault(f"{p.map_step[0]} (reduce)", {})["seconds"] = float(
                (out / "decisions.done").read_text()
            )
        prev_key = key
    return inputs, reject_files, funnel, reports


def _order_funnel(funnel: dict, labels: list[str]) -> list[dict]:
    rows = []
    for label in labels:
        row = {"step": label, **funnel.get(label, {})}
        for extra in (f"{label} (map)", f"{label} (reduce)"):
            row["seconds"] = round(row.get("seconds", 0) + funnel.get(extra, {}).get("seconds", 0), 4)
        rows.append(row)
    return rows


def _write_mix(plan: Plan, finals: list[Path], out_dir: Path, ex) -> tuple[dict | None, dict]:
    r = plan.recipe
    cols = ["id", "source", "domain", "tokens"]
    docs = (
        pl.concat([pl.scan_parquet(str(f)).select(cols) for f in finals]).collect()
        if finals
        else pl.DataFrame(
            schema={"id": pl.String, "source": pl.String, "domain": pl.String, "tokens": pl.Int64}
        )
    )
    if r.mix is None:
        selection = docs.select("id", pl.lit(1, dtype=pl.Int32).alias("copies"))
        report = None
    else:
        selection, report = plan_mix(docs, r.mix, r.seed)
    mixdir = out_dir / "mix"
    if mixdir.exists():
        shutil.rmtree(mixdir)
    sel_path = out_dir / "_work" / "mix_selection.parquet"
    write_parquet(selection, sel_path)
    jobs = [
        (str(f), str(sel_path), str(mixdir), i, r.splits, r.seed, r.execution.output_format)
        for i, f in enumerate(finals)
    ]
    parts = ex.map(_mix_shard, jobs, desc="mix")
    split_stats: dict[str, dict[str, int]] = {s: {"docs": 0, "tokens": 0, "unique_docs": 0} for s in r.splits}
    for part in parts:
        for s, st in part.items():
            for k, v in st.items():
                split_stats[s][k] += v
    return report, split_stats


def _mix_shard(job: tuple) -> dict[str, dict[str, int]]:
    path, sel_path, mixdir, index, splits, seed, fmt = job
    df = pl.read_parquet(path)
    sel = pl.scan_parquet(sel_path).filter(pl.col("id").is_in(df["id"].implode())).collect()
    df = df.join(sel, on="id", how="inner")
    df = assign_splits(df, splits, seed)
    rows = df.with_columns(pl.int_ranges(0, pl.col("copies")).alias("epoch")).explode("epoch")
    rows = rows.with_columns(pl.col("epoch").cast(pl.Int32)).drop("copies")
    stats = {}
    for s in splits:
        part = rows.filter(pl.col("split") == s)
        stats[s] = {
            "docs": part.height,
            "tokens": int(part["tokens"].sum() or 0),
            "unique_docs": part.filter(pl.col("epoch") == 0).height,
        }
        if part.height:
            write_table(part, Path(mixdir) / s / f"part-{index:05d}", fmt)
    return stats


def curate(
    recipe: Recipe, out: Path | str | None = None, executor: str | None = None, workers: int | None = None
) -> dict[str, Any]:
    """Run the recipe's curation; returns the manifest (also written to OUT/manifest.json)."""
    t_start = time.perf_counter()
    out_dir = recipe.output_dir(out)
    work = out_dir / "_work"
    plan = make_plan(recipe, workdir=work / "steps")
    kind = executor or recipe.execution.executor
    nworkers = workers or recipe.execution.workers
    timings: dict[str, float] = {}
    inputs = [file_entry(f) | {"source": s.name, "format": s.fmt} for s in plan.sources for f in s.files]
    ex = make_executor(kind, nworkers)
    try:
        t0 = time.perf_counter()
        shards, read_dir, read_results = _read_phase(plan, inputs, work, ex)
        timings["read"] = time.perf_counter() - t0
        dup_path = _duplicate_ids(shards, read_dir)
        if dup_path is not None:
            shards = _drop_duplicate_ids(shards, dup_path, read_dir)
        t0 = time.perf_counter()
        read_key = read_dir.name.removeprefix("read-")
        finals, reject_files, funnel, step_reports = _run_passes(plan, shards, read_key, work, ex)
        timings["steps"] = time.perf_counter() - t0
        for d in ("curated", "rejects"):
            if (out_dir / d).exists():
                shutil.rmtree(out_dir / d)
        for i, f in enumerate(finals):
            _link(f, out_dir / "curated" / f"part-{i:05d}.parquet")
        read_rejects = sorted(read_dir.glob("*.rejects.parquet"))
        for f in read_rejects + reject_files:
            _link(
                f,
                out_dir
                / "rejects"
                / f"{f.parent.name.split('-')[0]}-{f.name.removesuffix('.rejects.parquet')}.parquet",
            )
        t0 = time.perf_counter()
        mix_report, split_stats = _write_mix(
            plan, sorted((out_dir / "curated").glob("*.parquet")), out_dir, ex
        )
        timings["mix"] = time.perf_counter() - t0
    finally:
        ex.close()
    timings["total"] = time.perf_counter() - t_start
    read_summary = _read_summary(read_results)
    steps = _order_funnel(funnel, plan.labels)
    dup_files = sorted(read_dir.glob("*.dupids.rejects.parquet"))
    if dup_files:
        n = sum(pl.scan_parquet(str(f)).select(pl.len()).collect().item() for f in dup_files)
        read_summary["rejected"] += n
        read_summary["docs"] -= n
        read_summary["reasons"]["duplicate id"] = n
    manifest = {
        "stage": "curate",
        "recipe": {
            "name": recipe.name,
            "path": str(recipe.path),
            "hash": recipe.hash(),
            "curate_hash": recipe.hash("sources", "steps", "mix", "splits", "seed"),
            "section": recipe.section("sources", "steps", "mix", "splits", "execution"),
        },
        "seed": recipe.seed,
        "code_version": code_version(),
        "packages": package_versions(PACKAGES),
        "executor": {"kind": kind, "workers": nworkers},
        "tokenizer": describe(plan.tokenizer),
        "inputs": inputs,
        "read": read_summary,
        "steps": steps,
        "curated": {
            "docs": sum(pl.scan_parquet(str(f)).select(pl.len()).collect().item() for f in finals),
            "files": len(finals),
        },
        "rejected": read_summary["rejected"] + sum(sum(row.get("reasons", {}).values()) for row in steps),
        "step_reports": step_reports,
        "mix": mix_report
        and {
            **mix_report,
            "unit_label": unit_label(mix_report["unit"], plan.tokenizer),
            "tokenizer": tokenizer_entry(plan.tokenizer),
        },
        "splits": split_stats,
        "outputs": {"curated": "curated/", "rejects": "rejects/", "mix": "mix/"},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    write_manifest(out_dir, manifest)
    console.print(
        f"[green]curated[/] {manifest['curated']['docs']:,} kept, {manifest['rejected']:,} rejected "
        f"→ {out_dir}",
        highlight=False,
    )
    return manifest


def _read_summary(results: list[dict]) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for r in results:
        for k, v in r["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    return {
        "files": len(results),
        "records": sum(r["records"] for r in results),
        "docs": sum(r["docs"] for r in results),
        "rejected": sum(r["rejected"] for r in results),
        "reasons": reasons,
    }


def _drop_duplicate_ids(shards: list[dict], dup_path: Path, read_dir: Path) -> list[dict]:
    """Move later repeats of an id from the read shards into the read rejects."""
    from curation.io.writers import to_rejects

    dups = pl.read_parquet(dup_path)
    for k, s in enumerate(shards):
        rows = dups.filter(pl.col("_shard") == k)["_row"]
        if rows.is_empty():
            continue
        df = pl.read_parquet(s["path"]).with_row_index("_row")
        bad = df.filter(pl.col("_row").is_in(rows.implode())).drop("_row")
        # the repeat gets its positional id (source/file#record), so ids stay unique across kept and rejects
        loc = pl.col("origin").str.extract(r"^(.*):(\d+)$", 1)
        line = pl.col("origin").str.extract(r":(\d+)$", 1).str.zfill(7)
        bad = bad.with_columns(
            pl.col("id").alias("original_id"),
            (pl.col("source") + "/" + loc + "#" + line).alias("id"),
            pl.lit("duplicate id").alias(REJECT),
        )
        rej = to_rejects(bad, "read")
        write_parquet(rej, read_dir / f"{s['name']}.dupids.rejects.parquet")
        # rejects first, then the shard: a crash in between repeats this step on resume, losing nothing
        write_parquet(df.filter(~pl.col("_row").is_in(rows.implode())).drop("_row"), Path(s["path"]))
    return shards
