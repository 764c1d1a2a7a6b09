"""Fallback containment for machines without `unshare`: audit hooks installed before the code runs.

Audit hooks cannot be removed once added, but a program that reaches native code could step around
them, so this is a second line only; namespaces are the first (see `verification.sandbox`).
"""

from __future__ import annotations

_TEMPLATE = """
import os as _os, sys as _sys
_WORK = {workdir!r}
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

def _hook(event, args):
    if event in _DENY:
        what = "network access" if event.startswith("socket") else event
        raise PermissionError(f"sandbox: {{what}} denied")
    if event == "open":
        path, mode, flags = args
        writing = (mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE
        if writing and path is not None and not _inside(path):
            raise PermissionError(f"sandbox: write outside the work dir denied: {{path}}")
    elif event in _PATH_EVENTS and args and not all(_inside(a) for a in args[:2] if isinstance(a, (str, bytes))):
        raise PermissionError(f"sandbox: write outside the work dir denied: {{event}} {{args[0]}}")

_sys.addaudithook(_hook)
del _hook
"""


def source(workdir: str) -> str:
    """Python source that installs the hooks for a run whose only writable place is `workdir`."""
    return _TEMPLATE.format(workdir=workdir)
