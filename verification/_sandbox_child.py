"""Sandbox supervisor: runs inside fresh namespaces, locks the world down, then runs the untrusted code.

Started by `verification.sandbox` as `python -I _sandbox_child.py CONFIG_JSON`, usually under
`unshare --net --pid --fork --kill-child --mount-proc`, so this process is pid 1 of a new pid namespace:
when it dies (its parent's death or the caller's kill) the kernel kills every process the code started.
It imports only the standard library. Steps, in order:
  1. join the per-run cgroups, when the caller could make them (pids/memory caps for the whole tree);
  2. in a private mount namespace: cover the shared temp dirs and any directory the sandbox user may not
     traverse with empty tmpfs mounts (binding back just the work dir and the interpreter), keep the
     work dir writable and remount everything else read-only;
  3. fork; the child sets rlimits, drops to the unprivileged uid (when root), sets no_new_privs and
     execs Python on the code; the supervisor waits and exits with the child's status.
"""

import contextlib
import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
PR_SET_NO_NEW_PRIVS = 38
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(src, target, fstype, flags, data=None):
    enc = [None if x is None else x.encode() for x in (src, target, fstype, data)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mountpoints():
    with open("/proc/self/mountinfo") as f:
        rows = [line.split() for line in f]
    return [(r[4].encode().decode("unicode_escape"), r[5]) for r in rows]


def _hide(target, keep):
    """Overmount `target` with an empty tmpfs, binding back only the paths in `keep`.

    Why: the interpreter may live under a root-only directory (/root/.pyenv) that the unprivileged uid
    must reach without seeing the rest of it, and the shared temp dir holds other people's files.
    """
    fds = {k: os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep}
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k")
    for k, fd in fds.items():
        os.makedirs(k, mode=0o711, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)
        os.close(fd)


def _lock_filesystem(workdir, hide):
    _mount(None, "/", None, MS_REC | (1 << 18))  # MS_PRIVATE: nothing we do leaks to the host
    for target, keep in hide:
        _hide(target, keep)
    _mount(workdir, workdir, None, MS_BIND)
    keep_rw = {workdir, "/proc"}
    for point, opts in reversed(_mountpoints()):
        if point in keep_rw or point.startswith("/proc/"):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name, bit in (("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
            flags |= bit if name in opts.split(",") else 0
        with contextlib.suppress(OSError):  # a mount we cannot touch stays as it is; the uid drop guards it
            _mount(None, point, None, flags)


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


def _run_code(cfg):
    """In the forked child: limits, privilege drop, then exec the interpreter on the code."""
    os.chdir(cfg["workdir"])
    uid = cfg.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _limits(cfg)  # after setuid: RLIMIT_NPROC counts the sandbox uid's processes
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    argv = [cfg["python"], "-I", "-c", cfg["boot"], *cfg["argv"]]
    os.execve(cfg["python"], argv, cfg["env"])


def main():
    cfg = json.loads(sys.argv[1])
    _join_cgroups(cfg.get("cgroups", []))
    if cfg.get("mount_ns"):
        _lock_filesystem(cfg["workdir"], cfg.get("hide", []))
    pid = os.fork()
    if pid == 0:
        try:
            _run_code(cfg)
        except BaseException as e:  # noqa: BLE001 - report any setup failure, never run unconfined
            os.write(2, f"sandbox setup failed: {e!r}\n".encode())
        os._exit(97)
    while True:  # pid 1 reaps orphans; stop when the code's own process ends
        done, status = os.wait()
        if done == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
