"""Toxicity step throughput on CPU, per backend, on real short texts (tweets) and longer documents.

    .venv/bin/python bench/toxicity.py [--docs 20000] [--threads 1] [--no-detoxify]

Backends measured (docs/s per core = documents / CPU seconds of this process, robust on a shared machine;
numpy, scikit-learn and torch run on one thread here):
- mixloom: mixloom's own model (the offline default; `curation/toxicity_model/`), and with unit=line;
- profanity: alt-profanity-check (the fastest; weights ship in the package);
- profanity, unit=line: the same, scoring each line and keeping the maximum;
- detoxify, tiny: a 2-layer, 64-wide BERT checkpoint built here (random weights, detoxify's format, loaded
  through detoxify's own API) — measures the step's overhead, not a real model's cost;
- detoxify, base-shaped: a checkpoint with bert-base-uncased's shape (12 layers, 768 wide, random
  weights, local vocabulary) — the compute of detoxify's `original` model, without its weights;
- detoxify, original: the released weights, only when they are in the torch hub cache (else skipped).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MIXLOOM_QUIET", "1")

import polars as pl  # noqa: E402

from curation.steps.base import StepContext  # noqa: E402
from curation.steps.toxicity import DETOXIFY_WEIGHTS, ToxicityParams, build, torch_hub_dir  # noqa: E402

WORK = ROOT / ".bench" / "toxicity"
CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def texts(n: int) -> tuple[list[str], list[str]]:
    """n tweets (the shipped Davidson sample, cycled) and n paragraphs of WikiText (cycled)."""
    tweets = pl.read_csv(ROOT / "data" / "toxicity" / "davidson_sample.csv")["tweet"].to_list()
    wiki = (ROOT / "data" / "wikitext2" / "wiki_valid_sample.txt").read_text(encoding="utf-8")
    paras = [p for p in wiki.split("\n") if len(p.split()) >= 40]
    return [tweets[i % len(tweets)] for i in range(n)], [paras[i % len(paras)] for i in range(n)]


def make_checkpoint(out: Path, corpus: list[str], hidden: int, layers: int, heads: int) -> Path:
    """A random-weight BERT classifier saved the way detoxify's `load_checkpoint` expects, config and
    tokenizer in `out` (so nothing reaches the hub)."""
    import torch
    import transformers

    ckpt = out / "model.ckpt"
    if ckpt.exists():
        return ckpt
    out.mkdir(parents=True, exist_ok=True)
    words = sorted({w.lower().strip(".,;:!?\"'()") for t in corpus for w in t.split()} - {""})[:28000]
    (out / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    transformers.BertTokenizer.from_pretrained(out, model_max_length=512).save_pretrained(out)
    cfg = transformers.BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        num_labels=len(CLASSES),
    )
    cfg.save_pretrained(out)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    args = {
        "model_type": str(out),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizer",
        "num_classes": len(CLASSES),
    }
    torch.save(
        {
            "config": {"arch": {"args": args}, "dataset": {"args": {"classes": CLASSES}}},
            "state_dict": model.state_dict(),
        },
        ckpt,
    )
    return ckpt


def measure(label: str, params: ToxicityParams, batches: dict[str, list[str]]) -> list[tuple]:
    step = build(params, StepContext(root=ROOT))
    step.process(pl.DataFrame({"id": ["w"], "text": ["warm up"]}))  # load the model outside the timing
    rows = []
    for kind, docs in batches.items():
        df = pl.DataFrame({"id": [str(i) for i in range(len(docs))], "text": docs})
        t0, c0 = time.perf_counter(), time.process_time()
        out = step.process(df)
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        rejected = out["_reject"].is_not_null().sum()
        rows.append((label, kind, len(docs), sec, len(docs) / sec, len(docs) / max(cpu, 1e-9), rejected))
        print(f"  {label:<32}{kind:<12}{len(docs) / max(cpu, 1e-9):>10.1f} docs/s per core", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000, help="documents per kind for the fast backends")
    ap.add_argument("--no-detoxify", action="store_true", help="skip the (slow) detoxify rows")
    ap.add_argument("--base-docs", type=int, default=128, help="documents per kind for the base-shaped model")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)"
    )
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    tweets, paras = texts(a.docs)
    fast = {"tweets": tweets, "paragraphs": paras}
    small = {"tweets": tweets[: a.base_docs], "paragraphs": paras[: a.base_docs]}
    print(
        f"CPU: {os.cpu_count()} cores, torch threads {a.threads}; the machine may be shared (noisy timings)"
    )
    rows = measure("mixloom", ToxicityParams(backend="mixloom"), fast)
    rows += measure("mixloom unit=line", ToxicityParams(backend="mixloom", unit="line"), fast)
    rows += measure("profanity", ToxicityParams(backend="profanity"), fast)
    rows += measure("profanity unit=line", ToxicityParams(backend="profanity", unit="line"), fast)
    if a.no_detoxify:
        return report(rows)
    tiny = make_checkpoint(WORK / "tiny", tweets + paras, hidden=64, layers=2, heads=2)
    rows += measure(
        "detoxify tiny (2x64)",
        ToxicityParams(backend="detoxify", checkpoint=str(tiny), config=str(tiny.parent), batch_size=32),
        fast,
    )
    base = make_checkpoint(WORK / "base", tweets + paras, hidden=768, layers=12, heads=12)
    rows += measure(
        "detoxify base-shaped (12x768)",
        ToxicityParams(backend="detoxify", checkpoint=str(base), config=str(base.parent), batch_size=16),
        small,
    )
    released = torch_hub_dir() / "checkpoints" / DETOXIFY_WEIGHTS["original"][0].rsplit("/", 1)[1]
    if released.exists():
        rows += measure("detoxify original", ToxicityParams(backend="detoxify"), small)
    else:
        print(f"  detoxify original: skipped (no weights at {released})")
    report(rows)


def report(rows: list[tuple]) -> None:
    print(
        f"\n{'backend':<32}{'texts':<12}{'docs':>7}{'seconds':>9}{'docs/s':>10}{'per core':>10}{'rejected':>9}"
    )
    for label, kind, n, sec, rate, per_core, rej in rows:
        print(f"{label:<32}{kind:<12}{n:>7}{sec:>9.2f}{rate:>10.1f}{per_core:>10.1f}{rej:>9}")


if __name__ == "__main__":
    main()
