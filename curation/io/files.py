"""Finding a source's files: paths, globs and directories, with what cannot be read reported, never skipped."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from mixloom import storage
from mixloom.errors import RecipeError
from mixloom.storage import is_url

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
    if any(is_url(p) for p in pats) or is_url(root):
        return expand_urls(pats, root, fmt, recipe, where)
    files: set[Path] = set()
    for pat in pats:
        p = storage.path(pat).expanduser()  # file:///x is the local /x
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
            found = [f for f in walk_dir(full, recipe, where) if fmt is None or infer_format(f) == fmt]
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
    resolved = sorted({f.resolve() for f in files})
    for f in resolved:
        check_readable(f, recipe, where)
    return resolved


def expand_urls(pats: list[str], root: Path, fmt: str | None, recipe: str, where: str) -> list[Path]:
    """URL patterns (s3://bucket/prefix/*.jsonl, a prefix as a directory, one object) → sorted objects."""
    found: set[str] = set()
    for pat in pats:
        url = pat if is_url(pat) else f"{str(root).rstrip('/')}/{pat}"
        fs, p = storage.fs_path(url)
        proto = url.split("://", 1)[0]
        with storage.guard(url):
            if glob.has_magic(p):
                matches = [m for m in fs.glob(p) if fs.isfile(m)]
                if not matches:
                    raise RecipeError(
                        recipe,
                        where,
                        f"no objects match '{url}'",
                        "check the pattern, the bucket and the prefix",
                    )
            elif fs.isdir(p):
                matches = [
                    m
                    for m in fs.find(p)
                    if not any(part.startswith(".") for part in m[len(p) :].split("/"))
                    and (fmt is None or infer_format(Path(m)) == fmt)
                ]
                if not matches:
                    raise RecipeError(recipe, where, f"'{url}' holds no {fmt or 'readable'} files")
            elif fs.isfile(p):
                matches = [p]
            else:
                if "/" in p.strip("/") and proto in ("s3", "s3a", "gs", "gcs"):
                    bucket = p.split("/", 1)[0]
                    try:
                        fs.info(bucket)  # fails loudly where isdir/isfile said False (no bucket, no access)
                    except FileNotFoundError:
                        raise RecipeError(
                            recipe,
                            where,
                            f"bucket '{bucket}' does not exist ({url})",
                            "create it or fix the URL",
                        ) from None
                raise RecipeError(
                    recipe,
                    where,
                    f"not found: {url}",
                    "check the bucket, the key and the credentials' access",
                )
        found.update(f"{proto}://{m}" for m in matches)
    return [storage.path(u) for u in sorted(found)]


def walk_dir(root: Path, recipe: str, where: str) -> list[Path]:
    """Every non-hidden file under `root`, following symlinked directories (each real directory once).

    A directory that cannot be listed or a link that points nowhere is an error naming it: skipping it would
    silently leave its files out of the run and out of the manifest's inputs.
    """
    found: list[Path] = []
    seen: set[str] = set()

    def fail(e: OSError) -> None:
        raise RecipeError(
            recipe,
            where,
            f"cannot read directory {e.filename}: {e.strerror}",
            "fix its permissions, or list the readable paths explicitly",
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back to a directory already walked (or a loop)
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if not p.exists():
                raise RecipeError(
                    recipe, where, f"broken link {p} -> {os.readlink(p)}", "remove or fix the link"
                )
            if p.is_file():
                found.append(p)
    return found


def check_readable(path: Path, recipe: str, where: str) -> None:
    """Open the file now: a permission problem is a recipe error before work, not a traceback mid-run."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise RecipeError(
            recipe, where, f"cannot read {path}: {e.strerror}", "fix its permissions or leave it out"
        ) from None
