"""The toxicity backends the audit compares, scored exactly as the `toxicity` step scores them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mixloom.errors import UserError

Scorer = Callable[[list[str]], np.ndarray]
KNOWN = ("mixloom", "profanity", "detoxify")


def make_scorer(name: str, root: Path, options: dict[str, Any] | None = None) -> Scorer:
    """A function texts → toxicity scores for backend `name` (its `toxicity` label).

    `options` are the step's own parameters for that backend (e.g. detoxify's `checkpoint` and `config`);
    a backend that cannot load (detoxify without local weights) raises the step's UserError.
    """
    from curation.steps.base import StepContext
    from curation.steps.toxicity import ToxicityParams, build

    if name not in KNOWN:
        raise UserError(f"audit scorers: unknown scorer '{name}'; use some of {', '.join(KNOWN)}")
    params = ToxicityParams.model_validate({"backend": name, **(options or {})})
    step = build(params, StepContext(root=root))

    def score(texts: list[str]) -> np.ndarray:
        out = step.score([t[: params.max_chars] for t in texts])
        return np.asarray(out["toxicity"], dtype=np.float64)

    return score
