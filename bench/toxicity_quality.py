"""Toxicity scorers on HateCheck (evaluation only): macro F1 and per-group false-positive rates.

    .venv/bin/python bench/toxicity_quality.py

Compares, on ../shared/data/toxicity/hatecheck/test_suite_cases.csv (3,728 cases, 7 groups):
- mixloom: the shipped model at its fixed threshold 0.5 (chosen on its own held-out data, never on HateCheck);
- profanity: alt-profanity-check at its *best* threshold on HateCheck (an upper bound for it);
- Davidson TF-IDF: word 1-2-gram TF-IDF + logistic regression trained on the full Davidson tweets, at its
  *best* threshold on HateCheck.
Per group: FPR on non-hateful identity cases (neutral and positive mentions: ident_neutral_nh, ident_pos_nh),
on those naming the group in words (adds counter-speech and negation; HateCheck's slur cases exist for 3 groups
only) and on all non-hateful cases that name a group (adds reclaimed slurs, homonyms).
Also the built-in probe (held-out templates over 20 groups) and the implicit-hate probe (`implicit_probe.py`,
16 groups, never trained on), where every scorer's threshold is the one it has on HateCheck.
Skips when ../shared is absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from curation.audit.probe import builtin_probe, evaluate, identity_fpr, load_probe  # noqa: E402
from curation.audit.scorers import make_scorer  # noqa: E402
from curation.toxicity_model.implicit_probe import probe as implicit_probe  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "toxicity"
IDENT = ["ident_neutral_nh", "ident_pos_nh"]
NO_SLUR = IDENT + ["counter_quote_nh", "counter_ref_nh", "negate_neg_nh"]


def tfidf_baseline(train_csv: Path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    d = pl.read_csv(train_csv)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform(d["tweet"].to_list())
    clf = LogisticRegression(max_iter=1000).fit(x, (d["class"] < 2).to_numpy())
    return lambda texts: clf.predict_proba(vec.transform(texts))[:, 1]


def best(probe: pl.DataFrame, s: np.ndarray) -> tuple[float, float]:
    return max((evaluate(probe, s, t)["overall"]["macro_f1"], t) for t in np.arange(0.02, 0.99, 0.02))


def main() -> None:
    hc_path = SHARED / "hatecheck" / "test_suite_cases.csv"
    if not hc_path.exists():
        print(f"skipped: {hc_path} is absent")
        return
    hc = load_probe(hc_path)
    texts = hc["text"].to_list()
    scorers = {
        "mixloom": make_scorer("mixloom", ROOT),
        "profanity": make_scorer("profanity", ROOT),
        "davidson tfidf": tfidf_baseline(SHARED / "davidson_labeled_data.csv"),
    }
    scores = {name: f(texts) for name, f in scorers.items()}
    thresholds = {"mixloom": 0.5}
    print(f"HateCheck, {hc.height} cases\n")
    print(
        f"{'scorer':<16}{'threshold':>10}{'macro F1':>10}{'F1 hateful':>11}{'ident FPR spread':>18}"
        f"{'no-slur spread':>16}{'all-nh FPR spread':>19}{'all-nh FPR':>12}"
    )
    tables, chosen = {}, {}
    for name, s in scores.items():
        f1, t = (evaluate(hc, s, 0.5)["overall"]["macro_f1"], 0.5) if name in thresholds else best(hc, s)
        ev = evaluate(hc, s, t)
        ident = identity_fpr(hc, s, t, IDENT)
        noslur = identity_fpr(hc, s, t, NO_SLUR)
        allnh = {g["group"]: g["fpr"] for g in ev["groups"]}
        tables[name], chosen[name] = (ident, noslur, allnh), t
        fp = float(np.mean(s[(hc["label"] == 0).to_numpy() & hc["group"].is_not_null().to_numpy()] > t))
        sp = lambda d: max(d.values()) - min(d.values())  # noqa: E731
        label = f"{t:.2f}" + ("" if name in thresholds else " (best)")
        print(
            f"{name:<16}{label:>10}{f1:>10.3f}{ev['overall']['f1_toxic']:>11.3f}{sp(ident):>18.3f}"
            f"{sp(noslur):>16.3f}{sp(allnh):>19.3f}{fp:>12.3f}"
        )
    print(
        "\nPer group, FPR on non-hateful identity cases (neutral + positive mentions) / naming the group in"
        " words / all non-hateful with a group; FNR:"
    )
    groups = sorted(tables["mixloom"][0])
    fnr = {n: {g["group"]: g["fnr"] for g in evaluate(hc, s, chosen[n])["groups"]} for n, s in scores.items()}
    print(f"{'group':<18}" + "".join(f"{n:>28}" for n in tables))
    for g in groups:
        print(
            f"{g:<18}"
            + "".join(
                f"{t[0][g]:>7.3f}{t[1][g]:>7.3f}{t[2][g]:>7.3f}{fnr[n][g]:>7.3f}" for n, t in tables.items()
            )
        )
    ev = evaluate(hc, scores["mixloom"], 0.5)
    print("\nmixloom per functionality (share flagged):")
    for f in ev["functionalities"]:
        print(f"  {f['functionality']:<20}{'hateful' if f['label'] else 'non-hateful':<13}{f['flagged']:.2f}")
    for title, probe in (
        ("Built-in probe (held-out templates, 20 groups)", builtin_probe()),
        ("Implicit-hate probe (implicit_probe.py, 16 groups, never trained on)", implicit_probe()),
    ):
        print(f"\n{title}, at each scorer's HateCheck threshold:")
        for name, scorer in scorers.items():
            e = evaluate(probe, scorer(probe["text"].to_list()), chosen[name])
            print(
                f"  {name:<15} macro F1 {e['overall']['macro_f1']:.3f}, F1 toxic {e['overall']['f1_toxic']:.3f}, "
                f"neutral FPR spread {e['fpr_spread']:.3f}"
            )


if __name__ == "__main__":
    main()
