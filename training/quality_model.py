"""The `train.quality_model` stage: a document-quality classifier trained from labels, offline on CPU.

Labels (`annotate.labels`, or a Parquet/JSONL file with `text` and `label` 0/1) are split by a seeded hash of
each document's id (or text) into train and held-out parts. Backends:

- `fasttext` (DCLM's choice): a supervised fastText model on word n-grams; trains in seconds, scores tens of
  thousands of documents per second per core.
- `hashed_linear`: scikit-learn's hashing of word and punctuation n-grams and a logistic regression. The
  static-embedding alternative (model2vec) needs a pretrained embedding model, which cannot be fetched here;
  hashed n-grams are the offline stand-in with no download and no vocabulary to ship.

The held-out part gives precision, recall and F1 (threshold 0.5), ROC AUC, the expected calibration error and
a reliability plot, all computed by loading the saved model back through `mixloom.quality_scorer`, the same
code the curation step scores with. Output: `train/quality_model/model/` (reference `train.quality_model`),
`metrics.json`, `calibration.png`, `manifest.json`.
"""

from __future__ import annotations

import html
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mixloom.errors import RecipeError, UserError
from mixloom.figures import png, pyplot
from mixloom.layout import RunLayout
from mixloom.manifest import (
    stable_hash,
    stage_header,
    write_manifest,
)
from mixloom.quality_scorer import META, NEGATIVE, POSITIVE, load_scorer, preprocess
from mixloom.recipe import Recipe
from mixloom.sections.train import QualityModelSection
from mixloom.stage import Section, Stage

NAME = "train.quality_model"
LABEL_REF = "annotate.labels"


def is_heldout(seed: int, key: str, share: float) -> bool:
    """A stable split: the same document is held out whatever else is in the labels."""
    return int(stable_hash([seed, "holdout", key])[:8], 16) / 0xFFFFFFFF < share


def read_labels(files: list[Path]) -> pl.DataFrame:
    frames = []
    for f in files:
        df = pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_ndjson(f, infer_schema_length=None)
        if "text" not in df.columns or "label" not in df.columns:
            raise UserError(f"{f}: labels need columns `text` and `label` (0/1); found {df.columns}")
        if "id" not in df.columns:
            df = df.with_columns(pl.col("text").hash().cast(pl.String).alias("id"))
        cols = ["id", "text", "label"] + [c for c in ("domain",) if c in df.columns]
        frames.append(df.select(cols).with_columns(pl.col("label").cast(pl.Int8)))
    out = pl.concat(frames, how="diagonal_relaxed")
    bad = out.filter(~pl.col("label").is_in([0, 1]))
    if bad.height:
        raise UserError(f"{files[0].parent}: labels must be 0 or 1; found {bad['label'].unique().to_list()}")
    return out


# fastText's uniform init fills only the first tenth of the input matrix when thread < 10 and leaves the
# rest as allocated. In a fresh process that memory is zero-filled pages from mmap; in a process that has
# freed large blocks (scikit-learn, Polars, torch) it can be old data, and training then hits NaN or differs.
# So fastText trains in a child process whose large allocations always come from mmap (zeros): one thread,
# a fixed seed and zeroed memory make the model the same on every run.
_FASTTEXT_CHILD = (
    "import json, sys\n"
    "import fasttext\n"
    "a = json.loads(sys.argv[1])\n"
    "fasttext.train_supervised(a['input'], **a['kwargs']).save_model(a['output'])\n"
)


def train_fasttext(
    texts: list[str], labels: list[int], cfg: QualityModelSection, seed: int, out: Path
) -> None:
    import os
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "train.txt"
        f.write_text(
            "".join(f"{POSITIVE if y else NEGATIVE} {t}\n" for t, y in zip(texts, labels, strict=True)),
            encoding="utf-8",
        )
        kwargs = {
            "epoch": cfg.epochs,
            "lr": cfg.lr,
            "dim": cfg.dim,
            "wordNgrams": cfg.word_ngrams,
            "bucket": cfg.buckets,
            "minCount": cfg.min_count,
            "thread": 1,
            "seed": seed,
            "verbose": 0,
        }
        args = json.dumps({"input": str(f), "kwargs": kwargs, "output": str(out / "model.bin")})
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        proc = subprocess.run(
            [sys.executable, "-c", _FASTTEXT_CHILD, args], env=env, capture_output=True, text=True
        )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(
            f"train.quality_model: fastText failed on {len(texts)} labels ({last}); give more labels, "
            "or lower train.quality_model.lr"
        )


def train_hashed(texts: list[str], labels: list[int], cfg: QualityModelSection, seed: int, out: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from mixloom.quality_scorer import hashing_vectorizer

    n = cfg.buckets
    x = hashing_vectorizer(n, cfg.word_ngrams).transform(texts)
    # liblinear: made for sparse binary problems (and sparse lbfgs leaves fastText unable to train after it)
    clf = LogisticRegression(C=cfg.c, solver="liblinear", max_iter=1000, random_state=seed)
    clf.fit(x, np.array(labels))
    w = clf.coef_[0].astype(np.float32)
    index = np.flatnonzero(w)
    np.savez(
        out / "model.npz",
        n_features=n,
        ngrams=cfg.word_ngrams,
        index=index,
        weight=w[index],
        bias=float(clf.intercept_[0]),
    )


def metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Precision, recall, F1 of the positive class at 0.5, ROC AUC, and calibration by equal-width bins."""
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    pred = (p >= 0.5).astype(int)
    prec, rec, f1, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            conf, acc = float(p[m].mean()), float(y[m].mean())
            ece += m.mean() * abs(conf - acc)
            table.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "n": int(m.sum()),
                    "mean_score": conf,
                    "positive_rate": acc,
                }
            )
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "precision": round(float(prec), 4),
        "recall": round(float(rec), 4),
        "f1": round(float(f1), 4),
        "accuracy": round(float((pred == y).mean()), 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None,
        "ece": round(float(ece), 4),
        "calibration": table,
    }


def calibration_png(m: dict[str, Any], title: str) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    xs = [b["mean_score"] for b in m["calibration"]]
    ax.plot(xs, [b["positive_rate"] for b in m["calibration"]], marker="o", label="held-out")
    ax.set(xlabel="mean predicted score", ylabel="share of positive labels", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"{title}\nF1 {m['f1']:.3f}, ECE {m['ece']:.3f}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    return png(fig, dpi=100)


class QualityModelStage(Stage):
    name = NAME

    def cfg(self, recipe: Recipe) -> QualityModelSection:
        cfg = recipe.get(NAME)
        if cfg is None:
            raise UserError(f"{recipe.path}: train.quality_model: the recipe has no such section")
        return cfg

    def validate(self, recipe: Recipe) -> None:
        cfg = self.cfg(recipe)
        if cfg.data == LABEL_REF:
            if recipe.get("annotate") is None:
                raise RecipeError(
                    str(recipe.path),
                    "train.quality_model.data",
                    "annotate.labels needs an `annotate:` section",
                    "add one, or give a labels file (text, label)",
                )
        elif not recipe.resolve(cfg.data).exists():
            raise RecipeError(
                str(recipe.path), "train.quality_model.data", f"no labels at {recipe.resolve(cfg.data)}"
            )
        if cfg.backend == "fasttext":
            import importlib.util

            if importlib.util.find_spec("fasttext") is None:
                raise RecipeError(
                    str(recipe.path),
                    "train.quality_model.backend",
                    "fasttext is not installed",
                    "pip install fasttext-numpy2, or use backend: hashed_linear",
                )

    def reads(self, recipe: Recipe) -> list[str]:
        return [self.cfg(recipe).data]

    def label_files(self, recipe: Recipe, layout: RunLayout) -> list[Path]:
        cfg = self.cfg(recipe)
        p = layout.ref_path(cfg.data) if cfg.data == LABEL_REF else recipe.resolve(cfg.data)
        files = (
            sorted(p.glob("*.parquet")) + sorted(p.glob("*.jsonl"))
            if p.is_dir()
            else [p]
            if p.exists()
            else []
        )
        if not files:
            fix = "run the annotate stage first" if cfg.data == LABEL_REF else "check the path"
            raise UserError(f"{recipe.path}: train.quality_model.data: no labels at {p}; {fix}")
        return files

    def run(self, recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
        cfg, t0 = self.cfg(recipe), time.perf_counter()
        files = self.label_files(recipe, layout)
        labels = read_labels(files)
        held = np.array([is_heldout(recipe.seed, i, cfg.holdout) for i in labels["id"].to_list()])
        train, test = labels.filter(pl.Series(~held)), labels.filter(pl.Series(held))
        if train["label"].n_unique() < 2 or test["label"].n_unique() < 2:
            raise UserError(
                f"{recipe.path}: train.quality_model: the labels need positives and negatives in both the "
                f"training ({train.height}) and held-out ({test.height}) parts; give more labels"
            )
        out = layout.stage_dir(NAME)
        model = layout.ref_path(NAME)
        model.mkdir(parents=True, exist_ok=True)
        texts = preprocess(train["text"].to_list(), cfg.lowercase, cfg.max_chars)
        fit = train_fasttext if cfg.backend == "fasttext" else train_hashed
        fit(texts, train["label"].to_list(), cfg, recipe.seed, model)
        train_s = time.perf_counter() - t0
        meta = {
            "backend": cfg.backend,
            "file": "model.bin" if cfg.backend == "fasttext" else "model.npz",
            "preprocess": {"lowercase": cfg.lowercase, "max_chars": cfg.max_chars},
            "settings": cfg.model_dump(mode="json"),
            "labels": {
                "files": [str(f) for f in files],
                "train": train.height,
                "heldout": test.height,
                "train_positives": int(train["label"].sum()),
            },
        }
        (model / META).write_text(json.dumps(meta, indent=2) + "\n")
        scorer = load_scorer(model)  # held-out scores through the curation step's own code path
        t1 = time.perf_counter()
        p = scorer.score(test["text"].to_list())
        score_s = time.perf_counter() - t1
        m = metrics(test["label"].to_numpy().astype(int), p)
        meta["metrics"] = {k: v for k, v in m.items() if k != "calibration"}
        (model / META).write_text(json.dumps(meta, indent=2) + "\n")
        (out / "calibration.png").write_bytes(calibration_png(m, f"{cfg.backend} quality model"))
        results = {
            "backend": cfg.backend,
            "train": train.height,
            "heldout": test.height,
            **{k: m[k] for k in ("precision", "recall", "f1", "accuracy", "roc_auc", "ece")},
            "train_seconds": round(train_s, 3),
            "heldout_docs_per_s": round(test.height / score_s) if score_s > 0 else None,
            "model_bytes": (model / meta["file"]).stat().st_size,
        }
        (out / "metrics.json").write_text(
            json.dumps({**results, "calibration": m["calibration"]}, indent=2) + "\n"
        )
        write_manifest(
            out,
            {
                **stage_header(recipe, NAME, recipe.dump(NAME), ["fasttext-numpy2", "scikit-learn"], files),
                "outputs": {"model": "model/", "metrics": "metrics.json", "calibration": "calibration.png"},
                "results": results,
            },
        )
        return results

    def report(self, layout: RunLayout) -> list[Section]:
        out = layout.stage_dir(NAME)
        if not (out / "metrics.json").exists():
            return []
        m = json.loads((out / "metrics.json").read_text())
        keys = ("backend", "train", "heldout", "precision", "recall", "f1", "roc_auc", "ece", "model_bytes")
        rows = [(k, m.get(k)) for k in keys]
        table = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        md = "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
        meta = json.loads((layout.ref_path(NAME) / META).read_text())
        lab = meta["labels"]
        md += (
            f"\nTrained on {lab['train']} labels ({lab['train_positives']} positive) from "
            f"{', '.join(lab['files'])}; metrics on {lab['heldout']} held-out labels at threshold 0.5; "
            "ECE is the expected calibration error over 10 bins.\n"
        )
        return [
            Section(
                "Quality classifier",
                html=f"<table>{table}</table><img src='quality_calibration.png' alt='calibration plot'>",
                markdown=md,
                order=36,
                figures={"quality_calibration.png": (out / "calibration.png").read_bytes()},
            )
        ]

    def summary(self, result: dict[str, Any]) -> str:
        return (
            f"{result['backend']}: held-out P {result['precision']:.3f} R {result['recall']:.3f} "
            f"F1 {result['f1']:.3f} on {result['heldout']} labels"
        )


STAGE = QualityModelStage()
