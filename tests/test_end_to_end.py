"""`mixloom run` end to end on a tiny recipe with every stage kind, through the CLI, then the report in a browser.

Curation runs every step kind; generation uses vLLM (CPU) on a tiny local model; training runs the tokenizer,
pretraining, SFT, a reward model, DPO and GRPO; eval scores the last model. Each stage's outputs are checked,
a second run is entirely cached, and headless Chromium renders every stage's report section.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parent.parent
ALIGN = {"max_steps": 2, "batch_size": 4, "max_length": 256}
STEPS = [
    {"normalize": {}},
    {"pii": {}},
    {"sql": "SELECT * FROM docs WHERE length(text) >= 40"},
    {"polars": {"filter": "~pl.col('text').str.starts_with('= ')", "reason": "heading"}},
    {"language": {"keep": ["en"], "min_score": 0.3, "candidates": ["en", "de", "fr"]}},
    {"quality": {"rules": ["gopher_repetition"], "apply_to": {"domains": ["general"]}}},
    {"line_dedup": {"min_repeats": 50}},
    {"dedup": {"method": "exact"}},
    {"dedup": {"method": "minhash", "threshold": 0.8}},
    {"toxicity": {"backend": "profanity", "max": {"toxicity": 0.9}}},
    {"decontaminate": {"against": [{"path": "data/gsm8k/test.jsonl", "field": "question"}]}},
]


def _recipe(tmp: Path) -> Path:
    data = {
        "name": "e2e",
        "seed": 5,
        "base_dir": str(ROOT),
        "output": str(tmp / "run"),
        "sources": {
            "fiqa": FIQA,
            "wiki": WIKI,
        },
        "steps": STEPS,
        "mix": {"budget": 60000, "shares": {"financial": 0.5, "general": 0.5}, "max_epochs": 4},
        "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
        "generate": {
            "engine": {"kind": "vllm", "model": "tiny", "max_tokens": 24, "batch_size": 16},
            "tasks": [
                {
                    "kind": "math_cot",
                    "seeds": "data/gsm8k/train.jsonl",
                    "limit": 6,
                    "n": 2,
                    "references": True,
                },
                {
                    "kind": "code",
                    "seeds": "data/humaneval/problems.jsonl",
                    "limit": 3,
                    "n": 2,
                    "references": True,
                },
            ],
        },
        "train": {
            "tokenizer": {"vocab_size": 512},
            "pretrain": {
                "model": {"layers": 1, "heads": 1, "width": 32, "context": 256},
                "steps": 6,
                "batch_tokens": 2048,
                "micro_batch": 8,
                "eval_every": 3,
                "eval_tokens": 2048,
                "checkpoint_every": 3,
            },
            "sft": {"data": "generate.sft", "model": "train.pretrain", **ALIGN},
            "rm": {"data": "generate.pairs", "model": "train.pretrain", **ALIGN},
            "dpo": {"data": "generate.pairs", "model": "train.sft", **ALIGN},
            "grpo": {
                "data": "data/gsm8k/test.jsonl",
                "model": "train.sft",
                "max_steps": 1,
                "batch_size": 2,
                "num_generations": 2,
                "max_completion_length": 8,
                "max_length": 64,
            },
            "eval": [{"metric": "perplexity", "limit": 8}],
        },
    }
    p = tmp / "recipe.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _mixloom(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIXLOOM_QUIET": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": "1"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return subprocess.run(
        [sys.executable, "-m", "mixloom.cli", *args], capture_output=True, text=True, env=env, timeout=1500
    )


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    pytest.importorskip("vllm")
    tmp = tmp_path_factory.mktemp("e2e")
    recipe = _recipe(tmp)
    first = _mixloom("run", str(recipe))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return tmp, recipe, first


def test_every_stage_ran_and_wrote_its_outputs(e2e):
    tmp, _, first = e2e
    run = tmp / "run"
    stages = [
        "curate",
        "generate",
        "train.tokenizer",
        "train.pretrain",
        "train.sft",
        "train.rm",
        "train.dpo",
        "train.grpo",
        "eval",
    ]
    for s in stages:
        assert f"{s}: ran in" in first.stderr, (s, first.stderr[-2000:])
    m = json.loads((run / "manifest.json").read_text())
    assert [r["step"].split(":", 1)[1] for r in m["steps"]] == [
        "normalize", "pii", "sql", "polars", "language", "quality", "line_dedup", "dedup.exact", "dedup.minhash",
        "toxicity", "decontaminate",
    ]  # fmt: skip
    kept = pl.read_parquet(run / "curated" / "*.parquet")
    rejects = pl.read_parquet(run / "rejects" / "*.parquet")
    assert kept.height + rejects.height == m["read"]["records"]  # nothing lost, nothing invented
    assert {"heading", "sql:filtered"} <= set(rejects["reason"]) and rejects["step"].n_unique() >= 3
    for split in ("train", "validation", "test"):
        assert pl.read_parquet(run / "mix" / split / "*.parquet").height > 0
    gen = json.loads((run / "generate" / "manifest.json").read_text())
    assert set(gen["tasks"]) == {"math_cot", "code"} and gen["outputs"]["sft"]["rows"] > 0
    for stage in ("tokenizer", "pretrain", "sft", "rm", "dpo", "grpo"):
        d = run / "train" / stage
        assert json.loads((d / "manifest.json").read_text())["stage"] == f"train.{stage}"
        if stage != "tokenizer":
            assert (d / "model" / "config.json").exists()
    results = json.loads((run / "train" / "eval" / "results.json").read_text())
    assert results[0]["metric"] == "perplexity" and "train/grpo" in results[0]["model"]
    assert (run / "DATACARD.md").read_text().startswith("# Data card: e2e")


def test_second_run_is_entirely_cached(e2e):
    _, recipe, _ = e2e
    again = _mixloom("run", str(recipe))
    assert again.returncode == 0
    assert again.stderr.count("unchanged, cached") == 10 and "ran in" not in again.stderr
    plan = _mixloom("plan", str(recipe), "--json")
    assert all(not s["run"] for s in json.loads(plan.stdout))


def test_report_sections_render_in_chromium(e2e, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    tmp, _, _ = e2e
    index = tmp / "run" / "report" / "index.html"
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", index.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    for title in (
        "Summary", "Curation", "What curation removed, with examples", "Mix", "Generation",
        "Training: pretrain", "Training: sft", "Training: rm", "Training: dpo", "Training: grpo", "Evaluation",
        "Run settings",
    ):  # fmt: skip
        assert f"<h2>{title}</h2>" in dom, title
    summary = dom[dom.index('id="summary"') : dom.index("</section>")]
    for fact in ("documents in", "documents kept", "mix", "generation pass rate", "perplexity", "time"):
        assert fact in summary, fact
