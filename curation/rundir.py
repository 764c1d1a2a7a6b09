"""The run directory around a curation run: checks before it starts and clean-up after it succeeds."""

from __future__ import annotations

import os
from pathlib import Path

from mixloom import storage
from mixloom.errors import UserError


def check_out_dir(out_dir: Path) -> None:
    """The output directory, or the nearest folder above it that exists, must be a directory we can write."""
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise UserError(f"--out {out_dir}: {p} is a file, not a directory; choose a directory")
            if not os.access(p, os.W_OK | os.X_OK):
                raise UserError(f"--out {out_dir}: {p} is not writable; choose a directory you can write to")
            break


def collect_garbage(work: Path, used: list[Path]) -> None:
    """Remove read and pass folders of earlier runs (other recipes or code): the current ones are the cache."""
    keep = {p.name for p in used}
    for d in work.iterdir():
        if d.name.startswith(("read-", "pass")) and d.name not in keep and d.is_dir():
            storage.rmtree(d)
