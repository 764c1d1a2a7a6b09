"""What the sandbox can use on this machine: namespaces or the fallback, uids, the interpreter, cgroups.

`namespaces` (the strong mode) needs `unshare` (as root, or with unprivileged user namespaces).
`hooks` (the fallback) runs under seccomp, rlimits and Python audit hooks, as an unprivileged uid when
we are root; there the interpreter must be one that uid can reach (a Python under /root is not), so a
system Python is taken instead, and where there is none the sandbox refuses to run.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

STRONG, FALLBACK = "namespaces", "hooks"
UID_BASE, UID_COUNT = 61000, 64
_uids = itertools.cycle(range(UID_BASE, UID_BASE + UID_COUNT))
_uid_lock = threading.Lock()


class SandboxUnavailable(RuntimeError):
    """No sandbox can run here (said once, clearly, instead of running code unconfined)."""


@dataclass
class Plan:
    mode: str  # STRONG or FALLBACK
    prefix: list[str]
    uid: int | None  # the candidate's (program's) uid; None: no uid change
    harness_uid: int | None
    python: str
    python_paths: list[str]


@functools.cache
def probe() -> tuple[str, tuple[str, ...]]:
    """Which containment works here: unshare as root, unshare in a user namespace, or the fallback."""
    forced = os.environ.get("MIXLOOM_SANDBOX", "")
    if forced == FALLBACK or not shutil.which("unshare"):
        return FALLBACK, ()
    base = ("unshare", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc")
    candidates = [base] if os.geteuid() == 0 and forced != "userns" else []
    candidates.append(("unshare", "--user", "--map-root-user", *base[1:]))
    for pre in candidates:
        try:
            r = subprocess.run([*pre, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return STRONG, pre
    return FALLBACK, ()


def blocked_ancestor(path: str) -> str | None:
    """The first directory on the way to `path` that others may not traverse (e.g. /root), or None."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        anc = os.path.join(*parts[:i])
        if os.path.isdir(anc) and not os.stat(anc).st_mode & 0o001:
            return anc
    return None


@functools.cache
def interpreter_paths(python: str) -> tuple[str, ...]:
    """Real paths of the directories an interpreter needs (its prefixes), asked of the interpreter."""
    if python == sys.executable:
        found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        code = "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix]))"
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=30)
        found = json.loads(out.stdout)
    return tuple(sorted({os.path.realpath(p) for p in found}))


def venv_python() -> str:
    """sys.executable with its directory resolved (a venv reached through a symlinked dir keeps working)."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


@functools.cache
def fallback_python(needs_uid_access: bool) -> str:
    """The interpreter for the fallback mode: ours, or a system one the sandbox uid can reach."""
    ours = venv_python()
    options = [ours, "/usr/bin/python3", "/usr/local/bin/python3"]
    for py in options if needs_uid_access else [ours]:
        if not os.path.exists(py):
            continue
        real = os.path.realpath(py)
        if not needs_uid_access or (
            blocked_ancestor(real) is None and not any(map(blocked_ancestor, interpreter_paths(py)))
        ):
            return py
    raise SandboxUnavailable(
        "sandbox unavailable: no `unshare` here, and no Python interpreter outside root-only directories "
        "for the unprivileged sandbox uid (install util-linux for the strong mode, or a system python3)"
    )


def plan(pair: bool) -> Plan:
    """How the next run is contained; `pair` gives the harness a uid of its own (tests mode)."""
    mode, prefix = probe()
    uid = harness_uid = None
    if os.geteuid() == 0 and "--user" not in prefix:  # a user namespace maps one uid: capabilities go instead
        with _uid_lock:
            uid = next(_uids)
            harness_uid = next(_uids) if pair else None
    python = venv_python() if mode == STRONG else fallback_python(uid is not None)
    paths = interpreter_paths(python)
    if mode == STRONG:
        paths = tuple(sorted({*paths, os.path.dirname(python)}))
    return Plan(mode, list(prefix), uid, harness_uid, python, list(paths))


# -- cgroups (best effort) ---------------------------------------------------------------------
def cgroup_dirs(name: str, nproc: int, memory_mb: int) -> list[Path]:
    """Create per-run pids/memory cgroups where we may; the supervisor joins them. [] when not possible."""
    made: list[Path] = []
    try:
        own = dict(
            (ctrl, path)
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            for _, ctrls, path in [line.split(":", 2)]
            for ctrl in ctrls.split(",")
        )
    except OSError:
        return made
    mem = str(memory_mb * 4 << 20)  # the whole tree; each process is capped by RLIMIT_AS
    wanted = [("pids", {"pids.max": str(nproc + 8)}), ("memory", {"memory.limit_in_bytes": mem})]
    for ctrl, files in wanted:
        base = Path("/sys/fs/cgroup") / ctrl
        if ctrl not in own or not (base / "cgroup.procs").exists():
            continue
        d = base / own[ctrl].lstrip("/") / name
        try:
            d.mkdir()
            for f, v in files.items():
                (d / f).write_text(v)
            made.append(d)
        except OSError:
            remove_cgroup(d)
    return made


def remove_cgroup(d: Path, wait: float = 2.0) -> None:
    end = time.monotonic() + wait
    while d.exists():
        try:
            for pid in (d / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            d.rmdir()
        except (OSError, ValueError):
            if time.monotonic() > end:
                return
            time.sleep(0.02)
