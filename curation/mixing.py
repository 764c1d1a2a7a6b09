"""The mix stage: curated documents → sampled shares → shuffled, interleaved splits (mix/<split>/part-*.parquet).

It is a stage of its own, after curation, because its unit may be the run's own tokenizer, which learns from
the curated documents: curate → train.tokenizer → mix → pretrain. When the mix counts in another tokenizer
than the one curation counted `tokens` in, the counts are redone here, so the shares hold in the tokens that
train. Its numbers go into the run's manifest.json beside the curation funnel.
"""

from __future__ import annotations

import time
from pathlib import Path

from curation.accounting import check_accounting
from curation.augment.phase import augment_mix_shares
from curation.executors import make_executor
from curation.io.writers import write_parquet
from curation.mix import MixError
from curation.mixwrite import write_mix
from curation.tokens import check_tokenizer, count_expr, tokenizer_entry, unit_label
from mixloom import storage
from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.manifest import read_manifest, write_manifest
from mixloom.progress import console
from mixloom.recipe import Recipe
from mixloom.sections.curate import TOKENIZER_STAGE, mix_tokenizer


def mix_unit(recipe: Recipe, layout: RunLayout) -> tuple[str, str | None]:
    """The mix's tokenizer as (path or 'approx', the reference it came from or None)."""
    unit = mix_tokenizer(recipe)
    if unit == TOKENIZER_STAGE:
        path = layout.ref_path(TOKENIZER_STAGE)
        if not (path / "tokenizer.json").is_file():
            raise UserError(
                f"{recipe.path}: mix.tokenizer: no tokenizer at {path} yet; run the train.tokenizer stage first "
                "(`mixloom curate` and `mixloom run` do it in order)"
            )
        return str(path), TOKENIZER_STAGE
    try:
        return check_tokenizer(unit, recipe.root), None
    except ValueError as e:
        raise UserError(f"{recipe.path}: mix.tokenizer: {e}") from None


def _recount(job: tuple[str, str, str]) -> str:
    """One curated shard with `tokens` counted in the mix's tokenizer (a copy; curated/ is left as it is)."""
    src, dst, tokenizer = job
    df = storage.read_parquet(src).with_columns(count_expr(tokenizer).alias("tokens"))
    write_parquet(df, storage.path(dst))
    return dst


def mix_run(recipe: Recipe, out_dir: Path, executor: str | None = None, workers: int | None = None) -> dict:
    """Mix the curated documents of `out_dir`; returns the run's manifest with the mix and splits added."""
    layout = RunLayout(out_dir)
    manifest = read_manifest(out_dir)
    if "curated" not in manifest:
        raise UserError(f"{layout.manifest}: not a curation run; run `mixloom curate` first")
    tokenizer, ref = mix_unit(recipe, layout)
    t0 = time.perf_counter()
    finals = sorted(layout.curated.glob("*.parquet")) if layout.curated.exists() else []
    recount_dir = layout.work / "mix_tokens"  # counts in the mix's tokenizer, gone when the mix ends
    nworkers = workers or recipe.execution.workers
    ex = make_executor(executor or recipe.execution.executor, nworkers, out_dir, recipe.execution.ray.address)
    mix_error: MixError | None = None
    try:
        if finals and tokenizer != manifest.get("tokens_unit", "approx"):
            storage.rmtree(recount_dir)
            jobs = [(str(f), str(recount_dir / f.name), tokenizer) for f in finals]
            finals = [storage.path(p) for p in ex.map(_recount, jobs, desc="mix (count tokens)")]
        try:
            report, split_stats = write_mix(recipe, finals, out_dir, ex)
        except MixError as e:  # the numbers still go into the manifest, then it fails
            mix_error, report, split_stats = e, None, {}
        manifest = _record(manifest, report, split_stats, tokenizer, ref, mix_error, t0)
        write_manifest(out_dir, manifest)
        if mix_error is not None:
            raise mix_error
        check_accounting(layout, manifest, ex, nworkers)  # the workers hold the ids, not the driver
    finally:
        ex.close()
        storage.rmtree(recount_dir)
        if not storage.is_url(layout.work) and layout.work.is_dir() and not any(layout.work.iterdir()):
            layout.work.rmdir()  # a pii run had removed it: nothing of it may come back
    if report:
        shares = ", ".join(f"{d} {100 * v['achieved_share']:.1f}%" for d, v in report["domains"].items())
        console.print(f"[green]mixed[/] {shares} of {manifest['mix']['unit_label']}", highlight=False)
    return manifest


def _record(
    manifest: dict, report: dict | None, splits: dict, tokenizer: str, ref: str | None, error, t0: float
) -> dict:
    """The run's manifest with the mix's numbers (or its error) in."""
    manifest["mix"] = report and {
        **report,
        "unit_label": unit_label(report["unit"], ref or tokenizer),
        "tokenizer": tokenizer_entry(tokenizer, ref),
    }
    manifest["splits"] = splits
    if manifest.get("augment"):
        manifest["augment"]["mix"] = augment_mix_shares(report)
    manifest.setdefault("timings_s", {})["mix"] = round(time.perf_counter() - t0, 3)
    manifest.pop("mix_error", None)
    manifest["status"] = "failed" if error else "done"
    if error is not None:
        manifest["mix_error"] = {"message": str(error), **error.details}
    return manifest
