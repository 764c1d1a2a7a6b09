"""Real object storage for the tests: moto's S3 server on loopback, used through s3fs like any S3 endpoint.

Credentials and the endpoint reach mixloom only the standard way (AWS_* environment variables), as they
would on a real cluster; nothing is passed in a recipe.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
BUCKET = "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_env(port: int) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def local_server(cmd: list[str], port: int, name: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """A server process for the block, listening on `port` of loopback once the block starts."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{name} did not start on port {port}") from None
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def moto_s3(check_credentials: bool = False) -> Iterator[dict[str, str]]:
    """moto's S3 server in its own process on a free loopback port for the block; yields its AWS_* environment.

    A process of its own: the server does not share the test's interpreter (GIL) with the run it serves, and
    worker nodes of a Ray cluster reach it like any S3 endpoint."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'mixloom[cloud]')")
    pytest.importorskip("moto.server", reason="moto[server] is not installed (the dev extra)")
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    # with check_credentials, moto verifies every request's key like S3 does (ours are unknown to it)
    env = {**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if check_credentials else {})}
    with local_server(cmd, port, "moto S3 server", env):
        yield s3_env(port)


def s3fs_client():
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True, use_listings_cache=False)


def upload_bloomberg(fs, bucket: str = BUCKET) -> dict[str, str]:
    """The bloomberg_style sources in a bucket (the JSON files under one prefix, WikiText under another)."""
    fs.mkdir(bucket)
    fs.put_file(str(DATA / "finance/fiqa_posts.json"), f"{bucket}/finance/fiqa_posts.json")
    fs.put_file(str(DATA / "finance/semeval2017_task5_headlines.json"), f"{bucket}/finance/headlines.json")
    fs.put_file(str(DATA / "wikitext2/wiki_valid_sample.txt"), f"{bucket}/wiki/wiki_valid_sample.txt")
    return S3_PATHS


S3_PATHS = {
    "fiqa": f"s3://{BUCKET}/finance/fiqa*.json",  # a glob
    "headlines": f"s3://{BUCKET}/finance/headlines.json",  # one object
    "wiki": f"s3://{BUCKET}/wiki",  # a prefix, walked like a directory
}


def bloomberg_recipe(paths: dict[str, str], shard_docs: int = 400) -> dict:
    """recipes/bloomberg_style.yaml's sources, steps and mix, with the sources at `paths` (URLs or files)."""
    return {
        "name": "bloomberg-s3",
        "base_dir": str(ROOT),
        "seed": 42,
        "sources": {
            "fiqa": {
                "path": paths["fiqa"],
                "format": "json",
                "text": "sentence",
                "id": "_key",
                "domain": "financial",
            },
            "headlines": {
                "path": paths["headlines"],
                "format": "json",
                "text": "title",
                "id": "id",
                "domain": "financial",
            },
            "wiki": {"path": paths["wiki"], "format": "text", "split_on": "blank_line", "domain": "general"},
        },
        "steps": [
            {"normalize": {"form": "NFKC"}},
            {"sql": "SELECT *, length(text) AS chars FROM docs WHERE length(text) >= 20"},
            {"polars": {"filter": "~pl.col('text').str.contains(r'^=+ .* =+$')", "reason": "polars:heading"}},
            {
                "language": {
                    "keep": ["en"],
                    "min_score": 0.5,
                    "candidates": ["en", "de", "fr", "es", "it", "nl", "pt"],
                }
            },
            {
                "quality": {
                    "rules": ["gopher_quality", "gopher_repetition"],
                    "apply_to": {"domains": ["general"]},
                    "overrides": {"gopher_quality.max_non_alpha_words_ratio": 0.65},
                }
            },
            {"dedup": {"method": "exact"}},
        ],
        "mix": {
            "unit": "tokens",
            "tokenizer": "data/tokenizers/bloomberg-bpe-8k",
            "tolerance": 0.005,
            "budget": "max",
            "shares": {"financial": 0.5127, "general": 0.4873},
            "sources": {"financial": {"fiqa": 0.8592, "headlines": 0.1408}, "general": {"wiki": 1.0}},
            "max_epochs": 4,
        },
        "splits": {"train": 0.98, "validation": 0.01, "test": 0.01},
        "execution": {"shard_docs": shard_docs},
    }


LOCAL_PATHS = {
    "fiqa": "data/finance/fiqa*.json",
    "headlines": "data/finance/semeval2017_task5_headlines.json",
    "wiki": "data/wikitext2/wiki_valid_sample.txt",
}

# run-dependent files: timings, absolute paths and the executor differ between runs by design
VOLATILE = {"manifest.json", "output.log", ".lock"}


def tree(fs, root: str) -> dict[str, bytes]:
    """Every object under `root` (an fsspec filesystem's path), by relative key, except `_work/`."""
    root = root.rstrip("/")
    out = {}
    for p in fs.find(root):
        rel = p[len(root) + 1 :]
        if not rel.startswith("_work/") and rel.rsplit("/", 1)[-1] not in VOLATILE:
            out[rel] = fs.cat_file(p)
    return out


def local_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not str(p.relative_to(root)).startswith("_work/") and p.name not in VOLATILE
    }


def comparable_manifest(m: dict) -> dict:
    """The manifest without what legitimately differs between runs (timings, paths, executor, packages)."""
    m = dict(m)
    for k in ("timings_s", "executor", "packages", "code_version"):
        m.pop(k, None)
    m["recipe"] = {k: v for k, v in m["recipe"].items() if k in ("curate_hash",)}
    m["inputs"] = [{k: v for k, v in i.items() if k not in ("path",)} for i in m["inputs"]]
    m["steps"] = [{k: v for k, v in s.items() if k != "seconds"} for s in m["steps"]]
    return m


def env_with(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    return env
