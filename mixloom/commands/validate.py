"""`mixloom validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixloom.progress import console


def validate_cmd(recipe: Annotated[Path, typer.Argument(help="recipe YAML")]) -> None:
    """Check a recipe (schema, files, fields, steps, SQL, references between stages) without doing any work."""
    from mixloom.validate import validate

    _, summary = validate(str(recipe))
    console.print(f"[green]ok[/] {recipe}: {summary}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_cmd)
