"""`mixloom generate RECIPE`: verified reasoning data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from mixloom.errors import UserError


def _summary(manifest: dict[str, Any]) -> list[str]:
    lines = []
    for name, t in manifest["tasks"].items():
        resumed = f", {t['batches_resumed']}/{t['batches']} batches resumed" if t["batches_resumed"] else ""
        lines.append(
            f"[bold green]{name}[/] {t['problems']} problems, {t['samples']} samples, pass rate "
            f"{100 * t['pass_rate']:.1f}%, solved {100 * t['solve_rate']:.1f}%, "
            f"{t['tokens_per_s']:,.0f} tokens/s{resumed}"
        )
    out = manifest["outputs"]
    lines.append(
        f"sft {out['sft']['rows']} rows, pairs {out['pairs']['rows']} rows, "
        f"quarantined seeds {out['quarantine']['rows']}"
    )
    return lines


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_cmd(
        recipe: Annotated[Path, typer.Argument(help="recipe YAML with a `generate:` section")],
        out: Annotated[
            Path | None, typer.Option(help="run directory (default: the recipe's `output`)")
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="override a recipe value, e.g. --set generate.tasks.0.n=2"),
        ] = None,
        verbose: Annotated[
            bool,
            typer.Option("--verbose", help="show vLLM and library logs here, not in generate/output.log"),
        ] = False,
    ) -> None:
        """Generate verified reasoning data (math CoT, program-aided math, code) with vLLM or another engine."""
        import reasoning
        from mixloom.progress import console
        from mixloom.recipe import load_recipe

        if verbose:
            os.environ["MIXLOOM_VERBOSE"] = "1"
        r = load_recipe(recipe, overrides)
        if r.generate is None:
            raise UserError(
                f"{recipe}: generate: the recipe has no `generate:` section (see recipes/reasoning.yaml)"
            )
        reasoning.check(r)
        manifest = reasoning.run(r, out)
        for line in _summary(manifest):
            console.print(line, highlight=False)
        console.print(f"wrote {r.output_dir(out) / 'generate'}", highlight=False)
