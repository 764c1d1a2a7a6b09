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
        "templated identity statements (`curation/toxicity_model/templates.py`, `speech.py`: hate, "
        "counter-speech, denials, implicit hate, neutral facts, praise; some with one typo)",
        "mixloom's own licence",
        "written for mixloom",
    ),
    ("WikiText-2 test split sentences (everyday non-toxic text)", "CC BY-SA 3.0", "Merity et al. 2016"),
]


# HateCheck's non-hateful functionalities that name a group in words (its slur cases exist for 3 groups only)
NO_SLUR = ["counter_quote_nh", "counter_ref_nh", "ident_neutral_nh", "ident_pos_nh", "negate_neg_nh"]


def _per_group(
    title: str, ev: dict, ident: dict[str, float], no_slur: dict[str, float] | None = None
) -> list[str]:
    rows = [
        {
            "group": g["group"],
            "n": g["n"],
            "FPR": g["fpr"],
            "FNR": g["fnr"],
            "FPR identity": ident.get(g["group"]),
            **({"FPR no slur": no_slur.get(g["group"])} if no_slur is not None else {}),
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
        f"identity mentions spreads {spread} across groups"
        + (
            f", on non-hateful cases without slurs {max(no_slur.values()) - min(no_slur.values()):.3f}."
            if no_slur
            else "."
        ),
        "",
        md_table(rows, list(rows[0]) if rows else ["group"]),
        "",
    ]


def write_card(model: ToxicityModel, info: dict, path: Path, hatecheck: Path | None) -> str:
    lines = [
        "# mixloom toxicity model",
        "",
        "A logistic regression on hashed char (2-5) and word (1-2) n-grams (plus words conjoined with 'the text "
        "mentions a group'; n-grams after a negator (unless an idiom such as 'no doubt' or 'not gonna lie'), "
        "after a reporting word such as 'saying' or 'claim', up to the clause's end, or inside double quotes "
        "are separate features), identity terms masked to one "
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
        "4. Threshold chosen on held-out data (not HateCheck) for a target precision.",
        "",
        "## Metrics per group",
        "",
        "FPR: non-hateful texts naming the group; FPR identity: neutral and positive mentions only; FPR no "
        "slur (HateCheck): non-hateful cases naming the group in words (counter-speech, negation, neutral, "
        "positive).",
        "",
    ]
    probe = builtin_probe()
    s = model.score(probe["text"].to_list())
    lines += _per_group(
        "Built-in probe (held-out templates: wording never trained on, same sentences per group)",
        evaluate(probe, s, 0.5),
        identity_fpr(probe, s, 0.5, ["neutral"]),
    )
    from curation.toxicity_model.implicit_probe import probe as implicit_probe

    ip = implicit_probe()
    s = model.score(ip["text"].to_list())
    lines += _per_group(
        "Implicit-hate probe (`implicit_probe.py`: never trained on; 30 implicit-hate and 30 neutral "
        "sentences per group, 16 groups, no slurs)",
        evaluate(ip, s, 0.5),
        identity_fpr(ip, s, 0.5, ["neutral"]),
    )
    if hatecheck is not None and hatecheck.exists():
        hc = load_probe(hatecheck)
        s = model.score(hc["text"].to_list())
        lines += _per_group(
            "HateCheck (Röttger et al. 2021, CC BY 4.0; evaluation only)",
            evaluate(hc, s, 0.5),
            identity_fpr(hc, s, 0.5, ["ident_neutral_nh", "ident_pos_nh"]),
            identity_fpr(hc, s, 0.5, NO_SLUR),
        )
    lines += [
        "## Limits",
        "",
        "English only. A bag of n-grams: negation and reporting are read only as scopes (after a negator or "
        "a reporting word up to the next punctuation or 'but'; double quotes), so counter-speech "
        "worded unlike its training data is still often flagged, hate after a reporting word ('my dad said "
        "X are vermin and he is right') or in bare quotes is often missed, and it misses hate in words it never saw. Reclaimed slurs "
        "and slur homonyms are flagged (HateCheck has them only for gay people, black people and women, "
        "which widens the FPR spread over all non-hateful cases). Offensive language "
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
