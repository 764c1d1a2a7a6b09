"""Curation on a real 3-node Ray cluster, from s3:// to s3:// (moto's S3 server on loopback).

The head node has no CPUs, so every shard task runs on one of the two worker nodes, and those cannot see the
driver's local folder (a private tmpfs over it in their mount namespace). The outputs must equal a local
executor's run object for object; with one worker node killed mid-run, Ray reruns its tasks on the other and
the outputs are still identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from tests import cloud
from tests.raycluster import ray_cluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3():
    import s3fs

    with cloud.moto_s3() as env, pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = cloud.s3fs_client()
        fs.mkdir("runs")
        cloud.upload_bloomberg(fs)
        yield env, fs
        s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def reference(s3, tmp_path_factory):
    """The same recipe, S3 to S3, with the local executor: the bytes the cluster must reproduce."""
    env, fs = s3
    recipe = tmp_path_factory.mktemp("ref") / "r.yaml"
    recipe.write_text(yaml.safe_dump(cloud.bloomberg_recipe(cloud.S3_PATHS, shard_docs=150), sort_keys=False))
    r = _curate(recipe, "s3://runs/local", env, "local", workers=2)  # two worker processes reading S3
    assert r.returncode == 0, r.stderr[-3000:]
    return recipe, cloud.tree(fs, "runs/local"), json.loads(fs.cat_file("runs/local/manifest.json"))


@pytest.fixture(scope="module")
def cluster(s3, tmp_path_factory):
    hidden = tmp_path_factory.mktemp("driver")  # the driver's TMPDIR: invisible to the worker nodes
    with ray_cluster(s3[0], hidden) as c:
        c.hidden = hidden
        yield c


def _curate(
    recipe, out: str, env: dict, executor: str, workers: int = 2, **popen
) -> subprocess.CompletedProcess | subprocess.Popen:
    args = [sys.executable, "-m", "mixloom.cli", "curate", str(recipe), "--out", out, "--executor", executor]
    args += ["--workers", str(workers)]
    if popen:
        return subprocess.Popen(args, cwd=cloud.ROOT, env=cloud.env_with(env), **popen)
    return subprocess.run(
        args, cwd=cloud.ROOT, env=cloud.env_with(env), capture_output=True, text=True, timeout=900
    )


def _same(fs, run: str, reference) -> None:
    _, objects, manifest = reference
    got = cloud.tree(fs, run)
    assert sorted(got) == sorted(objects)
    assert [k for k in got if got[k] != objects[k]] == []
    assert cloud.comparable_manifest(
        json.loads(fs.cat_file(f"{run}/manifest.json"))
    ) == cloud.comparable_manifest(manifest)


def test_cluster_run_equals_local_run(s3, reference, cluster):
    env, fs = s3
    before = set(os.listdir(cloud.ROOT))
    r = _curate(reference[0], "s3://runs/cluster", {**cluster.env, "TMPDIR": str(cluster.hidden)}, "ray")
    assert r.returncode == 0, r.stderr[-3000:]
    _same(fs, "runs/cluster", reference)
    manifest = json.loads(fs.cat_file("runs/cluster/manifest.json"))
    assert manifest["executor"]["kind"] == "ray"
    assert set(os.listdir(cloud.ROOT)) == before  # nothing written beside the code either
    assert list(cluster.hidden.iterdir()) == []  # the driver's staging files are gone too


def test_worker_node_killed_mid_run(s3, reference, cluster, tmp_path):
    env, fs = s3
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = _curate(
            reference[0], "s3://runs/killed", {**cluster.env, "TMPDIR": str(cluster.hidden)}, "ray",
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if any(p.endswith(".done.json") and "/pass0-" in p for p in fs.find("runs/killed")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()[-3000:]
        cluster.kill_worker(0)
        assert not fs.exists("runs/killed/manifest.json")  # the node died mid-run
        rc = proc.wait(timeout=900)
    assert rc == 0, log.read_text()[-3000:]
    assert cluster.alive_nodes() == 2  # the run finished on the head and the one worker node left
    _same(fs, "runs/killed", reference)


def test_local_run_dir_on_a_cluster_is_refused(s3, reference, cluster, tmp_path):
    """The bug this guards against: tasks on other nodes writing a driver-local directory onto their own disks."""
    r = _curate(reference[0], str(tmp_path / "run"), cluster.env, "ray")
    assert r.returncode == 2, r.stderr[-3000:]
    assert re.search(r"a local directory, but the Ray cluster at RAY_ADDRESS has [23] nodes", r.stderr)
    assert "--out s3://bucket/run" in r.stderr


def _readme_commands() -> list[str]:
    text = (cloud.ROOT / "README.md").read_text()
    section = text.split("## Run on a cluster", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("mixloom ")]


def test_readme_cluster_commands(s3, cluster):
    """The README's commands as written: the recipe's sources and run directory in s3://mixloom-example."""
    env, fs = s3
    fs.mkdir("mixloom-example")
    for src, key in [
        ("finance/fiqa_posts.json", "fiqa_posts.json"),
        ("finance/semeval2017_task5_headlines.json", "semeval2017_task5_headlines.json"),
        ("wikitext2/wiki_valid_sample.txt", "wikitext2/wiki_valid_sample.txt"),
    ]:
        fs.put_file(str(cloud.DATA / src), f"mixloom-example/bloomberg/{key}")
    cmds = _readme_commands()
    assert [c.split()[1] for c in cmds] == ["curate", "stats"]
    py = f"{sys.executable} -m mixloom.cli"
    for cmd in cmds:
        r = subprocess.run(
            cmd.replace("mixloom ", f"{py} ", 1), shell=True, cwd=cloud.ROOT, env=cloud.env_with(cluster.env),
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert r.returncode == 0, (cmd, r.stderr[-3000:])
        assert "Traceback" not in r.stdout + r.stderr
    m = json.loads(fs.cat_file("mixloom-example/runs/bloomberg/manifest.json"))
    assert m["executor"]["kind"] == "ray" and m["curated"]["docs"] > 1000
    assert fs.exists("mixloom-example/runs/bloomberg/mix/train/part-00000.parquet")
    assert "funnel" in r.stdout.lower() or "step" in r.stdout.lower()  # the stats tables


def test_worker_nodes_really_cannot_see_the_driver_disk(reference, cluster):
    """The control that makes the tests above mean something: forced to use a run directory in the driver's
    hidden folder (MIXLOOM_SHARED_DIR=1 overrides the refusal), the worker nodes write into their own private
    tmpfs and the driver never sees their shards, so the run fails."""
    out = cluster.hidden / "run"
    env = {**cluster.env, "MIXLOOM_SHARED_DIR": "1"}
    r = _curate(reference[0], str(out), env, "ray")
    assert r.returncode != 0
    assert "No such file or directory" in r.stderr and "/_work/" in r.stderr  # what a node wrote
    assert not (out / "manifest.json").exists()
    shutil.rmtree(out, ignore_errors=True)
