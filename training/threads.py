"""CPU thread count for training, from the CPUs this process may use and how busy they are.

Why: torch's intra-op pool (OpenMP) makes every thread spin at the end of each parallel region, waiting for
the others. On a machine whose cores are taken by other processes, a descheduled thread holds up the whole
team while the rest burn their time slices spinning, so a small model's many short ops slow down far more than
the CPU share lost. Measured on a 2-core machine at load ~12 (other helpers' jobs): a tiny Llama step loop ran
at 147 tokens/s with 2 threads against 2,889 with 1 thread (idle: 27k with 2, 18k with 1). The spin policy
cannot be changed once torch is loaded (libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT at load), so the fix is
the team size: no more threads than free CPUs (`ThreadTuner`).

A second cause in `mixloom run`: vLLM's CPU worker, run in-process for generation, replaces
`torch.set_num_threads` with a function that only warns, so later stages could not size their pool at all;
`set_threads` calls torch's own setter.

`MIXLOOM_THREADS=N` fixes the count; `auto` (default) picks it at the start of a run; `adaptive` follows the load.
"""

from __future__ import annotations

import os
import statistics
import time


def cpus() -> int:
    """CPUs this process may run on (affinity / cpuset), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _own_running() -> int:
    n = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                n += f.read().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:
        return 1
    return max(1, n)


def busy_elsewhere(samples: int = 5, interval: float = 0.01) -> float:
    """Runnable tasks of other processes right now (median of a few reads of /proc/loadavg)."""
    seen = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        seen.append(running - _own_running())
        if i < samples - 1:
            time.sleep(interval)
    return max(0.0, statistics.median(seen))


def choose_threads(n_cpus: int, busy: float) -> int:
    """As many threads as CPUs nobody else is running on (at least one)."""
    return max(1, min(n_cpus, n_cpus - round(busy)))


def set_threads(n: int) -> None:
    """torch's own setter: vLLM's in-process CPU worker replaces `torch.set_num_threads` with a no-op."""
    import torch

    torch.set_num_threads = torch._C.set_num_threads  # undo vLLM's patch for the rest of the process
    if torch.get_num_threads() != n:
        torch._C.set_num_threads(n)


class ThreadTuner:
    """Sizes torch's CPU pool for a training run (CPU runs only).

    The count is chosen once, at the start, and kept: results on CPU depend (in the last bits) on the
    number of threads, and a resumed run must reproduce an uninterrupted one, so a checkpoint records the
    count and `resume_with` restores it. `MIXLOOM_THREADS=adaptive` re-checks the load every `every_s`
    seconds and follows it (faster on a machine whose load changes, not bit-reproducible).
    """

    def __init__(self, device: str, every_s: float = 10.0):
        mode = os.environ.get("MIXLOOM_THREADS", "auto")
        self.adaptive = device == "cpu" and mode == "adaptive"
        self.auto = device == "cpu" and mode in ("", "auto", "adaptive")
        self.every_s, self.last, self.history = every_s, 0.0, []
        self.threads = 0
        if device == "cpu":
            self._set(max(1, int(mode)) if not self.auto else choose_threads(cpus(), busy_elsewhere()))

    def _set(self, n: int) -> None:
        self.threads = n
        set_threads(n)
        self.history.append(n)
        self.last = time.monotonic()

    def resume_with(self, n: int | None) -> None:
        """A resumed run keeps the count its checkpoint was made with (bit-identical losses)."""
        if self.auto and n and n != self.threads:
            self._set(n)

    def maybe_retune(self) -> None:
        if not self.adaptive or time.monotonic() - self.last < self.every_s:
            return
        n = choose_threads(cpus(), busy_elsewhere())
        if n != self.threads:
            self._set(n)
        self.last = time.monotonic()
