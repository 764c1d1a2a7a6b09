"""Finding a source's files and opening them through their compression."""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
from pathlib import Path
from typing import BinaryIO

import zstandard

from mixloom.errors import RecipeError

COMPRESSIONS = (".gz", ".zst", ".zstd", ".bz2", ".xz")
SUFFIX_FORMAT = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
    ".md": "text",
    ".text": "text",
}


def strip_compression(name: str) -> str:
    for c in COMPRESSIONS:
        if name.endswith(c):
            return name[: -len(c)]
    return name


def infer_format(path: Path) -> str | None:
    return SUFFIX_FORMAT.get(Path(strip_compression(path.name)).suffix.lower())


def expand_paths(
    patterns: str | list[str], root: Path, fmt: str | None, recipe: str, where: str
) -> list[Path]:
    """A source's path(s) → sorted, de-duplicated files. Directories are walked for files of the format."""
    pats = [patterns] if isinstance(patterns, str) else list(patterns)
    files: set[Path] = set()
    for pat in pats:
        p = Path(pat).expanduser()
        full = p if p.is_absolute() else root / p
        if glob.has_magic(str(full)):
            matches = [Path(m) for m in glob.glob(str(full), recursive=True)]
            found = [m for m in matches if m.is_file()]
            if not found:
                raise RecipeError(
                    recipe,
                    where,
                    f"no files match '{pat}' (looked in {full.parent})",
                    "check the pattern; relative paths start at the recipe's base_dir",
                )
            files.update(found)
        elif full.is_dir():
            found = [
                f
                for f in full.rglob("*")
                if f.is_file() and not f.name.startswith(".") and (fmt is None or infer_format(f) == fmt)
            ]
            if not found:
                raise RecipeError(recipe, where, f"directory '{full}' holds no {fmt or 'readable'} files")
            files.update(found)
        elif full.is_file():
            files.add(full)
        else:
            raise RecipeError(
                recipe,
                where,
                f"file not found: {full}",
                "check the path; relative paths start at the recipe's base_dir",
            )
    return sorted(f.resolve() for f in files)


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading bytes, decompressing .gz/.zst/.bz2/.xz transparently (streaming)."""
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith((".zst", ".zstd")):
        fh = open(path, "rb")  # noqa: SIM115 - closed by the reader's wrapper
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))  # type: ignore[arg-type]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".xz"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115
