"""Fallback containment for machines without `unshare`: audit hooks installed before the code runs.

Audit hooks cannot be removed once added, but a program that reaches native code could step around
them, so this is a second line only (beside seccomp, rlimits and the uid drop); namespaces are the first
(see `verification.sandbox`). Besides sockets, processes and writes, they deny reading files outside the
work dir and the interpreter's own directories (the project's data, the tests), and importing the
modules that reach native process or memory primitives (`_posixsubprocess`, `ctypes`).
"""

from __future__ import annotations

_TEMPLATE = """
import os as _os, sys as _sys
_WORK = {workdir!r}
_READ = {read_roots!r}
_NATIVE = {{"_posixsubprocess", "_ctypes", "ctypes", "_xxsubinterpreters", "_testcapi", "_testinternalcapi"}}
for _m in list(_sys.modules):
    if _m in _NATIVE:
        del _sys.modules[_m]
_DENY = {{"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
          "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.kill",
          "os.killpg", "subprocess.Popen", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata"}}
_PATH_EVENTS = {{"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
                "os.symlink", "os.link", "os.utime", "shutil.rmtree", "shutil.move"}}
_WRITE = _os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_APPEND | _os.O_TRUNC

def _inside(p):
    if isinstance(p, int):
        return True
    p = _os.path.realpath(_os.fsdecode(p))
    return p == _WORK or p.startswith(_WORK + "/") or p in ("/dev/null",)

def _readable(p):
    if isinstance(p, int):
        return True
    p = _os.path.realpath(_os.fsdecode(p))
    return _inside(p) or p in ("/dev/urandom", "/dev/zero") or any(p == r or p.startswith(r + "/") for r in _READ)

def _hook(event, args):
    if event == "import" and args and str(args[0]).split(".")[0] in _NATIVE:
        raise PermissionError(f"sandbox: import of {{args[0]}} denied")
    if event in _DENY:
        what = "network access" if event.startswith("socket") else event
        raise PermissionError(f"sandbox: {{what}} denied")
    if event == "open":
        path, mode, flags = args
        writing = (mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE
        if writing and path is not None and not _inside(path):
            raise PermissionError(f"sandbox: write outside the work dir denied: {{path}}")
        if path is not None and not _readable(path):
            raise PermissionError(f"sandbox: read outside the work dir denied: {{path}}")
    elif event in _PATH_EVENTS and args and not all(_inside(a) for a in args[:2] if isinstance(a, (str, bytes))):
        raise PermissionError(f"sandbox: write outside the work dir denied: {{event}} {{args[0]}}")

_sys.addaudithook(_hook)
del _hook
"""


def source(workdir: str, read_roots: list[str]) -> str:
    """Python source that installs the hooks for a run whose only writable place is `workdir` and whose
    readable places are `workdir` and `read_roots` (the interpreter's prefixes)."""
    return _TEMPLATE.format(workdir=workdir, read_roots=list(read_roots))
