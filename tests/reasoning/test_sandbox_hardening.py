"""The sandbox's walls: no host Unix sockets, private IPC, a disk quota, no nested user namespaces, and a
fallback mode that runs unprivileged, warns and is named in every record and manifest."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import uuid

import pyarrow.parquet as pq
import pytest
from gen_scripted import ScriptedEngine

import reasoning
from mixloom.errors import RecipeError
from mixloom.recipe import load_recipe
from verification import sandbox
from verification.sandbox import Limits, run_python


@pytest.fixture
def strong():
    sandbox.reset_probe()
    if sandbox.sandbox_mode() != "namespaces":
        pytest.skip("the strong sandbox (unshare) is not available here")


@pytest.fixture
def fallback(monkeypatch):
    monkeypatch.setenv("MIXLOOM_SANDBOX", "hooks")
    sandbox.reset_probe()
    yield
    monkeypatch.delenv("MIXLOOM_SANDBOX")
    sandbox.reset_probe()


@pytest.fixture
def unix_services():
    """A host service on a Unix socket path and one on an abstract Unix socket."""
    d = tempfile.mkdtemp(prefix="mixloom-host-svc-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "svc.sock")
    abstract = "\0mixloom-test-" + uuid.uuid4().hex
    socks = []
    for addr in (path, abstract):
        s = socket.socket(socket.AF_UNIX)
        s.bind(addr)
        s.listen(1)
        s.setblocking(False)
        socks.append(s)
    os.chmod(path, 0o777)
    yield path, abstract, socks
    for s in socks:
        s.close()
    os.remove(path)
    os.rmdir(d)


def _connect_program(path: str, abstract: str) -> str:
    return (
        "import socket\nerrors = []\n"
        f"for addr in ({path!r}, {abstract!r}):\n"
        "    try:\n"
        "        s = socket.socket(socket.AF_UNIX)\n"
        "        s.connect(addr)\n"
        "        s.sendall(b'leak')\n"
        "        print('CONNECTED', repr(addr))\n"
        "    except OSError as e:\n"
        "        errors.append(e.strerror)\n"
        "print('ERRORS', errors)\n"
    )


@pytest.mark.parametrize("mode", ["strong", "fallback"])
def test_host_unix_sockets_are_unreachable(mode, unix_services, request):
    request.getfixturevalue(mode)
    path, abstract, socks = unix_services
    r = run_python(_connect_program(path, abstract))
    assert "CONNECTED" not in r.stdout, r.stdout
    for s in socks:
        with pytest.raises(BlockingIOError):
            s.accept()


def _host_has_shm_key(key: int) -> bool:
    with open("/proc/sysvipc/shm") as f:
        return any(line.split()[0] == str(key) for line in f.readlines()[1:] if line.split())


SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
key = {key}
shmid = libc.shmget(key, 4096, {flags})
print('SHMID', shmid, ctypes.get_errno())
if shmid >= 0 and {flags}:
    addr = libc.shmat(shmid, None, 0)
    ctypes.memmove(addr, b'secret', 6)
    print('WROTE')
"""


def test_sysv_shared_memory_is_gone_after_the_run_and_invisible_to_the_next(strong):
    key = 0x6D780000 + os.getpid() % 0xFFFF
    first = run_python(SHM.format(key=key, flags=0o1666))  # IPC_CREAT | 0666
    assert first.ok and "WROTE" in first.stdout, first.stdout + first.stderr
    assert not _host_has_shm_key(key)
    second = run_python(SHM.format(key=key, flags=0))
    assert second.ok and "SHMID -1 2" in second.stdout, second.stdout  # ENOENT: a fresh IPC namespace


def test_posix_shared_memory_does_not_reach_the_host(strong):
    name = "mixloom-" + uuid.uuid4().hex[:8]
    code = (
        "from multiprocessing import shared_memory\n"
        f"m = shared_memory.SharedMemory(name={name!r}, create=True, size=64)\n"
        "m.buf[:6] = b'secret'\n"
    )
    run_python(code)
    assert not os.path.exists(f"/dev/shm/{name}")


def test_writing_past_the_disk_quota_fails_with_disk_quota(strong):
    code = (
        "chunk = b'x' * (1 << 20)\n"
        "for i in range(64):\n"
        "    with open(f'f{i}.bin', 'wb') as f:\n"
        "        for _ in range(4):\n"
        "            f.write(chunk)\n"
        "        print(i, flush=True)\n"
    )
    r = run_python(code, Limits(timeout=20, disk_mb=8, file_mb=16))
    assert not r.ok
    assert r.reason.startswith("disk quota (8 MiB) exceeded"), r.reason
    assert int(r.stdout.split()[-1]) < 2  # two 4 MiB files at most


def test_quota_reason_reaches_the_test_verdict(strong):
    code = "def fill(n):\n    open('big.bin', 'wb').write(b'x' * (n << 20))\n    return True\n"
    test = "def check(candidate):\n    assert candidate(12)\n"
    r = sandbox.run_tests(code, test, "fill", limits=Limits(disk_mb=8, file_mb=64, memory_mb=512))
    assert not r.passed and r.reason.startswith("disk quota"), r.reason


NESTED = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for flag in (0x10000000, 0x20000, 0x40000000):  # CLONE_NEWUSER, NEWNS, NEWNET
    print('UNSHARE', hex(flag), libc.unshare(flag), ctypes.get_errno())
print('UID', os.getuid())
"""


def test_no_nested_user_namespaces(strong):
    r = run_python(NESTED)
    assert r.ok, r.reason
    assert r.stdout.count(" -1 1") == 3, r.stdout  # each refused with EPERM
    assert "UID 0" not in r.stdout or os.geteuid() != 0


def test_fallback_runs_unprivileged_and_blocks_native_escapes(fallback, tmp_path):
    assert sandbox.sandbox_mode() == "hooks"
    data = tmp_path / "answers.jsonl"
    data.write_text('{"answer": "#### 42"}\n')
    os.chmod(tmp_path, 0o755)
    os.chmod(data, 0o644)
    uid, forkexec, ctypes_, read, unshare = sandbox.run_many(
        [
            "import os\nprint(os.getuid(), os.geteuid())",
            "import _posixsubprocess",
            "import ctypes",
            f"print(open({str(data)!r}).read())",
            "import os\nos.unshare(0x10000000) if hasattr(os, 'unshare') else None\nprint('ok')",
        ]
    )
    assert uid.ok and uid.mode == "hooks"
    if os.geteuid() == 0:
        assert "0" not in uid.stdout.split(), uid.stdout
    assert not forkexec.ok and "denied" in forkexec.reason
    assert not ctypes_.ok and "denied" in ctypes_.reason
    assert not read.ok and "read outside the work dir denied" in read.reason, read.reason


def test_fallback_warns_and_is_recorded_in_samples_and_manifest(fallback, write_recipe, tmp_path, recwarn):
    prompt = 'def add(a, b):\n    """Return a + b."""\n'
    seeds = tmp_path / "add.jsonl"
    test = "def check(c):\n    assert c(2, 3) == 5\n"
    seeds.write_text(
        json.dumps({"task_id": "add/0", "prompt": prompt, "test": test, "entry_point": "add"}) + "\n"
    )
    spec = {"kind": "code", "seeds": str(seeds), "n": 2}
    recipe = load_recipe(
        write_recipe(
            {
                "output": str(tmp_path / "run"),
                "generate": {"engine": {"kind": "transformers", "model": "tiny"}, "tasks": [spec]},
            }
        )
    )
    engine = ScriptedEngine(lambda q, hinted, n: ["    return a + b\n", "    return a - b\n"][:n])
    m = reasoning.run(recipe, engine=engine)
    assert m["sandbox"] == {"mode": "hooks", "required": "auto"}
    rows = pq.read_table(tmp_path / "run" / "generate" / "samples").to_pylist()
    assert [r["ok"] for r in rows] == [True, False]
    assert {r["sandbox"] for r in rows} == {"hooks"}
    assert any("FALLBACK" in str(w.message) for w in recwarn.list)


def test_strict_recipe_refuses_the_fallback_before_any_work(fallback, write_recipe, tmp_path):
    spec = {"kind": "pal", "seeds": "data/gsm8k/train.jsonl", "limit": 1}
    recipe = load_recipe(
        write_recipe(
            {
                "output": str(tmp_path / "run"),
                "generate": {
                    "engine": {"kind": "transformers", "model": "tiny"},
                    "tasks": [spec],
                    "sandbox": "strict",
                },
            }
        )
    )
    with pytest.raises(RecipeError, match=r"generate\.sandbox: sandbox: strict, but the strong sandbox"):
        reasoning.run(recipe, engine=ScriptedEngine(lambda q, h, n: ["print(1)"] * n))
    assert not (tmp_path / "run" / "generate" / "samples").exists()


def test_strict_recipe_runs_where_the_strong_mode_exists(strong, write_recipe, tmp_path):
    spec = {"kind": "pal", "seeds": "data/gsm8k/train.jsonl", "limit": 1, "n": 1, "shots": 0}
    recipe = load_recipe(
        write_recipe(
            {
                "output": str(tmp_path / "run"),
                "generate": {
                    "engine": {"kind": "transformers", "model": "tiny"},
                    "tasks": [spec],
                    "sandbox": "strict",
                },
            }
        )
    )
    m = reasoning.run(recipe, engine=ScriptedEngine(lambda q, h, n: ["print(1)"] * n))
    assert m["sandbox"] == {"mode": "namespaces", "required": "strict"}


def test_no_sandbox_processes_or_mounts_are_left_behind(strong):
    before = subprocess.run(["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
    run_python("print(1)")
    after = subprocess.run(["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
    assert "mixloom-sbx" not in after and before.count("\n") == after.count("\n")
