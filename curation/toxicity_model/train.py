"""Build mixloom's own toxicity model: a logistic regression on hashed n-grams with identity terms masked.

Training data (all offline, all licensed; see `MODEL_CARD.md`):
- Davidson et al. 2017 tweets (MIT): hate speech and offensive language → toxic, neither → not toxic. The
  200 rows shipped in `data/toxicity/davidson_sample.csv` are left out, so tests score unseen tweets;
- the templated identity statements of `templates.py` (written for mixloom): plain-word hate, neutral and
  positive mentions, for every group of the lexicon; and those of `speech.py`: counter-speech that quotes or
  reports hate, denials, negated kindness, implicit hate without slurs, neutral facts, short mentions; a
  share of both with one spelling change (`typo`);
- Wikipedia sentences (WikiText-2 test split, CC BY-SA 3.0) as everyday non-toxic text, when available.

Debiasing, in order:
1. counterfactual augmentation: every Davidson tweet that mentions a group is copied with the group swapped
   for others (`curation.identity.swap`), toxic and neutral tweets alike, so no group co-occurs with a label;
2. identity-balanced sampling: sample weights give every (group, label) cell the same total weight, and
   texts without a group the other half, so the shared identity token carries no label on its own;
3. identity masking in the features (`features.py`), so the group named cannot change a score;
4. the threshold is the lowest one whose precision on held-out data (a seeded 20% of Davidson and Wikipedia
   plus the held-out templates, weighted as above) reaches `target_precision`; the bias is then shifted so
   that this threshold is 0.5, the step's default `max`.
HateCheck (when present) is used only to drop any training text equal to one of its cases.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from curation.identity import GROUP_NAMES, find_groups, swap
from curation.toxicity_model import speech, templates
from curation.toxicity_model.features import FeatureConfig, matrix


@dataclass
class BuildConfig:
    davidson: Path
    exclude: Path | None = None  # a CSV with a `tweet` column whose rows are left out (the test sample)
    wiki: Path | None = None  # a text file of Wikipedia paragraphs (everyday non-toxic sentences)
    hatecheck: Path | None = None  # only to decontaminate: training texts equal to a case are dropped
    seed: int = 0
    counterfactual: int = 2  # swapped copies per identity-mentioning tweet
    per_group: int = 450  # templated sentences per group and kind
    per_group_speech: int = 150  # counter-speech, denial, implicit-hate... sentences per group and kind
    typos: float = 0.1  # share of templated sentences also added with one spelling change (both labels)
    wiki_sentences: int = 4000
    heldout: float = 0.2
    target_precision: float = 0.8
    c: float = 1.0  # inverse regularisation strength of the logistic regression
    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(scope=1, neg_idioms=1))


def _norm(t: str) -> str:
    return re.sub(r"\W+", " ", t.lower()).strip()


def _heldout(text: str, seed: int, frac: float) -> bool:
    h = hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64 < frac


LEET = str.maketrans("aeiost", "431057")


def typo(text: str, rng: random.Random) -> str:
    """One spelling change in one word that names no group: a letter dropped, two swapped, leetspeak, a space
    added inside the word or removed before it (obfuscated hate must still score as hate, and a typo in a
    kind sentence must not make it toxic: the same share of both labels gets one)."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and not find_groups(w)]
    if not idx:
        return text
    i = rng.choice(idx)
    w, j = words[i], rng.randrange(1, len(words[i]) - 1)
    op = rng.randrange(5)
    if op == 0:
        w = w[:j] + w[j + 1 :]
    elif op == 1:
        w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    elif op == 2:
        w = w.translate(LEET)
    elif op == 3:
        w = w[:j] + " " + w[j:]
    elif i > 0:
        words[i - 1], w = words[i - 1] + w, ""
    words[i] = w
    return " ".join(x for x in words if x)


def wiki_sentences(path: Path, n: int, seed: int) -> list[str]:
    """Up to n sentences of 40-300 characters from WikiText paragraphs (headings and <unk> left out)."""
    text = path.read_text(encoding="utf-8")
    sents = [
        s.strip().replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        for para in text.split("\n")
        if para.strip() and not para.strip().startswith("=")
        for s in re.split(r"(?<= \.) ", para)
    ]
    sents = [s for s in sents if 40 <= len(s) <= 300 and "<unk>" not in s]
    return random.Random(seed).sample(sents, min(n, len(sents)))


def dataset(cfg: BuildConfig) -> pl.DataFrame:
    """Every training and held-out row: text, label, kind, group, heldout."""
    rng = random.Random(cfg.seed)
    dav = pl.read_csv(cfg.davidson).select("tweet", "class")
    if cfg.exclude is not None and cfg.exclude.exists():
        dav = dav.filter(~pl.col("tweet").is_in(pl.read_csv(cfg.exclude)["tweet"].implode()))
    rows: list[dict] = []
    for tweet, cls in dav.iter_rows():
        label, held = int(cls in (0, 1)), _heldout(tweet, cfg.seed, cfg.heldout)
        groups = find_groups(tweet)
        rows.append(
            dict(text=tweet, label=label, kind="davidson", group=groups[0] if groups else None, heldout=held)
        )
        if groups and not held:
            for g in rng.sample([n for n in GROUP_NAMES if n != groups[0]], cfg.counterfactual):
                rows.append(
                    dict(text=swap(tweet, g), label=label, kind="counterfactual", group=g, heldout=False)
                )
    for split in ("train", "heldout"):
        n = cfg.per_group if split == "train" else max(10, cfg.per_group // 5)
        for ex in templates.render(split, n, cfg.seed):
            rows.append(
                dict(text=ex.text, label=ex.label, kind=ex.kind, group=ex.group, heldout=split == "heldout")
            )
        n = cfg.per_group_speech if split == "train" else max(5, cfg.per_group_speech // 5)
        for ex in speech.render(split, n, cfg.seed):
            rows.append(
                dict(text=ex.text, label=ex.label, kind=ex.kind, group=ex.group, heldout=split == "heldout")
            )
    if cfg.typos:
        rows += [
            {**r, "text": typo(r["text"], rng), "kind": "typo"}
            for r in rows
            if r["kind"] not in ("davidson", "counterfactual", "wiki") and rng.random() < cfg.typos
        ]
    if cfg.wiki is not None and cfg.wiki.exists():
        for s in wiki_sentences(cfg.wiki, cfg.wiki_sentences, cfg.seed):
            rows.append(
                dict(text=s, label=0, kind="wiki", group=None, heldout=_heldout(s, cfg.seed, cfg.heldout))
            )
    df = pl.DataFrame(
        rows,
        schema={
            "text": pl.String,
            "label": pl.Int8,
            "kind": pl.String,
            "group": pl.String,
            "heldout": pl.Boolean,
        },
    )
    if cfg.hatecheck is not None and cfg.hatecheck.exists():
        cases = {_norm(t) for t in pl.read_csv(cfg.hatecheck)["test_case"].to_list()}
        df = df.filter(~pl.col("text").map_elements(lambda t: _norm(t) in cases, return_dtype=pl.Boolean))
    return df


def balanced_weights(df: pl.DataFrame) -> np.ndarray:
    """Each (group, label) cell the same total weight; texts without a group get half of all weight."""
    cell = df.select((pl.col("group").fill_null("") + "|" + pl.col("label").cast(pl.String)).alias("c"))
    counts = cell.group_by("c").len()
    n_ident = counts.filter(~pl.col("c").str.starts_with("|")).height
    n_none = counts.height - n_ident
    w = cell.join(counts, on="c", how="left", maintain_order="left")
    share = (
        w["c"]
        .str.starts_with("|")
        .map_elements(
            lambda none: 0.5 / max(n_none, 1) if none else 0.5 / max(n_ident, 1), return_dtype=pl.Float64
        )
    )
    out = (share / w["len"]).to_numpy() * len(df)
    return out


def pick_threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray, target: float) -> tuple[float, dict]:
    """The lowest threshold with weighted precision >= target (the best precision if none reaches it)."""
    order = np.argsort(-p)
    tp = np.cumsum(w[order] * y[order])
    fp = np.cumsum(w[order] * (1 - y[order]))
    prec = tp / np.maximum(tp + fp, 1e-12)
    rec = tp / max(tp[-1], 1e-12)
    ok = np.flatnonzero(prec >= target)
    i = ok[-1] if len(ok) else int(np.argmax(prec))
    return float(p[order][i]), {"precision": float(prec[i]), "recall": float(rec[i])}


def build(cfg: BuildConfig, out: Path) -> dict:
    """Train, pick the threshold, write `out` (npz); returns the metrics recorded in the model card."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    df = dataset(cfg)
    w = balanced_weights(df)
    tr = df["heldout"].to_numpy() == 0
    x = matrix(df["text"].to_list(), cfg.features)
    y = df["label"].to_numpy().astype(np.int64)
    clf = LogisticRegression(C=cfg.c, solver="liblinear", max_iter=200, random_state=cfg.seed)
    clf.fit(x[tr], y[tr], sample_weight=w[tr])
    logit = x[~tr] @ clf.coef_[0] + clf.intercept_[0]
    prob = 1 / (1 + np.exp(-logit))
    thr, at = pick_threshold(prob, y[~tr], w[~tr], cfg.target_precision)
    shift = float(np.log(thr / (1 - thr)))  # logit of the threshold: subtracted, so it becomes 0.5
    counts = df.group_by("kind", "label", "heldout").len().sort("kind", "label", "heldout")
    card = {
        "threshold_raw": thr,
        "heldout": at,
        "target_precision": cfg.target_precision,
        "rows": counts.to_dicts(),
        "seconds": round(time.perf_counter() - t0, 1),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        weights=clf.coef_[0].astype(np.float16),
        bias=np.float64(clf.intercept_[0] - shift),
        features=np.array(list(asdict(cfg.features).values()), dtype=np.int64),
    )
    tmp.replace(out)
    return card
