"""The core's small contracts: run-directory paths and reference rules (layout), the run lock, atomic writes
and manifests, stable hashes and the plugin registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixloom import manifest
from mixloom.errors import UserError
from mixloom.layout import RunLayout
from mixloom.registry import Registry
from mixloom.runlock import _holder, run_lock

ROOT = Path(__file__).resolve().parent.parent


# -- layout ------------------------------------------------------------------------------------------
def test_stage_dirs_and_core_files(tmp_path):
    lay = RunLayout(str(tmp_path))
    assert lay.root == tmp_path and isinstance(lay.root, Path)
    assert lay.stage_dir("curate") == tmp_path
    assert lay.stage_dir("eval") == lay.eval == tmp_path / "train" / "eval"
    assert lay.stage_dir("train.sft") == tmp_path / "train" / "sft"
    assert lay.stage_dir("audit") == tmp_path / "audit"
    assert lay.stage_dir("a.b.c") == tmp_path / "a" / "b" / "c"
    assert (lay.state.name, lay.lock.name, lay.datacard.name) == (
        ".mixloom-state.json",
        ".lock",
        "DATACARD.md",
    )
    assert lay.report_dir == tmp_path / "report" and lay.manifest == tmp_path / "manifest.json"
    assert (lay.curated, lay.rejects, lay.work) == (
        tmp_path / "curated",
        tmp_path / "rejects",
        tmp_path / "_work",
    )
    assert lay.mix("validation") == lay.mix_root / "validation" == tmp_path / "mix" / "validation"
    assert lay.generate == tmp_path / "generate"
    assert lay.model("dpo") == lay.train("dpo") / "model" == tmp_path / "train" / "dpo" / "model"


@pytest.mark.parametrize(
    "ref, rel",
    [
        ("curate.train", "mix/train"),
        ("curate.validation", "mix/validation"),
        ("curate.test", "mix/test"),
        ("curate.curated", "curated"),
        ("curate.rejects", "rejects"),
        ("generate.sft", "generate/sft"),
        ("generate.pairs", "generate/pairs"),
        ("train.sft", "train/sft/model"),
        ("train.pretrain", "train/pretrain/model"),
        ("train.sft.heldout", "train/sft/heldout"),
        ("review.pairs", "review/pairs"),
        ("audit", "audit"),
    ],
)
def test_ref_paths(tmp_path, ref, rel):
    assert RunLayout(tmp_path).ref_path(ref) == tmp_path / rel


# -- run lock ----------------------------------------------------------------------------------------
HOLD = """
import sys, time
from mixloom.runlock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_a_second_run_fails_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(UserError) as e, run_lock(run):
            pass
        msg = str(e.value)
        assert msg.startswith(f"{run} is in use by another run (pid {p.pid} on ")
        assert msg.endswith("; wait for it to finish, or write to another directory (--out)")
        assert "-c" in msg  # the holder's command line
    finally:
        p.communicate("\n", timeout=30)
    assert (run / ".lock").read_text() == ""  # released: the file stays, empty
    with run_lock(run) as path:  # and free again
        info = json.loads(path.read_text())
        assert info["pid"] == os.getpid() and info["started"] > 0


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    with run_lock(tmp_path) as a:
        with run_lock(tmp_path) as b:
            assert a == b and json.loads(b.read_text())["pid"] == os.getpid()
        assert json.loads(a.read_text())["pid"] == os.getpid()  # still held after the inner block
    assert a.read_text() == ""


def test_holder_text_of_an_empty_or_broken_lock_file(tmp_path):
    f = tmp_path / ".lock"
    f.write_text("")
    assert _holder(f) == "another process (starting up)"
    f.write_text("{not json")
    assert _holder(f) == "another process (starting up)"
    assert _holder(tmp_path / "missing") == "another process (starting up)"
    f.write_text(json.dumps({"pid": 7, "host": "h", "started": 0, "command": "mixloom run r.yaml"}))
    assert _holder(f).startswith("pid 7 on h, since ") and _holder(f).endswith(": mixloom run r.yaml")


# -- manifests and atomic writes --------------------------------------------------------------------
def test_stable_hash_ignores_key_order_only():
    a = manifest.stable_hash({"a": 1, "b": [1, 2]})
    assert a == manifest.stable_hash({"b": [1, 2], "a": 1}) and len(a) == 16
    assert a != manifest.stable_hash({"a": 1, "b": [2, 1]})
    assert manifest.stable_hash({"p": Path("/x")}) == manifest.stable_hash({"p": "/x"})


def test_file_checksum_and_entry(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 3000)
    c = manifest.file_checksum(f)
    assert c == manifest.file_checksum(f, chunk=7) and len(c) == 32  # chunking does not change it
    f.write_bytes(b"x" * 2999 + b"y")
    assert manifest.file_checksum(f) != c
    assert manifest.file_entry(f) == {"path": str(f), "bytes": 3000, "xxh3_128": manifest.file_checksum(f)}
    assert manifest.file_entry(f, checksum=False) == {"path": str(f), "bytes": 3000}


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path):
    path = tmp_path / "sub" / "m.json"
    manifest.write_json_atomic(path, {"v": 1, "p": Path("/x")})
    assert json.loads(path.read_text()) == {"v": 1, "p": "/x"} and path.read_text().endswith("\n")
    with pytest.raises(RuntimeError), manifest.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"v": 1, "p": "/x"}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temp file left behind
    assert manifest.write_text_atomic(tmp_path / "t.txt", "é") == tmp_path / "t.txt"
    assert (tmp_path / "t.txt").read_bytes() == "é".encode()


def test_manifest_round_trip_and_a_missing_one(tmp_path):
    assert manifest.write_manifest(tmp_path, {"a": 1}) == tmp_path / "manifest.json"
    assert manifest.read_manifest(tmp_path) == {"a": 1}
    with pytest.raises(UserError, match=r"manifest.json: no manifest here; run the stage"):
        manifest.read_manifest(tmp_path / "nothing")


def test_versions():
    v = manifest.package_versions(["polars", "no-such-dist-zz"])
    assert v["no-such-dist-zz"] == "absent" and v["polars"][0].isdigit()
    from mixloom import __version__

    code = manifest.code_version()
    assert code == __version__ or code.startswith(f"{__version__}+")


# -- registry ----------------------------------------------------------------------------------------
def test_registry_loads_lazily_and_names_what_it_knows():
    reg = Registry("widget", {"path": "os:path", "join": "os.path:join", "mod": "json"})
    assert "path" in reg and "nope" not in reg and reg.names() == ["path", "join", "mod"]
    assert list(reg) == ["path", "join", "mod"] and reg.target("join") == "os.path:join"
    assert reg.get("join") is os.path.join and reg.get("mod") is json
    assert dict(reg.items())["path"] is os.path
    with pytest.raises(KeyError, match="unknown widget 'nope'; known: path, join, mod"):
        reg.get("nope")
    reg.register("join", "os.path:dirname")  # a replaced entry is loaded afresh
    assert reg.get("join") is os.path.dirname
    reg.register("dotted", "mixloom.layout:RunLayout.ref_path")
    assert reg.get("dotted") is RunLayout.ref_path
    reg.unregister("dotted")
    reg.unregister("never-there")
    assert "dotted" not in reg
    reg.register("broken", "no_such_module_zz:x")
    with pytest.raises(ModuleNotFoundError):
        reg.get("broken")


# -- progress display --------------------------------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch):
    """mixloom.progress's console writing to a string as if it were a terminal."""
    import io

    from rich.console import Console

    from mixloom import progress

    buf = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=buf, force_terminal=True, width=120))
    monkeypatch.delenv("MIXLOOM_QUIET", raising=False)
    return buf


def test_progress_bars_show_on_a_terminal(terminal, monkeypatch):
    from mixloom import progress

    assert list(progress.track(range(3), "lsh bands")) == [0, 1, 2]
    with progress.progress_bar("shards", 2) as advance:
        advance()
        advance()
    with progress.step_progress("train.pretrain", 4) as update:
        update(2, loss=1.23456, tokens_per_s=1234.4)
        update(4)
    out = terminal.getvalue()
    assert "lsh bands" in out and "3/3" in out and "shards" in out and "2/2" in out
    assert "step 4/4" in out and "loss 1.235" in out and "1,234 tokens/s" in out
    monkeypatch.setenv("MIXLOOM_QUIET", "1")
    terminal.truncate(0)
    assert list(progress.track([5, 6], "quiet")) == [5, 6]
    with progress.step_progress("quiet", 2) as update:
        update(1, loss=0.5)
    assert terminal.getvalue().strip("\x00") == ""


def test_stage_defaults(tmp_path):
    from mixloom.recipe import parse_recipe
    from mixloom.stage import Stage

    class Bare(Stage):
        name = "generate"

    r = parse_recipe({"name": "r", "seed": 3}, tmp_path / "r.yaml")
    s, lay = Bare(), RunLayout(tmp_path)
    assert not s.enabled(r) and s.section(r, lay) == {"section": None, "seed": 3}
    assert s.validate(r) is None and s.reads(r) == [] and s.report(lay) == [] and s.summary({"x": 1}) == ""
    with pytest.raises(NotImplementedError):
        s.run(r, lay)
