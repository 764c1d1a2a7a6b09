"""The training stages as the core runs them: `train.tokenizer`, `train.pretrain`, `train.sft`, `train.rm`,
`train.dpo`, `train.grpo` and `eval`, each with what it reads, so the run graph follows the recipe's references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixloom.errors import RecipeError
from mixloom.layout import RunLayout
from mixloom.recipe import Recipe
from mixloom.registry import Registry
from mixloom.stage import Section, Stage
from training.checks import EVAL_DEFAULT_DATA, check
from training.refs import STAGES, tokenizer_data

LM_STAGES = ("grpo", "dpo", "sft", "pretrain")
ALIGN = Registry(
    "alignment stage",
    {
        "sft": "training.sft:run",
        "rm": "training.rm:run",
        "dpo": "training.dpo:run",
        "grpo": "training.grpo:run",
    },
)  # newest first: the model `eval` scores by default


def _model_ref(recipe: Recipe, ref: str) -> str:
    """`train.sft` falls back to the pretrained model when the recipe has no SFT stage."""
    if ref == "train.sft" and not (recipe.train and recipe.train.sft):
        return "train.pretrain"
    return ref


def run_stage(
    recipe: Recipe, stage: str, out: str | Path | None = None, resume: bool = True
) -> dict[str, Any]:
    """Run one training stage for a recipe; `out` overrides the run directory.

    Library warnings, logs and printed dicts go to `train/<stage>/output.log` unless `--verbose`."""
    from mixloom.stage_log import library_output_to

    run_dir = recipe.output_dir(out)
    with library_output_to(RunLayout(run_dir).stage_dir(f"train.{stage}") / "output.log"):
        return _run_stage(recipe, stage, run_dir, resume)


def _run_stage(recipe: Recipe, stage: str, run_dir: Path, resume: bool) -> dict[str, Any]:
    from training import stages

    if stage == "tokenizer":
        return stages.run_tokenizer(recipe, run_dir)
    if stage == "pretrain":
        return stages.run_pretrain(recipe, run_dir, resume=resume)
    if stage in ALIGN:
        return ALIGN.get(stage)(recipe, run_dir)
    raise RecipeError(
        str(recipe.path), "--stage", f"unknown stage '{stage}'", f"use one of {', '.join(STAGES)}"
    )


def run_eval(
    recipe: Recipe, run_dir: str | Path, tasks: list | None = None, model: str | None = None
) -> dict:
    """Evaluate the recipe's `train.eval` tasks (or `tasks`) on the last trained model (or `model`)."""
    from mixloom.stage_log import library_output_to
    from training.evaluate import run_eval as _run_eval

    with library_output_to(RunLayout(Path(run_dir)).eval / "output.log"):
        return _run_eval(recipe, Path(run_dir), tasks, model)


class TrainStage(Stage):
    """One of tokenizer, pretrain, sft, rm, dpo, grpo."""

    def __init__(self, stage: str):
        self.stage = stage
        self.name = f"train.{stage}"

    def validate(self, recipe: Recipe) -> None:
        check(recipe)

    def reads(self, recipe: Recipe) -> list[str]:
        cfg = recipe.get(self.name)
        if self.stage == "tokenizer":
            return [tokenizer_data(recipe)]
        if self.stage == "pretrain":
            return [x for x in (cfg.data, cfg.validation, "train.tokenizer") if x]
        return [cfg.data, _model_ref(recipe, cfg.model)]

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        return run_stage(recipe, self.stage, layout.root, resume=True)

    def report(self, layout: RunLayout) -> list[Section]:
        from training.report import stage_sections

        return stage_sections(layout, self.stage)

    def summary(self, result: dict[str, Any]) -> str:
        if self.stage == "tokenizer":
            return f"vocab {result['vocab_size']}"
        if self.stage == "pretrain":
            val = result.get("validation") or {}
            ppl = ", ".join(f"{k} {v['ppl']:.2f}" for k, v in val.items())
            tps = f", {result['tokens_per_s']:,.0f} tokens/s" if result.get("tokens_per_s") else ""
            return f"{result['steps']} steps{tps}; validation perplexity {ppl or 'n/a'}"
        first, last = result.get("first_loss"), result.get("last_loss")
        if isinstance(first, float) and isinstance(last, float):
            return f"{result['steps']} steps, loss {first:.3f} → {last:.3f}"
        return f"{result['steps']} steps"


class EvalStage(Stage):
    name = "eval"

    def enabled(self, recipe: Recipe) -> bool:
        return bool(recipe.train and recipe.train.eval)

    def section(self, recipe: Recipe, layout: RunLayout) -> Any:
        return {"section": recipe.dump("train")["eval"], "seed": recipe.seed}

    def validate(self, recipe: Recipe) -> None:
        check(recipe)

    def default_model(self, recipe: Recipe) -> str | None:
        return next((f"train.{s}" for s in LM_STAGES if recipe.get(f"train.{s}") is not None), None)

    def reads(self, recipe: Recipe) -> list[str]:
        out: list[str] = []
        for task in recipe.train.eval if recipe.train else []:
            data = task.data or EVAL_DEFAULT_DATA[task.metric]
            model = task.model or self.default_model(recipe)
            out += [x for x in (data, model) if x and x not in out]
        return out

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        return run_eval(recipe, layout.root)

    def report(self, layout: RunLayout) -> list[Section]:
        from training.report import eval_sections

        return eval_sections(layout)

    def summary(self, result: dict[str, Any]) -> str:
        parts = []
        for r in result.get("results", []):
            if r["metric"] == "perplexity":
                overall = r["perplexity"].get("all") or next(iter(r["perplexity"].values()), {})
                if overall:
                    parts.append(f"perplexity {overall['ppl']:.2f}")
            else:
                vals = [f"{k} {v:.3f}" for k, v in r.items() if isinstance(v, float) and k != "seconds"]
                parts += vals[:2]
        return ", ".join(parts)


TOKENIZER = TrainStage("tokenizer")
PRETRAIN = TrainStage("pretrain")
SFT = TrainStage("sft")
RM = TrainStage("rm")
DPO = TrainStage("dpo")
GRPO = TrainStage("grpo")
EVAL = EvalStage()
