"""Training stage: tokenizer, pretraining on the curated mix, alignment with TRL, evaluation.

Reads only files (curated Parquet shards, generated SFT sets and preference pairs) and the recipe's
`train:` section; writes `RUN/train/<stage>/` with a model directory, logs and a manifest. The stages the
core runs are in `training.stage`; heavy libraries (torch, transformers, trl) load only inside them.
"""

from __future__ import annotations

from training.checks import EVAL_DEFAULT_DATA, check, configured_stages
from training.stage import run_eval, run_stage

__all__ = ["EVAL_DEFAULT_DATA", "check", "configured_stages", "run_eval", "run_stage"]
