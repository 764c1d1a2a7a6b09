"""Run untrusted Python (model-written programs and their tests) with the machine kept safe.

Each run gets a fresh temp dir and a subprocess tree that is contained in layers:

- namespaces (`unshare --net --pid --fork --kill-child --mount-proc`, plus `--user --map-root-user` when not
  root): no network at all (not even loopback), and every process the code starts dies with the run;
- an unprivileged uid when we are root (RLIMIT_NPROC is not enforced for root, so a fork bomb is stopped
  by the uid's process limit), no_new_privs, and a read-only view of every mount but the work dir;
- rlimits (CPU time, address space, file size, open files, no core dumps), a wall-clock timeout that kills
  the process group, and per-run pids/memory cgroups when the cgroup filesystem is writable;
- a scrubbed environment (no secrets from ours) and output captured to files outside the work dir.

Where `unshare` is unavailable the run falls back to Python audit hooks that deny sockets, subprocesses,
ctypes and writes outside the work dir (weaker: a determined program can escape them). Runs are
independent, so `run_many` spreads them over the cores.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from verification import _sandbox_hooks

CHILD = Path(__file__).with_name("_sandbox_child.py")
OUTPUT_CAP = 64 * 1024  # bytes of stdout/stderr kept per run
_UID_BASE, _UID_COUNT = 61000, 64
_uids = itertools.cycle(range(_UID_BASE, _UID_BASE + _UID_COUNT))
_uid_lock = threading.Lock()


@dataclass
class Limits:
    timeout: float = 10.0  # wall clock, seconds
    memory_mb: int = 1024  # address space per process
    nproc: int = 64  # processes of the sandbox uid (and the cgroup's pids.max)
    file_mb: int = 16  # largest file the code may write (stdout included)


@dataclass
class SandboxResult:
    """Outcome of one run. `ok` means exit status 0 within every limit; `reason` says why not."""

    ok: bool
    reason: str
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    seconds: float = 0.0
    mode: str = ""

    @property
    def passed(self) -> bool:
        return self.ok

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class _Plan:
    mode: str  # "namespaces" or "hooks"
    prefix: list[str]
    uid: int | None
    hide: list[tuple[str, list[str]]] = field(default_factory=list)


@functools.cache
def _probe_mode() -> tuple[str, tuple[str, ...]]:
    """Which containment works here: unshare as root, unshare in a user namespace, or audit hooks."""
    forced = os.environ.get("MIXLOOM_SANDBOX", "")
    if forced == "hooks" or not shutil.which("unshare"):
        return "hooks", ()
    base = ("unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
    candidates = [base] if os.geteuid() == 0 else []
    candidates.append(("unshare", "--user", "--map-root-user", *base[1:]))
    for pre in candidates:
        try:
            r = subprocess.run([*pre, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return "namespaces", pre
    return "hooks", ()


def sandbox_mode() -> str:
    return _probe_mode()[0]


def _blocked_ancestor(path: str) -> str | None:
    """The first directory above `path` that others may not traverse (e.g. /root), or None."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        anc = os.path.join(*parts[:i])
        if not os.stat(anc).st_mode & 0o001:
            return anc
    return None


def _python_paths() -> list[str]:
    paths = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, os.path.dirname(sys.executable)}
    return sorted({os.path.realpath(p) for p in paths})


def _hidden_dirs(workdir: str, uid: int | None) -> list[tuple[str, list[str]]]:
    """Directories covered by an empty tmpfs in the run's mount namespace, with what is bound back:
    the shared temp dirs (only the work dir comes back) and, for the unprivileged uid, root-only
    directories on the way to the interpreter (only the interpreter comes back)."""
    hide: dict[str, list[str]] = {}
    if uid is not None:
        for p in _python_paths():
            if (anc := _blocked_ancestor(p)) is not None:
                hide.setdefault(anc, []).append(p)
    tmp = os.path.realpath(tempfile.gettempdir())
    if workdir.startswith(tmp + "/") and not any(tmp.startswith(h + "/") for h in hide):
        # the interpreter and its environment come back too when they live under the temp dir
        # (a checkout or venv in /tmp), read-only like everything else
        hide.setdefault(tmp, []).extend([workdir, *(p for p in _python_paths() if p.startswith(tmp + "/"))])
    for shared in ("/dev/shm", "/var/tmp"):
        if os.path.isdir(shared) and shared not in hide and os.path.realpath(shared) == shared:
            hide[shared] = []
    return sorted(hide.items())


def _plan() -> _Plan:
    mode, prefix = _probe_mode()
    uid = None
    if os.geteuid() == 0:
        with _uid_lock:
            uid = next(_uids)
    if mode == "hooks" and any(_blocked_ancestor(p) for p in _python_paths()):
        uid = None  # without a mount namespace the unprivileged uid could not even start the interpreter
    return _Plan(mode, list(prefix), uid)


# -- cgroups (best effort) ---------------------------------------------------------------------
def _cgroup_dirs(name: str, limits: Limits) -> list[Path]:
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
    mem = str(limits.memory_mb * 4 << 20)  # the whole tree; each process is capped by RLIMIT_AS
    wanted = [("pids", {"pids.max": str(limits.nproc + 8)}), ("memory", {"memory.limit_in_bytes": mem})]
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
            _remove_cgroup(d)
    return made


def _remove_cgroup(d: Path, wait: float = 2.0) -> None:
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


# -- running ------------------------------------------------------------------------------------
_BOOT = (
    "import sys\n"
    "hooks = sys.argv[1]\n"
    "if hooks:\n"
    "    exec(hooks)\n"
    "sys.argv = ['main.py', *sys.argv[2:]]\n"
    "src = open('main.py', encoding='utf-8').read()\n"
    "exec(compile(src, 'main.py', 'exec'), {'__name__': '__main__', '__file__': 'main.py'})\n"
)


def _env(workdir: str) -> dict[str, str]:
    """Only what Python needs: nothing of ours (API keys, tokens) reaches the code."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
    }


def run_python(
    code: str,
    limits: Limits | None = None,
    args: Sequence[str] = (),
    files: dict[str, str] | None = None,
    timeout: float | None = None,
) -> SandboxResult:
    """Run `code` as main.py in a fresh sandbox and report how it ended."""
    limits = limits or Limits()
    if timeout is not None:
        limits = Limits(
            timeout=timeout, memory_mb=limits.memory_mb, nproc=limits.nproc, file_mb=limits.file_mb
        )
    plan = _plan()
    private = tempfile.mkdtemp(prefix="mixloom-sbx-")  # root-only: holds output files and the work dir
    workdir = os.path.join(private, "work")
    os.mkdir(workdir)
    os.chmod(private, 0o711)
    cgroups: list[Path] = []
    try:
        for name, text in {"main.py": code, **(files or {})}.items():
            Path(workdir, name).write_text(text, encoding="utf-8")
        if plan.uid is not None:
            for p in [workdir, *(os.path.join(workdir, n) for n in os.listdir(workdir))]:
                os.chown(p, plan.uid, plan.uid)
            os.chmod(workdir, 0o700)  # concurrent runs (other uids) cannot read each other's tests
        cgroups = _cgroup_dirs(os.path.basename(private), limits) if plan.mode == "namespaces" else []
        hooks = _sandbox_hooks.source(workdir) if plan.mode == "hooks" else ""
        cfg = {
            "workdir": workdir,
            "uid": plan.uid,
            "hide": _hidden_dirs(workdir, plan.uid) if plan.mode == "namespaces" else [],
            "mount_ns": plan.mode == "namespaces",
            "cgroups": [str(c) for c in cgroups],
            "python": sys.executable,
            "boot": _BOOT,
            "argv": [hooks, *args],
            "env": _env(workdir),
            "cpu_s": int(limits.timeout) + 1,
            "memory_bytes": limits.memory_mb << 20,
            "file_bytes": limits.file_mb << 20,
            "nproc": limits.nproc,
        }
        return _execute(plan, cfg, private, limits)
    finally:
        for c in cgroups:
            _remove_cgroup(c)
        shutil.rmtree(private, ignore_errors=True)


def _execute(plan: _Plan, cfg: dict, private: str, limits: Limits) -> SandboxResult:
    out_path, err_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
    cmd = [*plan.prefix, sys.executable, "-I", str(CHILD), json.dumps(cfg)]
    t0 = time.monotonic()
    timed_out = False
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cfg["workdir"],
            env=_env(cfg["workdir"]),
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            rc = proc.wait()
    seconds = time.monotonic() - t0
    stdout, stderr = _tail(out_path), _tail(err_path)
    reason = _reason(rc, stderr, timed_out, limits)
    return SandboxResult(
        ok=rc == 0 and not timed_out,
        reason=reason,
        returncode=rc,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        seconds=seconds,
        mode=plan.mode,
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - OUTPUT_CAP))
        return f.read().decode("utf-8", errors="replace")


_EXC = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|AssertionError)\b:?\s*(.*)$")
_SIGNALS = {
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGKILL: "killed (memory or process limit)",
    signal.SIGSEGV: "segmentation fault",
}


def _reason(rc: int | None, stderr: str, timed_out: bool, limits: Limits) -> str:
    if timed_out:
        return f"timeout: killed after {limits.timeout:g} s wall clock"
    if rc == 0:
        return "ok"
    sig = rc - 128 if rc is not None and rc > 128 else (-rc if rc is not None and rc < 0 else None)
    if sig in _SIGNALS:
        return _SIGNALS[signal.Signals(sig)]
    if rc == 97 and "sandbox setup failed" in stderr:
        return stderr.strip().splitlines()[-1]
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    exc = next((m for ln in reversed(lines) if (m := _EXC.match(ln))), None)
    if exc is None:
        return f"exit status {rc}" + (f": {lines[-1][:200]}" if lines else "")
    name, msg = exc.group(1), exc.group(2)[:200]
    return f"{name}: {msg}".rstrip(": ") + _hint(name, msg, limits)


def _hint(name: str, msg: str, limits: Limits) -> str:
    low = f"{name} {msg}".lower()
    if name == "MemoryError":
        return f" (memory limit {limits.memory_mb} MiB)"
    if "file too large" in low:  # Python ignores SIGXFSZ, so the limit shows up as EFBIG
        return f" (file size limit {limits.file_mb} MiB)"
    if "resource temporarily unavailable" in low or name == "BlockingIOError":
        return f" (process limit {limits.nproc})"
    if any(s in low for s in ("network is unreachable", "network access denied", "connection refused")):
        return " (network denied)"
    if any(s in low for s in ("read-only file system", "permission denied", "write outside")):
        return " (write outside the sandbox denied)"
    return ""


def run_many(
    codes: Sequence[str], limits: Limits | None = None, workers: int | None = None
) -> list[SandboxResult]:
    """Run many programs, in parallel across the cores, results in input order."""
    workers = workers or os.cpu_count() or 1
    if len(codes) <= 1 or workers == 1:
        return [run_python(c, limits) for c in codes]
    with ThreadPoolExecutor(max_workers=min(workers, _UID_COUNT)) as pool:
        return list(pool.map(lambda c: run_python(c, limits), codes))


def program_with_tests(code: str, test: str, entry_point: str) -> str:
    """HumanEval layout: the code, its `check` function, then `check(entry_point)`."""
    return f"{code}\n\n{test}\n\ncheck({entry_point})\n"


def run_tests(code: str, test: str, entry_point: str, timeout: float = 10) -> SandboxResult:
    """Run HumanEval-style tests on `code` in the sandbox; `.passed` and `.reason` say how it went."""
    res = run_python(program_with_tests(code, test, entry_point), Limits(timeout=timeout))
    if res.ok:
        res.reason = "passed"
    return res
