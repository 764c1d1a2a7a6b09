"""Run untrusted Python (model-written programs and their tests) with the machine, and the verdict, kept safe.

Two ways to run:
- `run_python(code)`: main.py alone (PAL programs); `.ok` means the program ended with status 0, as
  reported on a channel the program cannot write (the supervisor's, see below), within every limit.
- `run_tests(code, test, entry_point, context=prompt)`: HumanEval-style tests. The candidate's code and
  the tests run in two processes under two uids; the tests call the candidate through a pipe and get
  back plain data only, and the harness writes the verdict with a per-run random nonce to a pipe only it
  holds, after `check` returned. A zero exit status never means "passed"; a verdict without the nonce is
  ignored; an always-equal object fails with `non-plain return value`, `sys.exit`/`os._exit` during a
  call with `forged exit` (see `_sandbox_harness`).

Containment, in layers (`_sandbox_child`, `_sandbox_jail`, `_sandbox_seccomp`):
- namespaces (`unshare --net --ipc --pid --fork --kill-child --mount-proc`, plus `--user` when not root):
  no network, a private SysV/POSIX IPC namespace that dies with the run, every process dies with the run;
- a new root holding only /usr, /lib*, the interpreter and a size-limited tmpfs work dir (`disk quota`):
  the tests, reference solutions, project data and host Unix sockets are not there to read or reach;
- seccomp: no AF_UNIX sockets, no nested namespaces (user namespaces included), no ptrace, io_uring,
  mounts; unprivileged uids (when root) or no capabilities at all; no_new_privs;
- rlimits (CPU, address space, file size, open files, processes), a wall-clock timeout, per-run cgroups
  where writable, a scrubbed environment, output captured outside the work dir.

Where `unshare` is missing, the fallback mode (`hooks`) keeps the same verdict channel, seccomp, rlimits
and uid drop, and adds Python audit hooks; it has no new root, IPC namespace or disk quota, so it warns
once, loudly, and every result names its mode (`SandboxResult.mode`) for the records and manifests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from verification import _sandbox_hooks, _sandbox_setup
from verification._sandbox_reasons import _classify, _reason
from verification._sandbox_setup import FALLBACK, STRONG, SandboxUnavailable

HERE = Path(__file__).parent
CHILD = HERE / "_sandbox_child.py"
OUTPUT_CAP = 64 * 1024  # bytes of stdout/stderr kept per run
_UID_BASE, _UID_COUNT = _sandbox_setup.UID_BASE, _sandbox_setup.UID_COUNT
__all__ = ["FALLBACK", "STRONG", "Limits", "SandboxResult", "SandboxUnavailable", "run_python", "run_tests"]


@dataclass
class Limits:
    timeout: float = 10.0  # wall clock, seconds
    memory_mb: int = 1024  # address space per process
    nproc: int = 64  # processes of the sandbox uid (and the cgroup's pids.max)
    file_mb: int = 16  # largest file the code may write (stdout included)
    disk_mb: int = 64  # everything in the work dir together (the strong mode's tmpfs)


@dataclass
class SandboxResult:
    """Outcome of one run. `ok` comes only from the verdict channel; `reason` says why either way."""

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


def reset_probe() -> None:
    """Forget what was probed (after changing MIXLOOM_SANDBOX, which forces `hooks` or `userns`)."""
    _sandbox_setup.probe.cache_clear()
    _sandbox_setup.fallback_python.cache_clear()
    _warned.clear()


_warned: set[str] = set()


def sandbox_mode() -> str:
    """`namespaces` (strong) or `hooks` (fallback): what runs here."""
    return _sandbox_setup.probe()[0]


def _warn_fallback() -> None:
    if "fallback" not in _warned:
        _warned.add("fallback")
        msg = (
            "mixloom sandbox: `unshare` is not usable here, so untrusted code runs in the FALLBACK mode "
            "(seccomp, rlimits, audit hooks; no new root, no IPC namespace, no disk quota). Verdicts are "
            "still harness-only, but containment is weaker: use `sandbox: strict` to refuse this mode."
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        print(f"WARNING: {msg}", file=sys.stderr)


def require_strict() -> None:
    """Raise SandboxUnavailable unless the strong mode runs here (`sandbox: strict` in a recipe)."""
    if sandbox_mode() != STRONG:
        raise SandboxUnavailable(
            "the strong sandbox (namespaces) is not available here: `unshare --net --ipc --pid` failed or is "
            "missing (it needs util-linux, and root or unprivileged user namespaces)"
        )


# -- running ------------------------------------------------------------------------------------
_BOOT = (
    "import sys\n"
    "hooks = sys.argv[1]\n"
    "if hooks:\n"
    "    exec(hooks, {})\n"
    "sys.argv = ['main.py', *sys.argv[2:]]\n"
    "src = open('main.py', encoding='utf-8').read()\n"
    "exec(compile(src, 'main.py', 'exec'), {'__name__': '__main__', '__file__': 'main.py'})\n"
)


def _role_source(name: str) -> str:
    """A role script with `_wire` bundled in, for `python -I -c` (nothing of ours is mounted inside)."""
    wire = (HERE / "_wire.py").read_text()
    return (
        "import sys, types\n"
        "_w = types.ModuleType('_wire')\n"
        f"exec({wire!r}, _w.__dict__)\n"
        "sys.modules['_wire'] = _w\n" + (HERE / name).read_text()
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


def _run(
    mode: str, files: dict[str, str], limits: Limits, extra: dict, args: Sequence[str] = ()
) -> SandboxResult:
    plan = _sandbox_setup.plan(pair=mode == "tests")
    if plan.mode == FALLBACK:
        _warn_fallback()
    private = tempfile.mkdtemp(prefix="mixloom-sbx-")  # root-only: output files, the work dir, the new root
    os.chmod(private, 0o711)
    workdir = os.path.join(private, "work")
    cgroups: list[Path] = []
    try:
        jail = plan.mode == STRONG
        if jail:
            os.mkdir(os.path.join(private, "root"))
        else:  # no mount namespace: the host writes the files, owned by the sandbox uid
            os.mkdir(workdir)
            for name, text in files.items():
                Path(workdir, name).write_text(text, encoding="utf-8")
            if plan.uid is not None:
                for p in [workdir, *(os.path.join(workdir, n) for n in os.listdir(workdir))]:
                    os.chown(p, plan.uid, plan.uid)
            os.chmod(workdir, 0o700)
        inside = "/sandbox" if jail else workdir
        cgroups = (
            _sandbox_setup.cgroup_dirs(os.path.basename(private), limits.nproc, limits.memory_mb)
            if jail
            else []
        )
        nonce = secrets.token_hex(16)
        cfg = {
            "mode": mode,
            "jail": jail,
            "root": os.path.join(private, "root"),
            "workdir": inside,
            "files": files if jail else {},
            "python": plan.python,
            "python_paths": plan.python_paths,
            "uid": plan.uid,
            "harness_uid": plan.harness_uid,
            "drop_root": plan.mode == STRONG,
            "deny_ipc": not jail,
            "hooks": _sandbox_hooks.source(workdir, plan.python_paths) if not jail else "",
            "cgroups": [str(c) for c in cgroups],
            "env": _env(inside),
            "cpu_s": int(limits.timeout) + 1,
            "memory_bytes": limits.memory_mb << 20,
            "file_bytes": limits.file_mb << 20,
            "disk_bytes": limits.disk_mb << 20,
            "nproc": limits.nproc,
            "nonce": nonce,
            "argv": list(args),
            "boot": _BOOT,
            **extra,
        }
        if mode == "tests":
            cfg["harness_cfg"] = {**cfg.pop("harness_cfg"), "nonce": nonce}
        return _execute(plan, cfg, private, limits, nonce)
    finally:
        for c in cgroups:
            _sandbox_setup.remove_cgroup(c)
        shutil.rmtree(private, ignore_errors=True)


def _execute(plan: _sandbox_setup.Plan, cfg: dict, private: str, limits: Limits, nonce: str) -> SandboxResult:
    out_path, err_path = os.path.join(private, "stdout"), os.path.join(private, "stderr")
    verdict_r, verdict_w = os.pipe()
    cfg["verdict_fd"] = verdict_w
    cmd = [*plan.prefix, sys.executable, "-I", str(CHILD)]
    t0 = time.monotonic()
    timed_out = False
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd="/",
                env=_env("/"),
                start_new_session=True,
                pass_fds=(verdict_w,),
            )
            os.close(verdict_w)
            verdict_w = -1
            with contextlib.suppress(BrokenPipeError):
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(cfg).encode())
                proc.stdin.close()
            try:
                rc = proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                rc = None
            _kill_group(proc.pid)  # the fallback mode has no pid namespace to end stragglers
            rc = proc.wait() if rc is None else rc
        verdict = _read_verdict(verdict_r, nonce)
    finally:
        os.close(verdict_r)
        if verdict_w >= 0:
            os.close(verdict_w)
    stdout, stderr = _tail(out_path), _tail(err_path)
    ok, reason = _judge(cfg["mode"], verdict, rc, stderr, timed_out, limits)
    return SandboxResult(ok, reason, rc, stdout, stderr, timed_out, time.monotonic() - t0, plan.mode)


def _read_verdict(fd: int, nonce: str) -> dict | None:
    """The one verdict line that carries this run's nonce; anything else on the channel is ignored."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            data += chunk
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict) and v.get("nonce") == nonce:
            return v
    return None


def _judge(
    mode: str, verdict: dict | None, rc: int | None, stderr: str, timed_out: bool, limits: Limits
) -> tuple[bool, str]:
    if timed_out:
        return False, f"timeout: killed after {limits.timeout:g} s wall clock"
    if mode == "tests":
        if verdict is not None and verdict.get("passed") is True:
            return True, "passed"
        if verdict is not None:
            return False, _classify(str(verdict.get("reason")), limits)
        base = _reason(rc, stderr, limits)
        return False, "forged exit: no verdict from the harness (exit status 0)" if rc == 0 else base
    if verdict is None or not isinstance(verdict.get("status"), int):
        return False, "no verdict from the sandbox supervisor: " + _reason(rc, stderr, limits)
    status = verdict["status"]
    return status == 0, "ok" if status == 0 else _reason(status, stderr, limits)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - OUTPUT_CAP))
        return f.read().decode("utf-8", errors="replace")


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
        limits = Limits(timeout, limits.memory_mb, limits.nproc, limits.file_mb, limits.disk_mb)
    return _run("program", {"main.py": code, **(files or {})}, limits, {}, args)


def run_tests(
    code: str,
    test: str,
    entry_point: str,
    timeout: float = 10,
    context: str = "",
    limits: Limits | None = None,
) -> SandboxResult:
    """Run HumanEval-style tests (`check(candidate)`) on `code`; `.passed` and `.reason` say how it went.

    `context` is trusted code run before the tests in the harness (the problem's prompt: its imports and
    helpers such as HumanEval/32's `poly`); `code` is the candidate and runs in its own process."""
    lim = limits or Limits()
    lim = Limits(timeout, lim.memory_mb, lim.nproc, lim.file_mb, lim.disk_mb)
    extra = {
        "candidate_src": _role_source("_sandbox_candidate.py"),
        "harness_src": _role_source("_sandbox_harness.py"),
        "harness_cfg": {"test": test, "context": context, "entry_point": entry_point},
    }
    return _run("tests", {"candidate.py": code}, lim, extra)


def _pool(n: int, workers: int | None) -> int:
    return max(1, min(workers or os.cpu_count() or 1, _UID_COUNT // 2, n))


def run_many(
    codes: Sequence[str], limits: Limits | None = None, workers: int | None = None
) -> list[SandboxResult]:
    """Run many programs, in parallel across the cores, results in input order."""
    if _pool(len(codes), workers) == 1:
        return [run_python(c, limits) for c in codes]
    with ThreadPoolExecutor(max_workers=_pool(len(codes), workers)) as pool:
        return list(pool.map(lambda c: run_python(c, limits), codes))


def run_tests_many(
    items: Sequence[tuple[str, str, str, str]], limits: Limits | None = None, workers: int | None = None
) -> list[SandboxResult]:
    """`run_tests` over (code, test, entry_point, context) items, in parallel, results in input order."""
    lim = limits or Limits()

    def one(it: tuple[str, str, str, str]) -> SandboxResult:
        return run_tests(it[0], it[1], it[2], timeout=lim.timeout, context=it[3], limits=lim)

    if _pool(len(items), workers) == 1:
        return [one(it) for it in items]
    with ThreadPoolExecutor(max_workers=_pool(len(items), workers)) as pool:
        return list(pool.map(one, items))


def program_with_tests(code: str, test: str, entry_point: str) -> str:
    """HumanEval layout as one program (code, `check`, `check(entry_point)`); for `run_python` only,
    whose exit status is the program's own: use `run_tests` for a verdict the code cannot forge."""
    return f"{code}\n\n{test}\n\ncheck({entry_point})\n"
