"""Helpers for training tests: small curated run directories written from real text, tiny recipes.

General text is the WikiText-2 sample in data/wikitext2/; financial text is FiQA posts and SemEval-2017
headlines from data/finance/ (or /work/shared/data/finance). Shards follow the curation output contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
WIKI_FILES = [
    REPO / "data" / "wikitext2" / "wiki_valid_sample.txt",
    Path("/work/shared/data/wikitext2/valid.txt"),
]
FINANCE_DIRS = [REPO / "data" / "finance", Path("/work/shared/data/finance")]
TINY_MODEL = {"layers": 2, "heads": 2, "width": 64, "context": 128}


def wiki_paragraphs(max_bytes: int = 260_000) -> list[str]:
    """WikiText-2 paragraphs (headings dropped) from the first `max_bytes` of the shipped sample."""
    wiki = next((p for p in WIKI_FILES if p.exists()), None)
    if wiki is None:
        import pytest

        pytest.skip("no WikiText-2 sample: needs data/wikitext2/wiki_valid_sample.txt")
    lines = wiki.read_text(encoding="utf-8")[:max_bytes].splitlines()
    return [ln.strip() for ln in lines if len(ln.strip()) > 40 and not ln.strip().startswith("=")]


def finance_texts() -> list[str] | None:
    for d in FINANCE_DIRS:
        fiqa, heads = d / "fiqa_posts.json", d / "semeval2017_task5_headlines.json"
        if fiqa.exists() and heads.exists():
            posts = [v["sentence"] for v in json.loads(fiqa.read_text()).values()]
            titles = [h["title"] for h in json.loads(heads.read_text())]
            return [t.strip() for t in posts + titles if t and t.strip()]
    return None


def write_curated(
    run_dir: Path,
    docs: dict[str, list[str]],
    repeats: dict[str, int] | None = None,
    shards: int = 2,
    val_every: int = 10,
) -> Path:
    """A curation output: OUT/mix/{train,validation,test}/part-*.parquet; every `val_every`-th doc goes to
    validation (and the next to test); `repeats` adds upsampled copies (epoch >= 1) of a domain's train docs."""
    rows: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    for dom, texts in docs.items():
        for i, t in enumerate(texts):
            split = "validation" if i % val_every == 0 else "test" if i % val_every == 1 else "train"
            for e in range((repeats or {}).get(dom, 1) if split == "train" else 1):
                rows[split].append(
                    {
                        "id": f"{dom}-{i}",
                        "text": t,
                        "domain": dom,
                        "source": dom,
                        "tokens": len(t.split()),
                        "epoch": e,
                    }
                )
    for split, split_rows in rows.items():
        d = run_dir / "mix" / split
        d.mkdir(parents=True, exist_ok=True)
        n = shards if split == "train" else 1
        for s in range(n):
            part = split_rows[s::n]
            cols = {k: [r[k] for r in part] for k in ("id", "text", "domain", "source")}
            cols["tokens"] = pa.array([r["tokens"] for r in part], pa.int64())
            cols["epoch"] = pa.array([r["epoch"] for r in part], pa.int32())
            pq.write_table(pa.table(cols), d / f"part-{s:05d}.parquet")
    (run_dir / "manifest.json").write_text(json.dumps({"stage": "curate"}))
    return run_dir


def tiny_recipe(run_dir: Path, **train):
    """A recipe whose `train:` section trains a tiny model; `train` entries override the defaults."""
    from mixloom.recipe import parse_recipe

    section: dict = {
        "tokenizer": {"vocab_size": 512},
        "pretrain": {
            "model": TINY_MODEL,
            "steps": 80,
            "batch_tokens": 2048,
            "micro_batch": 8,
            "lr": 3e-3,
            "eval_every": 40,
            "log_every": 5,
            "eval_tokens": 8192,
            "checkpoint_every": 40,
        },
    }
    for k, v in train.items():
        section[k] = {**section.get(k, {}), **v} if isinstance(v, dict) else v
    data = {"name": "tiny", "seed": 7, "output": str(run_dir), "train": section}
    return parse_recipe(data, run_dir / "recipe.yaml")


PAIRS = [(a, b) for a in range(2, 14, 3) for b in range(1, 30, 7)][:20]
ALIGN_COMMON = {"model": "train.pretrain", "max_steps": 3, "batch_size": 4, "max_length": 128}


def sft_messages(a: int, b: int) -> list[dict]:
    return [
        {"role": "system", "content": "Answer with the sum."},
        {"role": "user", "content": f"What is {a} plus {b}?"},
        {"role": "assistant", "content": f"{a} plus {b} is {a + b}.\n#### {a + b}"},
    ]


def write_generated(run: Path) -> None:
    """Generator-style outputs: SFT conversations, preference pairs, and GRPO prompts with answers."""
    (run / "generate" / "sft").mkdir(parents=True, exist_ok=True)
    (run / "generate" / "pairs").mkdir(parents=True, exist_ok=True)
    sft = [
        {"messages": sft_messages(a, b), "task": "math_cot", "seed_id": f"s{i}"}
        for i, (a, b) in enumerate(PAIRS)
    ]
    pq.write_table(pa.Table.from_pylist(sft), run / "generate" / "sft" / "part-00000.parquet")
    pairs = [
        {
            "prompt": f"What is {a} plus {b}?",
            "chosen": f"It is {a + b}.",
            "rejected": f"It is {a + b + 3}.",
            "task": "m",
        }
        for a, b in PAIRS
    ]
    pq.write_table(pa.Table.from_pylist(pairs), run / "generate" / "pairs" / "part-00000.parquet")
    with open(run / "grpo.jsonl", "w") as f:
        for a, b in PAIRS[:8]:
            f.write(json.dumps({"question": f"What is {a} plus {b}?", "answer": f"#### {a + b}"}) + "\n")
