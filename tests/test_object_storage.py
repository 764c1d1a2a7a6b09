"""Curation on object storage: a real S3 server (moto, on loopback) used through s3fs, local executor.

The same recipe written to s3:// and to a local folder gives the same bytes in every output object; sources
may be S3 globs, prefixes and objects; every storage mistake is one line naming the URL and the fix; a run
killed on S3 resumes to the same outputs; two runs on one prefix cannot both hold it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import polars as pl
import pytest
import yaml

from tests import cloud


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server; its AWS_* environment is set for this process and for the CLI subprocesses."""
    import s3fs

    with cloud.moto_s3() as env, pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()  # a filesystem of an earlier server has its endpoint
        fs = cloud.s3fs_client()
        fs.mkdir("runs")
        cloud.upload_bloomberg(fs)
        yield env, fs
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The reference: the recipe with local sources into a local folder (recipe path, manifest, folder)."""
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("local")
    recipe = _recipe(tmp, cloud.LOCAL_PATHS)
    return recipe, curate(load_recipe(recipe), out=tmp / "run", executor="local", workers=1), tmp / "run"


def _recipe(tmp_path, paths, name="r.yaml", **over) -> str:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cloud.bloomberg_recipe(paths, **over), sort_keys=False))
    return str(p)


def _cli(args: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mixloom.cli", *args],
        cwd=cloud.ROOT,
        env=cloud.env_with(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _manifest(fs, run: str) -> dict:
    return json.loads(fs.cat_file(f"{run}/manifest.json"))


def test_s3_run_equals_local_run_byte_for_byte(s3, local_run):
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    _, fs = s3
    recipe, local, local_dir = local_run
    remote = curate(load_recipe(recipe), out="s3://runs/bloomberg", executor="local", workers=1)
    a, b = cloud.tree(fs, "runs/bloomberg"), cloud.local_tree(local_dir)
    assert sorted(a) == sorted(b)
    assert any(k.startswith("mix/train/") for k in a) and any(k.startswith("rejects/") for k in a)
    assert [k for k in a if a[k] != b[k]] == []
    assert cloud.comparable_manifest(remote) == cloud.comparable_manifest(local)
    assert cloud.comparable_manifest(_manifest(fs, "runs/bloomberg")) == cloud.comparable_manifest(local)
    assert not fs.exists("runs/bloomberg/.lock")  # released
    assert fs.exists("runs/bloomberg/output.log")


def test_sources_on_s3_glob_prefix_and_object(s3, local_run, tmp_path):
    """Sources read from S3 (streamed) give the same documents as the local files, checksums included."""
    from curation.pipeline import curate
    from mixloom.manifest import file_checksum
    from mixloom.recipe import load_recipe

    m = curate(
        load_recipe(_recipe(tmp_path, cloud.S3_PATHS)), out="s3://runs/from-s3", executor="local", workers=1
    )
    local = local_run[1]
    assert [i["path"] for i in m["inputs"]] == [
        "s3://corpus/finance/fiqa_posts.json",
        "s3://corpus/finance/headlines.json",
        "s3://corpus/wiki/wiki_valid_sample.txt",
    ]
    # identified by the store's ETag before the run (no extra pass over the corpus), hashed as read
    assert all(i["etag"].startswith("ETag:") and "changed_while_read" not in i for i in m["inputs"])
    assert [i["xxh3_128"] for i in m["inputs"]] == [i["xxh3_128"] for i in local["inputs"]]
    assert m["inputs"][0]["xxh3_128"] == file_checksum(cloud.DATA / "finance/fiqa_posts.json")
    assert m["curated"] == local["curated"] and m["rejected"] == local["rejected"]
    # ids and origins name the file (here a URL), so compare the documents themselves
    fs = s3[1]
    texts = sorted(t for f in fs.glob("runs/from-s3/curated/*.parquet") for t in _texts(fs, f))
    assert texts == sorted(
        t for f in (local_run[2] / "curated").glob("*.parquet") for t in pl.read_parquet(f)["text"]
    )


def _texts(fs, key: str) -> list[str]:
    with fs.open(key, "rb") as f:
        return pl.read_parquet(f)["text"].to_list()


def test_storage_mistakes_are_one_line(s3, tmp_path, monkeypatch):
    import s3fs

    from curation.pipeline import curate
    from mixloom.errors import UserError
    from mixloom.recipe import load_recipe

    env, fs = s3
    recipe = _recipe(tmp_path, cloud.S3_PATHS)
    r = _cli(["curate", recipe, "--out", "s3://no-such-bucket/run"])
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "error: s3://no-such-bucket/run: bucket 'no-such-bucket' does not exist; create it or fix the URL"
    )
    assert not fs.exists("no-such-bucket")  # not created on the way

    def fails(paths: dict, match: str, out: str = "s3://runs/x") -> None:
        with pytest.raises(UserError, match=match) as e:
            curate(load_recipe(_recipe(tmp_path, paths, "bad.yaml")), out=out, workers=1)
        assert "\n" not in str(e.value)

    fails(
        {**cloud.S3_PATHS, "fiqa": "s3://corpus/finance/nothing*.json"},
        r"sources\.fiqa\.path.*no objects match",
    )
    fails(
        {**cloud.S3_PATHS, "headlines": "s3://corpus/finance/gone.json"},
        "not found: s3://corpus/finance/gone",
    )
    fails({**cloud.S3_PATHS, "wiki": "s3://nobucket/wiki"}, "bucket 'nobucket' does not exist")
    assert not fs.exists("runs/x/.lock")

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    s3fs.S3FileSystem.clear_instance_cache()
    fails(cloud.LOCAL_PATHS, r"s3://runs/x: no credentials for s3://.*AWS_ACCESS_KEY_ID")
    fails(cloud.S3_PATHS, r"s3://corpus/finance/fiqa\*\.json: no credentials", out=str(tmp_path / "o"))

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{cloud.free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    fails(cloud.LOCAL_PATHS, "s3://runs/x: cannot reach the storage endpoint.*AWS_ENDPOINT_URL")
    s3fs.S3FileSystem.clear_instance_cache()


def test_two_runs_on_one_prefix(s3, tmp_path):
    """The lock is an object created only if absent: a live holder blocks, a dead one on this host does not."""
    from mixloom.runlock import run_lock

    _, fs = s3
    with run_lock("s3://runs/locked"):
        assert fs.exists("runs/locked/.lock")
        r = _cli(["curate", _recipe(tmp_path, cloud.LOCAL_PATHS), "--out", "s3://runs/locked"])
        assert r.returncode == 2 and "is in use by another run" in r.stderr, r.stderr
        assert f"pid {os.getpid()} on {socket.gethostname()}" in r.stderr
    assert not fs.exists("runs/locked/.lock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    held = {"pid": dead.pid, "host": socket.gethostname(), "started": time.time(), "command": "killed"}
    fs.pipe_file("runs/locked/.lock", json.dumps(held).encode())
    with run_lock("s3://runs/locked"):  # stale: taken over
        assert json.loads(fs.cat_file("runs/locked/.lock"))["pid"] == os.getpid()
    fs.pipe_file("runs/locked/.lock", json.dumps({**held, "host": "elsewhere"}).encode())
    with pytest.raises(Exception, match="delete s3://runs/locked/.lock"), run_lock("s3://runs/locked"):
        pass


@pytest.mark.slow
def test_s3_resume_after_kill(s3, tmp_path):
    """kill -9 mid-run, then the same command: the outputs equal an uninterrupted run's, object for object; a
    shard whose marker is missing (killed between its upload and its marker) is redone, not trusted."""
    env, fs = s3
    recipe = _recipe(tmp_path, cloud.S3_PATHS, shard_docs=100)
    r = _cli(["curate", recipe, "--out", "s3://runs/whole", "--workers", "2"])  # worker processes on S3 too
    assert r.returncode == 0, r.stderr[-2000:]
    whole = cloud.tree(fs, "runs/whole")

    proc = subprocess.Popen(
        [sys.executable, "-m", "mixloom.cli", "curate", recipe, "--out", "s3://runs/killed"],
        cwd=cloud.ROOT,
        env=cloud.env_with({}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        p.endswith(".done.json") and "/pass" in p for p in fs.find("runs/killed")
    ):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [p for p in fs.find("runs/killed") if p.endswith(".done.json")]
    assert done and not fs.exists("runs/killed/manifest.json")  # killed mid-run
    # a task killed after its upload but before its marker: the object is there, the marker is not
    victim = sorted(p for p in done if "/pass" in p)[0]
    fs.rm_file(victim)
    fs.pipe_file(victim.replace(".done.json", ".parquet"), b"not parquet: must be rewritten")

    r = _cli(["curate", recipe, "--out", "s3://runs/killed"])  # the stale lock of the dead pid is taken over
    assert r.returncode == 0, r.stderr[-2000:]
    again = cloud.tree(fs, "runs/killed")
    assert sorted(again) == sorted(whole) and [k for k in again if again[k] != whole[k]] == []
    assert cloud.comparable_manifest(_manifest(fs, "runs/killed")) == cloud.comparable_manifest(
        _manifest(fs, "runs/whole")
    )


def test_mixloom_run_on_s3(s3, tmp_path):
    """`mixloom run --out s3://...`: curation runs there (state and lock included); a stage that needs a local
    directory is named in one line before any work."""
    from mixloom.errors import UserError
    from mixloom.orchestrator import run_recipe
    from mixloom.recipe import load_recipe

    _, fs = s3
    quick = load_recipe(cloud.ROOT / "recipes/quickstart.yaml")
    with pytest.raises(
        UserError, match=r"s3://runs/q: stage\(s\) generate, train.*: needs a local run directory"
    ):
        run_recipe(quick, out="s3://runs/q")
    assert not fs.exists("runs/q")  # nothing written
    small = {
        "name": "small",
        "base_dir": str(cloud.ROOT),
        "sources": {"h": {**cloud.bloomberg_recipe(cloud.S3_PATHS)["sources"]["headlines"]}},
        "steps": [{"dedup": {"method": "exact"}}],
    }
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(small))
    summary = run_recipe(load_recipe(p), out="s3://runs/small")
    assert summary["curate"].startswith("ran") and "object storage" in summary["report"]
    state = json.loads(fs.cat_file("runs/small/.mixloom-state.json"))
    assert "curate" in state and not fs.exists("runs/small/.lock")
    assert run_recipe(load_recipe(p), out="s3://runs/small")["curate"] == "cached"


def test_any_fsspec_filesystem(tmp_path):
    """Nothing is S3-specific: a run on fsspec's in-memory filesystem (no buckets), augmentation included, gives
    the local bytes."""
    import fsspec

    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    small = {
        "name": "small",
        "base_dir": str(cloud.ROOT),
        "sources": {"h": {**cloud.bloomberg_recipe(cloud.LOCAL_PATHS)["sources"]["headlines"]}},
        # global steps whose reduce runs on the driver and whose artifacts the next pass's tasks read
        "steps": [
            {"normalize": {"form": "NFKC"}},
            {"line_dedup": {"min_repeats": 3}},
            {"dedup": {"method": "minhash", "threshold": 0.8}},
        ],
        "augment": {
            "max_augmented_share": {"financial": 0.15},
            "word_replace": {"sources": ["h"], "copies": 2},
        },
        "mix": {"budget": "max", "shares": {"financial": 1.0}, "max_epochs": 3},
    }
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(small))
    local = curate(load_recipe(p), out=tmp_path / "run", workers=1)
    mem = curate(load_recipe(p), out="memory://runs/small", workers=1)  # one process: memory is per process
    fs = fsspec.filesystem("memory")
    a, b = cloud.tree(fs, "/runs/small"), cloud.local_tree(tmp_path / "run")
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
    assert cloud.comparable_manifest(mem) == cloud.comparable_manifest(local)
    assert mem["augment"]["total"] > 0  # the augment phase ran on the fsspec run directory too
    assert fs.glob(
        "/runs/small/_work/pass*/reduce/boilerplate_lines.parquet"
    )  # an artifact in the run storage
    fs.rm("/runs/small", recursive=True)


def test_filesystem_not_installed_is_one_line():
    from mixloom import storage
    from mixloom.errors import UserError

    with pytest.raises(
        UserError, match=r"^foo://x/run: Unsupported filesystem.*install the filesystem for 'foo://'"
    ):
        storage.path("foo://x/run")
    assert storage.path("file:///tmp/x") == storage.path("/tmp/x")  # file:// is a local path
    assert not storage.is_url("/tmp/s3://x") and storage.is_url("s3://b/k")


def test_wrong_credentials(tmp_path, monkeypatch):
    """A server that checks keys (moto with authentication on) refuses ours: one line, for --out and sources."""
    import s3fs

    from curation.pipeline import curate
    from mixloom.errors import UserError
    from mixloom.recipe import load_recipe

    with cloud.moto_s3(check_credentials=True) as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()
        try:
            local = load_recipe(_recipe(tmp_path, cloud.LOCAL_PATHS))
            with pytest.raises(UserError, match=r"^s3://runs/x: access denied .*check the credentials"):
                curate(local, out="s3://runs/x", workers=1)
            remote = load_recipe(_recipe(tmp_path, cloud.S3_PATHS, "s.yaml"))
            with pytest.raises(UserError, match=r"^s3://corpus/finance/fiqa\*\.json: access denied"):
                curate(remote, out=tmp_path / "o", workers=1)
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
