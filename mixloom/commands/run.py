"""`mixloom run`, `mixloom plan`, `mixloom report`, `mixloom trace`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mixloom.progress import console, stdout


def run_cmd(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML")],
    out: Annotated[
        str | None, typer.Option(help="run directory or URL (default: the recipe's output)")
    ] = None,
    force: Annotated[bool, typer.Option(help="rerun every stage even if its inputs are unchanged")] = False,
    only: Annotated[list[str] | None, typer.Option(help="run only these stages (repeatable)")] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a recipe value, e.g. --set train.sft.max_steps=5"),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="show library logs here instead of in each stage's output.log")
    ] = False,
) -> None:
    """Run a whole recipe (its stages in the order of what they read), then write the report and data card."""
    import os

    from mixloom.orchestrator import run_recipe
    from mixloom.validate import validate

    if verbose:
        os.environ["MIXLOOM_VERBOSE"] = "1"
    r, _ = validate(str(recipe), overrides)
    summary = run_recipe(r, out=out, force=force, only=only)
    for stage, what in summary.items():
        console.print(f"  {stage}: {what}", highlight=False, markup=False)


def plan_cmd(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML")],
    out: Annotated[
        str | None, typer.Option(help="run directory or URL (default: the recipe's output)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="override a recipe value")] = None,
) -> None:
    """Show the run graph: each stage, what it reads, and whether it is cached or will run (and why)."""
    from dataclasses import asdict

    from mixloom.orchestrator import plan
    from mixloom.validate import validate

    r, _ = validate(str(recipe), overrides)
    statuses = plan(r, out)
    if as_json:
        stdout.print_json(json.dumps([asdict(s) for s in statuses]))
        return
    from rich.table import Table

    t = Table(title=f"run graph of {r.name} ({r.output_dir(out)})", title_justify="left")
    for col in ("stage", "reads", "status"):
        t.add_column(col)
    for s in statuses:
        status = f"[yellow]will run[/]: {s.why}" if s.run else "[green]cached[/]"
        t.add_row(s.name, "\n".join(s.reads) or "-", status)
    stdout.print(t)


def report_cmd(
    run: Annotated[Path, typer.Argument(help="a run directory")],
    out: Annotated[Path | None, typer.Option(help="where to write (default: RUN/report)")] = None,
) -> None:
    """Write RUN/report/index.html (self-contained) and its figures as PNG files."""
    from mixloom.report import build_report

    stdout.print(str(build_report(run, out)))


def trace_cmd(
    run: Annotated[Path, typer.Argument(help="a run directory")],
    record_id: Annotated[str, typer.Argument(help="a document id or a generated sample id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show where a record came from and what each step did to it."""
    from mixloom.trace import trace

    t = trace(run, record_id)
    if as_json:
        stdout.print_json(json.dumps(t, default=str))
        return
    stdout.print(f"{t['id']} ({t['kind']})", style="bold", highlight=False, markup=False)
    for k, v in t.items():
        if k in ("id", "kind", "path"):
            continue
        stdout.print(f"  {k}: {v}", highlight=False, markup=False)
    for hop in t.get("path", []):
        mark = "[green]kept[/]" if hop["result"] == "kept" else "[red]rejected[/]"
        stdout.print(f"  → {hop['step']}: {mark}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("plan")(plan_cmd)
    app.command("report")(report_cmd)
    app.command("trace")(trace_cmd)
