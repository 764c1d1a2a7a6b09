"""Manifests, checksums and stable hashes: the contract between stages and the key for caching."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xxhash

from mixloom import storage

MANIFEST = "manifest.json"


def stable_hash(obj: Any) -> str:
    """Hash of a JSON-able object, independent of key order (used for recipe sections and cache keys)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_checksum(path: str | Path, chunk: int = 1 << 20) -> str:
    """Fast content checksum of a file (xxh3-128; inputs can be many GB; a URL is streamed)."""
    h = xxhash.xxh3_128()
    with (
        storage.guard(path),
        storage.path(path).open("rb") if storage.is_url(path) else open(path, "rb") as f,
    ):
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_entry(path: str | Path, checksum: bool = True) -> dict[str, Any]:
    """A manifest entry for one file: path, size and checksum.

    An object in object storage is identified by the store's own version tag (`etag`: S3's ETag, GCS's
    md5/crc, the Hub's blob id) where it has one, instead of streaming the whole corpus through the driver
    first; the read tasks hash the bytes they actually read."""
    p = storage.path(path)
    if storage.is_url(p):
        with storage.guard(p):
            info = p.fs.info(p.path)
        entry: dict[str, Any] = {"path": str(p), "bytes": info["size"]}
        if checksum and (tag := storage.version_tag(info)):
            entry["etag"] = tag
        elif checksum:
            entry["xxh3_128"] = file_checksum(p)
        return entry
    entry = {"path": str(p), "bytes": p.stat().st_size}
    if checksum:
        entry["xxh3_128"] = file_checksum(p)
    return entry


def code_version() -> str:
    """mixloom version plus the git commit when run from a checkout (part of every cache key)."""
    from mixloom import __version__

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{__version__}+{sha}" if sha else __version__
    except (OSError, subprocess.SubprocessError):
        return __version__


def package_versions(names: list[str]) -> dict[str, str]:
    """Installed versions of the named distributions ('absent' when not installed)."""
    out = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = "absent"
    return out


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """The one atomic write: yields a temp path beside `path` to write to, then renames it over `path`, so a
    crash (or a reader at the same moment) never sees a half-written file; on error the temp file is removed.

    On object storage (a URL) there is no rename: the temp file is local and is uploaded when complete (an
    object appears whole or not at all)."""
    if storage.is_url(path):
        with tempfile.TemporaryDirectory(prefix="mixloom-upload-") as d:
            tmp = Path(d) / storage.path(path).name
            yield tmp
            storage.put(tmp, path)
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return storage.path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def stage_header(
    recipe: Any, stage: str, section: Any, packages: list[str] | None = None, inputs: list | None = None
) -> dict[str, Any]:
    """The fields every stage's manifest.json starts with: which stage, recipe, seed and section (with its
    hash), the code and package versions, and the input files with checksums, so any output can be traced."""
    head = {
        "stage": stage,
        "recipe": str(recipe.path),
        "recipe_name": recipe.name,
        "seed": recipe.seed,
        "section": section,
        "section_hash": stable_hash(section),
        "code_version": code_version(),
    }
    if packages:
        head["packages"] = package_versions(packages)
    if inputs is not None:
        head["inputs"] = [file_entry(f) for f in inputs]
    return head


def write_manifest(out_dir: str | Path, data: dict[str, Any]) -> Path:
    path = storage.path(out_dir) / MANIFEST
    write_json_atomic(path, data)
    return path


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    from mixloom.errors import UserError

    path = storage.path(out_dir) / MANIFEST
    if not path.exists():
        raise UserError(f"{path}: no manifest here; run the stage that writes this directory first")
    return json.loads(path.read_text())
