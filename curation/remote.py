"""Global steps on a run directory in object storage.

A step's `reduce(paths, workdir)` and `apply(df, artifacts)` use local file APIs (Polars scans, numpy loads).
On a run in object storage the driver copies the step's map tables (keys per document, not documents) to a
local temp folder, reduces there, and uploads the artifacts next to the decisions; a shard task copies an
artifact once per worker process before `apply`. Local runs pass straight through.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mixloom import storage

_LOCAL: dict[str, Path] = {}  # artifact URL -> its local copy in this process


@contextmanager
def reduce_into(step: Any, maps: list[Path], workdir: Path) -> Iterator[Any]:
    """`step.reduce(maps, workdir)`; with a URL workdir, staged locally and its artifacts uploaded to it."""
    if not storage.is_url(workdir):
        yield step.reduce(maps, workdir)
        return
    with tempfile.TemporaryDirectory(prefix="mixloom-reduce-") as d:
        local_maps = []
        for i, m in enumerate(maps):
            dst = Path(d) / "maps" / f"{i:05d}-{storage.path(m).name}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            fs, p = storage.fs_path(m)
            with storage.guard(m):
                fs.get_file(p, str(dst))
            local_maps.append(dst)
        local_work = Path(d) / "reduce"
        reduced = step.reduce(local_maps, local_work)
        artifacts = {}
        for k, v in reduced.artifacts.items():
            v = Path(v)
            rel = v.relative_to(local_work) if v.is_relative_to(local_work) else Path(v.name)
            dest = storage.path(workdir) / str(rel)
            if v.is_dir():
                for f in sorted(v.rglob("*")):
                    if f.is_file():
                        storage.put(f, dest / str(f.relative_to(v)))
            elif v.exists():
                storage.put(v, dest)
            artifacts[k] = dest
        yield replace(reduced, artifacts=artifacts)


def local_artifacts(artifacts: dict[str, Any]) -> dict[str, Path]:
    """Artifacts as local paths: a URL is copied once per worker process (a file or a folder)."""
    out: dict[str, Path] = {}
    for k, v in artifacts.items():
        if not storage.is_url(v):
            out[k] = Path(v)
            continue
        url = str(v)
        if url not in _LOCAL or not _LOCAL[url].exists():
            root = Path(tempfile.mkdtemp(prefix="mixloom-artifact-"))  # this process's own: no races
            fs, p = storage.fs_path(url)
            dst = root / storage.path(url).name
            with storage.guard(url):
                if fs.isdir(p):
                    fs.get(p.rstrip("/") + "/", str(dst), recursive=True)
                elif fs.exists(p):
                    fs.get_file(p, str(dst))
            _LOCAL[url] = dst
        out[k] = _LOCAL[url]
    return out
