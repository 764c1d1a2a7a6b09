"""Build `data/quality/web_noise.jsonl`: web-like low-quality documents made from real local text.

The negatives of the DCLM-style example (`recipes/quality_classifier.yaml`). Every document starts from real
text shipped in data/ (WikiText-2 paragraphs and headings, FiQA posts, SemEval headlines) and is degraded
the way crawled pages are: navigation and cookie boilerplate around a fragment, spam calls to action,
keyword stuffing, template filler of content farms, shuffled word salad, and mojibake (UTF-8 read as
cp1252). Deterministic (seeded), so the shipped file can be rebuilt byte for byte:

    .venv/bin/python scripts/make_web_noise.py            # writes data/quality/web_noise.jsonl
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "quality" / "web_noise.jsonl"

NAV = [
    "Home",
    "About us",
    "Contact",
    "Blog",
    "Shop",
    "Login",
    "Register",
    "FAQ",
    "Sitemap",
    "Careers",
    "Press",
]
COOKIE = [
    "We use cookies to improve your experience. By continuing to browse you agree to our use of cookies.",
    "This website uses cookies. Accept all | Manage preferences | Reject",
    "Subscribe to our newsletter! Enter your email address:",
    "Share this: Facebook Twitter Pinterest LinkedIn WhatsApp Email Print",
    "Posted by admin | 0 comments | Read more >>",
    "Copyright © 2016 All rights reserved. Terms of Use | Privacy Policy | Disclaimer",
    "Skip to content. Menu. Search for: Search",
    "You may also like: Top 10 tips | Best deals | Trending now",
]
SPAM = [
    "CLICK HERE to get {k} for FREE!!!",
    "BUY NOW!!! Best {k} at the LOWEST price $$$ limited offer",
    "Make $5000 a week from home with {k}!!! No experience needed >>> www.{w}-cash.biz",
    "Cheap {k} online, no prescription, fast shipping, 100% guaranteed!!!",
    "Hot singles in your area want to talk about {k}. Sign up now!!!",
    "URGENT: you have won a {k} gift card. Claim your prize today >>>",
    "Download {k} full version crack serial keygen free download 2016",
]
FILLER = [
    "In this article we will discuss everything you need to know about {k}.",
    "{K} is one of the most important topics that many people are searching for today.",
    "There are many benefits of {k} and there are many reasons why {k} is very popular.",
    "If you are looking for the best {k}, then you have come to the right place.",
    "Read on to find out more about {k} and why {k} matters for you.",
    "{K} can be used for many things, and {k} is also good for many other things.",
    "In conclusion, {k} is a very important thing and we hope this article about {k} was helpful.",
    "Many experts agree that {k} is a great choice for anyone who wants {k}.",
]
STOP = set(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "as",
        "is",
        "was",
        "were",
        "be",
        "been",
        "are",
        "it",
        "its",
        "this",
        "that",
    ]
)


def load_real() -> tuple[list[str], list[str], list[str]]:
    raw = (ROOT / "data/wikitext2/wiki_valid_sample.txt").read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"\n[ \t]*\n", raw) if b.strip()]
    paras = [b for b in blocks if not b.startswith("=") and len(b) > 200]
    titles = [b.strip("= ").strip() for b in blocks if b.startswith("=")]
    fiqa = json.loads((ROOT / "data/finance/fiqa_posts.json").read_text(encoding="utf-8"))
    posts = [r["sentence"] for r in fiqa.values()]
    heads = [
        r["title"] for r in json.loads((ROOT / "data/finance/semeval2017_task5_headlines.json").read_text())
    ]
    return paras, titles + heads, posts


def keywords(text: str, rng: random.Random, k: int = 3) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{3,}", text) if w.lower() not in STOP]
    return rng.sample(words, min(k, len(words))) or ["deals"]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20]


def boilerplate(rng: random.Random, src: str) -> str:
    nav = " | ".join(rng.sample(NAV, rng.randint(4, 8)))
    frag = " ".join(sentences(src)[: rng.randint(1, 2)]) or src[:160]
    parts = [nav, *rng.sample(COOKIE, rng.randint(2, 4)), frag, *rng.sample(COOKIE, rng.randint(1, 3))]
    return "\n".join(parts)


def spam(rng: random.Random, src: str) -> str:
    kws = keywords(src, rng, 4)
    lines = [rng.choice(SPAM).format(k=rng.choice(kws), w=kws[0].lower()) for _ in range(rng.randint(1, 5))]
    return " ".join(lines) if rng.random() < 0.5 else "\n".join(lines)


def stuffing(rng: random.Random, src: str) -> str:
    kws = keywords(src, rng, rng.randint(2, 4))
    words = [
        rng.choice(kws + ["best", "cheap", "top", "online", "buy", "free"])
        for _ in range(rng.randint(12, 60))
    ]
    return " ".join(w.lower() if rng.random() < 0.6 else w for w in words)


def filler(rng: random.Random, src: str) -> str:
    k = " ".join(keywords(src, rng, rng.randint(1, 2))).lower()
    lines = rng.sample(FILLER, rng.randint(3, 7))
    return " ".join(s.format(k=k, K=k[:1].upper() + k[1:]) for s in lines)


def word_salad(rng: random.Random, src: str) -> str:
    words = src.split()
    rng.shuffle(words)
    return " ".join(words[: rng.randint(20, 120)])


def mojibake(rng: random.Random, src: str) -> str:
    """Text that was written with typographic punctuation and read back as cp1252 (â€™ for ’)."""
    smart = src.replace(" 's", "’s").replace("'", "’").replace(' " ', " “ ", 1).replace(" - ", " – ")
    smart = re.sub(r"\s@-@\s", "–", smart).replace(" , ", ", ").replace(" . ", ". ")
    if all(ord(c) < 128 for c in smart):
        smart = smart.replace(", ", " – ", 2) + " Café ©"
    return smart.encode("utf-8").decode("cp1252", errors="replace")


KINDS = {
    "boilerplate": boilerplate,
    "spam": spam,
    "keyword_stuffing": stuffing,
    "template_filler": filler,
    "word_salad": word_salad,
    "mojibake": mojibake,
}


def build(per_kind: int = 200, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    paras, short, posts = load_real()
    pools = {"wiki": paras, "short": short, "fiqa": posts}
    out = []
    for kind, make in KINDS.items():
        for i in range(per_kind):
            pool = rng.choice(["wiki", "fiqa"] if kind in ("word_salad", "mojibake") else list(pools))
            j = rng.randrange(len(pools[pool]))
            out.append(
                {
                    "id": f"{kind}-{i:04d}",
                    "kind": kind,
                    "derived_from": f"{pool}:{j}",
                    "text": make(rng, pools[pool][j]),
                }
            )
    return out


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} documents to {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
