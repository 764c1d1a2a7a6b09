"""Load mixloom's toxicity model and score texts (what the `toxicity` step's `mixloom` backend calls)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from curation.toxicity_model.features import FeatureConfig, logits

PACKAGED = Path(__file__).with_name("model.npz")  # rebuilt by `mixloom toxicity-model build`


@dataclass(frozen=True)
class ToxicityModel:
    weights: np.ndarray  # float32, 2^bits
    bias: float  # shifted so that the held-out threshold for the target precision is 0.5
    features: FeatureConfig

    def score(self, texts: list[str], batch: int = 8192) -> np.ndarray:
        """Probability-like toxicity in [0, 1]; above 0.5 means above the chosen threshold."""
        parts = [
            logits(texts[s : s + batch], self.features, self.weights, self.bias)
            for s in range(0, len(texts), batch)
        ]
        z = np.concatenate(parts) if parts else np.zeros(0)
        return 1.0 / (1.0 + np.exp(-z))


@lru_cache(maxsize=4)
def load(path: str | None = None) -> ToxicityModel:
    """The model at `path` (default: the one shipped in the package)."""
    p = Path(path) if path else PACKAGED
    with np.load(p) as z:
        return ToxicityModel(
            weights=z["weights"].astype(np.float32),
            bias=float(z["bias"]),
            features=FeatureConfig(*[int(v) for v in z["features"]]),
        )
