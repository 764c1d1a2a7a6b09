"""Why a sandbox run failed, in words a sample record can keep: the limit behind an error, or the last
exception the program printed (only when there is no verdict to say it)."""

from __future__ import annotations

import re
import signal
from typing import Protocol


class _Limits(Protocol):
    timeout: float
    memory_mb: int
    nproc: int
    file_mb: int
    disk_mb: int


_EXC = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|AssertionError)\b:?\s*(.*)$")
_SIGNALS = {
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGKILL: "killed (memory or process limit)",
    signal.SIGSEGV: "segmentation fault",
}


def _reason(rc: int | None, stderr: str, limits: _Limits) -> str:
    if rc == 0:
        return "ok"
    sig = rc - 128 if rc is not None and rc > 128 else (-rc if rc is not None and rc < 0 else None)
    if sig in _SIGNALS:
        return _SIGNALS[signal.Signals(sig)]
    if "sandbox setup failed" in stderr:
        return next(ln for ln in reversed(stderr.strip().splitlines()) if "sandbox setup failed" in ln)
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    exc = next((m for ln in reversed(lines) if (m := _EXC.match(ln))), None)
    if exc is None:
        return f"exit status {rc}" + (f": {lines[-1][:200]}" if lines else "")
    name, msg = exc.group(1), exc.group(2)[:200]
    return _classify(f"{name}: {msg}".rstrip(": "), limits)


def _classify(reason: str, limits: _Limits) -> str:
    """Name the limit behind an error message (the reason is what a sample record keeps)."""
    low = reason.lower()
    if "no space left on device" in low or "disk quota exceeded" in low:
        return f"disk quota ({limits.disk_mb} MiB) exceeded: {reason}"
    if "memoryerror" in low:
        return f"{reason} (memory limit {limits.memory_mb} MiB)"
    if "file too large" in low:  # Python ignores SIGXFSZ, so the limit shows up as EFBIG
        return f"{reason} (file size limit {limits.file_mb} MiB)"
    if "resource temporarily unavailable" in low or "blockingioerror" in low:
        return f"{reason} (process limit {limits.nproc})"
    if any(s in low for s in ("network is unreachable", "network access denied", "connection refused")):
        return f"{reason} (network denied)"
    if any(s in low for s in ("read-only file system", "permission denied", "write outside")):
        return f"{reason} (write outside the sandbox denied)"
    return reason
