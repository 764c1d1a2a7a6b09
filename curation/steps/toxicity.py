"""toxicity: score offensive language and reject documents above per-label thresholds (a LocalStep).

Backends:
- `mixloom` (default, offline): mixloom's own model (`curation.toxicity_model`): a linear model on hashed
  char and word n-grams with identity terms masked, trained on Davidson et al. tweets plus templated identity
  statements, debiased across groups (see its MODEL_CARD.md). Shipped in the package; `mixloom
  toxicity-model build` rebuilds it, `model_path:` loads another build. One label, `toxicity`; 0.5 is the
  threshold chosen on held-out data for 85% precision.
- `profanity` (fastest, offline): alt-profanity-check's linear model on TF-IDF features, whose weights
  ship inside the package. One label, `toxicity` (probability of offensive/profane language).
- `detoxify`: Unitary's BERT-family classifiers (`original`, `unbiased`, `multilingual`, ...) or a local
  checkpoint in detoxify's format. Labels are the checkpoint's classes (`toxicity`, `insult`, ...).
  Nothing is fetched at run time: the weights and the model's config/tokenizer must be local; when they
  are not, the error says which file to put where, or which option to set.

Every label's score is kept as a column `tox_<label>`; a document is rejected as `toxicity:<label>` for the
first label in `max` whose score exceeds its threshold. `unit: line` scores each non-blank line and keeps
the maximum per document, so one offensive line in a long document is not diluted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from curation.steps.base import StepContext, StepInfo, reject_where
from mixloom.errors import UserError
from mixloom.schema import Strict

PROFANITY_LABELS = ("toxicity",)  # also the mixloom backend's one label
_RELEASES = "https://github.com/unitaryai/detoxify/releases/download/"
# detoxify's MODEL_URLS (a test checks they agree) and the base model each checkpoint was fine-tuned from
DETOXIFY_WEIGHTS = {
    "original": ("v0.1-alpha/toxic_original-c1212f89.ckpt", "bert-base-uncased"),
    "unbiased": ("v0.3-alpha/toxic_debiased-c7548aa0.ckpt", "roberta-base"),
    "multilingual": ("v0.4-alpha/multilingual_debiased-0b549669.ckpt", "xlm-roberta-base"),
    "original-small": ("v0.1.2/original-albert-0e1d6498.ckpt", "albert-base-v2"),
    "unbiased-small": ("v0.1.2/unbiased-albert-c8519128.ckpt", "albert-base-v2"),
}
_RENAME = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(home) / "hub"


def _provide_hint(model: str) -> str:
    rel, base = DETOXIFY_WEIGHTS[model]
    file = rel.rsplit("/", 1)[1]
    return (
        f"put {file} (from {_RELEASES}{rel}) in {torch_hub_dir() / 'checkpoints'}/ "
        f"or set `checkpoint: PATH/{file}`; "
        f"also save the config and tokenizer of '{base}' to a local directory DIR (on a machine with access: "
        f"`AutoConfig.from_pretrained('{base}').save_pretrained(DIR)` and the same with AutoTokenizer) and "
        f"set `config: DIR`; or use `backend: profanity`, which works offline"
    )


def locate_detoxify(
    model: str, checkpoint: str | None, config: str | None, resolve: Callable[[str], Path], where: str
) -> tuple[str, str | None]:
    """The local checkpoint file and config dir to load, or a UserError saying exactly what to provide."""
    cfg = None
    if config is not None:
        cfg = resolve(config)
        if not (cfg / "config.json").is_file():
            raise UserError(
                f"{where}.config: {cfg} has no config.json; give the directory holding the model's "
                f"config.json and tokenizer files (save_pretrained output)"
            )
        cfg = str(cfg)
    if checkpoint is not None:
        ckpt = resolve(checkpoint)
        if not ckpt.is_file():
            raise UserError(
                f"{where}.checkpoint: {ckpt} does not exist; give a detoxify .ckpt file "
                f"(a dict with 'config' and 'state_dict')"
            )
        return str(ckpt), cfg
    ckpt = torch_hub_dir() / "checkpoints" / DETOXIFY_WEIGHTS[model][0].rsplit("/", 1)[1]
    if not ckpt.is_file():
        raise UserError(
            f"{where}: detoxify model '{model}' has no local weights and nothing is downloaded at "
            f"run time: {_provide_hint(model)}"
        )
    return str(ckpt), cfg


def load_detoxify(model: str, checkpoint: str, config: str | None, device: str, where: str) -> Any:
    """A `detoxify.Detoxify` loaded from local files only.

    detoxify builds the model config from the checkpoint's `model_type` even when given a config path, so a
    `model_type` that is a hub name (the released checkpoints) would reach the hub. Then, with `config`, the
    same detoxify loader runs with `model_type` pointing at the local directory instead.
    """
    import torch
    from detoxify import Detoxify
    from detoxify.detoxify import get_model_and_tokenizer

    try:
        loaded = torch.load(checkpoint, map_location=device, weights_only=False)
        args = dict(loaded["config"]["arch"]["args"])
        classes = [_RENAME.get(c, c) for c in loaded["config"]["dataset"]["args"]["classes"]]
    except (OSError, KeyError, TypeError, RuntimeError, EOFError) as e:
        raise UserError(f"{where}.checkpoint: {checkpoint} is not a detoxify checkpoint ({e})") from None
    local_type = Path(str(args["model_type"])).is_dir()
    try:
        if local_type or config is None:
            return Detoxify(checkpoint=checkpoint, device=device, huggingface_config_path=config)
        args["model_type"] = config
        net, tok = get_model_and_tokenizer(
            **args, state_dict=loaded["state_dict"], huggingface_config_path=config
        )
    except OSError as e:  # transformers could not find the config/tokenizer locally
        base = args["model_type"]
        raise UserError(
            f"{where}: the checkpoint's base model '{base}' is not available offline "
            f"({str(e).splitlines()[0]}); "
            f"save its config and tokenizer to a local directory DIR and set `config: DIR`"
            + (f" ({_provide_hint(model)})" if model in DETOXIFY_WEIGHTS else "")
        ) from None
    det = Detoxify.__new__(Detoxify)
    det.model, det.tokenizer, det.class_names, det.device = net.to(device), tok, classes, device
    return det


class ToxicityParams(Strict):
    backend: Literal["mixloom", "profanity", "detoxify"] = "mixloom"
    model_path: str | None = Field(
        None, description="mixloom: a model file built by `mixloom toxicity-model build` (default: shipped)"
    )
    model: Literal["original", "unbiased", "multilingual", "original-small", "unbiased-small"] = Field(
        "original", description="detoxify model type (its weights must be in the torch hub cache)"
    )
    checkpoint: str | None = Field(None, description="detoxify: a local .ckpt in detoxify's format")
    config: str | None = Field(
        None, description="detoxify: local dir with the model's config.json and tokenizer files"
    )
    max: dict[str, float] = Field(default_factory=lambda: {"toxicity": 0.5})
    batch_size: int = Field(32, ge=1)
    unit: Literal["document", "line"] = "document"
    max_chars: int = Field(5000, ge=1, description="text scored per document (or per line)")
    max_lines: int = Field(500, ge=1, description="unit=line: lines scored per document")
    device: str = "cpu"
    threads: int | None = Field(
        None, ge=1, description="detoxify: torch CPU threads (default: torch's choice)"
    )


@dataclass
class Toxicity:
    params: ToxicityParams
    where: str  # recipe key for messages, e.g. steps.3.toxicity
    checkpoint: str | None = None  # resolved paths (detoxify)
    config: str | None = None
    model_path: str | None = None  # resolved path (mixloom)
    labels: tuple[str, ...] | None = None  # known before loading for the built-in backends
    name: str = "toxicity"
    modifies_text: bool = False
    _model: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_model"] = None  # workers load their own copy
        return state

    # --- scoring --------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._model is not None:
            return
        if self.params.backend == "profanity":
            import profanity_check

            self._model = profanity_check
            self.labels = PROFANITY_LABELS
        elif self.params.backend == "mixloom":
            from curation.toxicity_model.model import load

            self._model = load(self.model_path)
            self.labels = PROFANITY_LABELS
        else:
            if self.params.threads:
                import torch

                torch.set_num_threads(self.params.threads)
            self._model = load_detoxify(
                self.params.model, self.checkpoint, self.config, self.params.device, self.where
            )
            self.labels = tuple(self._model.class_names)
        unknown = [k for k in self.params.max if k not in self.labels]
        if unknown:
            raise UserError(
                f"{self.where}.max: unknown label(s) {unknown} for this model; "
                f"its labels are: {', '.join(self.labels)}"
            )

    def score(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Scores per label for each text, in batches (for detoxify, of similar lengths: less padding)."""
        self._load()
        if self.params.backend == "profanity":
            probs = [self._model.predict_prob(texts[s : s + 4096]) for s in range(0, len(texts), 4096)]
            return {"toxicity": np.concatenate(probs) if probs else np.zeros(0)}
        if self.params.backend == "mixloom":
            return {"toxicity": self._model.score(texts)}
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = {k: np.zeros(len(texts)) for k in self.labels}
        bs = self.params.batch_size
        for s in range(0, len(texts), bs):
            idx = order[s : s + bs]
            res = self._model.predict([texts[i] for i in idx])
            for k in self.labels:
                out[k][idx] = res[k]  # a list, or a float for a batch of one
        return out

    def _score_lines(self, texts: list[str]) -> dict[str, np.ndarray]:
        owner, lines = [], []
        for i, t in enumerate(texts):
            kept = [ln.strip()[: self.params.max_chars] for ln in t.split("\n") if ln.strip()]
            kept = kept[: self.params.max_lines]
            owner += [i] * len(kept)
            lines += kept
        scores = self.score(lines)
        owner_arr = np.asarray(owner, dtype=np.int64)
        result = {}
        for k, v in scores.items():
            best = np.zeros(len(texts))
            if len(v):
                np.maximum.at(best, owner_arr, v)
            result[k] = best
        return result

    # --- LocalStep ------------------------------------------------------------------------------------------

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0 and self.labels is None:
            self._load()  # an empty batch still needs the label columns (and checks the model loads)
        texts = df["text"].fill_null("").to_list()
        if df.height == 0:
            scores = {k: np.zeros(0) for k in self.labels}
        elif self.params.unit == "line":
            scores = self._score_lines(texts)
        else:
            scores = self.score([t[: self.params.max_chars] for t in texts])
        df = df.with_columns([pl.Series(f"tox_{k}", v, dtype=pl.Float64) for k, v in scores.items()])
        for label, limit in self.params.max.items():
            df = reject_where(df, pl.col(f"tox_{label}") > limit, f"toxicity:{label}")
        return df


def build(params: ToxicityParams, ctx: StepContext) -> Toxicity:
    where = f"steps.{ctx.index}.toxicity"
    if params.backend in ("profanity", "mixloom"):
        unknown = [k for k in params.max if k not in PROFANITY_LABELS]
        if unknown:
            raise UserError(
                f"{where}.max: the {params.backend} backend has one label, 'toxicity' (got {unknown})"
            )
        model_path = None
        if params.model_path is not None:
            model_path = str(ctx.resolve(params.model_path))
            if not Path(model_path).is_file():
                raise UserError(
                    f"{where}.model_path: {model_path} does not exist; build one with "
                    f"`mixloom toxicity-model build --out {params.model_path}` or leave it out (shipped model)"
                )
        return Toxicity(params, where, model_path=model_path, labels=PROFANITY_LABELS)
    checkpoint, config = locate_detoxify(params.model, params.checkpoint, params.config, ctx.resolve, where)
    return Toxicity(params, where, checkpoint=checkpoint, config=config)


INFO = StepInfo(
    name="toxicity",
    params=ToxicityParams,
    build=build,
    doc=__doc__ or "",
    reads=lambda p: [x for x in (p.checkpoint, p.config) if x],
)
