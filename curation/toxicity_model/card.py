"""The model card of a built toxicity model: training data, licences, debiasing, metrics per group."""

from __future__ import annotations

import html
from pathlib import Path

import polars as pl

from curation.audit.page import md_table
from curation.audit.probe import builtin_probe, evaluate, identity_fpr, load_probe
from curation.toxicity_model.model import ToxicityModel
from mixloom.stage import Section

LICENCES = [
    (
        "Davidson et al. 2017 tweets (hate speech / offensive / neither)",
        "MIT",
        "github.com/t-davidson/hate-speech-and-offensive-language",
    ),
    (
        "templated identity statements (`curation/toxicity_model/templates.py`)",
        "mixloom's own licence",
        "written for mixloom",
    ),
    ("WikiText-2 test split sentences (everyday non-toxic text)", "CC BY-SA 3.0", "Merity et al. 2016"),
]


def _per_group(title: str, ev: dict, ident: dict[str, float]) -> list[str]:
    rows = [
        {
            "group": g["group"],
            "n": g["n"],
            "FPR": g["fpr"],
            "FNR": g["fnr"],
            "FPR identity": ident.get(g["group"]),
            "subgroup AUC": g["subgroup_auc"],
            "BPSN AUC": g["bpsn_auc"],
            "BNSP AUC": g["bnsp_auc"],
        }
        for g in ev["groups"]
    ]
    o = ev["overall"]
    vals = [v for v in ident.values() if v is not None]
    spread = f"{max(vals) - min(vals):.3f}" if vals else "–"
    return [
        f"### {title}",
        "",
        f"macro F1 {o['macro_f1']:.3f}, toxic-class F1 {o['f1_toxic']:.3f}, accuracy "
        f"{o['accuracy']:.3f} ({o['n']} texts, threshold {o['threshold']:g}); FPR on neutral/positive "
        f"identity mentions spreads {spread} across groups.",
        "",
        md_table(rows, list(rows[0]) if rows else ["group"]),
        "",
    ]


def write_card(model: ToxicityModel, info: dict, path: Path, hatecheck: Path | None) -> str:
    lines = [
        "# mixloom toxicity model",
        "",
        "A logistic regression on hashed char (2-5) and word (1-2) n-grams (plus words conjoined with 'the text "
        "mentions a group'), identity terms masked to one "
        "shared token, scored in numpy (`curation/toxicity_model/`). Output 0.5 = the threshold chosen on "
        f"held-out data for weighted precision >= {info['target_precision']:g} (raw threshold "
        f"{info['threshold_raw']:.3f}; held-out precision {info['heldout']['precision']:.3f}, recall "
        f"{info['heldout']['recall']:.3f}). Built in {info['seconds']} s by `mixloom toxicity-model build`.",
        "",
        "## Training data and licences",
        "",
        "| data | licence | source |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in LICENCES]
    rows = pl.DataFrame(info["rows"])
    lines += [
        "",
        "Rows per kind and label (heldout: used only to pick the threshold):",
        "",
        md_table(rows.to_dicts(), rows.columns),
        "",
        "HateCheck is never trained on: when its file is given, training texts equal to a HateCheck case "
        "are dropped, and it is used only for the evaluation below.",
        "",
        "## Debiasing",
        "",
        "1. Counterfactual augmentation: identity-mentioning tweets are copied with the group swapped.",
        "2. Identity-balanced sampling weights: every (group, label) cell has the same total weight.",
        "3. Identity terms are masked to one token before featurising (the group cannot move a score).",
        "4. Threshold chosen on held-out data for a target precision.",
        "",
        "## Metrics per group",
        "",
    ]
    probe = builtin_probe()
    s = model.score(probe["text"].to_list())
    lines += _per_group(
        "Built-in probe (held-out templates: wording never trained on, same sentences per group)",
        evaluate(probe, s, 0.5),
        identity_fpr(probe, s, 0.5, ["neutral"]),
    )
    if hatecheck is not None and hatecheck.exists():
        hc = load_probe(hatecheck)
        s = model.score(hc["text"].to_list())
        lines += _per_group(
            "HateCheck (Röttger et al. 2021, CC BY 4.0; evaluation only)",
            evaluate(hc, s, 0.5),
            identity_fpr(hc, s, 0.5, ["ident_neutral_nh", "ident_pos_nh"]),
        )
    lines += [
        "## Limits",
        "",
        "English only. A bag of n-grams: it cannot read negation or quotation reliably (counter-speech "
        "that quotes hate is often flagged) and misses hate in words it never saw. Offensive language "
        "without a target (profanity) counts as toxic, as in the Davidson labels. Identity terms outside "
        "the lexicon (`curation/identity.py`) are not masked.",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def card_section(path: Path | None = None) -> Section:
    """The shipped (or given) model's card as a report / data-card section (for runs that use it)."""
    from curation.toxicity_model.model import PACKAGED

    card = (path or PACKAGED.with_name("MODEL_CARD.md")).read_text(encoding="utf-8")
    body = card.split("\n", 1)[1] if card.startswith("# ") else card
    md = "## Toxicity model (`backend: mixloom`)\n" + body.replace("\n## ", "\n### ").replace(
        "\n### #", "\n####"
    )
    return Section(title="Toxicity model card", html=f"<pre>{html.escape(body)}</pre>", markdown=md, order=61)
