"""The file format of a trained quality classifier, and scoring texts with it.

`training.quality_model` writes a model directory and `curation`'s `quality_model` step reads it; the two
stage packages never import each other, so the format (and the text preprocessing both must share exactly)
lives here, in the core, like the manifest format. Heavy libraries load only when a model is.

    MODEL_DIR/
      quality_model.json   backend, model file, preprocessing, labels and metrics (what the data card shows)
      model.bin            fastText supervised model (backend: fasttext)
      model.npz            hashed n-gram logistic regression (backend: hashed_linear)

A score is the probability that a document is like the positive labels (high quality), in [0, 1].
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixloom.errors import UserError

META = "quality_model.json"
POSITIVE, NEGATIVE = "__label__hq", "__label__lq"
BACKENDS = ("fasttext", "hashed_linear")


def preprocess(texts: list[str], lowercase: bool = True, max_chars: int = 10_000, eol: str = "") -> list[str]:
    """One line per document (fastText reads a newline as the end of a document), cut, lower-cased.

    Polars does it column-wise in native code, as this runs on every curated document; `eol` is appended
    to each line (fastText's predict wants the newline back)."""
    import polars as pl

    s = pl.Series(texts, dtype=pl.String).fill_null("").str.slice(0, max_chars)
    if lowercase:
        s = s.str.to_lowercase()
    s = s.str.replace_all("\n", " ", literal=True)
    return (s + eol if eol else s).to_list()


def hashing_vectorizer(n_features: int, ngrams: int) -> Any:
    """scikit-learn's stateless hashing of word n-grams (the same object at training and scoring time)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=n_features,
        ngram_range=(1, ngrams),
        alternate_sign=False,
        norm="l2",
        lowercase=False,  # `preprocess` did it
        token_pattern=r"(?u)\b\w+\b|[^\w\s]",  # words and single punctuation marks (spam is punctuation)
        dtype=np.float32,
    )


@dataclass
class QualityScorer:
    """A loaded quality model; `score(texts)` returns P(positive) per text."""

    path: Path
    meta: dict[str, Any]
    _model: Any = field(default=None, repr=False)
    _vec: Any = field(default=None, repr=False)

    @property
    def backend(self) -> str:
        return self.meta["backend"]

    def __getstate__(self) -> dict[str, Any]:  # shipped to worker processes unloaded
        return {"path": self.path, "meta": self.meta, "_model": None, "_vec": None}

    def _load(self) -> None:
        f = self.path / self.meta["file"]
        if self.backend == "fasttext":
            import fasttext

            fasttext.FastText.eprint = lambda *a, **k: None  # its load warning is noise here
            self._model = fasttext.load_model(str(f))
        else:
            z = np.load(f)
            w = np.zeros(int(z["n_features"]), dtype=np.float32)
            w[z["index"]] = z["weight"]
            self._model = (w, float(z["bias"]))
            self._vec = hashing_vectorizer(int(z["n_features"]), int(z["ngrams"]))

    def score(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float64)
        if self._model is None:
            self._load()
        pre = self.meta.get("preprocess", {})
        lower, cut = pre.get("lowercase", True), pre.get("max_chars", 10_000)
        if self.backend == "fasttext":
            lines = preprocess(texts, lower, cut, eol="\n")
            labels, probs = self._model.f.multilinePredict(lines, 1, 0.0, "replace")
            p = np.array([pr[0] if pr else 0.5 for pr in probs], dtype=np.float64)
            pos = np.array([lab[0] == POSITIVE if lab else True for lab in labels])
            return np.clip(np.where(pos, p, 1.0 - p), 0.0, 1.0)
        w, b = self._model
        z = self._vec.transform(preprocess(texts, lower, cut)) @ w + b
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def model_dir(path: str | Path) -> Path:
    """A model directory, or the directory of a file inside one."""
    p = Path(path)
    return p.parent if p.is_file() else p


def load_scorer(path: str | Path) -> QualityScorer:
    """The quality model at `path`; a UserError naming what is missing when it is not one."""
    d = model_dir(path)
    meta_path = d / META
    if not meta_path.is_file():
        raise UserError(
            f"{d}: not a quality model directory (no {META}); train one with the train.quality_model "
            "stage and give its model directory"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("backend") not in BACKENDS or not (d / str(meta.get("file"))).is_file():
        raise UserError(f"{meta_path}: unknown backend or missing model file {meta.get('file')!r}")
    return QualityScorer(d, meta)
