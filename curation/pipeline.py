"""Run a curation job: read → passes of steps over shards (with global reduces between them); then the mix
stage (`curation.mixing`) samples the shares and writes the splits.

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
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from curation.accounting import check_accounting
from curation.augment.phase import AUGMENT_STEP, ORPHAN_STEP, augment_phase, augment_report, drop_orphans
from curation.dupids import drop_duplicate_ids
from curation.executors import make_executor
from curation.io.readers import ReadGroup, ReadTask, read_group
from curation.io.writers import write_parquet
from curation.mixing import mix_run
from curation.mixwrite import clear_mix
from curation.passes import Applied, PassJob, run_pass
from curation.pii.scrub import scrub_run
from curation.plan import Plan, PlannedStep, make_plan
from curation.remote import reduce_into
from curation.rundir import check_out_dir, collect_garbage
from curation.shards import pack_shards, parquet_rows, read_groups
from curation.tokens import describe
from mixloom import storage
from mixloom.layout import RunLayout
from mixloom.manifest import (
    code_version,
    file_entry,
    package_versions,
    read_manifest,
    stable_hash,
    write_json_atomic,
    write_manifest,
)
from mixloom.progress import console
from mixloom.recipe import Recipe
from mixloom.runlock import run_lock
from mixloom.sections.curate import TOKENIZER_STAGE, mix_tokenizer
from mixloom.stage_log import library_output_to

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
    storage.copy(src, dst)  # a hard link on disk, a server-side copy on object storage


def _read_phase(plan: Plan, inputs: list[dict], work: Path, ex) -> tuple[list[dict], Path, list[dict]]:
    """Read every file; returns the shards, the read folder and one result per input file (in input order)."""
    r = plan.recipe
    key = stable_hash(
        {
            "sources": r.section("sources"),
            "inputs": [(i["path"], i.get("xxh3_128") or i["etag"]) for i in inputs],  # etag: in a store
            "shard": [r.execution.shard_docs, r.execution.shard_bytes],
            "tok": plan.tokenizer,
            "code": code_version(),
        }
    )
    out = work / f"read-{key}"
    storage.makedirs(out)
    tasks = []
    for s in plan.sources:
        src = r.sources[s.name]
        for f in s.files:
            try:
                rel = str(f) if storage.is_url(f) else str(f.relative_to(r.root))
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
                    stem="",
                )
            )
    groups = [
        ReadGroup(stem, str(out), tuple(tasks[i] for i in idx)) for stem, idx in read_groups(plan, inputs)
    ]
    results = ex.map(read_group, groups, desc="read")
    shards = [
        {"path": str(out / f"{sh['name']}.parquet"), "source": g.files[0].source, **sh}
        for g, res in zip(groups, results, strict=True)
        for sh in res["shards"]
    ]
    shards = pack_shards(shards, out, ex, r.execution.shard_docs, r.execution.shard_bytes)
    return shards, out, [f for res in results for f in res["files"]]


def _run_passes(
    plan: Plan, shards: list[dict], read_key: str, work: Path, ex, used: list[Path] | None = None
) -> tuple[list[Path], list[Path], dict, dict]:
    """Run every pass; returns the final shard files, all reject files, the per-step funnel and the reduce reports."""
    funnel: dict[str, dict[str, Any]] = {}
    reports: dict[str, dict[str, Any]] = {}
    reject_files: list[Path] = []
    prev_key, inputs = read_key, [storage.path(s["path"]) for s in shards]
    names = [s["name"] for s in shards]
    applied: Applied | None = None
    for p in plan.passes:
        entries = [s.entry for s in p.steps]
        map_entry = p.map_step.entry if p.map_step else None
        parts = {"prev": prev_key, "steps": entries, "map": map_entry, "seed": plan.recipe.seed}
        # steps that read a model file (quality_model) add its checksum, so a retrained model re-scores
        stepped = [s.step for s in p.steps] + ([p.map_step.step] if p.map_step else [])
        prints = [fp() for s in stepped if (fp := getattr(getattr(s, "step", s), "fingerprint", None))]
        key = stable_hash({**parts, "fingerprints": prints} if prints else parts)
        out = work / f"pass{p.index}-{key}"
        storage.makedirs(out)
        if used is not None:
            used.append(out)
        jobs = [
            PassJob(
                shard=n,
                in_path=str(i),
                out_dir=str(out),
                key=key,
                steps=tuple(p.steps),
                apply=applied,
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
                    if isinstance(v, dict):  # reasons, and a step's own counts
                        rs = agg.setdefault(k, {})
                        for reason, n in v.items():
                            rs[reason] = rs.get(reason, 0) + n
                    else:
                        agg[k] = agg.get(k, 0) + v
        reject_files += sorted(out.glob("*.rejects.parquet"))
        inputs = [out / f"{n}.parquet" for n in names]
        if p.map_step is not None:
            applied, seconds, report = _reduce(p.map_step, [out / f"{n}.map.parquet" for n in names], out, ex)
            if report:
                reports[p.map_step.label] = report
            funnel.setdefault(f"{p.map_step.label} (reduce)", {})["seconds"] = seconds
        prev_key = key
    return inputs, reject_files, funnel, reports


def reduce_task(job: tuple[PlannedStep, list[Path], Path]) -> None:
    """Reduce a global step (a task: the keys of every document are read by a worker, not the driver); its
    decisions, artifacts and report are saved with a done record last."""
    ps, maps, out = job
    t0 = time.perf_counter()
    with reduce_into(ps.step, maps, out / "reduce") as reduced:  # on object storage: staged locally
        write_parquet(reduced.decisions, out / "decisions.parquet")
        record = {
            "seconds": round(time.perf_counter() - t0, 3),
            "artifacts": {k: str(v) for k, v in reduced.artifacts.items()},
            "report": reduced.report,
        }
    write_json_atomic(out / "reduce.json", record)


def _reduce(ps: PlannedStep, maps: list[Path], out: Path, ex) -> tuple[Applied, float, dict[str, Any]]:
    """Reduce a global step once, as a task (resume: a done record means it is reduced)."""
    done = out / "reduce.json"
    if not done.exists():
        ex.map(reduce_task, [(ps, maps, out)], desc=f"reduce {ps.label}")
    record = json.loads(done.read_text())
    artifacts = {k: storage.path(v) for k, v in record["artifacts"].items()}
    return Applied(ps, str(out / "decisions.parquet"), artifacts), record["seconds"], record["report"]


def _order_funnel(funnel: dict, labels: list[str]) -> list[dict]:
    rows = []
    for label in labels:
        row = {"step": label, **funnel.get(label, {})}
        for extra in (f"{label} (map)", f"{label} (reduce)"):
            row["seconds"] = round(row.get("seconds", 0) + funnel.get(extra, {}).get("seconds", 0), 4)
        rows.append(row)
    return rows


def curate(
    recipe: Recipe, out: Path | str | None = None, executor: str | None = None, workers: int | None = None
) -> dict[str, Any]:
    """Curate the recipe's sources and mix them (`mixloom curate`); returns the manifest (OUT/manifest.json).

    When the mix counts in the run's own tokenizer, that tokenizer is trained in between, through the run
    graph (curate → train.tokenizer → mix), with the same caching as `mixloom run`. The output directory is
    locked for the run: a second run into it fails at once, naming the holder. Library output (Ray's logs,
    warnings) goes to the stage's output.log unless `--verbose`."""
    out_dir = recipe.output_dir(out)
    _check_out(out_dir)
    if mix_tokenizer(recipe) == TOKENIZER_STAGE:
        from mixloom.orchestrator import run_recipe

        if executor or workers:
            ex = recipe.execution.model_copy(
                update={
                    "executor": executor or recipe.execution.executor,
                    "workers": workers or recipe.execution.workers,
                }
            )
            recipe = recipe.model_copy(update={"execution": ex})
        run_recipe(recipe, out_dir, only=["curate", TOKENIZER_STAGE, "mix"], report=False)
        return read_manifest(out_dir)
    layout = RunLayout(out_dir)
    with run_lock(out_dir):
        with library_output_to(layout.stage_dir("curate") / "output.log"):
            _curate(recipe, out_dir, executor, workers)
        with library_output_to(layout.stage_dir("mix") / "output.log"):
            return mix_run(recipe, out_dir, executor, workers)


def _check_out(out_dir: Path) -> None:
    storage.check_run_dir(out_dir) if storage.is_url(out_dir) else check_out_dir(out_dir)


def curate_docs(
    recipe: Recipe, out: Path | str | None = None, executor: str | None = None, workers: int | None = None
) -> dict[str, Any]:
    """The curation stage alone: read, steps, curated/ and rejects/ (the mix is the next stage's)."""
    out_dir = recipe.output_dir(out)
    _check_out(out_dir)
    with run_lock(out_dir):
        return _curate(recipe, out_dir, executor, workers)


def _curate(recipe: Recipe, out_dir: Path, executor: str | None, workers: int | None) -> dict[str, Any]:
    t_start = time.perf_counter()
    layout = RunLayout(out_dir)
    work = layout.work
    # steps' scratch space is local (a step writes it with local file APIs); their outputs go to the run
    scratch = Path(tempfile.mkdtemp(prefix="mixloom-steps-")) if storage.is_url(work) else work / "steps"
    plan = make_plan(recipe, workdir=scratch, run_dir=out_dir)
    kind = executor or recipe.execution.executor
    nworkers = workers or recipe.execution.workers
    timings: dict[str, float] = {}
    inputs = [file_entry(f) | {"source": s.name, "format": s.fmt} for s in plan.sources for f in s.files]
    ex = make_executor(kind, nworkers, out_dir, recipe.execution.ray.address)
    try:
        t0 = time.perf_counter()
        shards, read_dir, read_results = _read_phase(plan, inputs, work, ex)
        timings["read"] = time.perf_counter() - t0
        for entry, res in zip(inputs, read_results, strict=True):  # the bytes actually read
            if (res["bytes"], res["xxh3_128"]) != (entry["bytes"], entry.get("xxh3_128", res["xxh3_128"])):
                entry["changed_while_read"] = {
                    k: entry[k] for k in ("bytes", "xxh3_128", "etag") if k in entry
                }
            entry.update(bytes=res["bytes"], xxh3_128=res["xxh3_128"])
        drop_duplicate_ids(shards, read_dir, ex, nworkers)
        t0 = time.perf_counter()
        read_key = read_dir.name.removeprefix("read-")
        shards, read_key, augmented, aug_row, aug_rejects = augment_phase(
            recipe, shards, read_key, work, plan.tokenizer, ex
        )
        used = [read_dir]
        finals, reject_files, funnel, step_reports = _run_passes(plan, shards, read_key, work, ex, used)
        reject_files = aug_rejects + reject_files
        if augmented:
            funnel[AUGMENT_STEP] = aug_row
        if augmented and finals:  # copies of documents a step rejected go too
            finals, orphans, funnel[ORPHAN_STEP] = drop_orphans(
                finals, work / f"orphans-{finals[0].parent.name}"
            )
            reject_files += orphans
        timings["steps"] = time.perf_counter() - t0
        for d in (layout.curated, layout.rejects):
            if d.exists():
                storage.rmtree(d)
        for i, f in enumerate(finals):
            _link(f, layout.curated / f"part-{i:05d}.parquet")
        all_read_rejects = sorted(read_dir.glob("*.rejects.parquet"))
        read_rejects = [f for f in all_read_rejects if parquet_rows(f)]  # no empty files...
        if not read_rejects and not reject_files:
            read_rejects = all_read_rejects[:1]  # ...but one, so rejects/ always has the schema
        for f in read_rejects + reject_files:
            name = f"{f.parent.name.split('-')[0]}-{f.name.removesuffix('.rejects.parquet')}.parquet"
            _link(f, layout.rejects / name)
    except BaseException:
        ex.close()
        if storage.is_url(work):
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    timings["total"] = time.perf_counter() - t_start
    read_summary = _read_summary(read_results)
    steps = _order_funnel(
        funnel, ([AUGMENT_STEP] if augmented else []) + plan.labels + ([ORPHAN_STEP] if augmented else [])
    )
    dup_files = sorted(read_dir.glob("*.dupids.rejects.parquet"))
    if dup_files:
        n = sum(storage.parquet_rows(f) for f in dup_files)
        read_summary["rejected"] += n
        read_summary["docs"] -= n
        read_summary["reasons"]["duplicate id"] = n
    manifest = {
        "stage": "curate",
        "recipe": {
            "name": recipe.name,
            "path": str(recipe.path),
            "hash": recipe.hash(),
            "curate_hash": recipe.hash(
                "sources", "steps", "mix", "splits", "seed", *(["augment"] if recipe.get("augment") else [])
            ),
            "section": recipe.section("sources", "steps", "mix", "splits", "execution"),
        },
        "seed": recipe.seed,
        "code_version": code_version(),
        "packages": package_versions(PACKAGES),
        "executor": {"kind": kind, "workers": nworkers},
        "tokenizer": describe(plan.tokenizer),  # the unit of `tokens` in curated/ (the mix may recount)
        "tokens_unit": plan.tokenizer,
        "inputs": inputs,
        "read": read_summary,
        "steps": steps,
        "curated": {
            "docs": sum(storage.parquet_rows(f) for f in finals),
            "files": len(finals),
        },
        "rejected": read_summary["rejected"] + sum(sum(row.get("reasons", {}).values()) for row in steps),
        "augment": augment_report(augmented, finals, None) if augmented else None,
        "step_reports": step_reports,
        "mix": None,  # the mix stage fills these in
        "splits": {},
        "outputs": {"curated": "curated/", "rejects": "rejects/", "mix": "mix/"},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    scrubbed = scrub_run(plan, layout)  # a pii step: no original value stays in rejects/ or _work/
    if scrubbed:
        manifest["pii_scrub"] = scrubbed
    clear_mix(layout.mix_root)  # the mix of earlier documents is no longer theirs
    write_manifest(out_dir, manifest)
    try:  # the executor stays up for the accounting's id checks (workers, not the driver, hold the ids)
        check_accounting(layout, manifest, ex, nworkers)
    finally:
        ex.close()
        if storage.is_url(work):
            shutil.rmtree(scratch, ignore_errors=True)
    if work.exists():  # a pii run removed it already
        collect_garbage(work, used)
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
