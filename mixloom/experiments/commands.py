"""`mixloom ablate RECIPE` and `mixloom mix-search RECIPE` (registered in `mixloom.plugins.COMMANDS`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def ablate_cmd(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML with an `ablate:` section")],
    out: Annotated[Path | None, typer.Option(help="experiment directory (default: <run>/ablate)")] = None,
    variant: Annotated[list[str] | None, typer.Option(help="run only these variants (repeatable)")] = None,
) -> None:
    """Train the same proxy on each variant of the recipe; compare held-out bits per byte over seeds."""
    from mixloom.experiments.ablate import run_ablation
    from mixloom.experiments.render import ablation_rows, rich_table
    from mixloom.progress import console, stdout
    from mixloom.recipe import load_recipe

    res = run_ablation(load_recipe(recipe), out, variant or None)
    header, rows = ablation_rows(res)
    stdout.print(rich_table(header, rows, f"ablation (bits per byte, {len(res['seeds'])} seeds)"))
    console.print(f"results: {res['output']}/results.json, ablate.png, index.html", highlight=False)


def mix_search_cmd(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML with a `mix_search:` section")],
    out: Annotated[Path | None, typer.Option(help="experiment directory (default: <run>/mix-search)")] = None,
) -> None:
    """RegMix-style search: proxies on sampled mixtures, a regression, the predicted best, verified."""
    from mixloom.experiments.mixsearch import run_search, search_rows
    from mixloom.experiments.render import rich_table
    from mixloom.progress import console, stdout
    from mixloom.recipe import load_recipe

    res = run_search(load_recipe(recipe), out)
    header, rows = search_rows(res)
    stdout.print(rich_table(header, rows, f"mixture search (objective: {res['objective']})"))
    console.print(f"chosen mixture as a recipe: {res['recipe_out']}", highlight=False)


def register_ablate(app: typer.Typer) -> None:
    app.command("ablate")(ablate_cmd)


def register_mix_search(app: typer.Typer) -> None:
    app.command("mix-search")(mix_search_cmd)
