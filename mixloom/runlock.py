"""One run at a time per run directory: an exclusive `flock` on `RunLayout(run_dir).lock` holding the pid.

`flock` is released by the kernel when the holder dies (even by SIGKILL), so a stale lock never blocks a
resume; the file's text only says who holds it. Re-entrant within a process, so a command that locks the run
directory can call a stage that locks it too.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mixloom import storage
from mixloom.errors import UserError
from mixloom.layout import RunLayout

_HELD: dict[str, int] = {}  # lock path -> nesting depth in this process


def _info() -> dict:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    info["command"] = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _object_lock(run_dir: str | Path, path: Path) -> Iterator[None]:
    """A run directory in object storage: a `.lock` object created only if absent (a conditional put).

    Object storage has no flock, so a holder killed by SIGKILL leaves its lock behind: a lock of this host
    whose pid is gone is taken over (a resume); one held on another host fails, naming it and the fix.
    """
    blob = json.dumps(_info()).encode()
    for _ in range(2):
        if storage.create_exclusive(path, blob):
            break
        try:
            held = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            held = {}
        if held.get("host") == socket.gethostname() and held.get("pid") and not _alive(int(held["pid"])):
            storage.remove(path)  # its holder died here: a stale lock
            continue
        raise UserError(
            f"{run_dir} is in use by another run ({_holder(path)}); wait for it to finish, or, if no run is "
            f"going, delete {path}"
        )
    else:
        raise UserError(f"{run_dir}: could not take the lock {path}; try again")
    try:
        yield
    finally:
        storage.remove(path)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process (starting up)"
    since = time.strftime("%H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid')} on {info.get('host')}, since {since}: {info.get('command', '?')}"


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold the run directory's lock for the block; a second holder fails at once naming the first."""
    path = RunLayout(run_dir).lock
    key = str(path) if storage.is_url(path) else str(path.absolute())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield path
        finally:
            _HELD[key] -= 1
        return
    if storage.is_url(path):
        with _object_lock(run_dir, path):
            _HELD[key] = 1
            try:
                yield path
            finally:
                del _HELD[key]
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UserError(
            f"{run_dir} is in use by another run ({_holder(path)}); wait for it to finish, "
            "or write to another directory (--out)"
        ) from None
    info = _info()
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(info).encode())
    _HELD[key] = 1
    try:
        yield path
    finally:
        del _HELD[key]
        os.ftruncate(fd, 0)  # the file stays (unlinking would race a waiting opener); empty = free
        os.close(fd)
