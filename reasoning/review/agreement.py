"""Labels, agreement (Cohen's and Fleiss' kappa) and the resolved outcome of each reviewed item.

A decision's label is what agreement is measured on: for a sample, `accept` or `reject` (an edit says the
answer was not acceptable as it stood, so it counts as `reject`); for a pair, `chosen` or `rejected`, i.e.
whether the reviewer picked the answer the checker preferred. Labels share one meaning across items, which
Fleiss' kappa needs. Each reviewer's latest decision on an item is the one that counts.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

from reasoning.review.items import Item
from reasoning.review.store import Decision


def label(d: Decision, item: Item) -> str:
    if item.kind == "pair":
        return "chosen" if d.pick == item.checker_choice else "rejected"
    return "accept" if d.action == "accept" else "reject"


def checker_label(item: Item) -> str:
    if item.kind == "pair":
        return "chosen"
    return "accept" if item.answers[0].verdict else "reject"


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when undefined (one category only)."""
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in ca.keys() | cb.keys()) / (n * n)
    return None if pe == 1 else (po - pe) / (1 - pe)


def fleiss_kappa(counts: list[dict[str, int]]) -> float | None:
    """Fleiss' kappa over items rated by two or more raters (the number of raters may vary per item)."""
    rows = [c for c in counts if sum(c.values()) >= 2]
    if not rows:
        return None
    p_items = []
    totals: Counter[str] = Counter()
    for c in rows:
        n = sum(c.values())
        p_items.append((sum(v * v for v in c.values()) - n) / (n * (n - 1)))
        totals.update(c)
    grand = sum(totals.values())
    pe = sum((v / grand) ** 2 for v in totals.values())
    pbar = sum(p_items) / len(p_items)
    return None if pe == 1 else (pbar - pe) / (1 - pe)


def agreement(latest: dict[str, dict[str, Decision]], items: dict[str, Item]) -> dict[str, Any]:
    """Cohen's kappa for each pair of reviewers (on the items both decided) and Fleiss' kappa overall."""
    labels = {i: {r: label(d, items[i]) for r, d in by.items()} for i, by in latest.items() if i in items}
    reviewers = sorted({r for by in labels.values() for r in by})
    cohen = {}
    for a, b in combinations(reviewers, 2):
        both = [(by[a], by[b]) for by in labels.values() if a in by and b in by]
        k = cohen_kappa([x for x, _ in both], [y for _, y in both])
        cohen[f"{a} / {b}"] = {"kappa": k, "items": len(both)}
    counts = [dict(Counter(by.values())) for by in labels.values()]
    shared = sum(1 for c in counts if sum(c.values()) >= 2)
    return {
        "reviewers": reviewers,
        "cohen": cohen,
        "fleiss": {"kappa": fleiss_kappa(counts), "items": shared},
    }


def is_disagreement(by: dict[str, Decision], item: Item) -> bool:
    """Reviewers differ among themselves, or one of them differs from the checker."""
    got = {label(d, item) for d in by.values()}
    return len(got) > 1 or (bool(got) and got != {checker_label(item)})


def resolve(by: dict[str, Decision], item: Item) -> tuple[str, Decision | None]:
    """The item's outcome by majority of its reviewers' latest labels: `accept`, `reject`, `edit` (with the
    latest edit among the majority), `chosen`, `rejected`; `tie` or `none` leave the item as generated."""
    if not by:
        return "none", None
    count = Counter(label(d, item) for d in by.values()).most_common()
    if len(count) > 1 and count[0][1] == count[1][1]:
        return "tie", None
    top = count[0][0]
    if top == "reject":
        edits = [d for d in by.values() if d.action == "edit"]
        if edits:
            return "edit", max(edits, key=lambda d: d.id)
    return top, None
