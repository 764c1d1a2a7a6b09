"""Label preservation for augmented copies of labelled data.

A paraphrase can keep a text's similarity and numbers yet flip what it is labelled with (a negative review
rewritten as a neutral one, a worked solution whose last step now states another answer). With `label:` on a
method, each copy that passed the meaning filter is also checked against its document's label, either by

- a classifier: a local transformers text-classification model; the label it predicts for the copy must be
  the document's (by name, case-insensitive, or by class index, so `positive` and `1` both match class 1 of
  a model whose classes are `{0: negative, 1: positive}`), or
- the label's checker: `math_answer` (the copy's final answer equals the label, through the answer checker
  that verifies generated solutions) or `contains` (the label's text is still in the copy).

A copy that fails is rejected with its reason; a copy whose document has no label is rejected too (nothing to
keep), and a label the classifier does not know stops the run with one clear line: that is a wrong recipe.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from curation.augment.section import LabelKeep
from curation.steps.base import REJECT
from mixloom.errors import UserError, first_line
from mixloom.manifest import file_checksum
from verification.answers import check_math


def label_of(row: dict[str, Any], field: str) -> Any:
    """The label of a document: its column when a step made one, else the record field kept in `meta`."""
    if row.get(field) is not None:
        return row[field]
    try:
        meta = json.loads(row.get("meta") or "{}")
    except ValueError:
        return None
    return meta.get(field) if isinstance(meta, dict) else None


class Classifier:
    """A transformers sequence classifier on the CPU, in eval mode, predicting class names in batches."""

    def __init__(self, path: str):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        except (OSError, ValueError) as e:
            raise UserError(
                f"augment label classifier {path}: cannot load it as a transformers text-classification model "
                f"({first_line(e, 200)}); point label.classifier at a directory with config.json, "
                "the weights and the tokenizer"
            ) from None
        self.torch = torch
        id2label = self.model.config.id2label or {}
        self.names = [str(id2label.get(i, i)) for i in range(self.model.config.num_labels)]

    def predict(self, texts: list[str], batch_size: int) -> list[int]:
        out: list[int] = []
        with self.torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tok(texts[i : i + batch_size], padding=True, truncation=True, return_tensors="pt")
                out += self.model(**enc).logits.argmax(-1).tolist()
        return out

    def index(self, label: Any, where: str) -> int:
        """The class of a document's label: by name (case-insensitive), or a class index."""
        text = str(label).strip()
        for i, name in enumerate(self.names):
            if text.lower() == name.lower() or text == str(i):
                return i
        raise UserError(
            f"{where}: label {text!r} is not one of the classifier's classes ({', '.join(self.names)}); use a "
            "classifier trained on these labels, or a step that maps them to its class names"
        )


@cache
def _classifier(path: str) -> Classifier:
    return Classifier(path)


def classifier_fingerprint(path: str) -> str:
    """Checksums of the model directory's files: part of the augment cache key, so a retrained model re-checks."""
    d = Path(path)
    if not d.is_dir():
        return "missing"
    return ",".join(f"{f.name}:{file_checksum(f)}" for f in sorted(d.iterdir()) if f.is_file())


def check_labels(copies: list[dict[str, Any]], lk: LabelKeep, method: str) -> None:
    """Set the reject reason of every copy (not yet rejected) that lost its document's label."""
    todo, labels = [], []
    for c in copies:
        if c.get(REJECT) is not None:
            continue
        label = label_of(c, lk.field)
        if label is None:
            c[REJECT] = f"label: the document has no '{lk.field}' to keep"
        else:
            todo.append(c)
            labels.append(label)
    if not todo:
        return
    if lk.classifier is not None:
        clf = _classifier(lk.classifier)
        wanted = [
            clf.index(lab, f"augment.{method}.label: {lk.field} of document {c['parent_id']}")
            for c, lab in zip(todo, labels, strict=True)
        ]
        got = clf.predict([c["text"] for c in todo], lk.batch_size)
        for c, w, g in zip(todo, wanted, got, strict=True):
            if g != w:
                c[REJECT] = f"label changed: the classifier says {clf.names[g]!r}, not {clf.names[w]!r}"
        return
    for c, label in zip(todo, labels, strict=True):
        if lk.checker == "math_answer":
            verdict = check_math(c["text"], str(label))
            if not verdict.ok:
                c[REJECT] = f"label lost: {verdict.reason}"[:300]
        elif str(label).strip() not in c["text"]:
            c[REJECT] = f"label lost: {str(label).strip()[:80]!r} is not in the copy"
