"""`mixloom mix-search RECIPE`: RegMix-style mixture search over the recipe's domains.

1. curate the recipe once; 2. draw `runs` mixtures from Dirichlet(concentration × the recipe's shares) and train
one proxy on each (the proxy's `pretrain.shares` feeds the curated domains in that mixture; first seed);
3. fit `regmix.fit` from shares to the objective (mean bits per byte over the eval sets, or one set);
4. pick the predicted best (`regmix.best`); 5. verify: train the pick and the hand-set shares with every seed.
Writes `results.json`, `fit.png` (observed objective and the fitted curve per domain) and a runnable recipe
with the chosen `mix.shares`.
"""

from __future__ import annotations

import html
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mixloom.errors import UserError
from mixloom.experiments import regmix
from mixloom.experiments.ablate import base_doc, mean_std, output_dir
from mixloom.experiments.runs import Workspace, bpb_by_set, prepare_evalsets, train_many, write_json
from mixloom.experiments.schema import MixSearchSection
from mixloom.progress import console
from mixloom.recipe import Recipe
from mixloom.stage import Section


def objective(res: dict[str, dict[str, float]], which: str) -> float:
    if which == "mean":
        return statistics.fmean(d["overall"] for d in res.values())
    return res[which]["overall"]


def _recipe_out(recipe: Recipe, root: Path, shares: dict[str, float]) -> Path:
    doc = base_doc(recipe)
    doc["name"] = f"{recipe.name}-searched"
    doc["output"] = f"runs/{recipe.name}-searched"
    dst = root / f"{recipe.name}-searched.yaml"
    doc["base_dir"] = os.path.relpath(recipe.root, dst.parent)
    doc["mix"] = {**doc["mix"], "shares": shares}
    head = f"# {recipe.name} with the mixture chosen by `mixloom mix-search {recipe.path.name}` (see results.json)\n"
    dst.write_text(head + yaml.safe_dump(doc, sort_keys=False))
    return dst


def run_search(recipe: Recipe, out: Path | None = None) -> dict[str, Any]:
    cfg: MixSearchSection | None = recipe.get("mix_search")
    if cfg is None:
        raise UserError(f"{recipe.path}: mix_search: the recipe has no `mix_search:` section")
    if recipe.mix is None:
        raise UserError(f"{recipe.path}: mix_search: needs a `mix:` section with the shares to search around")
    started = time.perf_counter()
    root = output_dir(recipe, cfg, "mix-search", out)
    domains = [d for d, s in recipe.mix.shares.items() if s > 0]
    if len(domains) < 2:
        raise UserError(f"{recipe.path}: mix.shares: a search needs at least two domains with a share > 0")
    hand = np.array([recipe.mix.shares[d] for d in domains])
    hand = hand / hand.sum()
    ws = Workspace(recipe, root)
    curated = ws.curate(base_doc(recipe))
    evalsets = prepare_evalsets(recipe, cfg.eval, root, curated)
    rng = np.random.default_rng(recipe.seed)
    mixtures = regmix.sample(hand, cfg.concentration, cfg.runs, rng)

    def record(w: np.ndarray, seed: int, run: Path) -> dict[str, Any]:
        res = bpb_by_set(run, evalsets)
        return {
            "shares": dict(zip(domains, w.tolist(), strict=True)),
            "seed": seed,
            "run": str(run),
            "bpb": res,
            "objective": objective(res, cfg.objective),
        }

    def train(mixes: list[tuple[np.ndarray, int]]) -> list[dict[str, Any]]:
        jobs = [
            (curated, cfg.proxy, s, evalsets, dict(zip(domains, w.tolist(), strict=True))) for w, s in mixes
        ]
        runs = train_many(ws, jobs, cfg.workers)
        return [record(w, s, r) for (w, s), r in zip(mixes, runs, strict=True)]

    console.print(
        f"[bold]mix-search[/] {cfg.runs} proxies on sampled mixtures ({cfg.workers} at once)", highlight=False
    )
    samples = train([(w, cfg.seeds[0]) for w in mixtures])
    y = np.array([s["objective"] for s in samples])
    model = regmix.fit(mixtures, y)
    pick = regmix.best(model, hand, cfg.concentration, cfg.candidates, cfg.top, rng, cfg.min_share)
    pick = np.round(pick, 4)
    pick[-1] = round(1.0 - float(pick[:-1].sum()), 4)
    console.print("[bold]mix-search[/] verifying the pick and the hand-set shares", highlight=False)
    both = train([(w, s) for w in (pick, hand) for s in cfg.seeds])
    verify = {"searched": both[: len(cfg.seeds)], "hand_set": both[len(cfg.seeds) :]}
    summary = {}
    for name, runs in verify.items():
        m, sd = mean_std([r["objective"] for r in runs])
        summary[name] = {
            "shares": runs[0]["shares"],
            "mean": m,
            "std": sd,
            "n": len(runs),
            "predicted": float(model.predict(np.array([list(runs[0]["shares"].values())]))[0]),
        }
    noise = max(summary["searched"]["std"], summary["hand_set"]["std"])
    diff = summary["searched"]["mean"] - summary["hand_set"]["mean"]
    chosen = dict(zip(domains, [float(x) for x in pick], strict=True))
    chosen |= {d: 0.0 for d in recipe.mix.shares if d not in chosen}
    result = {
        "recipe": str(recipe.path),
        "objective": cfg.objective,
        "domains": domains,
        "budget_tokens": cfg.proxy.budget_tokens,
        "samples": samples,
        "fit": {"coef": model.coef.tolist(), "r2": model.r2},
        "verify": verify,
        "summary": summary,
        "diff": diff,
        "noise_std": noise,
        "not_worse_than_noise": bool(diff <= 2 * noise) if len(cfg.seeds) > 1 else None,
        "chosen_shares": chosen,
        "wall_s": round(time.perf_counter() - started, 2),
    }
    root.mkdir(parents=True, exist_ok=True)
    result["recipe_out"] = str(_recipe_out(recipe, root, chosen))
    png = fit_plot(result, model)
    (root / "fit.png").write_bytes(png)
    write_json(root / "results.json", result)
    (root / "index.html").write_text(
        f"<!doctype html><meta charset='utf-8'><h1>Mixture search</h1>{search_section(root, result).html}"
    )
    return result


def fit_plot(res: dict[str, Any], model: regmix.Fit) -> bytes:
    from mixloom.figures import png, pyplot

    plt = pyplot()
    doms = res["domains"]
    pick = np.array([res["chosen_shares"][d] for d in doms])
    fig, axes = plt.subplots(1, len(doms), figsize=(3.6 * len(doms), 3.4), squeeze=False)
    for j, (ax, d) in enumerate(zip(axes[0], doms, strict=True)):
        xs = [s["shares"][d] for s in res["samples"]]
        ax.scatter(xs, [s["objective"] for s in res["samples"]], s=14, label="proxy runs")
        grid = np.linspace(0.01, 0.99, 99)
        rest = np.delete(pick, j)
        rest = rest / rest.sum() if rest.sum() > 0 else np.full(len(rest), 1 / len(rest))
        w = np.array([np.insert(rest * (1 - g), j, g) for g in grid])
        ax.plot(grid, model.predict(w), color="black", lw=1, label="fit (others in the pick's proportions)")
        for name, color in (("searched", "tab:green"), ("hand_set", "tab:red")):
            sm = res["summary"][name]
            ax.errorbar([sm["shares"][d]], [sm["mean"]], yerr=[sm["std"]], fmt="o", color=color, label=name)
        ys = [s["objective"] for s in res["samples"]]
        ys += [
            res["summary"][k]["mean"] + sign * res["summary"][k]["std"]
            for k in res["summary"]
            for sign in (-1, 1)
        ]
        lo, hi = min(ys), max(ys)
        ax.set_ylim(lo - 0.2 * (hi - lo + 1e-3), hi + 0.2 * (hi - lo + 1e-3))
        ax.set_xlabel(f"share of {d}")
        ax.set_ylabel(f"{res['objective']} bits per byte")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"mixture search: {len(res['samples'])} proxies, fit R² {res['fit']['r2']:.2f}")
    return png(fig)


def search_rows(res: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "mixture",
        *[f"{d} share" for d in res["domains"]],
        "predicted",
        "measured (mean ± std)",
        "seeds",
    ]
    rows = []
    for name in ("searched", "hand_set"):
        s = res["summary"][name]
        rows.append(
            [
                name,
                *[f"{s['shares'][d]:.4f}" for d in res["domains"]],
                f"{s['predicted']:.4f}",
                f"{s['mean']:.4f} ± {s['std']:.4f}",
                str(s["n"]),
            ]
        )
    return header, rows


def search_section(root: Path, res: dict[str, Any]) -> Section:
    from mixloom.experiments.render import md_table
    from mixloom.figures import table

    header, rows = search_rows(res)
    verdict = (
        f"searched − hand-set = {res['diff']:+.4f} bits per byte; seed std {res['noise_std']:.4f}; "
        f"not worse by more than 2 std: {res['not_worse_than_noise']}. Fit R² {res['fit']['r2']:.3f} over "
        f"{len(res['samples'])} proxies of {res['budget_tokens']:,} tokens. Recipe: {res['recipe_out']}"
    )
    png = (root / "fit.png").read_bytes() if (root / "fit.png").exists() else b""
    return Section(
        title="Mixture search",
        html=f"{table(rows, header)}<p>{html.escape(verdict)}</p><img src='fit.png' alt='fit'>",
        markdown=f"{md_table(header, rows)}\n\n{verdict}\n",
        order=81,
        figures={"fit.png": png} if png else {},
    )
