"""`mixloom curate` and `mixloom stats`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixloom.progress import stdout


def curate_cmd(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML")],
    out: Annotated[
        str | None,
        typer.Option(help="output directory or URL, e.g. s3://bucket/run (default: the recipe's output)"),
    ] = None,
    executor: Annotated[str | None, typer.Option(help="local or ray")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel workers", min=1)] = None,
) -> None:
    """Run the curation stage: read, filter, dedup, mix and split."""
    from curation.pipeline import curate
    from curation.stats import all_tables
    from mixloom.recipe import load_recipe

    manifest = curate(load_recipe(recipe), out=out, executor=executor, workers=workers)
    for t in all_tables(manifest):
        stdout.print(t)


def stats_cmd(out: Annotated[str, typer.Argument(help="a curation output directory or URL")]) -> None:
    """Show the step funnel, the mix (target vs achieved) and split sizes of a run."""
    from curation.stats import all_tables
    from mixloom.manifest import read_manifest

    m = read_manifest(out)
    for t in all_tables(m):
        stdout.print(t)


def register(app: typer.Typer) -> None:
    app.command("curate")(curate_cmd)
    app.command("stats")(stats_cmd)
