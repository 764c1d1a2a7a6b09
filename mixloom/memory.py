"""Give freed memory back to the operating system, so a long-lived process's peak is its largest task's, not
the sum of its history.

Polars allocates with its own jemalloc, which by default keeps freed pages for ~10 s; a worker going from
shard to shard then holds the garbage of earlier shards. `configure_allocators` asks it to return them at once
(it must run before Polars is loaded: the CLI calls it first, and worker processes inherit the setting).
PyArrow's default pool (its own jemalloc) keeps freed memory the same way; it is pointed at the system
allocator. CPython's objects (and now PyArrow's buffers) live in glibc's heap, whose free pages in the middle
stay resident until `malloc_trim`.
"""

from __future__ import annotations

import ctypes
import os
import sys

JEMALLOC_ENV = "_RJEM_MALLOC_CONF"  # the variable Polars' (prefixed) jemalloc reads at start
JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"
ARROW_POOL_ENV = (
    "ARROW_DEFAULT_MEMORY_POOL"  # PyArrow: the system allocator, so that malloc_trim returns it too
)


ALLOCATOR_ENV = {JEMALLOC_ENV: JEMALLOC_CONF, ARROW_POOL_ENV: "system"}


def allocator_env() -> dict[str, str]:
    """The allocator options a worker on another machine (Ray) should get: this process's, where the user set
    them, else ours."""
    return {name: os.environ.get(name, value) for name, value in ALLOCATOR_ENV.items()}


def configure_allocators() -> None:
    """Set the allocator options for this process (if Polars is not loaded yet) and the ones it starts;
    a value the user set wins."""
    for name, value in ALLOCATOR_ENV.items():
        os.environ.setdefault(name, value)


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others: nothing to trim
        return None


_TRIM = _malloc_trim()


def release_memory() -> None:
    """After a task: hand glibc's free pages back (well under a millisecond). No `gc.collect()` here: it cost
    ~15 ms a task, and what a task frees goes by reference counting, so large structures must not be cycles
    (the quality step's vocabulary was one, and held ~100 MB per worker until a collection)."""
    if _TRIM is not None:
        _TRIM(0)
