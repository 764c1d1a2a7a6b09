"""Faults and concurrent runs: a killed driver leaves no worker behind, a locked run directory refuses a second
run at once (naming the holder), and a full disk is one clear line after which the same command resumes to
byte-identical outputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mixloom.cli import main
from tests.curation.hostile_corpus import jsonl_bytes
from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MIXLOOM_QUIET": "1", "OMP_NUM_THREADS": "1"}


def _recipe(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump({"name": "faults", "base_dir": str(ROOT), **data}, sort_keys=False))
    return p


def _mixloom(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mixloom.cli", *args], cwd=ROOT, env=ENV, **kw)


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
@pytest.mark.parametrize("when", ["starting", "working"])
def test_driver_sigkill_leaves_no_worker_alive(tmp_path, when):
    """`starting`: killed while workers still import (they must not take init for their driver);
    `working`: killed once read tasks have finished, with workers busy or waiting for more."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"f{i}.jsonl").write_bytes(jsonl_bytes(20_000, i * 20_000))
    recipe = _recipe(
        tmp_path,
        {
            "sources": {"s": {"path": str(src), "format": "jsonl", "domain": "d"}},
            "steps": [{"normalize": {}}, {"dedup": {"method": "exact"}}],
            "execution": {"shard_docs": 5000, "shard_bytes": 1 << 20},
        },
    )
    # 3 workers: the driver and two worker processes (the local executor runs tasks in the driver too)
    driver = _mixloom("curate", str(recipe), "--out", str(tmp_path / "out"), "--workers", "3")
    kids: list[int] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120 and driver.poll() is None:
        kids = _children(driver.pid)
        if len(kids) >= 3:  # two workers and the resource tracker
            break
        time.sleep(0.05)
    assert driver.poll() is None and len(kids) >= 3, "the run finished before its workers could be seen"
    if when == "working":
        while driver.poll() is None and not list((tmp_path / "out" / "_work").glob("read-*/*.done.json")):
            time.sleep(0.02)
    else:
        time.sleep(0.3)
    assert driver.poll() is None, "the run finished before it could be killed"
    kids = _children(driver.pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if _alive(k)]
    for k in left:  # do not leak them into the rest of the test session
        with contextlib.suppress(OSError):
            os.kill(k, signal.SIGKILL)
    assert not left, f"processes still alive 10 s after the driver died: {left}"


def test_second_run_on_a_locked_directory_fails_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from mixloom.runlock import run_lock\n"
            f"with run_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        recipe = _recipe(tmp_path, {"sources": {"fiqa": FIQA}})
        t0 = time.monotonic()
        rc = main(["curate", str(recipe), "--out", str(out)])
        took = time.monotonic() - t0
        err = capsys.readouterr().err
        assert rc == 2 and f"pid {holder.pid}" in err and "in use by another run" in err
        assert len(err.strip().splitlines()) == 1 and took < 10  # at once: before any reading
        assert not (out / "manifest.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # the kernel drops the lock with its holder: the next run goes ahead
    assert main(["curate", str(recipe), "--out", str(out)]) == 0


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
        if "_work" not in p.parts
    }


@contextlib.contextmanager
def _small_disk(where: Path, size_kb: int) -> Iterator[tuple[Path, object]]:
    """(directory, preexec) on a tiny tmpfs when this process may mount one; else a file-size limit."""
    where.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)]).returncode
        == 0
    )
    if mounted:
        try:
            yield where, None
        finally:
            subprocess.run(["umount", "-l", str(where)])
        return

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb << 10, resource.RLIM_INFINITY))

    yield where, limit


def test_disk_full_is_one_line_and_the_rerun_is_identical(tmp_path):
    recipe = _recipe(
        tmp_path,
        {
            "sources": {"fiqa": FIQA, "wiki": WIKI},
            "steps": [{"normalize": {}}, {"dedup": {"method": "exact"}}],
            "execution": {"shard_docs": 100},
        },
    )
    clean = tmp_path / "clean"
    p = _mixloom("curate", str(recipe), "--out", str(clean), "--workers", "2", stderr=subprocess.PIPE)
    assert p.wait(timeout=300) == 0
    with _small_disk(tmp_path / "disk", 400) as (disk, preexec):
        out = disk / "run"
        p = _mixloom(
            "curate",
            str(recipe),
            "--out",
            str(out),
            "--workers",
            "2",
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        _, err = p.communicate(timeout=300)
        assert p.returncode == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "no space left" in lines[0] and "Traceback" not in err, err
        assert not (out / "manifest.json").exists()
        if preexec is None:
            subprocess.run(["mount", "-o", "remount,size=65536k", str(disk)], check=True)
        p = _mixloom("curate", str(recipe), "--out", str(out), "--workers", "2", stderr=subprocess.PIPE)
        assert p.wait(timeout=300) == 0
        assert _digest(out) == _digest(clean) and len(_digest(clean)) > 5
        m = json.loads((out / "manifest.json").read_text())
        assert m["curated"]["docs"] == json.loads((clean / "manifest.json").read_text())["curated"]["docs"]


def test_superseded_work_folders_are_removed(tmp_path):
    """Four runs with different steps into one directory: `_work/` holds the last run's folders only."""
    out = tmp_path / "out"
    for k in range(4):
        recipe = _recipe(
            tmp_path, {"sources": {"fiqa": FIQA}, "steps": [{"sql": f"length(text) >= {10 + k}"}]}
        )
        assert main(["curate", str(recipe), "--out", str(out)]) == 0
        dirs = sorted(d.name for d in (out / "_work").iterdir() if d.name.startswith(("read-", "pass")))
        assert len([d for d in dirs if d.startswith("read-")]) == 1 and len(dirs) == 2, dirs
    m = json.loads((out / "manifest.json").read_text())
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"]
