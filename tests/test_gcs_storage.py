"""Curation on Google Cloud Storage through fsspec (gcsfs), against a real GCS API server on loopback
(`gcp-storage-emulator`, a pure-Python implementation of the JSON API), local executor.

The emulator and the endpoint reach gcsfs only the standard way (`STORAGE_EMULATOR_HOST`, as Google's own
clients read it); nothing is passed in a recipe. The same recipe from gs:// to gs:// and from local files to a
local folder gives the same bytes in every output object.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml

from tests import cloud

GS_PATHS = {
    "fiqa": "gs://corpus/finance/fiqa*.json",  # a glob
    "headlines": "gs://corpus/finance/headlines.json",  # one object
    "wiki": "gs://corpus/wiki",  # a prefix, walked like a directory
}


def gcs_env(port: int) -> dict[str, str]:
    return {
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
        # no credentials anywhere (gcsfs then falls back to anonymous access, which the emulator accepts);
        # skip the probe of the GCE metadata server, which does not exist here
        "NO_GCE_CHECK": "true",
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        # gcsfs's default filesystem first asks the gRPC storage-control API whether a bucket is zonal; the
        # emulator speaks only the JSON API, so each bucket would cost a 60 s timeout: use the plain one
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }


@contextmanager
def gcs_emulator() -> Iterator[dict[str, str]]:
    """gcp-storage-emulator in its own process on a free loopback port, in memory; yields its environment."""
    pytest.importorskip("gcsfs", reason="gcsfs is not installed (pip install 'mixloom[gcs]')")
    pytest.importorskip(
        "gcp_storage_emulator", reason="gcp-storage-emulator is not installed (the dev extra)"
    )
    port = cloud.free_port()
    cmd = [
        sys.executable,
        "-m",
        "gcp_storage_emulator",
        "start",
        "-H",
        "127.0.0.1",
        "--port",
        str(port),
        "-M",
        "-q",
    ]
    with cloud.local_server(cmd, port, "gcp-storage-emulator"):
        yield gcs_env(port)


@pytest.fixture(scope="module")
def gcs():
    with gcs_emulator() as env:
        r = subprocess.run(
            [sys.executable, "-c", _UPLOAD, str(cloud.DATA)],
            env=cloud.env_with(env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        yield env


# in a child process: gcsfs reads GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT when it is imported
_UPLOAD = """
import sys, gcsfs
data = sys.argv[1]
fs = gcsfs.GCSFileSystem()
for b in ("corpus", "runs"):
    fs.mkdir(b)
fs.put_file(f"{data}/finance/fiqa_posts.json", "corpus/finance/fiqa_posts.json")
fs.put_file(f"{data}/finance/semeval2017_task5_headlines.json", "corpus/finance/headlines.json")
fs.put_file(f"{data}/wikitext2/wiki_valid_sample.txt", "corpus/wiki/wiki_valid_sample.txt")
"""

_TREE = """
import json, sys, gcsfs
sys.path.insert(0, sys.argv[2])
from tests import cloud
fs = gcsfs.GCSFileSystem()
root = sys.argv[1]
t = cloud.tree(fs, root)
print(json.dumps({"tree": {k: v.hex() for k, v in t.items()}, "manifest": json.loads(fs.cat_file(root + "/manifest.json")),
                  "lock": fs.exists(root + "/.lock")}))
"""


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mixloom.cli", *args],
        cwd=cloud.ROOT,
        env=cloud.env_with(env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _texts(tree: dict[str, bytes]) -> list[str]:
    import io

    import polars as pl

    return sorted(
        t for k, v in tree.items() if k.startswith("curated/") for t in pl.read_parquet(io.BytesIO(v))["text"]
    )


@pytest.mark.slow  # three runs, about 40 s on a shared 2-core machine
def test_gs_run_equals_local_run_byte_for_byte(gcs, tmp_path):
    """Sources on gs:// (a glob, an object, a prefix) and the run directory on gs://, through the CLI, with two
    worker processes: every object equals the local run directory's file of the same recipe; the documents
    equal those read from the local copies of the sources (ids and origins name the files, so those differ)."""
    import json

    local_recipe = tmp_path / "local.yaml"
    local_recipe.write_text(yaml.safe_dump(cloud.bloomberg_recipe(cloud.LOCAL_PATHS), sort_keys=False))
    gs_recipe = tmp_path / "gs.yaml"
    gs_recipe.write_text(yaml.safe_dump(cloud.bloomberg_recipe(GS_PATHS), sort_keys=False))

    for recipe, out, workers in [
        (local_recipe, str(tmp_path / "files"), "1"),
        (gs_recipe, str(tmp_path / "run"), "1"),
        (gs_recipe, "gs://runs/bloomberg", "2"),
    ]:
        # a short lease: the lock object on gs:// is refreshed many times during the run
        r = _cli(
            ["curate", str(recipe), "--out", out, "--workers", workers], {**gcs, "MIXLOOM_LOCK_LEASE_S": "2"}
        )
        assert r.returncode == 0, r.stderr[-3000:]
    got = subprocess.run(
        [sys.executable, "-c", _TREE, "runs/bloomberg", str(cloud.ROOT)],
        env=cloud.env_with(gcs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr[-2000:]
    out = json.loads(got.stdout)
    remote = {k: bytes.fromhex(v) for k, v in out["tree"].items()}
    local = cloud.local_tree(tmp_path / "run")
    assert sorted(remote) == sorted(local)
    assert any(k.startswith("mix/train/") for k in remote) and any(k.startswith("rejects/") for k in remote)
    assert [k for k in remote if remote[k] != local[k]] == []
    local_manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert cloud.comparable_manifest(out["manifest"]) == cloud.comparable_manifest(local_manifest)
    assert [i["path"] for i in out["manifest"]["inputs"]] == [
        "gs://corpus/finance/fiqa_posts.json",
        "gs://corpus/finance/headlines.json",
        "gs://corpus/wiki/wiki_valid_sample.txt",
    ]
    assert all(i["etag"].startswith("etag:") for i in out["manifest"]["inputs"])  # the store's identity
    files = json.loads((tmp_path / "files/manifest.json").read_text())
    assert [i["xxh3_128"] for i in out["manifest"]["inputs"]] == [i["xxh3_128"] for i in files["inputs"]]
    assert out["manifest"]["curated"] == files["curated"] and out["manifest"]["rejected"] == files["rejected"]
    assert _texts(remote) == _texts(cloud.local_tree(tmp_path / "files"))
    assert not out["lock"]  # released


def test_gs_missing_bucket_is_one_line(gcs, tmp_path):
    recipe = tmp_path / "gs.yaml"
    recipe.write_text(yaml.safe_dump(cloud.bloomberg_recipe(GS_PATHS), sort_keys=False))
    r = _cli(["curate", str(recipe), "--out", "gs://no-such-bucket/run"], gcs)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == [
        "error: gs://no-such-bucket/run: bucket 'no-such-bucket' does not exist; create it or fix the URL"
    ]
    assert "Traceback" not in r.stderr
