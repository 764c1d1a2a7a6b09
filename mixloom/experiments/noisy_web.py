"""A raw web-like corpus made from real local text plus the noise curation is for (`prepare: {noisy_web: ...}`).

Clean documents (WikiText-2 paragraphs, FiQA posts) are mixed with: exact duplicates, near duplicates (a few
words changed), boilerplate lines shared across pages (cookie banners, share buttons), spam and keyword
stuffing, mojibake (UTF-8 read as cp1252), non-English text (GnuPG's translated help files when the system has
them), toxic tweets (Davidson et al. 2017) and code dumps (the Python standard library's sources). Every
document records its `kind`, so what curation removed can be checked against what was injected. Two crawls,
`web.jsonl` (encyclopedic text and most noise) and `finance.jsonl` (microblog posts, their copies and spam), so a
recipe can filter each as it should (Gopher's document rules suit articles, not 20-word posts).
"""

from __future__ import annotations

import glob
import json
import random
import re
import sysconfig
from pathlib import Path
from typing import Any

from mixloom.errors import UserError
from mixloom.manifest import file_checksum, stable_hash
from mixloom.recipe import Recipe

BOILERPLATE = [
    "We use cookies to improve your experience. By continuing to browse you agree to our cookie policy.",
    "Share this article: Facebook | Twitter | LinkedIn | Email | Print",
    "Subscribe to our newsletter for the latest updates delivered to your inbox.",
    "Copyright © 2024 All rights reserved. Terms of use | Privacy policy | Contact us",
    "Click here to read more stories like this one.",
    "Advertisement - continue reading below",
    "Sign in or create an account to leave a comment.",
    "Related posts: Top 10 tips you need to know today",
]
SPAM_WORDS = (
    "buy cheap best price free bonus casino online loans viagra crypto bitcoin deal discount click now win"
)


def _paragraphs(path: Path) -> list[str]:
    parts = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
    return [p.strip() for p in parts if p.strip() and not p.strip().startswith("=")]


def _json_texts(path: Path, field: str) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.values() if isinstance(data, dict) else data
    return [r[field] for r in rows if isinstance(r, dict) and isinstance(r.get(field), str)]


def _toxic(path: Path, n: int, rng: random.Random) -> list[str]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        tweets = [r["tweet"] for r in csv.DictReader(f) if r.get("class") in ("0", "1")]
    rng.shuffle(tweets)
    return [" ".join(tweets[i : i + 4]) for i in range(0, min(len(tweets), 4 * n), 4)]


def _non_english(pattern: str, n: int) -> list[str]:
    docs = []
    for f in sorted(glob.glob(pattern)):
        if f.endswith("help.txt"):  # the English original
            continue
        text = Path(f).read_text(encoding="utf-8", errors="replace")
        paras = [p.strip() for p in re.split(r"\n\.\n|\n\s*\n", text) if len(p.strip()) > 200]
        docs += [re.sub(r"^#.*$", "", p, flags=re.M).strip() for p in paras[:3]]
    return [d for d in docs if d][:n]


def _code(n: int, lines: int, rng: random.Random) -> list[str]:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    rng.shuffle(files)
    docs = []
    for f in files:
        src = f.read_text(encoding="utf-8", errors="replace").splitlines()
        for i in range(0, len(src) - lines, lines):
            docs.append("\n".join(src[i : i + lines]))
            if len(docs) >= n:
                return docs
    return docs


def _near(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 40)):
        i = rng.randrange(len(words))
        words[i] = words[i].upper() if rng.random() < 0.5 else words[i] + ","
    return " ".join(words)


def _spam(vocab: list[str], rng: random.Random) -> str:
    kw = rng.sample(vocab, 3)
    parts = []
    for _ in range(rng.randint(30, 60)):
        parts.append(rng.choice(kw) if rng.random() < 0.6 else rng.choice(SPAM_WORDS.split()))
    return " ".join(parts) + "!!! " + " ".join(kw * 10)


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


def build(
    recipe: Recipe,
    out: str,
    wiki: str = "data/wikitext2/wiki_valid_sample.txt",
    finance: str = "data/finance/fiqa_posts.json",
    finance_field: str = "sentence",
    toxic: str = "data/toxicity/davidson_sample.csv",
    non_english: str = "/usr/share/gnupg/help.*.txt",
    seed: int = 0,
    noise: dict[str, float] | None = None,
    code_lines: int = 40,
) -> Path:
    """Write two crawls into the folder `out`, `web.jsonl` and `finance.jsonl` (id, text, kind), unless it
    already holds this exact build. Noise made from a clean document lands in that document's crawl; spam is
    split between both; the rest is web. Returns the folder."""
    counts = {
        "exact_dup": 0.25,
        "near_dup": 0.15,
        "boilerplate": 0.5,
        "spam": 0.15,
        "mojibake": 0.1,
        "non_english": 0.1,
        "toxic": 0.1,
        "code": 0.1,
    } | (noise or {})
    src = {k: recipe.resolve(v) for k, v in {"wiki": wiki, "finance": finance, "toxic": toxic}.items()}
    for k, p in src.items():
        if not p.is_file():
            raise UserError(f"{recipe.path}: ablate.prepare.noisy_web.{k}: no file at {p}")
    dst = recipe.resolve(out)
    key = stable_hash(
        {
            "args": [wiki, finance, finance_field, toxic, non_english, seed, counts, code_lines],
            "files": {k: file_checksum(p) for k, p in src.items()},
            "version": 2,
        }
    )
    meta = dst / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return dst
    rng = random.Random(seed)
    clean = [("clean_wiki", t, "web") for t in _paragraphs(src["wiki"])]
    clean += [("clean_finance", t, "finance") for t in _json_texts(src["finance"], finance_field)]
    n = len(clean)
    vocab = {
        c: sorted({w for _, t, c2 in clean if c2 == c for w in re.findall(r"[a-z]{5,}", t.lower())})
        for c in ("web", "finance")
    }
    docs: list[tuple[str, str, str]] = []
    for kind, text, crawl in clean:
        if rng.random() < counts["boilerplate"]:
            top, bottom = rng.sample(BOILERPLATE, 2)
            text = f"{top}\n{text}\n{bottom}"
            kind = kind + "+boilerplate"
        docs.append((kind, text, crawl))
    picks = lambda frac: [rng.choice(clean) for _ in range(int(frac * n))]  # noqa: E731
    docs += [("exact_dup", t, c) for _, t, c in picks(counts["exact_dup"])]
    docs += [("near_dup", _near(t, rng), c) for _, t, c in picks(counts["near_dup"])]
    for i in range(int(counts["spam"] * n)):
        crawl = ("web", "finance")[i % 2]
        docs.append(("spam", _spam(vocab[crawl], rng), crawl))
    accented = [t for _, t, _ in clean if any(ord(c) > 127 for c in t)] or [t for _, t, _ in clean]
    docs += [("mojibake", _mojibake(rng.choice(accented)), "web") for _ in range(int(counts["mojibake"] * n))]
    docs += [("non_english", t, "web") for t in _non_english(non_english, int(counts["non_english"] * n))]
    docs += [("toxic", t, "web") for t in _toxic(src["toxic"], int(counts["toxic"] * n), rng)]
    docs += [("code", t, "web") for t in _code(int(counts["code"] * n), code_lines, rng)]
    rng.shuffle(docs)
    dst.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, Any] = {}
    for crawl in ("web", "finance"):
        tmp = dst / f".{crawl}.jsonl.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for i, (kind, text, c) in enumerate(docs):
                if c == crawl:
                    f.write(
                        json.dumps({"id": f"{crawl}{i:06d}", "kind": kind, "text": text}, ensure_ascii=False)
                    )
                    f.write("\n")
        tmp.replace(dst / f"{crawl}.jsonl")
    for kind, text, crawl in docs:
        k = kinds.setdefault(f"{crawl}:{kind.split('+')[0]}", {"docs": 0, "chars": 0})
        k["docs"], k["chars"] = k["docs"] + 1, k["chars"] + len(text)
    meta.write_text(json.dumps({"key": key, "kinds": kinds}, indent=2, sort_keys=True) + "\n")
    return dst
