"""`mixloom ablate RECIPE`: named variants of a recipe, each trained as the same proxy at the same token budget.

Every variant × seed trains the proxy of `ablate.proxy` (its own tokenizer on its own curated train split, the
same steps × batch tokens) and is scored in bits per byte on every eval set, so variants with different
tokenizers compare fairly. Output under `<run>/ablate/`: `results.json` (per run, per set; mean ± std over
seeds; ranking; differences against the baseline and whether they exceed `noise_k` × the seed std),
`ablate.png`, and `index.html`; `report_sections(layout)` hands the same to the run report.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.experiments import prepare
from mixloom.experiments.overrides import apply_overrides
from mixloom.experiments.runs import Workspace, bpb_by_set, prepare_evalsets, train_many, write_json
from mixloom.experiments.schema import AblateSection
from mixloom.layout import RunLayout
from mixloom.progress import console
from mixloom.recipe import Recipe, parse_recipe

RESULTS = "results.json"


def section_of(recipe: Recipe) -> AblateSection:
    cfg = recipe.get("ablate")
    if cfg is None:
        raise UserError(
            f"{recipe.path}: ablate: the recipe has no `ablate:` section (see recipes/ablation_demo.yaml)"
        )
    return cfg


def output_dir(recipe: Recipe, cfg: Any, command: str, out: Path | None = None) -> Path:
    if out is not None:
        return Path(out).resolve()
    if cfg.output:
        return recipe.resolve(cfg.output)
    return RunLayout(recipe.output_dir()).stage_dir(command)


def base_doc(recipe: Recipe) -> dict[str, Any]:
    """The recipe as written, minus experiment sections (what variants override)."""
    return {k: v for k, v in recipe._raw.items() if k not in ("ablate", "mix_search")}


def variant_doc(recipe: Recipe, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The effective recipe mapping of one variant, validated like any recipe."""
    doc = apply_overrides(base_doc(recipe), overrides, f"ablate.variants.{name}")
    parse_recipe(doc, recipe.path)  # a bad override fails here, naming the recipe file and key
    return doc


def mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def summarize(per_run: dict[str, dict[int, dict[str, float]]], baseline: str, k: float) -> dict[str, Any]:
    """per_run: variant → seed → {eval set: bpb}. Mean ± std per set, the ranking, and the noise test."""
    sets = sorted({s for seeds in per_run.values() for r in seeds.values() for s in r})
    table: dict[str, dict[str, dict[str, float]]] = {}
    for v, seeds in per_run.items():
        table[v] = {}
        for s in [*sets, "mean"]:
            xs = [r[s] if s != "mean" else statistics.fmean(r.values()) for r in seeds.values()]
            m, sd = mean_std(xs)
            table[v][s] = {"mean": m, "std": sd, "n": len(xs)}
    ranking = sorted(table, key=lambda v: table[v]["mean"]["mean"])
    versus = {}
    for v in table:
        if v == baseline:
            continue
        versus[v] = {}
        for s in [*sets, "mean"]:
            a, b = table[v][s], table[baseline][s]
            noise = max(a["std"], b["std"])
            diff = a["mean"] - b["mean"]
            versus[v][s] = {
                "diff": diff,
                "noise_std": noise,
                "exceeds_noise": bool(abs(diff) > k * noise and a["n"] > 1 and b["n"] > 1),
                "better": diff < 0,
            }
    return {
        "sets": sets,
        "table": table,
        "ranking": ranking,
        "baseline": baseline,
        "noise_k": k,
        "versus": versus,
    }


def run_ablation(recipe: Recipe, out: Path | None = None, only: list[str] | None = None) -> dict[str, Any]:
    """Curate every variant, train the proxy per seed, evaluate, summarize; returns the results."""
    cfg = section_of(recipe)
    root = output_dir(recipe, cfg, "ablate", out)
    started = time.perf_counter()
    unknown = sorted(set(only or []) - set(cfg.variants))
    if unknown:
        raise UserError(f"--variant {', '.join(unknown)}: not in ablate.variants ({', '.join(cfg.variants)})")
    prepare.run_all(recipe, cfg.prepare)
    docs = {v: variant_doc(recipe, v, o) for v, o in cfg.variants.items() if not only or v in only}
    ws = Workspace(recipe, root)
    needs_base = any(isinstance(e, str) for e in cfg.eval.values())
    base_run = ws.curate(base_doc(recipe)) if needs_base else None
    evalsets = prepare_evalsets(recipe, cfg.eval, root, base_run)
    per_run: dict[str, dict[int, dict[str, float]]] = {}
    runs: dict[str, dict[str, Any]] = {}
    curated = {}
    for v, doc in docs.items():
        console.print(f"[bold]ablate[/] variant {v}: curate", highlight=False)
        curated[v] = ws.curate(doc)
    jobs = [(curated[v], cfg.proxy, seed, evalsets, None) for v in docs for seed in cfg.seeds]
    console.print(f"[bold]ablate[/] {len(jobs)} proxy runs ({cfg.workers} at once)", highlight=False)
    done = iter(train_many(ws, jobs, cfg.workers))
    for v in docs:
        per_run[v], runs[v] = {}, {"curated": str(curated[v]), "seeds": {}}
        for seed in cfg.seeds:
            run = next(done)
            res = bpb_by_set(run, evalsets)
            per_run[v][seed] = {s: d["overall"] for s, d in res.items()}
            runs[v]["seeds"][seed] = {"run": str(run), "bpb": res}
    summary = summarize(
        per_run, cfg.baseline_name if cfg.baseline_name in per_run else next(iter(per_run)), cfg.noise_k
    )
    result = {
        "recipe": str(recipe.path),
        "output": str(root),
        "budget_tokens": cfg.proxy.budget_tokens,
        "seeds": cfg.seeds,
        "evalsets": {k: str(p) for k, p in evalsets.items()},
        "runs": runs,
        **summary,
        "wall_s": round(time.perf_counter() - started, 2),
    }
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / RESULTS, result)
    from mixloom.experiments.render import write_ablation_page

    write_ablation_page(root, result)
    return result
