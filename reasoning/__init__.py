"""Reasoning-data generation: sample solutions with an LLM engine, verify them, keep the good ones.

Seed problems (GSM8K-style math, HumanEval-style code) go through an engine (vLLM in-process, an
OpenAI-compatible server, or transformers), each sample is verified (math equivalence or tests run in
the sandbox), and the verified samples become an SFT set and preference pairs with full provenance.
Heavy modules load lazily, so `verification.answers` and `verification.sandbox` stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixloom.recipe import Recipe


def check(recipe: Recipe) -> None:
    """Check what the schema cannot (files exist, model dir has a config); raises RecipeError."""
    from reasoning.checks import check_recipe

    check_recipe(recipe)


def run(recipe: Recipe, out_dir: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Run the recipe's `generate:` section; returns the manifest.

    vLLM's and the libraries' warnings and logs go to `generate/output.log` unless `--verbose`."""
    from mixloom.layout import RunLayout
    from mixloom.stage_log import library_output_to
    from reasoning.pipeline import run_generate

    log = RunLayout(recipe.output_dir(out_dir)).stage_dir("generate") / "output.log"
    with library_output_to(log):
        return run_generate(recipe, out_dir, **kwargs)
