"""Cross-section rules of `train:` that the schema cannot express; each raises RecipeError naming the key and
the fix. They run before any work starts (`mixloom validate`, and every stage's `validate`)."""

from __future__ import annotations

from typing import Any

from mixloom.errors import RecipeError
from mixloom.layout import canonical_ref
from mixloom.recipe import Recipe
from mixloom.sections.curate import TOKENIZER_STAGE, mix_tokenizer
from training.refs import DATA_REFS, STAGES, tokenizer_data

EVAL_DEFAULT_DATA = {
    "perplexity": "curate.test",
    "bpb": "curate.test",
    "rouge": "train.sft.heldout",
    "f1": "train.sft.heldout",
    "exact_match": "train.sft.heldout",
    "gsm8k": "data/gsm8k/test.jsonl",
    "pass_at_k": None,
}


def configured_stages(recipe: Recipe) -> list[str]:
    """The stages this recipe's `train:` section configures, in run order."""
    t = recipe.train
    return [s for s in STAGES if t is not None and getattr(t, s) is not None]


def check(recipe: Recipe) -> None:
    """Cross-section rules the schema cannot express; raises RecipeError naming the key and the fix."""
    t = recipe.train
    if t is None:
        return
    err = str(recipe.path)
    stages = configured_stages(recipe)

    def data_ref(where: str, ref: str | None) -> None:
        if ref is None:
            return
        if ref.startswith(("curate.", "mix.")) and ref in DATA_REFS and not recipe.sources:
            raise RecipeError(
                err,
                where,
                f"'{ref}' needs a curation stage but the recipe has no sources",
                "add `sources:` (and `mix:`) or give a path to Parquet shards",
            )
        if ref.startswith(("generate.", "review.")) and ref in DATA_REFS and recipe.generate is None:
            raise RecipeError(err, where, f"'{ref}' needs a `generate:` section", "add one or give a path")
        if ref == "train.sft.heldout":
            if t.sft is None:
                raise RecipeError(
                    err,
                    where,
                    "the default data is the SFT held-out set, but there is no `train.sft`",
                    "add `train.sft` or give `data:` for this metric",
                )
        elif ref.startswith(("curate.", "mix.", "generate.", "review.")) and ref not in DATA_REFS:
            raise RecipeError(
                err, where, f"unknown data reference '{ref}'", f"use one of {', '.join(DATA_REFS)} or a path"
            )
        elif ref not in DATA_REFS and not any(c in ref for c in "*?[") and not recipe.resolve(ref).exists():
            raise RecipeError(
                err,
                where,
                f"no file or directory at {recipe.resolve(ref)}",
                "check the path (relative paths start at the recipe's base_dir)",
            )

    def model_ref(where: str, ref: str) -> None:
        if ref.startswith("train."):
            stage = ref.removeprefix("train.")
            ok = stage in stages or (stage == "sft" and "pretrain" in stages)
            if not ok:
                raise RecipeError(
                    err,
                    where,
                    f"'{ref}' names a stage this recipe does not train",
                    f"add `train.{stage}` or point `model:` at a model directory",
                )

    def context_fits(stage: str, cfg: Any) -> None:
        """Sequences longer than the pretrained context would run on untrained positions."""
        if t.pretrain is None or cfg.model not in ("train.pretrain", "train.sft", "train.rm", "train.dpo"):
            return
        ctx = _pretrain_context(recipe)
        length, key = (
            (cfg.max_completion_length, "max_completion_length")
            if stage == "grpo"
            else (cfg.max_length, "max_length")
        )
        if length > ctx or (stage == "grpo" and length >= ctx):
            raise RecipeError(
                err,
                f"train.{stage}.{key}",
                f"{length} does not fit the model's context of {ctx} tokens (train.pretrain context)",
                f"use at most {ctx - (stage == 'grpo')}",
            )

    if t.pretrain is not None:
        from training.model import checkpoint_dir

        ckpt = checkpoint_dir(recipe, t.pretrain)
        if t.tokenizer is None and ckpt is None:
            raise RecipeError(
                err,
                "train.tokenizer",
                "pretraining needs a tokenizer stage",
                "add `tokenizer: {vocab_size: 8192}` under `train:`",
            )
        p = t.pretrain
        per_micro = p.micro_batch * _pretrain_context(recipe)
        if p.batch_tokens % per_micro:
            lo = max(per_micro, p.batch_tokens // per_micro * per_micro)
            raise RecipeError(
                err,
                "train.pretrain.batch_tokens",
                f"{p.batch_tokens} is not a multiple of micro_batch x context = {per_micro}",
                f"use {lo} or {lo + per_micro}",
            )
        if recipe.mix is not None and p.shares:
            unknown = set(p.shares) - set(recipe.mix.shares)
            if unknown:
                raise RecipeError(
                    err,
                    "train.pretrain.shares",
                    f"unknown domains {sorted(unknown)}",
                    f"use domains of mix.shares: {sorted(recipe.mix.shares)}",
                )
        data_ref("train.pretrain.data", p.data)
        data_ref("train.pretrain.validation", p.validation)
    if t.tokenizer is not None:
        data = tokenizer_data(recipe)
        data_ref("train.tokenizer.data", data)
        if mix_tokenizer(recipe) == TOKENIZER_STAGE and canonical_ref(data).startswith("mix."):
            raise RecipeError(
                err,
                "train.tokenizer.data",
                f"'{data}' is the mix, which counts its shares in this tokenizer's tokens (mix.tokenizer: "
                f"{TOKENIZER_STAGE}), so the tokenizer cannot learn from it",
                "use `curate.curated` (the default), a path, or set mix.tokenizer to 'approx' or a tokenizer dir",
            )
    for s in ("sft", "rm", "dpo", "grpo"):
        cfg = getattr(t, s)
        if cfg is not None:
            data_ref(f"train.{s}.data", cfg.data)
            model_ref(f"train.{s}.model", cfg.model)
            context_fits(s, cfg)
    for i, task in enumerate(t.eval):
        data = task.data or EVAL_DEFAULT_DATA[task.metric]
        if data is None:
            raise RecipeError(
                err,
                f"train.eval.{i}.data",
                f"{task.metric} has no default data",
                "give `data:` (HumanEval-style JSONL: prompt, test, entry_point)",
            )
        data_ref(f"train.eval.{i}.data", data)
        if task.model:
            model_ref(f"train.eval.{i}.model", task.model)


def _pretrain_context(recipe: Recipe) -> int:
    from training.model import checkpoint_dir, context_length

    p = recipe.train.pretrain
    return context_length(p, checkpoint_dir(recipe, p))
