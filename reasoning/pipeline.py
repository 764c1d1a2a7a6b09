"""The generate stage: seeds -> prompts -> engine -> verify -> select -> Parquet + manifest.

Work is cut into batches of `engine.batch_size` problems per task. Each finished batch is one Parquet
part written atomically with its cache key, so a rerun (after a crash or with more tasks) skips every
batch whose inputs, settings and code are unchanged.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixloom.layout import RunLayout
from mixloom.manifest import code_version, file_entry, stable_hash, write_manifest
from mixloom.progress import progress_bar
from mixloom.recipe import Recipe
from mixloom.sections.generate import EngineSpec, TaskSpec
from reasoning.checks import TINY, check_recipe
from reasoning.engines import Engine, make_engine
from reasoning.outputs import part_meta, read_samples, samples_table, write_final, write_table_atomic
from reasoning.select import Sample, select
from reasoning.stats import STAT_KEYS, build_manifest, group_stats, task_stats
from reasoning.tasks import Problem, Task, make_task
from reasoning.tasks.base import read_records


@dataclass
class Context:
    recipe: Recipe
    engine_spec: EngineSpec
    model: Path | str
    model_label: str
    engine: Engine | None = None

    def get_engine(self) -> Engine:
        """Started on first need, so a fully resumed run never loads the model."""
        if self.engine is None:
            e = self.engine_spec
            opts: dict[str, Any] = {}
            if e.kind == "vllm":
                opts = {
                    "dtype": e.dtype,
                    "max_model_len": e.max_model_len,
                    "gpu_memory_utilization": e.gpu_memory_utilization,
                    "extra": e.vllm_args or None,
                }
            elif e.kind == "openai":
                opts = {
                    "base_url": e.base_url,
                    "api_key_env": e.api_key_env,
                    "concurrency": e.concurrency,
                    "retries": e.retries,
                    "request_timeout": e.request_timeout,
                }
            elif e.kind == "transformers":
                opts = {"dtype": e.dtype}
            self.engine = make_engine(e.kind, str(self.model), seed=self.recipe.seed, **opts)
        return self.engine


def problem_seed(seed: int, task: str, problem_id: str, phase: str = "gen") -> int:
    """A per-problem sampling seed: results do not depend on batching or on the other problems."""
    return int(stable_hash([seed, task, problem_id, phase]), 16) % (2**31 - 1)


def sample_id(s: Sample) -> str:
    """Stable id of a generated sample: task/problem#index (what `mixloom trace` looks up)."""
    return f"{s.task}/{s.problem_id}#{s.index}"


def tiny_model(recipe: Recipe, out_root: Path) -> Path:
    """Make (or reuse) the tiny random model for `model: tiny`, its tokenizer trained on the seed texts."""
    from mixloom.tiny import default_texts, make_tiny_model

    texts = list(default_texts())
    for spec in recipe.generate.tasks:  # type: ignore[union-attr]
        for _, rec, _raw in read_records(recipe.resolve(spec.seeds))[:200]:
            if isinstance(rec, dict):
                texts.append("\n".join(str(v) for v in rec.values() if isinstance(v, str)))
    return make_tiny_model(out_root / "tiny-model", texts, vocab_size=2048, seed=recipe.seed)


def resolve_model(recipe: Recipe, root: Path, build: bool = True) -> Path | str:
    """The model the engine loads: a served name (openai), the tiny model (built unless an engine
    was handed in), or a local directory."""
    eng = recipe.generate.engine  # type: ignore[union-attr]
    if eng.kind == "openai":
        return eng.model
    if eng.model == TINY:
        return tiny_model(recipe, root) if build else root / "tiny-model"
    return recipe.resolve(eng.model)


def _label(recipe: Recipe, path: Path | str) -> str:
    """Paths in rows are relative to base_dir when possible, so outputs do not depend on the checkout."""
    try:
        return str(Path(path).resolve().relative_to(recipe.root))
    except ValueError:
        return str(path)


def model_identity(model: Path | str, checksum_below: int = 4 << 30) -> Any:
    """What identifies the model in cache keys: config and weight checksums (size and mtime for
    models too large to read on every run)."""
    p = Path(model)
    if not (p / "config.json").exists():
        return str(model)
    files = sorted(f for f in p.iterdir() if f.suffix in (".safetensors", ".bin", ".json", ".model"))
    full = sum(f.stat().st_size for f in files) < checksum_below
    return {
        f.name: file_entry(f)["xxh3_128"] if full else [f.stat().st_size, f.stat().st_mtime_ns] for f in files
    }


def _generate(
    ctx: Context,
    task: Task,
    problems: Sequence[Problem],
    shots: Sequence[Problem],
    hints: bool,
    stats: dict[str, float],
) -> list[list[tuple[str, Any]]]:
    """Completions per problem (text, token count, finish reason); hints=True is the STaR retry."""
    spec = task.spec
    phase = "star" if hints else "gen"
    prompts = [task.prompt(p, shots, task.hint(p) if hints else None) for p in problems]
    t0 = time.perf_counter()
    gens = ctx.get_engine().generate(
        prompts,
        n=spec.n,
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens or ctx.engine_spec.max_tokens,
        seed=[problem_seed(ctx.recipe.seed, spec.id, p.id, phase) for p in problems],
        stop=task.stop(),
    )
    stats["gen_seconds"] += time.perf_counter() - t0
    stats["prompt_tokens"] += sum(g.prompt_tokens for g in gens)
    return [[(c.text, c.tokens, c.finish_reason) for c in g.completions] for g in gens]


def _verify(
    task: Task,
    problems: Sequence[Problem],
    comps: list[list[tuple]],
    rationalized: bool,
    base: int,
    seed_of: dict[str, int],
    stats: dict[str, float],
) -> list[Sample]:
    samples = [
        Sample(task.spec.id, p.id, base + j, text, tokens, fin, rationalized=rationalized, seed=seed_of[p.id])
        for p, cs in zip(problems, comps, strict=True)
        for j, (text, tokens, fin) in enumerate(cs)
    ]
    by_id = {p.id: p for p in problems}
    t0 = time.perf_counter()
    checks = task.verify([(by_id[s.problem_id], s.completion) for s in samples])
    stats["verify_seconds"] += time.perf_counter() - t0
    for s, c in zip(samples, checks, strict=True):
        s.ok, s.reason, s.answer, s.vote_key = c.ok, c.reason, c.answer, task.answer_key(c)
    return samples


def _references(
    task: Task, batch: Sequence[Problem], index: int, seed_of: dict[str, int], stats: dict[str, float]
) -> list[Sample]:
    """The seeds' own solutions as samples (`references: true`), checked by the same verifier."""
    refs = [(p, c) for p in batch if (c := task.reference_completion(p)) is not None]
    samples = [
        Sample(task.spec.id, p.id, index, c, 0, "reference", seed=seed_of[p.id], reference=True)
        for p, c in refs
    ]
    t0 = time.perf_counter()
    for s, c in zip(samples, task.verify(refs), strict=True):
        s.ok, s.reason, s.answer, s.vote_key = c.ok, c.reason, c.answer, task.answer_key(c)
    stats["verify_seconds"] += time.perf_counter() - t0
    stats["references"] = len(samples)
    stats["references_ok"] = sum(s.ok for s in samples)
    return samples


def run_batch(
    ctx: Context, task: Task, batch: Sequence[Problem], shots: Sequence[Problem], seed_file: str
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    spec = task.spec
    stats: dict[str, float] = dict.fromkeys(STAT_KEYS, 0)
    seeds = {p.id: problem_seed(ctx.recipe.seed, spec.id, p.id) for p in batch}
    samples = _verify(task, batch, _generate(ctx, task, batch, shots, False, stats), False, 0, seeds, stats)
    solved = {s.problem_id for s in samples if s.ok}
    if spec.rationalize and (todo := [p for p in batch if p.id not in solved]):
        star = {p.id: problem_seed(ctx.recipe.seed, spec.id, p.id, "star") for p in todo}
        retry = _verify(task, todo, _generate(ctx, task, todo, shots, True, stats), True, spec.n, star, stats)
        samples += retry
        stats["rationalized"] = len(retry)
        stats["rationalized_ok"] = sum(s.ok for s in retry)
        stats["solved_with_hint"] = len({s.problem_id for s in retry if s.ok})
    if spec.references:
        samples += _references(task, batch, 2 * spec.n, seeds, stats)
    sampling = json.dumps(
        {
            "n": spec.n,
            "temperature": spec.temperature,
            "top_p": spec.top_p,
            "max_tokens": spec.max_tokens or ctx.engine_spec.max_tokens,
            "stop": task.stop(),
            "format": spec.format,
            "shots": task.shot_count(shots),
        }
    )
    prov = {
        "engine": ctx.engine_spec.kind,
        "model": ctx.model_label,
        "template": task.template,
        "sampling": sampling,
        "seed_file": seed_file,
        "sandbox": task.sandbox_mode() or "",
    }
    rows = []
    for p in batch:
        mine = [s for s in samples if s.problem_id == p.id]
        vote = select(mine, spec.select, spec.dedup)
        first = [s for s in mine if not s.rationalized and not s.reference]
        stats["majority_correct"] += vote is not None and any(s.ok and s.vote_key == vote for s in first)
        prompt = task.prompt(p, shots)
        prompt_text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
        for s in mine:
            rows.append(
                {
                    "sample_id": sample_id(s),
                    "task": s.task,
                    "problem_id": s.problem_id,
                    "index": s.index,
                    "prompt": prompt_text,
                    "user": task.user_message(p),
                    "completion": s.completion,
                    "assistant": task.assistant_message(p, s.completion),
                    "tokens": s.tokens,
                    "finish_reason": s.finish_reason,
                    "ok": s.ok,
                    "reason": s.reason,
                    "answer": s.answer,
                    "vote_key": s.vote_key,
                    "rationalized": s.rationalized,
                    "reference": s.reference,
                    "seed": s.seed,
                    "duplicate": s.duplicate,
                    "selected": s.selected,
                    **prov,
                }
            )
    first_pass = [s for s in samples if not s.rationalized and not s.reference]
    stats["groups"] = group_stats(task, batch, first_pass)  # type: ignore[assignment]
    stats.update(
        problems=len(batch),
        samples=len(first_pass),
        ok=sum(s.ok for s in first_pass),
        tokens=sum(s.tokens for s in samples),
        solved=len(solved),
        duplicates=sum(s.duplicate for s in samples),
        selected=sum(s.selected for s in samples),
    )
    return rows, stats


def run_task(
    ctx: Context, spec: TaskSpec, out: Path, batch_size: int
) -> tuple[dict[str, Any], list, list[Path]]:
    task = make_task(spec)
    seed_path = ctx.recipe.resolve(spec.seeds)
    seeds = task.load(seed_path)
    shots, problems = task.take_shots(seeds.problems)
    problems = problems[: spec.limit] if spec.limit else problems
    batches = [problems[i : i + batch_size] for i in range(0, len(problems), batch_size)]
    task_dir = out / "samples" / spec.id
    base_key = {
        "task": spec.model_dump(mode="json"),
        "engine": ctx.engine_spec.model_dump(
            mode="json", exclude={"batch_size", "concurrency", "retries", "request_timeout"}
        ),
        "model": model_identity(ctx.model),
        "seed": ctx.recipe.seed,
        "code": code_version(),
        "shots": [(p.id, p.fields) for p in shots],
    }
    metas, parts, resumed = [], [], 0
    with progress_bar(f"generate {spec.id}", total=len(problems)) as advance:
        for b, batch in enumerate(batches):
            part = task_dir / f"part-{b:05d}.parquet"
            key = stable_hash({**base_key, "problems": [(p.id, p.fields, p.reference) for p in batch]})
            meta = part_meta(part) if part.exists() else None
            if meta is None or meta.get("key") != key:
                rows, stats = run_batch(ctx, task, batch, shots, _label(ctx.recipe, seed_path))
                meta = {"key": key, "stats": stats}
                write_table_atomic(samples_table(rows), part, meta)
            else:
                resumed += 1
            metas.append(meta["stats"])
            parts.append(part)
            advance(len(batch))
    for stale in sorted(task_dir.glob("part-*.parquet")) if task_dir.exists() else []:
        if stale not in parts:
            stale.unlink()
    quarantined = [vars(q) for q in seeds.quarantined]
    info = {
        "kind": spec.kind,
        "seeds": _label(ctx.recipe, seed_path),
        "template": task.template,
        "seeds_read": seeds.read,
        "quarantined": len(quarantined),
        "shots": len(shots),
        "skipped_by_limit": len(seeds.problems) - len(shots) - len(problems),
        "batches": len(batches),
        "batches_resumed": resumed,
        **task_stats(metas),
    }
    return info, quarantined, parts


def run_generate(
    recipe: Recipe, out_dir: str | Path | None = None, engine: Engine | None = None
) -> dict[str, Any]:
    """Run the `generate:` section; returns the manifest (also written to <out>/generate/manifest.json)."""
    check_recipe(recipe)
    gen = recipe.generate
    assert gen is not None
    t0 = time.perf_counter()
    root = recipe.output_dir(out_dir)
    out = RunLayout(root).generate
    model = resolve_model(recipe, root, build=engine is None)
    label = str(model) if gen.engine.kind == "openai" else _label(recipe, model)
    ctx = Context(recipe, gen.engine, model, label, engine)
    tasks, quarantined, parts = {}, [], []
    for spec in gen.tasks:
        info, q, p = run_task(ctx, spec, out, gen.engine.batch_size)
        tasks[spec.id] = info
        quarantined += q
        parts += p
    for d in (out / "samples").iterdir():
        if d.is_dir() and d.name not in tasks:
            shutil.rmtree(d)  # a task no longer in the recipe
    samples = read_samples(parts)
    written = write_final(
        out, samples, {t.id: t.pairs_per_problem for t in gen.tasks}, quarantined, gen.output.jsonl
    )
    engine_info = {
        "kind": ctx.engine_spec.kind,
        "model": ctx.model_label,
        "identity": model_identity(ctx.model),
    }
    manifest = build_manifest(recipe, engine_info, tasks, parts, written, time.perf_counter() - t0)
    write_manifest(out, manifest)
    return manifest
