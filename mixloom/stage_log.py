"""Library output goes to the stage's `output.log`; the terminal keeps mixloom's own progress and results.

transformers, torch, TRL and vLLM write warnings, `logging` records, printed dicts and native messages to
stdout/stderr, from Python, from C++ and from child processes (vLLM's engine core, the code sandbox). Only a
redirection of the file descriptors 1 and 2 catches all of them, so `library_output_to(path)` points both at
the log file while the stage runs and hands mixloom's rich consoles a duplicate of the real terminal.

`--verbose` (the environment variable `MIXLOOM_VERBOSE=1`) leaves everything on the terminal. Nested calls
keep the outer log (a stage inside `mixloom run` logs to the file the run chose).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mixloom import progress, storage

_ACTIVE: list[Path] = []


def verbose() -> bool:
    return os.environ.get("MIXLOOM_VERBOSE", "") not in ("", "0")


@contextmanager
def library_output_to(path: Path) -> Iterator[Path | None]:
    """Send fds 1 and 2 (and what children inherit) to `path` (appended); yields the path, or None if not."""
    if verbose() or _ACTIVE:
        yield _ACTIVE[0] if _ACTIVE else None
        return
    if storage.is_url(path):  # object storage: no appends; the log is written locally, then uploaded
        with tempfile.TemporaryDirectory(prefix="mixloom-log-") as d:
            local = Path(d) / path.name
            try:
                with library_output_to(local) as p:
                    yield p
            finally:
                with suppress(Exception):
                    storage.put(local, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    term = {fd: os.fdopen(os.dup(saved[fd]), "w", buffering=1, closefd=True) for fd in (1, 2)}
    before = (progress.stdout._file, progress.console._file)  # None means "follow sys.stdout/stderr"
    progress.stdout.file, progress.console.file = term[1], term[2]
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    py_streams = (
        sys.stdout,
        sys.stderr,
    )  # Python-level writers too (they need not be fds 1/2, e.g. in pytest)
    sys.stdout = sys.stderr = open(os.dup(log_fd), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    _ACTIVE.append(path)
    try:
        yield path
    finally:
        _ACTIVE.pop()
        log_stream = sys.stdout
        sys.stdout, sys.stderr = py_streams
        _flush(log_stream)
        log_stream.close()
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
        progress.stdout._file, progress.console._file = before
        for f in term.values():
            f.close()
        os.close(log_fd)


def _flush(stream) -> None:
    with suppress(OSError, ValueError, AttributeError):
        stream.flush()
