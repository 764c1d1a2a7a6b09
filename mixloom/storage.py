"""Paths that may be URLs: sources and run directories on object storage (`s3://`, `gs://`, `hf://`, anything
fsspec knows) or on local disk, with one set of helpers for both.

A local path stays a `pathlib.Path` (nothing changes for local runs); a URL becomes a `upath.UPath` (the
pathlib API over an fsspec filesystem), so `/`, `.name`, `.exists()`, `.glob()`, `.open()` work alike.
Credentials come only from each provider's standard environment and config (for S3: `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3` for other S3 servers, as
botocore reads them), never from a recipe.

Object storage has no rename: an object appears whole when its upload completes, or not at all. So the one
atomic write (`mixloom.manifest.atomic_path`) stages a file locally (one shard at most) and uploads it, and a
task's done marker is written after its outputs: a task killed mid-upload has no marker and is redone on resume.
Reading is streamed from the store (file objects); nothing copies a corpus to local disk.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

from mixloom.errors import UserError, first_line

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# listings are never cached: tasks in other processes and on other nodes write while the driver lists
_NO_LISTING_CACHE = {"s3", "s3a", "gs", "gcs"}


def is_url(p: Any) -> bool:
    """True for `s3://...`-style URLs (local `file://` ones count as local paths)."""
    s = str(p)
    return bool(_URL.match(s)) and not s.startswith("file://")


def path(p: str | Path) -> Path:
    """A path or URL → `Path` (local) or `UPath` (a URL, on its fsspec filesystem)."""
    if not is_url(p):
        s = str(p)
        return Path(s[len("file://") :] if s.startswith("file://") else s)
    if not isinstance(p, str) and hasattr(p, "fs"):
        return p  # already a UPath
    from upath import UPath

    s = str(p).rstrip("/")
    protocol = s.split("://", 1)[0].lower()
    opts = {"use_listings_cache": False} if protocol in _NO_LISTING_CACHE else {}
    try:
        u = UPath(s, **opts)
        u.fs  # noqa: B018 - loads the protocol's filesystem package now: a missing one is one line here
        return u
    except (ImportError, ValueError) as e:
        raise UserError(
            f"{s}: {first_line(e)} (install the filesystem for '{protocol}://', e.g. pip install "
            "'mixloom[cloud]' for s3://, 'mixloom[gcs]' for gs://)"
        ) from None


def fs_path(p: str | Path) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) of a URL."""
    u = path(p)
    return u.fs, u.path


def read_parquet(p: str | Path, columns: list[str] | None = None):
    """A Parquet file as a Polars frame; a URL is read through its filesystem's file object (streamed). With
    `columns`, only those columns' byte ranges are fetched (pyarrow seeks; Polars would read the whole object)."""
    import polars as pl

    if not is_url(p):
        return pl.read_parquet(p, columns=columns)
    with guard(p), path(p).open("rb") as f:
        if columns is None:
            return pl.read_parquet(f)
        import pyarrow.parquet as pq

        return pl.from_arrow(pq.read_table(f, columns=columns))


def scan_parquet(p: str | Path):
    """A lazy frame of one Parquet file (a URL is read eagerly: one shard, bounded by the shard size)."""
    import polars as pl

    return read_parquet(p).lazy() if is_url(p) else pl.scan_parquet(str(p))


def parquet_schema(p: str | Path):
    import polars as pl

    if not is_url(p):
        return pl.read_parquet_schema(p)
    with guard(p), path(p).open("rb") as f:
        return pl.read_parquet_schema(f)


def parquet_rows(p: str | Path) -> int:
    """Rows of a Parquet file, from its footer."""
    if not is_url(p):
        import polars as pl  # PyArrow would cost every worker ~35 MB of imports for this

        return pl.scan_parquet(str(p)).select(pl.len()).collect().item()
    import pyarrow.parquet as pq

    with guard(p), path(p).open("rb") as f:
        return pq.read_metadata(f).num_rows


def version_tag(info: dict[str, Any]) -> str | None:
    """The store's identity of an object's content from `fs.info` (changes whenever the object does)."""
    for k in ("ETag", "etag", "md5Hash", "crc32c", "blob_id", "content_md5"):
        if info.get(k):
            return f"{k}:{str(info[k]).strip(chr(34))}"
    return None


def put(local: Path, dest: str | Path) -> None:
    """Upload a complete local file to `dest` (one PUT or a completed multipart upload: all or nothing)."""
    fs, p = fs_path(dest)
    with guard(dest):
        fs.put_file(str(local), p)


def copy(src: str | Path, dst: str | Path) -> None:
    """Copy a file: a hard link on local disk (a copy across devices), a server-side copy on object storage."""
    if is_url(dst):
        if is_url(src):
            fs, s = fs_path(src)
            with guard(dst):
                fs.copy(s, fs_path(dst)[1])
        else:
            put(Path(src), dst)
        return
    import os

    from mixloom.manifest import atomic_path

    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def makedirs(p: str | Path) -> None:
    """Create a local folder; object storage has no folders (and s3fs's mkdir would create a missing bucket)."""
    if not is_url(p):
        Path(p).mkdir(parents=True, exist_ok=True)


def rmtree(p: str | Path) -> None:
    """Remove a folder (a prefix on object storage) and everything under it; absent is fine."""
    if not is_url(p):
        shutil.rmtree(p, ignore_errors=True)
        return
    fs, s = fs_path(p)
    with guard(p):
        if fs.exists(s):
            fs.rm(s, recursive=True)


def remove(p: str | Path) -> None:
    """Remove one file; absent is fine."""
    if not is_url(p):
        Path(p).unlink(missing_ok=True)
        return
    fs, s = fs_path(p)
    with guard(p), contextlib.suppress(FileNotFoundError):
        fs.rm_file(s)


def create_exclusive(p: str | Path, data: bytes) -> bool:
    """Write `p` only if it does not exist (S3's conditional put); False when it already exists."""
    fs, s = fs_path(p)
    with guard(p):
        try:
            fs.pipe_file(s, data, mode="create")
        except FileExistsError:
            return False
        except TypeError:  # a filesystem without conditional writes: check, then write
            if fs.exists(s):
                return False
            fs.pipe_file(s, data)
    return True


def _is_s3(fs: Any) -> bool:
    return "s3" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def object_tag(p: str | Path) -> str | None:
    """The store's current version of an object (S3: its ETag, quoted as S3 sends it); None: no object."""
    fs, s = fs_path(p)
    with guard(p):
        try:
            info = fs.info(s)
        except FileNotFoundError:
            return None
    if _is_s3(fs) and info.get("ETag"):
        return str(info["ETag"])
    return version_tag(info) or str(info.get("mtime") or info.get("LastModified") or info.get("created"))


def _precondition_failed(e: OSError) -> bool:
    """S3's 412 Precondition Failed (s3fs raises it as EINVAL)."""
    return "precondition" in str(e).lower() or getattr(e, "errno", None) == 22


def replace_if(p: str | Path, data: bytes, tag: str) -> str | None:
    """Overwrite `p` only while it is still at version `tag` (S3: a PUT with If-Match, so of two writers that
    saw the same version exactly one wins); returns the new version, or None when it changed or is gone.
    Elsewhere: check, then write (not atomic)."""
    fs, s = fs_path(p)
    with guard(p):
        if _is_s3(fs):
            try:
                out = fs.pipe_file(s, data, IfMatch=tag)
            except FileNotFoundError:
                return None
            except OSError as e:
                if _precondition_failed(e):
                    return None
                raise
            return str(out["ETag"]) if isinstance(out, dict) and out.get("ETag") else object_tag(p)
        if object_tag(p) != tag:
            return None
        fs.pipe_file(s, data)
    return object_tag(p)


def remove_if(p: str | Path, tag: str) -> bool:
    """Delete `p` only while it is still at version `tag` (S3: a DELETE with If-Match); False otherwise."""
    fs, s = fs_path(p)
    with guard(p):
        if _is_s3(fs):
            bucket, key, _ = fs.split_path(s)
            try:
                fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=tag)
            except FileNotFoundError:
                return False
            except OSError as e:
                if _precondition_failed(e):
                    return False
                raise
            fs.invalidate_cache(s)
            return True
        if object_tag(p) != tag:
            return False
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(s)
    return True


def local_only(p: str | Path, what: str) -> Path:
    """`p` as a local path, or one clear error where a stage cannot use object storage yet."""
    if is_url(p):
        raise UserError(
            f"{p}: {what}: needs a local run directory (object storage works for curation: "
            "`mixloom curate RECIPE --out s3://...`); choose a local --out, or run only curate (--only curate)"
        )
    return Path(p)


def explain(e: BaseException, url: str | Path) -> UserError | None:
    """An object-storage failure → one line naming the URL and the fix (None: not a storage problem)."""
    name = type(e).__name__
    msg = first_line(e)
    bucket = str(url).split("://", 1)[-1].split("/", 1)[0]
    scheme = str(url).split("://", 1)[0]
    if name in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"):
        return UserError(
            f"{url}: no credentials for {scheme}:// ({msg}); set the provider's standard environment "
            "(for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        )
    if "NoSuchBucket" in msg or "bucket does not exist" in msg.lower():
        return UserError(f"{url}: bucket '{bucket}' does not exist; create it or fix the URL")
    if isinstance(e, PermissionError) or any(
        k in msg for k in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "403")
    ):
        return UserError(
            f"{url}: access denied ({msg}); check the credentials in the environment "
            "(for S3: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_PROFILE) and the bucket's permissions"
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError") or (
        isinstance(e, OSError) and "connect" in msg.lower()
    ):
        return UserError(
            f"{url}: cannot reach the storage endpoint ({msg}); check the network and, for S3-compatible "
            "servers, AWS_ENDPOINT_URL"
        )
    return None


class guard:  # noqa: N801 - used as `with guard(url):`
    """Turn an object-storage failure on `url` into one UserError line (anything else passes through)."""

    def __init__(self, url: str | Path):
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type | None, e: BaseException | None, tb: Any) -> bool:
        if e is None or isinstance(e, UserError) or not is_url(self.url):
            return False
        err = explain(e, self.url)  # a plain missing object (FileNotFoundError) passes through as it is
        if err is not None:
            raise err from None
        return False


def check_run_dir(url: str | Path) -> None:
    """Before work on an object-storage run directory: the bucket exists and the credentials reach it."""
    fs, s = fs_path(url)
    if str(url).split("://", 1)[0].lower() not in _NO_LISTING_CACHE:
        return  # no buckets to check (hf://, memory://...): the first write says what is wrong
    bucket = s.split("/", 1)[0]
    with guard(url):
        try:
            fs.info(bucket)  # a request that fails loudly (s3fs's exists() turns errors into False)
        except FileNotFoundError:
            raise UserError(f"{url}: bucket '{bucket}' does not exist; create it or fix the URL") from None
