"""`mixloom train` (tokenizer, pretrain, sft, rm, dpo, grpo) and `mixloom eval`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from mixloom.errors import UserError
from training.refs import STAGES


def _summary(stage: str, res: dict[str, Any]) -> str:
    if stage == "tokenizer":
        return f"vocab {res['vocab_size']}"
    if stage == "pretrain":
        val = res.get("validation") or {}
        ppl = ", ".join(f"{k} {v['ppl']:.2f} (unigram {v['unigram_ppl']:.1f})" for k, v in val.items())
        tps = f"{res['tokens_per_s']:,.0f} tokens/s" if res.get("tokens_per_s") else ""
        n = (res.get("threads") or [0])[-1]
        threads = f"; {n} CPU thread{'s' * (n > 1)}" if n else ""
        return f"{res['steps']} steps, {res['params']:,} params, {tps}; val ppl: {ppl or 'n/a'}{threads}"
    return f"{res['steps']} steps, loss {res.get('first_loss')} -> {res.get('last_loss')}"


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        recipe: Path = typer.Argument(..., help="recipe YAML with a `train:` section"),
        stage: str | None = typer.Option(
            None, "--stage", help=f"one of {', '.join(STAGES)} (default: every configured stage, in order)"
        ),
        out: Path | None = typer.Option(None, "--out", help="run directory (default: the recipe's `output`)"),
        resume: bool = typer.Option(
            True, "--resume/--no-resume", help="continue pretraining from its checkpoint"
        ),
        overrides: list[str] = typer.Option(
            [], "--set", help="override a recipe value, e.g. --set train.sft.max_steps=5 (repeatable)"
        ),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            help="show library warnings and logs here instead of in the stage's output.log",
        ),
    ) -> None:
        """Train the tokenizer, pretrain on the curated mix, align with SFT / RM / DPO / GRPO."""
        import training
        from mixloom.progress import console
        from mixloom.recipe import load_recipe

        if verbose:
            os.environ["MIXLOOM_VERBOSE"] = "1"
        r = load_recipe(recipe, overrides)
        if r.train is None:
            raise UserError(f"{recipe}: train: the recipe has no `train:` section")
        training.check(r)
        if stage is not None and stage not in STAGES:
            raise UserError(f"--stage {stage}: unknown stage; use one of {', '.join(STAGES)}")
        for s in [stage] if stage else training.configured_stages(r):
            res = training.run_stage(r, s, out, resume=resume)
            if os.environ.get("RANK", "0") == "0":  # one summary under torchrun / accelerate launch
                console.print(f"[bold green]train.{s}[/] {_summary(s, res)}", highlight=False)

    @app.command("eval")
    def eval_cmd(
        recipe: Path = typer.Argument(..., help="recipe YAML"),
        out: Path | None = typer.Option(None, "--out", help="run directory (default: the recipe's `output`)"),
        model: str | None = typer.Option(
            None, "--model", help="model dir or train.<stage> (default: last trained)"
        ),
        metric: list[str] = typer.Option(
            [], "--metric", help="evaluate only these metrics (repeatable; default: the recipe's train.eval)"
        ),
        limit: int | None = typer.Option(None, "--limit", help="at most this many examples per task"),
        json_out: Path | None = typer.Option(None, "--json", help="also write the results to this file"),
        overrides: list[str] = typer.Option(
            [], "--set", help="override a recipe value, e.g. --set train.eval.0.limit=5 (repeatable)"
        ),
    ) -> None:
        """Perplexity, ROUGE, F1 / exact match, pass@k and GSM8K accuracy of a trained model."""
        import training
        from mixloom.progress import console
        from mixloom.recipe import load_recipe
        from mixloom.sections.train import METRICS, EvalTask
        from training.evaluate import run_eval, table

        r = load_recipe(recipe, overrides)
        training.check(r)
        tasks = list(r.train.eval) if r.train else []
        for m in metric:
            if m not in METRICS:
                raise UserError(f"--metric {m}: unknown metric; use one of {', '.join(METRICS)}")
        if metric:
            tasks = [t for t in tasks if t.metric in metric] + [
                EvalTask(metric=m) for m in metric if m not in {t.metric for t in tasks}
            ]
        if limit:
            tasks = [t.model_copy(update={"limit": limit}) for t in tasks]
        res = run_eval(r, r.output_dir(out), tasks, model)
        console.print(table(res["results"]))
        console.print(f"results: {res['path']}", highlight=False)
        if json_out:
            json_out.write_text(json.dumps(res["results"], indent=2) + "\n")
