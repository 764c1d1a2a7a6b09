"""Quality classifier: held-out metrics of the built-in example, and scoring throughput per core.

    .venv/bin/python bench/quality_model.py [--docs 50000]

Trains the example's classifiers (`recipes/quality_classifier.yaml`: fastText and hashed_linear) under
.bench/quality_model/, prints their held-out precision/recall/F1, then times the `quality_model` curation
step (a LocalStep's `process`, as the curation passes call it) on one core (POLARS_MAX_THREADS=1, one
fastText thread) over the example's documents cycled to `--docs`, next to the Gopher heuristics step on the
same batch for scale. Docs/s are ratios within this run on this machine, not a promise.
"""

from __future__ import annotations

import os

os.environ["POLARS_MAX_THREADS"] = "1"  # per core: before Polars is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MIXLOOM_QUIET", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
import yaml  # noqa: E402

from curation.steps.base import BASE_SCHEMA, StepContext  # noqa: E402
from mixloom.layout import RunLayout  # noqa: E402
from mixloom.plugins import STAGES  # noqa: E402
from mixloom.recipe import load_recipe  # noqa: E402

WORK = ROOT / ".bench" / "quality_model"


def train(backend: str) -> tuple[Path, dict]:
    data = yaml.safe_load((ROOT / "recipes" / "quality_classifier.yaml").read_text())
    data["base_dir"] = str(ROOT)
    data["train"]["quality_model"]["backend"] = backend
    p = WORK / f"{backend}.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    r, layout = load_recipe(p), RunLayout(WORK / backend)
    for name in ("annotate", "train.quality_model"):
        res = STAGES.get(name).run(r, layout)
    return layout.ref_path("train.quality_model"), res


def corpus(n: int) -> pl.DataFrame:
    """The example's documents (labels file: wiki, headlines, web noise), cycled to n rows."""
    lab = pl.read_parquet(WORK / "fasttext" / "annotate" / "labels" / "part-00000.parquet")
    idx = [i % lab.height for i in range(n)]
    df = lab[idx].select("text", "domain")
    return df.with_columns(
        pl.Series("id", [f"d{i}" for i in range(n)]),
        pl.lit("bench").alias("source"),
        pl.lit(0, dtype=pl.Int64).alias("tokens"),
        pl.lit("").alias("origin"),
        pl.lit("{}").alias("meta"),
    ).select(list(BASE_SCHEMA))


def timed(step, df: pl.DataFrame, repeat: int = 3) -> tuple[float, float]:
    """(docs per wall second, docs per CPU second of this process): the machine is shared, so CPU time is
    the steadier measure of the cost per core (everything here runs on one thread)."""
    step.process(df.head(100))  # loads the model
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        step.process(df)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return df.height / wall, df.height / cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--fresh", action="store_true", help="retrain the classifiers")
    a = ap.parse_args()
    if a.fresh and WORK.exists():
        shutil.rmtree(WORK)
    from curation.steps.quality import INFO as QUALITY
    from curation.steps.quality_model import INFO as QM

    print("backend        train heldout precision recall   F1     AUC    ECE    model MB")
    models = {}
    for backend in ("fasttext", "hashed_linear"):
        path, res = train(backend)
        models[backend] = path
        print(
            f"{backend:14s} {res['train']:5d} {res['heldout']:7d} {res['precision']:9.4f} {res['recall']:.4f} "
            f"{res['f1']:.4f} {res['roc_auc']:.4f} {res['ece']:.4f} {res['model_bytes'] / 1e6:8.1f}"
        )
    df = corpus(a.docs)
    chars = df["text"].str.len_chars().mean()
    print(f"\nscoring {df.height:,} documents (mean {chars:.0f} characters), one core: docs/s (wall, CPU)")
    ctx = StepContext(root=ROOT)
    for backend, path in models.items():
        step = QM.build(QM.params.model_validate({"model": str(path), "threshold": 0.5}), ctx)
        w, c = timed(step, df)
        print(f"  quality_model {backend:14s} {w:>10,.0f} {c:>10,.0f}")
    gopher = QUALITY.build(
        QUALITY.params.model_validate({"rules": ["gopher_quality", "gopher_repetition"]}), ctx
    )
    w, c = timed(gopher, df, repeat=1)
    print(f"  quality (gopher heuristics)  {w:>10,.0f} {c:>10,.0f}")


if __name__ == "__main__":
    main()
