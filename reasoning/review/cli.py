"""`mixloom review RUN` (the review web app) and `mixloom review export RUN` (decisions → review.sft/pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixloom.errors import UserError


def register(app: typer.Typer) -> None:
    @app.command("review")
    def review_cmd(
        first: Annotated[str, typer.Argument(help="a run directory, or `export`", metavar="[export] RUN")],
        run: Annotated[
            Path | None, typer.Argument(help="the run directory after `export`", show_default=False)
        ] = None,
        host: Annotated[
            str, typer.Option(help="address to bind (127.0.0.1: this machine only)")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 8765,
    ) -> None:
        """Review generated samples and pairs in the browser, or export the decisions (`review export RUN`)."""
        from mixloom.layout import RunLayout
        from mixloom.progress import console

        if first == "export" and run is not None:
            from reasoning.review.export import export
            from reasoning.review.stage import STAGE

            root = run
        elif run is None:
            root = Path(first)
        else:
            raise UserError(
                f"mixloom review {first} {run}: use `mixloom review RUN` or `mixloom review export RUN`"
            )
        if not root.is_dir():
            raise UserError(f"{root}: not a run directory")
        layout = RunLayout(root)
        if first == "export" and run is not None:
            result = export(layout)
            console.print(f"[bold green]review[/] {STAGE.summary(result)}", highlight=False)
            console.print(
                f"wrote {layout.ref_path('review.sft')} and {layout.ref_path('review.pairs')}",
                highlight=False,
            )
            return
        from reasoning.review.app import serve

        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"[yellow]warning:[/] binding {host}: anyone who can reach it can record decisions")
        console.print(
            f"reviewing {root} at http://{host}:{port}/  (Ctrl-C stops; decisions are saved as made)"
        )
        serve(layout, host=host, port=port)
