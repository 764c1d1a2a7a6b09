"""A real 3-node Ray cluster on this machine: a head with no CPUs (the driver's node runs no task) and two
worker nodes started with `ray start`, each in its own user+mount namespace (`unshare -rm`) where the driver's
folder `hidden` is an empty private tmpfs: a task that touched the driver's disk there would find nothing, and
what it wrote there would vanish with its node.

Every process belongs to a process group this helper started, and teardown kills exactly those groups (never
`ray stop`, which would stop every Ray on the machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cloud import ROOT, free_port

RAY = str(Path(sys.executable).with_name("ray"))


@dataclass
class Cluster:
    address: str
    env: dict[str, str]
    head: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def kill_worker(self, i: int) -> None:
        """SIGKILL one worker node: its raylet, its task workers and everything else in its process group."""
        _killpg(self.workers[i])

    def alive_nodes(self) -> int:
        code = (
            f"import ray; ray.init(address={self.address!r}, log_to_driver=False, configure_logging=False); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120
        )
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0


def _killpg(p: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def _ports() -> list[str]:
    names = (
        "--dashboard-port",
        "--ray-client-server-port",
        "--dashboard-agent-listen-port",
        "--metrics-export-port",
    )
    return [f"{n}={free_port()}" for n in names]


def wait_for_head(head: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    """Until `ray start --head` says its runtime started (its log), or fail with the log's end."""
    deadline = time.time() + timeout_s
    while "Ray runtime started" not in log.read_text():
        if head.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the Ray head did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)


@contextmanager
def ray_cluster(env: dict[str, str], hidden: Path, workers: int = 2) -> Iterator[Cluster]:
    """Head (0 CPUs) + `workers` nodes of 1 CPU each, each worker node blind to `hidden`."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is absent: the worker nodes need their own mount namespace")
    pytest.importorskip("ray", reason="ray is not installed (pip install 'mixloom[ray]')")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -rm is not permitted here: {probe.stderr.decode()[:200]}")
    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths have a length limit
    port = free_port()
    env = {
        **env,
        "PYTHONPATH": str(ROOT),
        "RAY_AUTH_MODE": "disabled",  # a throwaway loopback cluster; tokens would need distributing
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    common = ["--disable-usage-stats", "--block", "--node-ip-address=127.0.0.1"]
    tmp.mkdir(exist_ok=True)
    head_log = open(tmp / "head.log", "w")  # noqa: SIM115 - closed in finally
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", "--num-cpus=0", f"--temp-dir={tmp}", "--include-dashboard=false",
         *_ports(), *common],
        env=env, stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    cluster = Cluster(f"127.0.0.1:{port}", {**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}, head)
    try:
        wait_for_head(head, tmp / "head.log")
        hidden.mkdir(parents=True, exist_ok=True)
        for i in range(workers):
            cluster.workers.append(_start_worker(port, hidden, env, tmp / f"worker{i}.log"))
        assert cluster.alive_nodes() == workers + 1
        yield cluster
    finally:
        for w in cluster.workers:
            _killpg(w)
        _killpg(head)
        head_log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _start_worker(
    port: int, hidden: Path, env: dict[str, str], log: Path, tries: int = 3
) -> subprocess.Popen:
    """One worker node, started after the previous one is up (a loaded machine can miss Ray's fixed 30 s
    registration window; such a start is retried)."""
    node = " ".join(
        [RAY, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1", f"--metrics-export-port={free_port()}",
         f"--dashboard-agent-listen-port={free_port()}", "--disable-usage-stats", "--block",
         "--node-ip-address=127.0.0.1"]
    )  # fmt: skip
    for _ in range(tries):
        log.write_text("")
        p = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs tmpfs {hidden} && exec {node} > {log} 2>&1"],
            env=env, start_new_session=True,
        )  # fmt: skip
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline:
            if "Ray runtime started" in log.read_text():
                return p
            time.sleep(0.5)
        _killpg(p)
    raise RuntimeError(f"a Ray worker node did not start:\n{log.read_text()[-2000:]}")
