"""One run at a time per run directory: an exclusive `flock` on `RunLayout(run_dir).lock` holding the pid
(on object storage: a lock object with a lease, see `_object_lock`).

`flock` is released by the kernel when the holder dies (even by SIGKILL), so a stale lock never blocks a
resume; the file's text only says who holds it. Re-entrant within a process, so a command that locks the run
directory can call a stage that locks it too.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mixloom import storage
from mixloom.errors import UserError, first_line
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


LEASE_S = 60.0  # an object lock not refreshed for this long is taken over (MIXLOOM_LOCK_LEASE_S overrides)


def lease_s() -> float:
    try:
        v = float(os.environ.get("MIXLOOM_LOCK_LEASE_S", LEASE_S))
    except ValueError:
        raise UserError(
            f"MIXLOOM_LOCK_LEASE_S={os.environ['MIXLOOM_LOCK_LEASE_S']!r}: a number of seconds"
        ) from None
    if not v > 0:
        raise UserError(f"MIXLOOM_LOCK_LEASE_S={v:g}: must be > 0 seconds")
    return v


def _stale(held: dict, now: float) -> str | None:
    """Why a lock held by someone else may be taken over, or None (it is live, or it cannot be told)."""
    if held.get("host") == socket.gethostname() and held.get("pid") and not _alive(int(held["pid"])):
        return f"its holder, pid {held['pid']} on this host, is gone"
    lease, refreshed = held.get("lease_s"), held.get("refreshed")
    if isinstance(lease, int | float) and isinstance(refreshed, int | float) and now - refreshed > lease:
        return f"not refreshed for {now - refreshed:.0f} s, longer than its lease of {lease:g} s"
    return None


@contextmanager
def _object_lock(run_dir: str | Path, path: Path) -> Iterator[None]:
    """A run directory in object storage: a `.lock` object created only if absent (a conditional put).

    Object storage has no flock, so the holder refreshes the object every quarter lease (a PUT conditional on
    the version it wrote last). A lock not refreshed for longer than its lease (the holder died, on any host),
    or one of this host whose pid is gone, is taken over by a PUT conditional on the version read, so of two
    runs taking over one stale lock exactly one wins. A holder that finds its lock taken over (it stalled for
    longer than the lease) stops its run. Hosts' clocks must agree to well within the lease."""
    lease = lease_s()
    token = uuid.uuid4().hex
    info = _info() | {"token": token, "lease_s": lease}

    def blob() -> bytes:
        return json.dumps(info | {"refreshed": time.time()}).encode()

    tag = None
    for _ in range(3):
        if storage.create_exclusive(path, blob()):
            tag = storage.object_tag(path)
            break
        seen = storage.object_tag(path)  # the version first, then its text: a newer text fails the PUT below
        if seen is None:
            continue  # released meanwhile
        held = _read(path)
        why = _stale(held, time.time())
        if why is None:
            raise UserError(
                f"{run_dir} is in use by another run ({_holder(path, held)}); wait for it to finish, or, if no run "
                f"is going, delete {path} (a lock not refreshed for {held.get('lease_s', lease):g} s expires)"
            )
        tag = storage.replace_if(path, blob(), seen)
        if tag is not None:
            print(
                f"mixloom: took over the lock {path} of {_holder(path, held)}: {why}; its run is presumed dead",
                file=sys.stderr,
                flush=True,
            )
            break
    if tag is None:
        raise UserError(f"{run_dir}: could not take the lock {path}; try again")
    beat = _Heartbeat(path, tag, blob, lease)
    beat.start()
    try:
        yield
    except KeyboardInterrupt:
        if beat.lost:
            raise UserError(beat.lost) from None
        raise
    finally:
        beat.stop()
        if beat.lost is None and beat.tag is not None:
            storage.remove_if(path, beat.tag)  # never another run's lock
    if beat.lost:
        raise UserError(beat.lost)


class _Heartbeat(threading.Thread):
    """Refreshes the lock object every quarter lease; on finding it taken over (or unrefreshable for a whole
    lease), records why and interrupts the main thread: two runs must not write one run directory."""

    def __init__(self, path: Path, tag: str | None, blob, lease: float):
        super().__init__(name="mixloom-lock-heartbeat", daemon=True)
        self.path, self.tag, self.blob, self.lease = path, tag, blob, lease
        self.lost: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        last_ok = time.monotonic()
        while not self._done.wait(self.lease / 4):
            try:
                new = storage.replace_if(self.path, self.blob(), self.tag) if self.tag else None
            except Exception as e:  # a network error: retry until the lease would be gone
                if time.monotonic() - last_ok < self.lease:
                    continue
                new, why = (
                    None,
                    f"could not refresh it for {self.lease:g} s ({type(e).__name__}: {first_line(e)})",
                )
            else:
                held = _read(self.path) if new is None else {}
                why = (
                    f"another run took it over ({_holder(self.path, held)})"
                    if held
                    else "the lock object was deleted"
                )
            if new is not None:
                self.tag, last_ok = new, time.monotonic()
                continue
            self.lost = (
                f"{self.path}: this run lost its lock: {why}; it stopped so that two runs do not write one "
                "run directory (a paused or partitioned process outlived its lease); rerun when the other is done"
            )
            self.tag = None
            print(f"mixloom: {self.lost}", file=sys.stderr, flush=True)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            return

    def stop(self) -> None:
        self._done.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join()


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _holder(path: Path, info: dict | None = None) -> str:
    info = _read(path) if info is None else info
    if not info:
        return "another process (starting up)"
    since = time.strftime("%H:%M:%S", time.localtime(info.get("started", 0)))
    text = f"pid {info.get('pid')} on {info.get('host')}, since {since}: {info.get('command', '?')}"
    if isinstance(info.get("refreshed"), int | float):
        text += f"; refreshed {max(0.0, time.time() - info['refreshed']):.0f} s ago"
    return text


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
