"""Does the quality classifier pay? Heuristics-only vs heuristics + classifier, tiny LMs at equal tokens.

    .venv/bin/python bench/quality_ablation.py [--seeds 0 1 2] [--lm bigram|llama] [--steps 60]

A small, honest stand-in for the `ablate` stage (another issue): per seed and arm, the same pool is curated
(arm A: normalize, heading filter, Gopher quality + repetition, exact dedup; arm B: the same plus the
`quality_model` step at threshold 0.5, the classifier trained DCLM-style as in recipes/quality_classifier.yaml),
a language model is trained on the same number of tokens of each arm's train split (one tokenizer per seed,
trained on the heuristics arm, shared by both), and bits per byte are measured on held-out text no arm
trained on. `--lm bigram` (default): an interpolated Kneser-Ney bigram model over the tokenizer's tokens,
fitted on the first N tokens of each arm's train split in a seeded document order, N = the smaller arm's
token count (seconds, so many seeds fit). `--lm llama`: the tiny Llama of `train.pretrain` (2 layers, width 64,
context 128) for `--steps` x 2,048 tokens on each arm (the arm with fewer unique tokens repeats more);
slow on a shared CPU. Held-out sets:

- `wiki-test`: WikiText-2 test paragraphs (from ../shared; skipped when absent);
- `fiqa-heldout`: a seeded fifth of the FiQA posts, kept out of the pool (informal financial text, which the
  classifier tends to reject: the cost side of filtering).

Pool: WikiText-2 validation (../shared, else the data/ sample), FiQA (the other four fifths), SemEval headlines,
and data/quality/web_noise.jsonl. The classifier's negatives are those same noise documents (DCLM also draws
negatives from the pool it filters). The recipe seed changes everything seeded: splits, classifier hold-out,
fastText and the LM's initialisation and data order.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MIXLOOM_QUIET", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / ".bench" / "quality_ablation"

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import yaml  # noqa: E402

from mixloom.layout import RunLayout  # noqa: E402
from mixloom.manifest import stable_hash  # noqa: E402
from mixloom.plugins import STAGES  # noqa: E402
from mixloom.recipe import load_recipe  # noqa: E402

HEURISTICS = [
    {"normalize": {"form": "NFKC"}},
    {"polars": {"filter": "~pl.col('text').str.contains(r'^=+ .* =+$')", "reason": "polars:heading"}},
    {
        "quality": {
            "rules": ["gopher_quality", "gopher_repetition"],
            # short texts (headlines, posts) are part of the pool; WikiText spaces its punctuation
            "overrides": {
                "gopher_quality.min_doc_words": 5,
                "gopher_quality.max_non_alpha_words_ratio": 0.65,
            },
        }
    },
]
DEDUP = {"dedup": {"method": "exact"}}
CLASSIFIER = {"quality_model": {"model": "train.quality_model", "threshold": 0.5}}


def fiqa_split() -> tuple[Path, list[str]]:
    """The pool's FiQA file (four fifths) and the held-out fifth's texts."""
    rows = json.loads((ROOT / "data/finance/fiqa_posts.json").read_text())
    held = {k for k in rows if int(stable_hash(["fiqa-heldout", k])[:8], 16) % 5 == 0}
    pool = WORK / "fiqa_pool.json"
    pool.parent.mkdir(parents=True, exist_ok=True)
    pool.write_text(json.dumps({k: v for k, v in rows.items() if k not in held}))
    return pool, [rows[k]["sentence"] for k in sorted(held)]


def eval_sets(fiqa_held: list[str]) -> dict[str, str]:
    sets = {"fiqa-heldout": "\n\n".join(fiqa_held)}
    test = SHARED / "wikitext2" / "test.txt"
    if test.exists():
        paras = [p.strip() for p in re.split(r"\n[ \t]*\n", test.read_text()) if len(p.strip()) > 200]
        sets["wiki-test"] = "\n\n".join(paras[:300])
    else:
        print(f"note: {test} absent: no wiki-test evaluation")
    return sets


def recipe_dict(arm: str, seed: int, fiqa_pool: Path, steps: int) -> dict:
    wiki = SHARED / "wikitext2" / "valid.txt"
    wiki = wiki if wiki.exists() else ROOT / "data/wikitext2/wiki_valid_sample.txt"
    return {
        "name": f"ablation-{arm}-{seed}",
        "seed": seed,
        "base_dir": str(ROOT),
        "sources": {
            "wiki": {"path": str(wiki), "format": "text", "split_on": "blank_line", "domain": "general"},
            "headlines": {
                "path": "data/finance/semeval2017_task5_headlines.json",
                "format": "json",
                "text": "title",
                "id": "id",
                "domain": "financial",
            },
            "fiqa": {
                "path": str(fiqa_pool),
                "format": "json",
                "text": "sentence",
                "id": "_key",
                "domain": "financial",
            },
            "web": {"path": "data/quality/web_noise.jsonl", "format": "jsonl", "id": "id", "domain": "web"},
        },
        "annotate": {
            "method": "reference",
            "positives": {
                "paths": [
                    {"path": "data/wikitext2/wiki_valid_sample.txt", "split_on": "blank_line"},
                    {
                        "path": "data/finance/semeval2017_task5_headlines.json",
                        "format": "json",
                        "text": "title",
                    },
                ],
                "min_chars": 30,
            },
            "negatives": {"paths": [{"path": "data/quality/web_noise.jsonl"}], "min_chars": 30},
        },
        "steps": HEURISTICS + ([CLASSIFIER] if arm == "classifier" else []) + [DEDUP],
        "splits": {"train": 0.98, "validation": 0.02},
        "train": {
            "tokenizer": {"vocab_size": 2048},
            "quality_model": {"data": "annotate.labels"},
            "pretrain": {
                "model": {"layers": 2, "heads": 2, "width": 64, "context": 128},
                "steps": steps,
                "batch_tokens": 2048,
                "micro_batch": 16,
                "lr": 3e-3,
                "eval_every": steps,
                "eval_tokens": 2048,
                "checkpoint_every": steps,
                "log_every": max(1, steps // 5),
                "device": "cpu",
                "dtype": "fp32",
                "compile": False,
            },
        },
    }


def bits_per_byte(model_dir: Path, text: str, context: int = 128) -> float:
    """Summed next-token loss over non-overlapping windows, in bits, per UTF-8 byte of the text."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    lm = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    nll = 0.0
    with torch.no_grad():
        for i in range(0, len(ids) - 1, context):
            chunk = torch.tensor([ids[i : i + context + 1]])
            if chunk.shape[1] < 2:
                break
            logits = lm(chunk[:, :-1]).logits
            nll += torch.nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
    return nll / math.log(2) / len(text.encode("utf-8"))


def curate_arm(arm: str, seed: int, fiqa_pool: Path, steps: int) -> tuple[object, RunLayout, dict]:
    from curation.pipeline import curate

    d = WORK / f"seed{seed}" / arm
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    p = d / "recipe.yaml"
    p.write_text(yaml.safe_dump(recipe_dict(arm, seed, fiqa_pool, steps), sort_keys=False))
    r, layout = load_recipe(p), RunLayout(d / "run")
    info: dict = {}
    if arm == "classifier":
        STAGES.get("annotate").run(r, layout)
        info["classifier_f1"] = STAGES.get("train.quality_model").run(r, layout)["f1"]
    m = curate(r, out=layout.root)
    info["curated_docs"] = m["curated"]["docs"]
    src = pl.read_parquet(sorted(layout.curated.glob("*.parquet")), columns=["source"])["source"]
    info["curated_by_source"] = dict(sorted(src.value_counts().rows()))
    return r, layout, info


def train_docs(layout: RunLayout, seed: int, tok) -> list[list[int]]:
    """The train split's documents (first copies), tokenised, in a seeded order."""
    files = sorted(layout.mix("train").glob("*.parquet"))
    df = pl.read_parquet(files, columns=["id", "text", "epoch"]).filter(pl.col("epoch") == 0)
    df = df.with_columns(
        pl.col("id").map_elements(lambda i: stable_hash([seed, i]), return_dtype=pl.String).alias("k")
    )
    texts = df.sort("k")["text"].to_list()
    return [e.ids for e in tok.encode_batch(texts)]


class Bigram:
    """Interpolated Kneser-Ney bigram model (discount 0.75) over token ids; unseen tokens get a uniform floor."""

    def __init__(self, docs: list[list[int]], n_tokens: int, vocab: int, d: float = 0.75):
        seqs, total = [], 0
        for ids in docs:
            if total >= n_tokens:
                break
            ids = ids[: n_tokens - total]
            seqs.append(np.array(ids, dtype=np.int64))
            total += len(ids)
        self.tokens, self.V, self.d = total, vocab, d
        prev = np.concatenate([s[:-1] for s in seqs if len(s) > 1])
        nxt = np.concatenate([s[1:] for s in seqs if len(s) > 1])
        pairs, counts = np.unique(prev * vocab + nxt, return_counts=True)
        self.pairs, self.counts = pairs, counts
        v, w = pairs // vocab, pairs % vocab
        self.c_v = np.bincount(v, weights=counts, minlength=vocab)  # c(v, *)
        self.n1_v = np.bincount(v, minlength=vocab)  # distinct followers of v
        cont = np.bincount(w, minlength=vocab).astype(np.float64)  # distinct predecessors of w
        self.p_cont = 0.99 * cont / cont.sum() + 0.01 / vocab

    def logprob2(self, ids: list[int]) -> float:
        a = np.array(ids, dtype=np.int64)
        v, w = a[:-1], a[1:]
        key = v * self.V + w
        pos = np.clip(np.searchsorted(self.pairs, key), 0, len(self.pairs) - 1)
        c = np.where(self.pairs[pos] == key, self.counts[pos], 0).astype(np.float64)
        cv = self.c_v[v]
        seen = cv > 0
        p = np.where(
            seen,
            np.maximum(c - self.d, 0) / np.maximum(cv, 1)
            + self.d * self.n1_v[v] / np.maximum(cv, 1) * self.p_cont[w],
            self.p_cont[w],
        )
        return float(np.log2(self.p_cont[a[0]]) + np.log2(p).sum())


def bigram_bpb(model: Bigram, tok, text: str) -> float:
    docs = [t for t in text.split("\n\n") if t]
    bits = -sum(model.logprob2(e.ids) for e in tok.encode_batch(docs) if len(e.ids) > 1)
    return bits / sum(len(t.encode("utf-8")) for t in docs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lm", choices=["bigram", "llama"], default="bigram")
    ap.add_argument("--steps", type=int, default=60, help="llama: optimizer steps of 2,048 tokens")
    a = ap.parse_args()
    from tokenizers import Tokenizer

    from training.stages import run_pretrain, run_tokenizer

    fiqa_pool, fiqa_held = fiqa_split()
    evals = eval_sets(fiqa_held)
    rows = []
    for seed in a.seeds:
        arms = {arm: curate_arm(arm, seed, fiqa_pool, a.steps) for arm in ("heuristics", "classifier")}
        r0, base, _ = arms["heuristics"]
        run_tokenizer(r0, base.root)
        tok_dir = base.root / "train" / "tokenizer"
        shutil.copytree(tok_dir, arms["classifier"][1].root / "train" / "tokenizer")
        tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
        docs = {arm: train_docs(layout, seed, tok) for arm, (_, layout, _) in arms.items()}
        n = min(sum(len(d) for d in ds) for ds in docs.values())
        for arm, (r, layout, info) in arms.items():
            if a.lm == "bigram":
                lm = Bigram(docs[arm], n, tok.get_vocab_size())
                bpb = {name: bigram_bpb(lm, tok, text) for name, text in evals.items()}
                info["lm_tokens"] = lm.tokens
            else:
                run_pretrain(r, layout.root, resume=False)
                model = layout.root / "train" / "pretrain" / "model"
                bpb = {name: bits_per_byte(model, text) for name, text in evals.items()}
                info["lm_tokens"] = a.steps * 2048
            info["train_split_tokens"] = sum(len(d) for d in docs[arm])
            rows.append({"seed": seed, "arm": arm, **info, **{k: round(v, 5) for k, v in bpb.items()}})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{a.lm}: bits per byte on held-out text (lower is better), mean ± sd over seeds {a.seeds}")
    for name in evals:
        for arm in ("heuristics", "classifier"):
            vals = [r[name] for r in rows if r["arm"] == arm]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            print(f"  {name:13s} {arm:11s} {statistics.mean(vals):.4f} ± {sd:.4f}   {vals}")
        wins = sum(rb[name] < ra[name] for ra, rb in zip(rows[0::2], rows[1::2], strict=True))
        print(f"  {name:13s} classifier better in {wins} of {len(a.seeds)} seeds")
    (WORK / f"results-{a.lm}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
