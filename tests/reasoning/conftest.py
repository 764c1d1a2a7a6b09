"""Fixtures for the reasoning tests: a tiny local model, a shared in-process vLLM engine, seed files.

vLLM's CPU backend is set up here (in-process engine, one OpenMP thread, 1 GiB KV cache) before
anything imports vllm; a GPU machine ignores these.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("MIXLOOM_QUIET", "1")

ROOT = Path(__file__).resolve().parents[2]

# pytest puts tests/ on sys.path (for tests/conftest.py), where this folder would pass for a namespace
# package named `reasoning` and shadow the real one; the project root ahead of it keeps imports right.
sys.path.insert(0, str(ROOT))
if "reasoning" in sys.modules and getattr(sys.modules["reasoning"], "__file__", None) is None:
    for name in [m for m in sys.modules if m == "reasoning" or m.startswith("reasoning.")]:
        del sys.modules[name]
sys.path.insert(0, str(Path(__file__).parent))
from gen_helpers import GSM8K, HUMANEVAL, read_jsonl  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from mixloom.tiny import make_tiny_model

    texts = [r["question"] + "\n" + r["answer"] for r in read_jsonl(GSM8K / "train.jsonl")[:100]]
    texts += [r["prompt"] + r["canonical_solution"] for r in read_jsonl(HUMANEVAL)]
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts, vocab_size=1024, seed=0)


@pytest.fixture(scope="session")
def vllm_engine(tiny_model_dir):
    pytest.importorskip("vllm")
    from reasoning.engines import make_engine

    return make_engine("vllm", str(tiny_model_dir), seed=0)
