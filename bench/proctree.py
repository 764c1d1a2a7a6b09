"""Peak memory of a command's whole process tree, for the benchmarks.

A command's own rusage misses worker processes that a pool or a fork server started and never waited for, so
the tree is sampled with psutil instead: every `every` seconds, each live process of the tree is visited (in
psutil's `oneshot`) and the summed RSS's peak is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class TreeSampler(threading.Thread):
    """Samples the tree under `pid` until `stop()`. `visit(proc, rss)` is called for each process at each sample
    (to record CPU time or per-process peaks); it may raise `psutil.Error` for a process that is gone."""

    def __init__(self, pid: int, visit: Callable | None = None, every: float = 0.05):
        super().__init__(name="bench-tree-sampler", daemon=True)
        self.pid, self.visit, self.every = pid, visit, every
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            total = 0
            for proc in tree:
                try:
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        if self.visit:
                            self.visit(proc, rss)
                except psutil.Error:
                    continue
                total += rss
            self.peak = max(self.peak, total)
            self._done.wait(self.every)

    def stop(self) -> int:
        """Stop sampling; the peak of the tree's summed RSS, in bytes."""
        self._done.set()
        self.join()
        return self.peak
