"""`mixloom trace DIR ID`: where one record came from and what happened to it, read from a run's files.

Reads only Parquet and manifests, so it works on any run directory without loading a stage. A curated
document is traced from its source file and line through each step (kept, or rejected where and why, with
the step's scores and, for duplicates, the document it duplicates) into the mix and its split. A generated
sample is traced back to its seed problem and the file it came from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from mixloom.errors import UserError
from mixloom.layout import RunLayout

LINEAGE = ("parent_id", "aug_method", "aug_settings")  # columns of augmented copies (curation.augment)


def _find(paths: list[Path], doc_id: str, columns: list[str] | None = None) -> pl.DataFrame:
    if not paths:
        return pl.DataFrame()
    lf = pl.concat([pl.scan_parquet(str(p)) for p in paths], how="diagonal_relaxed")
    df = lf.filter(pl.col("id") == doc_id).collect()
    return df.select([c for c in columns if c in df.columns]) if columns else df


def trace_document(run: Path, doc_id: str) -> dict[str, Any]:
    """The path of a curation document: origin → steps → kept/rejected → mix copies and split."""
    layout = RunLayout(run)
    manifest = json.loads(layout.manifest.read_text()) if layout.manifest.exists() else {}
    steps = [row["step"] for row in manifest.get("steps", [])]
    kept = _find(sorted(layout.curated.glob("*.parquet")), doc_id)
    rejected = _find(sorted(layout.rejects.glob("*.parquet")), doc_id)
    if kept.is_empty() and rejected.is_empty():
        return {}
    out: dict[str, Any] = {"id": doc_id, "kind": "document"}
    if not kept.is_empty():
        row = kept.row(0, named=True)
        out |= {"source": row["source"], "domain": row["domain"], "origin": row["origin"], "status": "kept"}
        out["path"] = [{"step": "read", "result": "kept"}] + [{"step": s, "result": "kept"} for s in steps]
        base = {"id", "source", "domain", "text", "tokens", "origin", "meta", *LINEAGE}
        out["scores"] = {
            k: v for k, v in row.items() if k not in base and v is not None
        }  # null: step skipped it
        out["text"] = row["text"][:300]
        mixed = _find(sorted(layout.mix_root.rglob("*.parquet")), doc_id, ["epoch", "split"])
        out["mix"] = {"copies": mixed.height, "split": mixed["split"][0] if mixed.height else None}
    else:
        row = rejected.row(0, named=True)
        details = json.loads(row["details"]) if row.get("details") else {}
        out |= {
            "source": row["source"],
            "domain": row["domain"],
            "origin": row["origin"],
            "status": "rejected",
            "rejected_by": row["step"],
            "reason": row["reason"],
            "details": details,
            "text": (row["text"] or "")[:300],
        }
        path = [{"step": "read", "result": "rejected" if row["step"] == "read" else "kept"}]
        for s in steps:
            if path[-1]["result"] == "rejected":
                break
            path.append({"step": s, "result": "rejected" if s == row["step"] else "kept"})
        out["path"] = path
        if details.get("duplicate_of"):
            out["duplicate_of"] = details["duplicate_of"]
    lineage = row if not kept.is_empty() else details
    if lineage.get("parent_id"):  # an augmented copy: its method and settings, then its parent's own trace
        out["parent"] = lineage["parent_id"]
        out["augmented"] = {"method": lineage["aug_method"], "settings": json.loads(lineage["aug_settings"])}
        out["parent_trace"] = trace_document(run, lineage["parent_id"])
    for k in LINEAGE:
        out.get("details", {}).pop(k, None)
    return out


def _seed_record(run: Path, seed_file: str, problem_id: str) -> dict[str, Any]:
    """The seed problem a generated sample came from: its file, line and (start of its) record."""
    line = int(m.group(1)) if (m := re.search(r"(\d+)$", problem_id)) else None
    out: dict[str, Any] = {"problem_id": problem_id, "file": seed_file, "line": line}
    manifest = RunLayout(run).generate / "manifest.json"
    inputs = json.loads(manifest.read_text()).get("inputs", []) if manifest.exists() else []
    path = next((Path(i["path"]) for i in inputs if i["path"].endswith(seed_file)), None)
    if path is not None and path.exists() and line:
        with path.open(encoding="utf-8") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    out["record"] = text.strip()[:300]
                    break
    return out


def trace_generated(run: Path, sample_id: str) -> dict[str, Any]:
    """A generated sample → its verdict, whether it reached the SFT set and pairs, and its seed problem."""
    samples = RunLayout(run).ref_path("generate.samples")
    for p in sorted(samples.rglob("*.parquet")) if samples.exists() else []:
        hit = pl.scan_parquet(str(p)).filter(pl.col("sample_id") == sample_id).collect()
        if hit.height == 0:
            continue
        row = hit.row(0, named=True)
        used = {}
        for name, cols in (("sft", ["sample_id"]), ("pairs", ["chosen_id", "rejected_id"])):
            files = sorted(RunLayout(run).ref_path(f"generate.{name}").glob("*.parquet"))
            if files:
                df = pl.concat([pl.read_parquet(str(f), columns=cols) for f in files])
                used[name] = [c for c in cols if (df[c] == sample_id).any()]
        return {
            "id": sample_id,
            "kind": "generated",
            "task": row["task"],
            "file": str(p.relative_to(run)),
            "verdict": "verified" if row["ok"] else "failed",
            "reason": row["reason"],
            "selected": row["selected"],
            "reference": row.get("reference", False),
            "in_sft": bool(used.get("sft")),
            "in_pairs_as": [c.removesuffix("_id") for c in used.get("pairs", [])],
            "engine": row["engine"],
            "model": row["model"],
            "sampling": row["sampling"],
            "completion": (row["completion"] or "")[:200],
            "seed": _seed_record(run, row["seed_file"], row["problem_id"]),
        }
    return {}


def trace(run: Path, record_id: str) -> dict[str, Any]:
    run = Path(run)
    if not run.exists():
        raise UserError(f"{run}: no such run directory")
    found = trace_document(run, record_id) or trace_generated(run, record_id)
    if not found:
        raise UserError(
            f"{run}: no record with id '{record_id}' in curated/, rejects/ or generate/ "
            "(ids look like 'fiqa/14860' or 'wiki/data/…/file.txt#0000012')"
        )
    return found
