"""`mixloom quality-model RECIPE`: train the quality classifier alone (`train.quality_model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("quality-model")
    def quality_model_cmd(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML with `train.quality_model`")],
        out: Annotated[
            Path | None, typer.Option("--out", help="run directory (default: the recipe's `output`)")
        ] = None,
    ) -> None:
        """Train the document-quality classifier from labels; print held-out precision, recall and F1."""
        from mixloom.orchestrator import run_alone
        from mixloom.progress import console

        stage, res, layout = run_alone(recipe, "train.quality_model", out)
        where = layout.ref_path("train.quality_model")
        console.print(f"[bold green]train.quality_model[/] {stage.summary(res)} → {where}", highlight=False)
