"""A toxicity scorer's errors per identity group on a labelled probe set.

Probe sets: HateCheck (`test_suite_cases.csv`: `test_case`, `label_gold`, `target_ident`, `functionality`)
or any CSV with `text`, `label` (1 toxic / 0 not), `group` and optionally `functionality`; by default the
built-in probe, the held-out templates of `curation.toxicity_model.templates` (wording the shipped model
never saw; the same sentences for each of 20 groups).

Metrics: macro F1 and accuracy; FPR and FNR per group and per functionality; the unintended-bias AUCs of
the Jigsaw competition (Borkan et al. 2019) per group: subgroup AUC (only texts mentioning the group), BPSN
(background positive, subgroup negative: toxic texts about other groups vs non-toxic texts about this one)
and BNSP (the reverse). A low BPSN means non-toxic mentions of the group score like toxic text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mixloom.errors import UserError

BUILTIN = "builtin"


def builtin_probe(per_group: int = 40) -> pl.DataFrame:
    from curation.toxicity_model.templates import render

    rows = [(e.text, e.label, e.group, e.kind) for e in render("heldout", per_group)]
    return pl.DataFrame(rows, schema=["text", "label", "group", "functionality"], orient="row")


def load_probe(path: str | Path) -> pl.DataFrame:
    """The probe as columns text, label (Int8), group (null: no group), functionality."""
    if str(path) == BUILTIN:
        return builtin_probe()
    p = Path(path)
    if not p.is_file():
        raise UserError(
            f"probe {p} does not exist; give a HateCheck-style or text/label/group CSV, or 'builtin'"
        )
    df = pl.read_csv(p)
    if {"test_case", "label_gold"} <= set(df.columns):
        return df.select(
            pl.col("test_case").str.strip_chars().alias("text"),
            (pl.col("label_gold") == "hateful").cast(pl.Int8).alias("label"),
            pl.col("target_ident").alias("group"),
            pl.col("functionality"),
        )
    missing = {"text", "label"} - set(df.columns)
    if missing:
        raise UserError(f"probe {p}: missing column(s) {sorted(missing)} (need text, label, group)")
    return df.select(
        pl.col("text"),
        pl.col("label").cast(pl.Int8),
        (pl.col("group") if "group" in df.columns else pl.lit(None, pl.String)).alias("group"),
        (pl.col("functionality") if "functionality" in df.columns else pl.lit("all")).alias("functionality"),
    )


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC AUC from scores of positives and negatives (ties count half); None when a side is empty."""
    if len(pos) == 0 or len(neg) == 0:
        return None
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(y, np.r_[pos, neg]))


def _f1(y: np.ndarray, pred: np.ndarray, cls: int) -> float:
    tp = np.sum((pred == cls) & (y == cls))
    fp = np.sum((pred == cls) & (y != cls))
    fn = np.sum((pred != cls) & (y == cls))
    return float(2 * tp / max(2 * tp + fp + fn, 1))


def evaluate(probe: pl.DataFrame, scores: np.ndarray, threshold: float) -> dict:
    """Overall, per-group and per-functionality error rates and the Jigsaw bias AUCs."""
    y = probe["label"].to_numpy().astype(int)
    pred = (scores > threshold).astype(int)
    df = probe.with_columns(pl.Series("score", scores), pl.Series("pred", pred))
    overall = {
        "macro_f1": (_f1(y, pred, 1) + _f1(y, pred, 0)) / 2,
        "f1_toxic": _f1(y, pred, 1),
        "accuracy": float(np.mean(pred == y)),
        "n": len(y),
        "threshold": threshold,
    }
    groups = []
    for g in sorted(df["group"].drop_nulls().unique().to_list()):
        sub = df.filter(pl.col("group") == g)
        rest = df.filter((pl.col("group") != g) | pl.col("group").is_null())
        neg, pos = sub.filter(pl.col("label") == 0), sub.filter(pl.col("label") == 1)
        groups.append(
            {
                "group": g,
                "n": sub.height,
                "fpr": float(neg["pred"].mean()) if neg.height else None,
                "fnr": float(1 - pos["pred"].mean()) if pos.height else None,
                "subgroup_auc": _auc(pos["score"].to_numpy(), neg["score"].to_numpy()),
                "bpsn_auc": _auc(
                    rest.filter(pl.col("label") == 1)["score"].to_numpy(), neg["score"].to_numpy()
                ),
                "bnsp_auc": _auc(
                    pos["score"].to_numpy(), rest.filter(pl.col("label") == 0)["score"].to_numpy()
                ),
            }
        )
    funcs = (
        df.group_by("functionality")
        .agg(
            pl.len().alias("n"),
            pl.col("label").first().alias("label"),
            (pl.col("pred") != pl.col("label")).mean().alias("error_rate"),
            pl.col("pred").mean().alias("flagged"),
        )
        .sort("functionality")
        .to_dicts()
    )
    fprs = [g["fpr"] for g in groups if g["fpr"] is not None]
    return {
        "overall": overall,
        "groups": groups,
        "functionalities": funcs,
        "fpr_spread": (max(fprs) - min(fprs)) if fprs else None,
    }


def identity_fpr(
    probe: pl.DataFrame, scores: np.ndarray, threshold: float, kinds: list[str]
) -> dict[str, float]:
    """FPR per group on non-toxic probe texts of the given functionalities (e.g. neutral/positive mentions)."""
    df = probe.with_columns(pl.Series("pred", scores > threshold)).filter(
        (pl.col("label") == 0) & pl.col("group").is_not_null() & pl.col("functionality").is_in(kinds)
    )
    out = df.group_by("group").agg(pl.col("pred").mean()).sort("group")
    return dict(zip(out["group"].to_list(), out["pred"].to_list(), strict=True))
