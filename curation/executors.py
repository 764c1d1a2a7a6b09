"""Executors run map tasks over shards: `local` (worker processes) or `ray` (Ray tasks).

A task is a top-level function and a picklable argument; results come back in input order, so the driver's
reduce and the outputs never depend on which worker finished first. Both executors give byte-identical output.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mixloom.errors import UserError, first_line
from mixloom.memory import allocator_env, configure_allocators, release_memory
from mixloom.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")


def _task(fn: Callable[[T], R], item: T) -> R:
    """Run one task, then give its memory back: a worker's peak is its largest task's, not their sum."""
    try:
        return fn(item)
    finally:
        release_memory()


def _worker_init(threads: int, driver: int) -> None:
    # One task per core: keep each worker's own thread pools from oversubscribing the machine.
    for var in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)
    _die_with_parent(driver)


def _die_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Exit when the driver (pid `parent`) dies, even by SIGKILL: otherwise workers wait on their queue
    forever, holding memory, and keep multiprocessing's resource tracker alive (it exits once no process holds
    its pipe). The driver's pid comes from the driver: a worker still starting up when it died must not take
    its new parent (init) for the driver.

    Linux: the kernel sends SIGKILL at once (PR_SET_PDEATHSIG). Everywhere: a thread polls the parent pid.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="mixloom-parent-watch", daemon=True).start()


@contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Start workers without re-importing the `mixloom` command line in each (spawn re-imports the main
    module): tasks are functions of the stage packages, and a worker then loads only what its task needs. Any
    other main module (a user's script whose functions may be tasks) is left alone."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    file = getattr(main, "__file__", None) or ""
    ours = (spec is not None and spec.name == "mixloom.cli") or (
        spec is None and Path(file).name == "mixloom" and "mixloom.cli" in sys.modules
    )
    if main is None or not ours:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)


@dataclass
class LocalExecutor:
    """Processes on this machine. `workers=1` runs tasks inline (no pickling, easiest to debug); with N > 1 the
    driver runs tasks too, beside N - 1 worker processes: N tasks at a time, and no process sits idle holding
    its imports (a worker's own memory is mostly its libraries). A map of one task (a reduce) goes to a worker,
    so that what it holds never stays in the driver."""

    workers: int = 1
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False)

    def map(self, fn: Callable[[T], R], items: Sequence[T], desc: str = "tasks") -> list[R]:
        results: list[Any] = [None] * len(items)
        with progress_bar(desc, len(items)) as advance:
            if self.workers <= 1 or not items:
                for i, it in enumerate(items):
                    results[i] = _task(fn, it)
                    advance()
                return results
            _Shared(self._get_pool(), self._processes, fn, items, results, advance).run(inline=len(items) > 1)
        return results

    @property
    def _processes(self) -> int:
        """Worker processes beside the driver."""
        return max(1, self.workers - 1)

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing as mp

            configure_allocators()  # inherited by the workers, which load Polars after it
            # spawn: Polars and DuckDB hold thread pools that do not survive fork.
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=mp.get_context("spawn"),
                initializer=_worker_init,
                initargs=(1, os.getpid()),
            )
            # start every worker now, from this thread: a worker's death signal is tied to the thread that
            # started it, and the feeder threads that submit tasks end with each map
            with _main_not_rerun():
                for f in [self._pool.submit(os.getpid) for _ in range(self._processes)]:
                    f.result()
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass
class _Shared:
    """One map shared by the driver and the pool: each worker process has a feeder thread that claims the next
    task, submits it and waits; the driver's own thread claims tasks and runs them inline. Results are stored
    by index, so the outcome does not depend on who ran what. The first error stops further claims and is
    raised once every running task has ended."""

    pool: ProcessPoolExecutor
    feeders: int  # the pool's worker processes
    fn: Callable[[Any], Any]
    items: Sequence[Any]
    results: list[Any]
    advance: Callable[..., None]
    _next: int = 0
    _errors: list[tuple[int, BaseException]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _claim(self) -> int | None:
        with self._lock:
            if self._errors or self._next >= len(self.items):
                return None
            self._next += 1
            return self._next - 1

    def _fail(self, i: int, e: BaseException) -> None:
        with self._lock:
            self._errors.append((i, e))

    def _feed(self) -> None:
        while (i := self._claim()) is not None:
            try:
                self.results[i] = self.pool.submit(_task, self.fn, self.items[i]).result()
            except BaseException as e:  # noqa: BLE001 - handed to the driver's thread
                self._fail(i, e)
                return
            self.advance()

    def run(self, inline: bool) -> None:
        feeders = [
            threading.Thread(target=self._feed, name=f"mixloom-feed-{k}", daemon=True)
            for k in range(self.feeders)
        ]
        for t in feeders:
            t.start()
        try:
            while inline and (i := self._claim()) is not None:
                try:
                    self.results[i] = _task(self.fn, self.items[i])
                except Exception as e:
                    self._fail(i, e)
                    break
                self.advance()
        finally:
            with self._lock:
                self._next = len(self.items)  # an interrupt too: no new claims
            for t in feeders:
                t.join()
        if self._errors:
            raise min(self._errors, key=lambda x: x[0])[1]


RAY_RETRIES = 4  # a task on a worker node that dies is rerun elsewhere (idempotent: write, then mark done)


@dataclass
class RayExecutor:
    """Ray tasks: on the cluster in RAY_ADDRESS, else the one in the recipe's `execution.ray.address`, else a
    local Ray started on demand with `workers` CPUs. The environment wins over the recipe: it names the cluster
    of this invocation (`ray job submit` sets it), the recipe a default.

    On a cluster every task reads its inputs from and writes its outputs to the run's storage (an s3:// URL
    when the nodes share no disk), never the driver's disk. A task lost with its node is retried
    (`max_retries`); it rewrites its own objects and writes its done marker last, so a retry duplicates
    nothing and the outputs stay byte-identical to a local run."""

    workers: int = 2
    run_dir: str | None = None
    address: str | None = None  # execution.ray.address
    _started: bool = field(default=False, repr=False)

    def target(self) -> tuple[str | None, str]:
        """(the address to connect to, where it comes from); (None, ...) starts a local Ray."""
        env = os.environ.get("RAY_ADDRESS", "").strip()
        if env:
            return env, "RAY_ADDRESS"
        if self.address:
            return self.address, "execution.ray.address"
        return None, "a local Ray"

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs Ray: pip install 'mixloom[ray]'") from None
        if not ray.is_initialized():
            address, origin = self.target()
            _check_reachable(address, origin)
            try:
                ray.init(
                    address=address,
                    num_cpus=None if address not in (None, "local") else self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    runtime_env={
                        "env_vars": {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", **allocator_env()}
                    },
                )
            except (ConnectionError, TimeoutError) as e:  # something listens there, but Ray could not connect
                raise UserError(
                    f"{origin} {address}: Ray could not connect ({first_line(e)}); check the cluster (`ray "
                    "status` on the head, its logs) and that the address is its GCS port (or ray:// client port)"
                ) from None
            self._started = True
            self._check_storage(ray, origin)
        return ray

    def _check_storage(self, ray, origin: str = "RAY_ADDRESS") -> None:
        """A cluster of several nodes cannot write to the driver's local run directory."""
        from mixloom import storage

        if self.run_dir is None or storage.is_url(self.run_dir) or os.environ.get("MIXLOOM_SHARED_DIR"):
            return
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if len(nodes) > 1:
            raise UserError(
                f"--out {self.run_dir}: a local directory, but the Ray cluster at {origin} has {len(nodes)} "
                "nodes that cannot write to it; use object storage (--out s3://bucket/run), or set "
                "MIXLOOM_SHARED_DIR=1 if every node mounts this directory"
            )

    def map(self, fn: Callable[[T], R], items: Sequence[T], desc: str = "tasks") -> list[R]:
        if not items:
            return []
        ray = self._ray()
        remote = ray.remote(num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False)(_task)
        remote = remote.options(name=getattr(fn, "__name__", "task"))
        refs = [remote.remote(fn, it) for it in items]  # `_task`: memory is released after each task
        index = {r: i for i, r in enumerate(refs)}
        results: list[Any] = [None] * len(items)
        pending = list(refs)
        with progress_bar(f"{desc} (ray)", len(items)) as advance:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for r in done:
                    try:
                        results[index[r]] = ray.get(r)
                    except ray.exceptions.RayTaskError as e:  # a user mistake seen on a node: its one line
                        if isinstance(getattr(e, "cause", None), UserError):
                            raise e.cause from None
                        raise
                    advance()
        return results

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def make_executor(kind: str, workers: int, run_dir: object = None, ray_address: str | None = None):
    """`ray_address`: the recipe's `execution.ray.address` (RAY_ADDRESS in the environment wins over it)."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, None if run_dir is None else str(run_dir), ray_address)
    raise UserError(f"unknown executor '{kind}': use local or ray")


def _check_reachable(address: str | None, origin: str, timeout_s: float = 10.0) -> None:
    """One TCP connect to a cluster's head before `ray.init`, which retries an address where nothing listens
    for minutes."""
    if not address or address in ("auto", "local"):  # Ray's words for this machine's cluster, a new local one
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as e:
        raise UserError(
            f"{origin} {address}: no Ray cluster answers there ({first_line(e)}); start one with "
            "`ray start --head` or fix the address"
        ) from None
