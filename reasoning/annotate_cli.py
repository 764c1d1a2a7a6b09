"""`mixloom annotate RECIPE`: run the annotate stage alone (quality labels for `train.quality_model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("annotate")
    def annotate_cmd(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML with an `annotate:` section")],
        out: Annotated[
            Path | None, typer.Option("--out", help="run directory (default: the recipe's `output`)")
        ] = None,
    ) -> None:
        """Label documents for a quality classifier: an LLM rubric, a labels file, or reference sources."""
        from mixloom.orchestrator import run_alone
        from mixloom.progress import console

        stage, res, layout = run_alone(recipe, "annotate", out)
        console.print(
            f"[bold green]annotate[/] {stage.summary(res)} → {layout.stage_dir('annotate')}", highlight=False
        )
