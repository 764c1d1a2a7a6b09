"""Run one proxy: the variant's curation (shared by every seed) and a seeded tokenizer + pretrain + eval.

Run directories are content-addressed: `curate/<hash>` by the variant's curation sections, `train/<hash>` by the
proxy's recipe (which names the curated directory, its cache key and the seed), `evalsets/<name>-<hash>.jsonl`
by the eval set's settings and file checksums. Variants with the same effective sections therefore share a
directory, an unchanged experiment finds every result already on disk, and a new variant trains only itself.
Stages run through `mixloom.orchestrator.run_recipe`; numbers are read from the eval stage's results file.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mixloom.errors import UserError
from mixloom.experiments.schema import EvalSet, Proxy
from mixloom.layout import RunLayout
from mixloom.manifest import code_version, file_checksum, stable_hash, write_json_atomic
from mixloom.recipe import Recipe, load_recipe

CURATION_KEYS = ("sources", "steps", "mix", "splits", "seed", "execution")
EXPERIMENT_KEYS = ("ablate", "mix_search", "train", "generate", "output", "name")


@dataclass
class Workspace:
    """Where an experiment keeps its runs; `base` is the recipe it varies."""

    base: Recipe
    root: Path
    code: str = ""  # the code version, read once: every run of one experiment is keyed by the same one

    def __post_init__(self) -> None:
        self.code = self.code or code_version()

    def curation_doc(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The curation-only recipe of an effective recipe mapping (paths resolve from the base's root)."""
        cur = {k: doc[k] for k in CURATION_KEYS if k in doc}
        return {"name": f"{self.base.name}-curate", "base_dir": str(self.base.root), **cur}

    def curate(self, doc: dict[str, Any]) -> Path:
        """Curate (or find curated) the variant's data; returns the run directory."""
        from mixloom.orchestrator import run_recipe

        cur = self.curation_doc(doc)
        run = self.root / "curate" / stable_hash({"recipe": cur, "code": self.code})
        # always asked: the orchestrator's cache key covers the input files' checksums
        run_recipe(_write_recipe(run, cur), out=run)
        return run

    def proxy_doc(self, curated: Path, proxy: Proxy, seed: int, evalsets: dict[str, Path], shares=None):
        """The training recipe of one proxy run on `curated` (a curation run directory)."""
        layout = RunLayout(curated)
        pre = proxy.pretrain.model_dump(mode="json")
        pre.update(data=str(layout.mix("train")), validation=_split_or_none(layout, "validation"))
        if shares is not None:
            pre["shares"] = {k: float(v) for k, v in shares.items()}
        tok = proxy.tokenizer.model_dump(mode="json") | {"data": str(layout.mix("train"))}
        return {
            "name": f"{self.base.name}-proxy",
            "seed": seed,
            "base_dir": str(self.base.root),
            "train": {
                "tokenizer": tok,
                "pretrain": pre,
                "eval": [{"metric": "bpb", "data": str(p)} for p in evalsets.values()],
            },
        }

    def proxy_dir(
        self, curated: Path, proxy: Proxy, seed: int, evalsets: dict[str, Path], shares=None
    ) -> Path:
        """The content-addressed directory of one proxy run."""
        doc = self.proxy_doc(curated, proxy, seed, evalsets, shares)
        key = {"recipe": doc, "curated": _state_key(curated, "curate"), "code": self.code}
        return self.root / "train" / stable_hash(key)

    def train(self, curated: Path, proxy: Proxy, seed: int, evalsets: dict[str, Path], shares=None) -> Path:
        """Train and evaluate one proxy (or find it done); returns its run directory."""
        run = self.proxy_dir(curated, proxy, seed, evalsets, shares)
        return self.train_in(run, self.proxy_doc(curated, proxy, seed, evalsets, shares))

    def train_in(self, run: Path, doc: dict[str, Any]) -> Path:
        from mixloom.orchestrator import run_recipe

        if not _finished(run, "eval"):
            run_recipe(_write_recipe(run, doc), out=run)
        return run


def _train_job(args: tuple) -> str:
    """One proxy in a worker process (module level, so a spawned process can import it); the directory is
    named by the parent, so every process agrees on it."""
    ws, run, doc = args
    return str(ws.train_in(run, doc))


def _one_thread() -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported in this fresh (spawned) process
    os.environ["MKL_NUM_THREADS"] = "1"


def train_many(ws: Workspace, jobs: list[tuple], workers: int) -> list[Path]:
    """Train proxies `(curated, proxy, seed, evalsets, shares)`; with workers > 1, that many at once.

    Finished runs are found without starting a worker. Each run has its own directory, so runs never share files.
    """
    runs = [ws.proxy_dir(*j) for j in jobs]
    todo = [i for i, r in enumerate(runs) if not _finished(r, "eval")]
    if workers > 1 and len(todo) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx, initializer=_one_thread) as pool:
            list(pool.map(_train_job, [(ws, runs[i], ws.proxy_doc(*jobs[i])) for i in todo]))
    return [ws.train_in(r, ws.proxy_doc(*j)) for r, j in zip(runs, jobs, strict=True)]


def _split_or_none(layout: RunLayout, split: str) -> str | None:
    return str(layout.mix(split)) if any(layout.mix(split).glob("*.parquet")) else None


def _write_recipe(run: Path, doc: dict[str, Any]) -> Recipe:
    run.mkdir(parents=True, exist_ok=True)
    path = run / "recipe.yaml"
    text = yaml.safe_dump(doc, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return load_recipe(path)


def _state(run: Path) -> dict[str, Any]:
    p = RunLayout(run).state
    return json.loads(p.read_text()) if p.exists() else {}


def _state_key(run: Path, stage: str) -> str | None:
    return _state(run).get(stage, {}).get("key")


def _finished(run: Path, stage: str) -> bool:
    """A content-addressed run whose last stage finished needs no call at all (not even a cache check)."""
    return _state_key(run, stage) is not None


def eval_results(run: Path) -> list[dict[str, Any]]:
    """The eval stage's results (a list of metric entries), wherever the layout keeps them."""
    layout = RunLayout(run)
    for p in (layout.stage_dir("eval") / "results.json", layout.train("eval") / "results.json"):
        if p.exists():
            return json.loads(p.read_text())
    raise UserError(f"{run}: no eval results; the proxy run did not finish (see its log, then rerun)")


def bpb_by_set(run: Path, evalsets: dict[str, Path]) -> dict[str, dict[str, float]]:
    """{eval set: {domain or 'overall': bits per byte}} of one proxy run."""
    by_path = {str(r["data"]): r for r in eval_results(run) if r["metric"] == "bpb"}
    out = {}
    for name, p in evalsets.items():
        r = by_path.get(str(p))
        if r is None:
            raise UserError(f"{run}: eval results lack the set '{name}' ({p}); rerun the experiment")
        out[name] = {dom: v["bpb"] for dom, v in r["bpb"].items()}
    return out


# -- evaluation sets ---------------------------------------------------------------------------------
def _read_docs(files: list[Path], es: EvalSet) -> list[str]:
    docs: list[str] = []
    for f in files:
        fmt = es.format or {".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}.get(f.suffix, "text")
        if fmt == "text":
            raw = f.read_text(encoding="utf-8")
            parts = {"blank_line": re.split(r"\n\s*\n", raw), "line": raw.splitlines(), "none": [raw]}
            docs += [p.strip() for p in parts[es.split_on]]
        elif fmt == "parquet":
            import polars as pl

            docs += pl.read_parquet(f, columns=[es.text])[es.text].to_list()
        else:
            lines = f.read_text(encoding="utf-8")
            rows = (
                [json.loads(x) for x in lines.splitlines() if x.strip()]
                if fmt == "jsonl"
                else json.loads(lines)
            )
            rows = list(rows.values()) if isinstance(rows, dict) else rows
            docs += [r.get(es.text) for r in rows if isinstance(r, dict)]
    skip = re.compile(es.skip) if es.skip else None
    docs = [d for d in docs if isinstance(d, str) and d.strip() and not (skip and skip.search(d))]
    return docs[: es.limit]


def prepare_evalsets(
    recipe: Recipe, sets: dict[str, EvalSet | str], root: Path, base_run: Path | None
) -> dict[str, Path]:
    """Each eval set as a JSONL file of {text, domain} (or the base run's split directory), by name."""
    out: dict[str, Path] = {}
    for name, es in sets.items():
        where = f"{recipe.path}: eval.{name}"
        if isinstance(es, str):
            split = es.removeprefix("curate.")
            if base_run is None or not any(RunLayout(base_run).mix(split).glob("*.parquet")):
                raise UserError(
                    f"{where}: '{es}' needs the base recipe's curated {split} split; add it to splits"
                )
            out[name] = RunLayout(base_run).mix(split)
            continue
        pat = str(recipe.resolve(es.path))
        files = sorted(Path(f) for f in glob.glob(pat)) if glob.has_magic(pat) else [Path(pat)]
        files = [f for f in files if f.is_file()]
        if not files:
            raise UserError(f"{where}.path: no file at {pat}; check the path (relative to base_dir)")
        key = stable_hash({"set": es.model_dump(mode="json"), "files": [file_checksum(f) for f in files]})
        dst = root / "evalsets" / f"{name}-{key[:12]}.jsonl"
        if not dst.exists():
            docs = _read_docs(files, es)
            if not docs:
                raise UserError(f"{where}: no documents (check `text`, `format` and `skip`)")
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps({"text": d, "domain": name}) + "\n" for d in docs))
            tmp.replace(dst)
        out[name] = dst
    return out


def write_json(path: Path, data: Any) -> None:
    write_json_atomic(path, data)
