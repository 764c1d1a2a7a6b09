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
    """Run the recipe's `generate:` section; returns the manifest."""
    from reasoning.pipeline import run_generate

    return run_generate(recipe, out_dir, **kwargs)
