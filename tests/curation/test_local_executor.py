"""The local executor: with N workers the driver runs tasks beside N - 1 worker processes; results keep input
order; a single task (a reduce) runs in a worker; errors reach the caller; the pool survives between maps."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from curation.executors import LocalExecutor
from mixloom.memory import ARROW_POOL_ENV, JEMALLOC_ENV


def whoami(x: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough that both the driver and the worker get tasks
    return x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"task {x} failed")
    return x


def test_driver_and_one_worker_share_a_map_in_input_order():
    ex = LocalExecutor(2)
    try:
        out = ex.map(whoami, list(range(12)))
        assert [x for x, _ in out] == list(range(12))
        pids = {p for _, p in out}
        assert os.getpid() in pids  # the driver ran some
        assert len(pids) == 2  # and exactly one worker process the others
        again = ex.map(whoami, list(range(6)))  # the worker outlives the threads of the first map
        assert [x for x, _ in again] == list(range(6))
        assert {p for _, p in again} - {os.getpid()} <= pids
    finally:
        ex.close()


def test_a_single_task_runs_in_a_worker_not_the_driver():
    ex = LocalExecutor(2)
    try:
        [(x, pid)] = ex.map(whoami, [7])
        assert x == 7 and pid != os.getpid()
    finally:
        ex.close()


def test_three_workers_are_the_driver_and_two_processes():
    ex = LocalExecutor(3)
    try:
        pids = {p for _, p in ex.map(whoami, list(range(24)))}
        assert os.getpid() in pids and len(pids) == 3
    finally:
        ex.close()


def test_a_task_error_reaches_the_caller_and_the_executor_stays_usable():
    ex = LocalExecutor(2)
    try:
        with pytest.raises(ValueError, match="task 3 failed"):
            ex.map(fail_on_three, list(range(8)))
        assert ex.map(fail_on_three, [0, 1, 2]) == [0, 1, 2]
    finally:
        ex.close()


def test_inline_executor_runs_everything_in_the_driver():
    assert {p for _, p in LocalExecutor(1).map(whoami, [1, 2, 3])} == {os.getpid()}


def test_the_cli_sets_allocator_options_before_polars_and_imports_no_heavy_library():
    """`mixloom` starts light: a worker process (which imports the CLI's main module under spawn) pays only for
    the libraries its task needs, and the allocators are configured before Polars loads."""
    code = (
        "import os, sys; import mixloom.cli; "
        "print([m for m in ('polars', 'pyarrow', 'numpy', 'torch', 'duckdb', 'transformers') if m in sys.modules]); "
        f"print(os.environ.get('{JEMALLOC_ENV}'), os.environ.get('{ARROW_POOL_ENV}'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in (JEMALLOC_ENV, ARROW_POOL_ENV)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    heavy, conf = out.stdout.splitlines()
    assert heavy == "[]"
    assert "dirty_decay_ms:0" in conf and conf.endswith("system")
    env[JEMALLOC_ENV] = "narenas:1"  # the user's setting wins
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines()[1].startswith("narenas:1 ")


def test_ray_workers_get_the_drivers_allocator_options(monkeypatch):
    """Workers on other machines do not inherit the driver's environment: they are sent the options, and a value
    the user set for the driver is the one they get."""
    from mixloom.memory import allocator_env

    monkeypatch.delenv(JEMALLOC_ENV, raising=False)
    monkeypatch.setenv(ARROW_POOL_ENV, "jemalloc")
    env = allocator_env()
    assert "dirty_decay_ms:0" in env[JEMALLOC_ENV] and env[ARROW_POOL_ENV] == "jemalloc"


def test_workers_do_not_rerun_the_mixloom_command_line(monkeypatch):
    """Spawn re-imports the main module in every worker; for the `mixloom` CLI that is typer and rich for
    nothing, so it is hidden while workers start, then restored. A user's own main module is left alone."""
    import types
    from importlib.machinery import ModuleSpec

    from curation.executors import _main_not_rerun

    cli = types.ModuleType("__main__")
    cli.__spec__ = ModuleSpec("mixloom.cli", None)
    cli.__file__ = "/x/mixloom/cli.py"
    monkeypatch.setitem(sys.modules, "__main__", cli)
    with _main_not_rerun():
        assert cli.__spec__ is None and not hasattr(cli, "__file__")
    assert cli.__spec__.name == "mixloom.cli" and cli.__file__ == "/x/mixloom/cli.py"

    script = types.ModuleType("__main__")
    script.__spec__ = None
    script.__file__ = "/home/me/my_pipeline.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    with _main_not_rerun():
        assert script.__file__ == "/home/me/my_pipeline.py"
