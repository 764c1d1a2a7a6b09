"""Progress display for long work (rich), quiet when not on a terminal or when MIXLOOM_QUIET is set."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
console = Console(stderr=True)  # progress and messages
stdout = Console(width=None if sys.stdout.isatty() else 160)  # results: tables a user may pipe


def _enabled() -> bool:
    """On a terminal only; `console.is_terminal` follows the console's file, which stays the terminal while
    `mixloom.stage_log` sends library output to a log file."""
    return not os.environ.get("MIXLOOM_QUIET") and console.is_terminal


@contextmanager
def progress_bar(desc: str, total: int | None) -> Iterator:
    """Yields an `advance(n=1)` callable; shows a bar on a terminal, nothing otherwise."""
    if not _enabled():
        yield lambda n=1: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(desc, total=total)
        yield lambda n=1: prog.advance(task, n)


@contextmanager
def step_progress(desc: str, total: int) -> Iterator:
    """Training progress: yields `update(step, loss=None, tokens_per_s=None)`; shows step/total, loss,
    tokens/s, elapsed time and ETA on a terminal, nothing otherwise (the stage's log.jsonl has the numbers)."""
    if not _enabled():
        yield lambda step, **_: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("{task.fields[loss]}"),
        TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(desc, total=total, loss="", speed="")

        def update(step: int, loss: float | None = None, tokens_per_s: float | None = None) -> None:
            fields = {}
            if loss is not None:
                fields["loss"] = f"loss {loss:.3f}"
            if tokens_per_s:
                fields["speed"] = f"{tokens_per_s:,.0f} tokens/s"
            prog.update(task, completed=step, **fields)

        yield update


def track(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(desc, total) as advance:
        for it in items:
            yield it
            advance()
