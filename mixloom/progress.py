"""Progress display for long work (rich), quiet when not on a terminal or when MIXLOOM_QUIET is set."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")
console = Console(stderr=True)  # progress and messages
stdout = Console(width=None if sys.stdout.isatty() else 160)  # results: tables a user may pipe


def _enabled() -> bool:
    return not os.environ.get("MIXLOOM_QUIET") and sys.stderr.isatty()


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


def track(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(desc, total) as advance:
        for it in items:
            yield it
            advance()
