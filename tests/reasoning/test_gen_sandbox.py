"""The sandbox against hostile programs: each is contained, reported with a reason, and leaves no trace."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from verification import sandbox
from verification.sandbox import Limits, run_many, run_python


def sandbox_processes() -> list[str]:
    """Processes of the sandbox uids still alive on the machine."""
    out = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True).stdout
    lo, hi = sandbox._UID_BASE, sandbox._UID_BASE + sandbox._UID_COUNT
    return [ln for ln in out.splitlines() if ln.split() and lo <= int(ln.split()[0]) < hi]


def test_ordinary_program_runs_and_its_output_comes_back():
    r = run_python(
        "import math, json\nprint(json.dumps({'r': math.isqrt(49)}))\nopen('scratch.txt','w').write('x')"
    )
    assert r.ok and r.reason == "ok"
    assert r.stdout.strip() == '{"r": 7}'


def test_error_is_reported_with_its_exception():
    r = run_python("def f():\n    assert 1 == 2, 'mismatch'\nf()")
    assert not r.ok
    assert r.reason.startswith("AssertionError: mismatch")


def test_infinite_loop_is_killed_at_the_wall_clock_timeout():
    t0 = time.monotonic()
    r = run_python("while True:\n    pass", Limits(timeout=1.5))
    assert not r.ok and r.timed_out
    assert "timeout" in r.reason
    assert time.monotonic() - t0 < 5
    assert sandbox_processes() == []


def test_fork_bomb_hits_the_process_limit_and_dies_with_the_run():
    bomb = (
        "import os\n"
        "root, told = os.getpid(), False\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError as e:\n"
        "        if os.getpid() == root and not told:\n"
        "            print('fork refused:', e.strerror, flush=True)\n"
        "            told = True\n"
    )
    before = len(os.listdir("/proc"))
    r = run_python(bomb, Limits(timeout=3, nproc=32))
    assert not r.ok and "timeout" in r.reason
    if os.geteuid() == 0 or sandbox.sandbox_mode() == "namespaces":
        assert "fork refused: Resource temporarily unavailable" in r.stdout
    time.sleep(0.3)
    assert sandbox_processes() == []
    assert len(os.listdir("/proc")) <= before + 10  # back to where it was (other work may start processes)


def test_memory_bomb_fails_with_memory_error():
    t0 = time.monotonic()
    r = run_python(
        "blocks = []\nwhile True:\n    blocks.append(bytearray(32 << 20))", Limits(timeout=10, memory_mb=256)
    )
    assert not r.ok
    assert r.reason.startswith("MemoryError") and "memory limit 256 MiB" in r.reason
    assert time.monotonic() - t0 < 8


def test_network_is_unreachable_even_on_loopback():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        r = run_python(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')"
        )
        assert not r.ok
        assert "network" in r.reason
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.fixture
def open_dir():
    """A world-writable directory on the project's filesystem (visible to the sandbox, unlike /tmp)."""
    runs = Path(__file__).resolve().parents[2] / "runs"
    runs.mkdir(exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="sandbox-victim-", dir=runs))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d)


def test_no_writes_or_deletes_outside_the_work_dir(open_dir, tmp_path):
    victim = open_dir / "victim.txt"
    victim.write_text("keep me")
    hidden = tmp_path / "hidden.txt"  # under the shared temp dir, which the sandbox does not even see
    hidden.write_text("keep me")
    attempts = {
        "delete": f"import os\nos.remove({str(victim)!r})",
        "overwrite": f"open({str(victim)!r}, 'w').write('gone')",
        "create": f"open({str(open_dir / 'new.txt')!r}, 'w').write('x')",
        "rename": f"import os\nos.rename({str(victim)!r}, {str(open_dir / 'moved.txt')!r})",
        "chmod": f"import os\nos.chmod({str(victim)!r}, 0o600)",
    }
    results = run_many(list(attempts.values()))
    for name, r in zip(attempts, results, strict=True):
        assert not r.ok, name
        # denied, or not even visible (a checkout under the temp dir is hidden from the sandbox but for itself)
        assert "write outside the sandbox denied" in r.reason or "No such file or directory" in r.reason, (
            name,
            r.reason,
        )
    tmp_attempts = [
        f"import os\nos.remove({str(hidden)!r})",
        "open('/tmp/mixloom-sandbox-escape.txt', 'w').write('x')",
        "open('/dev/shm/mixloom-sandbox-escape', 'w').write('x')",
    ]
    assert not any(r.ok for r in run_many(tmp_attempts))
    assert victim.read_text() == "keep me" and hidden.read_text() == "keep me"
    assert oct(victim.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in open_dir.iterdir()) == ["victim.txt"]
    assert not os.path.exists("/tmp/mixloom-sandbox-escape.txt")
    assert not os.path.exists("/dev/shm/mixloom-sandbox-escape")


def test_environment_secrets_do_not_reach_the_code(monkeypatch):
    monkeypatch.setenv("MIXLOOM_TEST_SECRET", "s3cr3t-value")
    snoop = (
        "import os, glob\n"
        "print(dict(os.environ))\n"
        "for f in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        print(open(f, 'rb').read())\n"
        "    except OSError:\n"
        "        pass\n"
    )
    r = run_python(snoop)
    assert r.ok
    assert "HOME" in r.stdout
    assert "s3cr3t-value" not in r.stdout


def test_output_flood_is_cut_by_the_file_size_limit():
    r = run_python(
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", Limits(timeout=10, file_mb=1)
    )
    assert not r.ok
    assert "File too large (file size limit 1 MiB)" in r.reason
    assert len(r.stdout) <= sandbox.OUTPUT_CAP


def test_run_many_keeps_input_order():
    results = run_many([f"print({i} * {i})" for i in range(6)], workers=2)
    assert [r.stdout.strip() for r in results] == [str(i * i) for i in range(6)]


@pytest.fixture
def hooks_mode(monkeypatch):
    monkeypatch.setenv("MIXLOOM_SANDBOX", "hooks")
    sandbox.reset_probe()
    yield
    monkeypatch.delenv("MIXLOOM_SANDBOX")
    sandbox.reset_probe()


def test_fallback_without_namespaces_denies_network_writes_and_processes(hooks_mode, tmp_path):
    assert sandbox.sandbox_mode() == "hooks"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    programs = [
        "print('fine')\nopen('local.txt', 'w').write('ok')",
        "import socket\nsocket.create_connection(('127.0.0.1', 9))",
        f"import os\nos.remove({str(victim)!r})",
        "import os\nos.fork()",
        "import subprocess\nsubprocess.run(['true'])",
    ]
    ok, net, delete, fork, spawn = run_many(programs)
    assert ok.ok and ok.stdout.strip() == "fine"
    assert not net.ok and "network" in net.reason
    assert not delete.ok and "write outside" in delete.reason
    assert not fork.ok and "os.fork denied" in fork.reason
    assert not spawn.ok and (
        "subprocess.Popen denied" in spawn.reason or "_posixsubprocess denied" in spawn.reason
    )
    assert victim.read_text() == "keep me"
