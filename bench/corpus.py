"""Build a benchmark corpus at run time from real local text: Python sources and /usr/share/doc.

Files are cut on line boundaries into documents of about `doc_bytes`, in a fixed order, so the same
machine gives the same corpus. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import json
import site
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path


def _text_files() -> Iterator[Path]:
    roots = [
        Path(sysconfig.get_paths()["stdlib"]),
        *map(Path, site.getsitepackages()),
        Path("/usr/share/doc"),
    ]
    seen: set[Path] = set()
    for root in roots:
        if not root.exists() or root in seen:
            continue
        seen.add(root)
        for p in sorted(root.rglob("*")):
            if p.is_file() and (
                p.suffix in {".py", ".txt", ".md", ".rst"}
                or p.name.endswith((".gz",))
                or p.name in {"copyright", "README", "changelog"}
            ):
                yield p


def _read(p: Path) -> str | None:
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


def iter_documents(doc_bytes: int = 2500) -> Iterator[dict]:
    """Yield {"id", "text"} documents of about `doc_bytes` each, cut from real local files."""
    for p in _text_files():
        text = _read(p)
        if not text:
            continue
        buf: list[str] = []
        size = 0
        part = 0
        for line in text.splitlines(keepends=True):
            buf.append(line)
            size += len(line)
            if size >= doc_bytes:
                yield {"id": f"{p}#{part}", "text": "".join(buf)}
                buf, size, part = [], 0, part + 1
        if size > doc_bytes // 4:
            yield {"id": f"{p}#{part}", "text": "".join(buf)}


def build_corpus(out: Path, min_bytes: int = 0, min_docs: int = 0, doc_bytes: int = 2500) -> tuple[int, int]:
    """Write a JSONL corpus with at least `min_bytes` of text and `min_docs` documents; returns (docs, bytes).

    When local text runs out before the target, it cycles over the files again with a suffix on the ids
    (so dedup benchmarks should build from a corpus of distinct documents: use `min_docs` within the supply).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = nbytes = 0
    rnd = 0
    with out.open("w", encoding="utf-8") as f:
        while nbytes < min_bytes or docs < min_docs:
            produced = 0
            for d in iter_documents(doc_bytes):
                if rnd:
                    d["id"] += f"@{rnd}"
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
                docs += 1
                produced += 1
                nbytes += len(d["text"].encode())
                if nbytes >= min_bytes and docs >= min_docs:
                    break
            if produced == 0:
                raise SystemExit("no local text found to build a corpus from")
            rnd += 1
    return docs, nbytes


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".bench/corpus.jsonl")
    mb = float(sys.argv[2]) if len(sys.argv) > 2 else 100
    print(build_corpus(target, min_bytes=int(mb * 1e6)))
