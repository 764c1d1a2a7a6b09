"""pii: find e-mail addresses, phone numbers, IP addresses, payment cards, IBANs, national ids, URL
credentials, private keys and secrets, and redact, mask or reject per type (a LocalStep, with `apply_to`).

- `redact` (default) replaces a match by a typed placeholder (`<EMAIL>`, `<PHONE>`, `<SECRET>`, ...);
  `mask` replaces its letters and digits by `*` (the shape stays); `reject` rejects the document
  (reason `pii:<type>`) and `off` skips the type. The text of a rejected document is redacted too, so
  `rejects/` never holds what was found.
- Columns: `pii_<type>` (matches per type) and `pii_spans` (JSON list of `{type, kind, start, end}`,
  offsets in the redacted text; `field: meta` for matches in `meta`), never the values. The funnel row of
  the step in manifest.json gets `counts` (matches per type over the corpus).
- Detection is rules and checksums (curation/pii): candidates from regexes, then Luhn (cards), mod-97
  (IBAN), SSA rules (US SSN), Luhn (Canadian SIN, with its name nearby), Verhoeff (Aadhaar), mod-23
  (Spanish DNI/NIE), the UK NINO format, number plans (phones), context (IPs that are versions,
  documentation ranges) and entropy (secrets in assignments). Deterministic.
- `ner: {model: DIR}`: names and addresses from a local token-classification model (transformers,
  offline, off by default).

Run it right after `normalize` (NFKC turns full-width digits into the ASCII ones the validators read). After
the run, `curation.pii.scrub` redacts documents rejected before this step and removes the `_work/` cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from curation.pii.detect import TRIGGER, TYPES, Span
from curation.pii.redact import Redacted, redact_batch
from curation.steps.base import StepContext, StepInfo, reject_where
from mixloom.errors import UserError
from mixloom.schema import Strict

Action = Literal["redact", "mask", "reject", "off"]
TypeName = Literal[(*TYPES, "name", "address")]  # the detectors' types, plus the optional NER ones
NER_LABELS = {"PER": "name", "PERSON": "name", "LOC": "address", "ADDRESS": "address", "GPE": "address"}


class NerParams(Strict):
    model: str = Field(
        description="local token-classification model dir (transformers); nothing is downloaded"
    )
    min_score: float = Field(0.8, ge=0, le=1)
    max_chars: int = Field(5000, gt=0, description="characters of each document given to the model")


class PiiParams(Strict):
    action: Literal["redact", "mask", "reject"] = "redact"
    types: dict[TypeName, Action] = Field(
        default_factory=dict, description="per-type action, e.g. {secret: reject, ipv4: off}"
    )
    meta: bool = Field(True, description="also redact the records' other fields (the `meta` JSON)")
    ner: NerParams | None = None

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, v: Any) -> Any:
        """YAML reads a bare `off` as false (and `on` as true): take them as the actions they spell."""
        if not isinstance(v, dict):
            return v
        known = TypeName.__args__
        bad = [k for k in v if k not in known]
        if bad:
            raise ValueError(f"unknown type(s) {bad}; known: {', '.join(known)}")
        return {k: ("off" if a is False else "redact" if a is True else a) for k, a in v.items()}

    @model_validator(mode="after")
    def _ner_types(self) -> PiiParams:
        named = [t for t in ("name", "address") if self.types.get(t, "off") != "off"]
        if named and self.ner is None:
            raise ValueError(
                f"types {named} come from a NER model: add `ner: {{model: DIR}}` (a local model)"
            )
        return self


@dataclass
class Pii:
    params: PiiParams
    model_dir: str | None = None
    name: str = "pii"
    modifies_text: bool = True
    _ner: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_ner"] = None  # workers load their own copy
        return state

    @property
    def actions(self) -> dict[str, str]:
        acts = {t: self.params.types.get(t, self.params.action) for t in TYPES}
        if self.params.ner is not None:
            acts |= {t: self.params.types.get(t, self.params.action) for t in ("name", "address")}
        return acts

    @property
    def enabled(self) -> list[str]:
        return [t for t, a in self.actions.items() if a != "off"]

    # --- optional NER -----------------------------------------------------------------------------------

    def _ner_spans(self, text: str) -> list[Span]:
        if self._ner is None:
            from transformers import pipeline

            self._ner = pipeline(
                "token-classification", model=self.model_dir, aggregation_strategy="simple", device=-1
            )
        acts = self.actions
        out = []
        for ent in self._ner(text[: self.params.ner.max_chars]) if text.strip() else []:
            label = str(ent.get("entity_group", "")).upper().removeprefix("B-").removeprefix("I-")
            kind = NER_LABELS.get(label)
            if kind and acts.get(kind, "off") != "off" and float(ent["score"]) >= self.params.ner.min_score:
                out.append(Span(int(ent["start"]), int(ent["end"]), kind, label.lower()))
        return out

    # --- LocalStep --------------------------------------------------------------------------------------

    def _redact(self, col: pl.Series, actions: dict[str, str], ner: bool) -> tuple[pl.Series, list, list]:
        """Redacted column; the row positions that were scanned and their results."""
        scan = col.is_not_null() if ner else col.str.contains(TRIGGER).fill_null(False)
        idx = scan.arg_true()
        if idx.len() == 0:
            return col, [], []
        res: list[Redacted] = redact_batch(
            col.gather(idx).to_list(), actions, self._ner_spans if ner else None
        )
        return col.scatter(idx, [r.text for r in res]), idx.to_list(), res

    def process(self, df: pl.DataFrame) -> pl.DataFrame:
        actions = self.actions
        types = self.enabled
        counts = {t: np.zeros(df.height, dtype=np.int32) for t in types}
        spans: list[list[dict] | None] = [None] * df.height
        text, idx, res = self._redact(df["text"], actions, self.params.ner is not None)
        for i, r in zip(idx, res, strict=True):
            for t, n in r.counts.items():
                counts[t][i] += n
            spans[i] = r.spans or None
        out = df.with_columns(text.alias("text"))
        if self.params.meta and "meta" in df.columns:
            text_only = {t: a for t, a in actions.items() if t not in ("name", "address")}
            meta, idx, res = self._redact(df["meta"], text_only, False)
            for i, r in zip(idx, res, strict=True):
                for t, n in r.counts.items():
                    counts[t][i] += n
                if r.spans:
                    spans[i] = (spans[i] or []) + [s | {"field": "meta"} for s in r.spans]
            out = out.with_columns(meta.alias("meta"))
        out = out.with_columns(
            *[pl.Series(f"pii_{t}", counts[t], dtype=pl.Int32) for t in types],
            pl.Series("pii_spans", [json.dumps(s) if s else None for s in spans], dtype=pl.String),
        )
        for t in types:  # the first rejecting type (in detection priority order) gives the reason
            if actions[t] == "reject":
                out = reject_where(out, pl.col(f"pii_{t}") > 0, f"pii:{t}")
        return out

    def counts(self, df: pl.DataFrame) -> dict[str, int]:
        """Matches per type in this batch (kept and rejected documents): summed into the manifest."""
        return {t: int(df[f"pii_{t}"].sum() or 0) for t in self.enabled if f"pii_{t}" in df.columns}


def build(params: PiiParams, ctx: StepContext) -> Pii:
    model_dir = None
    if params.ner is not None:
        path = ctx.resolve(params.ner.model)
        if not (path / "config.json").is_file():
            raise UserError(
                f"steps.{ctx.index}.pii.ner.model: {path} has no config.json; give a local "
                f"token-classification model directory (save_pretrained output); nothing is downloaded"
            )
        model_dir = str(path)
    return Pii(params, model_dir)


INFO = StepInfo(name="pii", params=PiiParams, build=build, doc=__doc__ or "")
