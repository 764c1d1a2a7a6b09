"""Sandbox supervisor: runs inside fresh namespaces, locks the world down, then starts the untrusted code.

Started by `verification.sandbox` as `python -I _sandbox_child.py`, usually under
`unshare --net --ipc --pid --fork --kill-child --mount-proc`, so this process is pid 1 of a new pid
namespace: when it dies the kernel kills every process the code started. Its configuration (which holds
the tests and the run's nonce) arrives on stdin, never on a command line, which /proc shows to everyone.
Steps, in order:
  1. join the per-run cgroups, when the caller could make them (pids/memory caps for the whole tree);
  2. in a private mount namespace: pivot into a new root holding only what Python needs and a
     size-limited work dir (`_sandbox_jail`);
  3. `program` mode: fork one process that runs main.py; report its exit status on the verdict channel.
     `tests` mode: fork the candidate (its code only, under its own uid) and the harness (the tests,
     under another uid), joined by two pipes; the harness alone holds the verdict channel.
Each forked process sets rlimits, drops to its uid (when root) or drops every capability (as root of a
user namespace), sets no_new_privs, loads the seccomp filter, then execs Python.
"""

import contextlib
import ctypes
import fcntl
import importlib.util
import json
import os
import resource
import signal


def _sibling(name):
    """A module of this directory, by path: never an installed `verification` of another checkout."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sandbox_jail = _sibling("_sandbox_jail")
_sandbox_seccomp = _sibling("_sandbox_seccomp")

PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, SECURE_NOROOT_LOCKED = 4, 24, 28, 0x3
_libc = ctypes.CDLL(None, use_errno=True)


def _read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _join_cgroups(dirs):
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("0")
        except OSError:
            pass


def _limits(cfg):
    lim = {
        resource.RLIMIT_CPU: (cfg["cpu_s"], cfg["cpu_s"] + 1),
        resource.RLIMIT_AS: (cfg["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (cfg["file_bytes"],) * 2,
        resource.RLIMIT_NOFILE: (256, 256),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NPROC: (cfg["nproc"],) * 2,
    }
    for k, v in lim.items():
        resource.setrlimit(k, v)


def _drop_root_capabilities():
    """As root of a user namespace (no other uid is mapped): give up every capability for good, so the
    code cannot ptrace the harness, remount, or regain capabilities by exec."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if _libc.prctl(PR_SET_SECUREBITS, SECURE_NOROOT_LOCKED, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot set securebits")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if _libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "cannot drop capabilities")


def _spawn(cfg, uid, fds, argv, cwd):
    """Fork a process with exactly `fds` (target -> our fd) besides 0-2, then exec `argv` confined."""
    pid = os.fork()
    if pid:
        return pid
    try:
        high = {t: fcntl.fcntl(f, fcntl.F_DUPFD, 100) for t, f in fds.items()}
        for t, f in high.items():
            os.dup2(f, t)
        os.closerange(3 + len(fds), 1 << 16)
        os.chdir(cwd)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        elif os.getuid() == 0 and cfg["drop_root"]:
            _drop_root_capabilities()
        _limits(cfg)  # after setuid: RLIMIT_NPROC counts the sandbox uid's processes
        _sandbox_seccomp.install(deny_ipc=cfg["deny_ipc"])
        os.execve(argv[0], argv, cfg["env"])
    except BaseException as e:  # noqa: BLE001 - report any setup failure, never run unconfined
        os.write(2, f"sandbox setup failed: {e!r}\n".encode())
    os._exit(97)


def _wait(pid):
    """Exit code of `pid`; as pid 1 we also reap orphans on the way."""
    while True:
        done, status = os.wait()
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


def main():
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the tests and the nonce are in our memory
    cfg = json.loads(_read_all(0))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _join_cgroups(cfg.get("cgroups", []))
    verdict = cfg["verdict_fd"]
    workdir = cfg["workdir"]
    if cfg["jail"]:
        _sandbox_jail.build(cfg["root"], cfg["python_paths"], cfg["files"], cfg["disk_bytes"], cfg["uid"])
        workdir = _sandbox_jail.WORK
    py, hooks = cfg["python"], cfg["hooks"]
    if cfg["mode"] == "program":
        argv = [py, "-I", "-c", cfg["boot"], hooks, *cfg["argv"]]
        code = _wait(_spawn(cfg, cfg["uid"], {}, argv, workdir))
        os.write(verdict, (json.dumps({"nonce": cfg["nonce"], "status": code}) + "\n").encode())
        os._exit(code)
    req_r, req_w = os.pipe()  # harness -> candidate: calls
    rep_r, rep_w = os.pipe()  # candidate -> harness: results
    cfg_r, cfg_w = os.pipe()  # supervisor -> harness: the tests and the nonce
    ready_r, ready_w = os.pipe()  # harness -> supervisor: config read, no longer dumpable
    harness_fds = {3: rep_r, 4: req_w, 5: verdict, 6: cfg_r, 7: ready_w}
    harness = _spawn(cfg, cfg["harness_uid"], harness_fds, [py, "-I", "-c", cfg["harness_src"]], "/")
    for fd in (req_w, rep_r, cfg_r, ready_w, verdict):
        os.close(fd)
    with contextlib.suppress(OSError):
        data = json.dumps(cfg["harness_cfg"]).encode()
        while data:
            data = data[os.write(cfg_w, data) :]
    os.close(cfg_w)
    # Why wait: until the harness has taken its config and made itself non-dumpable, a process of the
    # same uid (a user namespace maps only one) could read its pipes through /proc. The candidate starts after.
    os.read(ready_r, 1)
    os.close(ready_r)
    cand_argv = [py, "-I", "-u", "-c", cfg["candidate_src"], hooks]
    cand = _spawn(cfg, cfg["uid"], {3: req_r, 4: rep_w}, cand_argv, workdir)
    os.close(req_r)
    os.close(rep_w)
    code = _wait(harness)
    with contextlib.suppress(ProcessLookupError):  # as pid 1 our exit ends the rest; else the caller kills
        os.kill(cand, signal.SIGKILL)
    os._exit(code)


if __name__ == "__main__":
    main()
