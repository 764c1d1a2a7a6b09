"""`mixloom export`: registered without importing Polars (the command loads `curation.export` when it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        run: Annotated[Path, typer.Argument(help="a curated run directory (with manifest.json and mix/)")],
        fmt: Annotated[str, typer.Option("--format", help="hf (Parquet, Hub layout), jsonl or mds")] = "hf",
        out: Annotated[
            Path | None, typer.Option("--out", help="output directory (default RUN/export/FORMAT)")
        ] = None,
        columns: Annotated[
            str | None,
            typer.Option(
                "--columns", help="comma-separated columns, or `all` (default id,text,source,domain)"
            ),
        ] = None,
        split: Annotated[
            list[str] | None, typer.Option("--split", help="only these splits (repeatable)")
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="shuffle seed (default: the recipe's)")
        ] = None,
        hub: Annotated[
            str | None, typer.Option("--push-to-hub", help="also upload to this Hub dataset repo")
        ] = None,
        private: Annotated[
            bool, typer.Option("--private", help="with --push-to-hub: a private repo")
        ] = False,
    ) -> None:
        """Export the mix as a Hugging Face dataset, JSONL or MosaicML MDS shards (shuffled, chosen columns)."""
        from curation.export import export_run, push_to_hub
        from mixloom.progress import console

        cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        info = export_run(run, fmt, out, cols, split, seed)
        rows = ", ".join(f"{s} {n:,}" for s, n in info["rows"].items())
        shown = ", ".join(info["columns"]) if len(info["columns"]) <= 6 else f"{len(info['columns'])} columns"
        console.print(f"[green]exported[/] {rows} rows ({shown}) → {info['path']}", highlight=False)
        if hub:
            path = Path(info["path"])
            if fmt != "hf":
                path = Path(export_run(run, "hf", None, cols, split, seed)["path"])
            push_to_hub(path, hub, private)
            console.print(f"pushed to https://huggingface.co/datasets/{hub}", highlight=False)
