"""The run lock on object storage has a lease (moto's S3 server on loopback, real processes).

A holder refreshes its `.lock` object; a holder on another host (a process in its own UTS namespace with
another hostname, so its pid means nothing here) that is SIGKILLed leaves a lock that is taken over once its
lease has run out, not before; a holder paused for longer than its lease finds its lock taken over and stops,
without deleting the new holder's lock. Takeover and refresh are PUTs conditional on the version read, so of
two writers that saw one version exactly one wins.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from tests import cloud

LEASE = 3.0
LOCK = "runs/leased/.lock"
URL = f"s3://{LOCK.rsplit('/', 1)[0]}"

# holds the run lock until killed; exits 2 with the one-line message if it loses the lock
HOLD = """
import sys, time
from mixloom.errors import UserError
from mixloom.runlock import run_lock
try:
    with run_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def s3():
    import s3fs

    with cloud.moto_s3() as env, pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("MIXLOOM_LOCK_LEASE_S", str(LEASE))
        s3fs.S3FileSystem.clear_instance_cache()
        fs = cloud.s3fs_client()
        fs.mkdir("runs")
        yield {**env, "MIXLOOM_LOCK_LEASE_S": str(LEASE)}, fs
        s3fs.S3FileSystem.clear_instance_cache()


def _holder(env: dict, host: str | None = None) -> subprocess.Popen:
    """A process holding the lock; with `host`, on "another host" (its own UTS namespace and hostname)."""
    cmd = [sys.executable, "-c", HOLD, URL]
    if host:
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-ru", "true"]).returncode != 0:
            pytest.skip("unshare -ru is not permitted here: the holder needs its own hostname")
        cmd = ["unshare", "-ru", "sh", "-c", f'hostname {host} && exec "$@"', "sh", *cmd]
    p = subprocess.Popen(
        cmd, env=cloud.env_with(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    line = p.stdout.readline()
    assert line.strip() == "held", p.stderr.read()[-2000:]
    return p


def _lock(fs) -> dict:
    return json.loads(fs.cat_file(LOCK))


def _kill(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def _recipe(tmp_path) -> str:
    r = cloud.bloomberg_recipe(cloud.LOCAL_PATHS)
    r["sources"] = {"headlines": r["sources"]["headlines"]}
    r["steps"] = [{"dedup": {"method": "exact"}}]
    r["mix"] = {"unit": "docs", "budget": "max", "shares": {"financial": 1.0}}
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(r, sort_keys=False))
    return str(p)


def _curate(tmp_path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mixloom.cli", "curate", _recipe(tmp_path), "--out", URL],
        cwd=cloud.ROOT, env=cloud.env_with(env), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_killed_holder_on_another_host_is_taken_over_after_its_lease(s3, tmp_path):
    from mixloom.errors import UserError
    from mixloom.runlock import run_lock

    env, fs = s3
    holder = _holder(env, host="node-a")
    try:
        first = _lock(fs)
        assert first["host"] == "node-a" and first["lease_s"] == LEASE
        time.sleep(LEASE * 1.5)  # longer than the lease: a live holder has refreshed its lock meanwhile
        assert _lock(fs)["refreshed"] > first["refreshed"]
        r = _curate(tmp_path, env)
        assert r.returncode == 2, r.stderr[-2000:]
        assert f"is in use by another run (pid {first['pid']} on node-a" in r.stderr
        assert "refreshed " in r.stderr and "s ago" in r.stderr
    finally:
        _kill(holder)  # SIGKILL: no release, the lock object stays
    killed_at = time.time()
    assert _lock(fs)["host"] == "node-a"
    with pytest.raises(UserError, match="is in use by another run"), run_lock(URL):  # within the lease
        pass
    assert time.time() - _lock(fs)["refreshed"] < LEASE  # (the check above ran within it)
    time.sleep(max(0.0, killed_at + LEASE + 0.5 - time.time()))
    r = _curate(tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"took over the lock {URL}/.lock of pid {first['pid']} on node-a" in r.stderr
    assert "longer than its lease of 3 s; its run is presumed dead" in r.stderr
    assert not fs.exists(LOCK)  # released by the run that took it over
    assert fs.exists(f"{URL[5:]}/manifest.json")


def test_paused_holder_loses_its_lock_and_stops(s3, tmp_path):
    """SIGSTOP for longer than the lease: another run takes the lock over; SIGCONT: the first finds its lock
    gone at its next refresh, stops with one line, and leaves the new holder's lock alone."""
    env, fs = s3
    a = _holder(env, host="node-a")
    b = None
    try:
        os.killpg(a.pid, signal.SIGSTOP)
        time.sleep(LEASE + 1)
        b = _holder(env)  # this host: takes over a's expired lock
        assert _lock(fs)["pid"] == b.pid
        os.killpg(a.pid, signal.SIGCONT)
        assert a.wait(timeout=LEASE * 3) == 2
        err = a.stderr.read()
        assert "this run lost its lock: another run took it over (pid" in err
        assert f"pid {b.pid} on {socket.gethostname()}" in err
        assert _lock(fs)["pid"] == b.pid  # a did not delete b's lock
        time.sleep(LEASE / 2)
        assert b.poll() is None and _lock(fs)["pid"] == b.pid  # and b keeps it
    finally:
        if a.poll() is None:
            os.killpg(a.pid, signal.SIGCONT)
        _kill(a)
        if b is not None:
            _kill(b)
        fs.rm_file(LOCK) if fs.exists(LOCK) else None


def test_one_winner_for_one_version(s3):
    """The conditional PUT that takeover and refresh use: two writers that read one version, one succeeds."""
    from mixloom import storage

    _, fs = s3
    url = "s3://runs/cas/.lock"
    assert storage.create_exclusive(url, b"first") and not storage.create_exclusive(url, b"again")
    seen = storage.object_tag(url)
    won = storage.replace_if(url, b"writer 1", seen)
    assert won is not None and storage.replace_if(url, b"writer 2", seen) is None
    assert fs.cat_file("runs/cas/.lock") == b"writer 1"
    assert not storage.remove_if(url, seen) and fs.exists("runs/cas/.lock")  # an old version is not deleted
    assert storage.remove_if(url, won) and not fs.exists("runs/cas/.lock")
    assert storage.replace_if(url, b"late", won) is None and not fs.exists("runs/cas/.lock")


def test_lock_without_a_lease_from_another_host_is_not_taken(s3):
    """A lock of an older mixloom (no lease recorded) on another host is never presumed dead."""
    from mixloom.errors import UserError
    from mixloom.runlock import run_lock

    _, fs = s3
    fs.pipe_file(LOCK, json.dumps({"pid": 1, "host": "elsewhere", "started": 0, "command": "old"}).encode())
    try:
        with pytest.raises(UserError, match=rf"in use by another run .*delete {URL}/.lock"), run_lock(URL):
            pass
    finally:
        fs.rm_file(LOCK)


def test_bad_lease_setting_is_one_line(monkeypatch):
    from mixloom.errors import UserError
    from mixloom.runlock import lease_s

    for bad, msg in [("soon", "a number of seconds"), ("0", "must be > 0"), ("nan", "must be > 0")]:
        monkeypatch.setenv("MIXLOOM_LOCK_LEASE_S", bad)
        with pytest.raises(UserError, match=f"MIXLOOM_LOCK_LEASE_S.*{msg}"):
            lease_s()


def test_holder_whose_lock_is_deleted_stops(s3):
    """Someone deletes the lock object by hand under a live run: its next refresh fails and it stops."""
    env, fs = s3
    a = _holder(env)
    try:
        fs.rm_file(LOCK)
        assert a.wait(timeout=LEASE * 3) == 2
        assert "this run lost its lock: the lock object was deleted" in a.stderr.read()
        assert not fs.exists(LOCK)
    finally:
        _kill(a)


def test_two_runs_taking_over_one_stale_lock(s3):
    """Two processes started together on an expired lock of another host: exactly one holds the run (the
    later one usually finds the lock already renewed; the exact race is `test_one_winner_for_one_version`)."""
    env, fs = s3
    stale = {
        "pid": 1,
        "host": "gone-host",
        "started": 0,
        "command": "x",
        "lease_s": 1,
        "refreshed": time.time() - 60,
    }
    fs.pipe_file(LOCK, json.dumps(stale).encode())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLD, URL],
            env=cloud.env_with(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        held = [p.stdout.readline().strip() == "held" for p in procs]
        assert sorted(held) == [False, True]
        loser = procs[held.index(False)]
        assert loser.wait(timeout=30) == 2
        err = loser.stderr.read()
        assert "is in use by another run" in err or "could not take the lock" in err, err
        assert _lock(fs)["pid"] == procs[held.index(True)].pid
    finally:
        for p in procs:
            _kill(p)
        fs.rm_file(LOCK) if fs.exists(LOCK) else None
