"""`execution.ray.address`: the recipe names the Ray cluster; RAY_ADDRESS in the environment wins over it.

The slow tests start a real head with `ray start --head` on loopback (its own temp dir, its own ports) and
check which cluster a `mixloom curate --executor ray` ran on by the driver log Ray writes into that cluster's
session folder (`python-core-driver-*_PID.log`): a driver that started its own local Ray would leave none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from mixloom.errors import RecipeError, UserError
from mixloom.recipe import parse_recipe
from tests import cloud, raycluster

SRC = {"path": "x.jsonl", "domain": "d"}


def _parse(tmp: Path, address):
    doc = {"name": "r", "sources": {"a": SRC}, "execution": {"executor": "ray", "ray": {"address": address}}}
    return parse_recipe(doc, tmp / "r.yaml")


@pytest.mark.parametrize(
    "address", ["10.0.0.5:6379", "head.example:6379", "auto", "ray://10.0.0.5:10001", None]
)
def test_valid_addresses(tmp_path, address):
    assert _parse(tmp_path, address).execution.ray.address == address


@pytest.mark.parametrize("address", ["10.0.0.5", "http://10.0.0.5:6379", "h:0", "h:70000", "", "a b:1"])
def test_bad_address_names_the_key(tmp_path, address):
    with pytest.raises(RecipeError, match=r"execution\.ray\.address.*is not a Ray address: use HOST:PORT"):
        _parse(tmp_path, address)


def test_unknown_key_under_ray_is_refused(tmp_path):
    doc = {"name": "r", "sources": {"a": SRC}, "execution": {"ray": {"adress": "h:1"}}}
    with pytest.raises(RecipeError, match=r"execution\.ray\.adress"):
        parse_recipe(doc, tmp_path / "r.yaml")


def test_environment_wins_over_the_recipe(monkeypatch):
    from curation.executors import make_executor

    ex = make_executor("ray", 2, None, "10.0.0.5:6379")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ex.target() == ("10.0.0.5:6379", "execution.ray.address")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:7000")
    assert ex.target() == ("127.0.0.1:7000", "RAY_ADDRESS")
    monkeypatch.setenv("RAY_ADDRESS", "  ")  # set but empty: as if unset
    assert ex.target() == ("10.0.0.5:6379", "execution.ray.address")
    assert make_executor("ray", 2).target() == (None, "a local Ray")


@pytest.mark.parametrize("word", ["auto", "local"])
def test_rays_own_words_are_not_probed(word):
    """RAY_ADDRESS=auto / local are Ray's (this machine's cluster, a new local one): no host:port to probe."""
    from curation.executors import _check_reachable

    _check_reachable(word, "RAY_ADDRESS")  # no error
    with pytest.raises(UserError, match="^RAY_ADDRESS nohost: no Ray cluster answers there"):
        _check_reachable("nohost", "RAY_ADDRESS")


def test_nothing_listening_is_one_line_at_once(monkeypatch):
    """Ray itself retries such an address for minutes; the executor says what is wrong in seconds."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'mixloom[ray]')")
    from curation.executors import make_executor

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    port = cloud.free_port()  # nothing listens there
    ex = make_executor("ray", 1, None, f"127.0.0.1:{port}")
    t0 = time.monotonic()
    with pytest.raises(
        UserError, match=rf"^execution\.ray\.address 127\.0\.0\.1:{port}: no Ray cluster answers"
    ):
        ex.map(abs, [-1])
    assert time.monotonic() - t0 < 15
    import ray

    assert not ray.is_initialized()


@contextmanager
def ray_head(cpus: int = 2, client_port: int | None = None) -> Iterator[tuple[str, Path]]:
    """A one-node Ray cluster (`ray start --head`) on loopback; yields (address, its temp dir). With
    `client_port`, its Ray client server (ray://) listens there."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'mixloom[ray]')")
    from tests.raycluster import RAY, _killpg, _ports

    tmp = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # short: Ray's socket paths have a length limit
    port = cloud.free_port()
    env = cloud.env_with({"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"})
    env.pop("RAY_ADDRESS", None)
    ports = [p for p in _ports() if not (client_port and p.startswith("--ray-client-server-port="))]
    ports += [f"--ray-client-server-port={client_port}"] if client_port else []
    log = open(tmp / "head.log", "w")  # noqa: SIM115 - closed in finally
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", f"--num-cpus={cpus}", f"--temp-dir={tmp}",
         "--include-dashboard=false", *ports, "--disable-usage-stats", "--block", "--node-ip-address=127.0.0.1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        raycluster.wait_for_head(head, tmp / "head.log")
        yield f"127.0.0.1:{port}", tmp
    finally:
        _killpg(head)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _readme_execution(address: str) -> dict:
    """The README's `execution:` block ("Run on a cluster") as written, with the head's address in it."""
    import re

    section = (cloud.ROOT / "README.md").read_text().split("## Run on a cluster", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    assert "HEAD_IP:6379" in block
    return yaml.safe_load(block.replace("HEAD_IP:6379", address))["execution"]


def _small(address: str | None) -> dict:
    r = cloud.bloomberg_recipe(cloud.LOCAL_PATHS, shard_docs=300)
    del r["sources"]["wiki"]
    r["steps"] = [{"normalize": {"form": "NFKC"}}, {"dedup": {"method": "exact"}}]
    r["mix"] = {"unit": "docs", "budget": "max", "shares": {"financial": 1.0}}
    r["execution"].update(executor="ray", workers=2)
    if address:
        r["execution"].update(_readme_execution(address))
    return r


def _curate(recipe: dict, tmp: Path, name: str, env: dict) -> tuple[subprocess.Popen, str, str]:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixloom.cli", "curate", str(path), "--out", str(tmp / name)],
        cwd=cloud.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=600)
    return proc, out, err


def _drivers(temp_dir: Path) -> set[int]:
    """Pids of the drivers that connected to the cluster whose temp dir this is."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in temp_dir.glob("session_*/logs/python-core-driver-*_*.log")}


@pytest.mark.slow  # a Ray head and two Ray runs: about a minute on a shared 2-core machine
def test_recipe_address_and_environment_precedence(tmp_path):
    base = cloud.env_with({"RAY_USAGE_STATS_ENABLED": "0"})
    base.pop("RAY_ADDRESS", None)
    ref = _small(None) | {"execution": {**_small(None)["execution"], "executor": "local", "workers": 1}}
    proc, _, err = _curate(ref, tmp_path, "local", base)
    assert proc.returncode == 0, err[-3000:]
    local = cloud.local_tree(tmp_path / "local")
    dead = f"127.0.0.1:{cloud.free_port()}"  # nothing listens there
    client = cloud.free_port()
    with ray_head(client_port=client) as (address, temp_dir):
        # Ray client first (here, its server failed to start a driver for a client that came after drivers
        # connected to the GCS address: 'SpecificServer startup failed'). Its driver is a process the head's
        # client server starts for the connection, not this one.
        before = _drivers(temp_dir)
        proc, _, err = _curate(_small(f"ray://127.0.0.1:{client}"), tmp_path, "client", base)
        assert proc.returncode == 0, err[-3000:]
        assert _drivers(temp_dir) - before and proc.pid not in _drivers(temp_dir)
        # the recipe names the cluster; RAY_ADDRESS is unset
        proc, _, err = _curate(_small(address), tmp_path, "recipe", base)
        assert proc.returncode == 0, err[-3000:]
        assert proc.pid in _drivers(temp_dir)
        # RAY_ADDRESS wins over the recipe's address (which would fail: nothing listens there)
        proc, _, err = _curate(_small(dead), tmp_path, "env", {**base, "RAY_ADDRESS": address})
        assert proc.returncode == 0, err[-3000:]
        assert proc.pid in _drivers(temp_dir)
    for run in ("recipe", "env", "client"):
        got = cloud.local_tree(tmp_path / run)
        assert sorted(got) == sorted(local) and [k for k in got if got[k] != local[k]] == []
    # the recipe's address alone, with the cluster gone: one line naming the key, no traceback
    proc, _, err = _curate(_small(dead), tmp_path, "gone", base)
    assert proc.returncode == 2, err[-3000:]
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"error: execution.ray.address {dead}: no Ray cluster answers")
    )
