"""Fixtures for training tests: curated run directories from real text and a tiny pretrained model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest puts tests/ on sys.path, where tests/training/ would pass for a namespace package `training`;
# the project root first makes `import training` find the real package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from train_helpers import (  # noqa: E402
    ALIGN_COMMON,
    finance_texts,
    tiny_recipe,
    wiki_paragraphs,
    write_curated,
    write_generated,
)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine spinning threads
    slow them down several times over; restored afterwards for any other tests in the session."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def wiki_run(tmp_path_factory) -> Path:
    """A one-domain curated run (general) from WikiText-2."""
    return write_curated(tmp_path_factory.mktemp("wiki_run"), {"general": wiki_paragraphs()})


@pytest.fixture(scope="session")
def mix_run(tmp_path_factory) -> Path:
    """A two-domain curated run: WikiText-2 (general) and financial posts/headlines, upsampled 2x."""
    fin = finance_texts()
    if fin is None:
        pytest.skip("no financial sample: needs data/finance/ or /work/shared/data/finance")
    docs = {"general": wiki_paragraphs(), "financial": fin}
    return write_curated(tmp_path_factory.mktemp("mix_run"), docs, repeats={"financial": 2})


@pytest.fixture(scope="session")
def wiki_pretrained(wiki_run):
    """Tokenizer + 80 pretraining steps on WikiText-2 (shared by the pretraining and alignment tests)."""
    from training import run_stage

    recipe = tiny_recipe(wiki_run)
    results = {"tokenizer": run_stage(recipe, "tokenizer"), "pretrain": run_stage(recipe, "pretrain")}
    return wiki_run, recipe, results


@pytest.fixture(scope="session")
def aligned(wiki_pretrained):
    """The pretrained run plus generator-style data and a recipe with every alignment stage."""
    run, _, _ = wiki_pretrained
    write_generated(run)
    grpo = {
        "data": str(run / "grpo.jsonl"),
        "max_steps": 2,
        "num_generations": 4,
        "max_completion_length": 12,
    }
    recipe = tiny_recipe(
        run,
        sft={**ALIGN_COMMON, "holdout": 0.2},
        rm=ALIGN_COMMON,
        dpo={**ALIGN_COMMON, "beta": 0.2},
        grpo={**ALIGN_COMMON, **grpo},
    )
    return run, recipe
