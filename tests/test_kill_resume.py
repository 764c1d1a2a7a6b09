"""A run killed with SIGKILL mid-curation and mid-pretraining resumes and ends exactly where an uninterrupted
run ends: byte-identical curation outputs, identical pretraining losses (CPU, same seed)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sources import FIQA, WIKI

ROOT = Path(__file__).resolve().parent.parent

RECIPE = {
    "seed": 5,
    "sources": {"fiqa": FIQA, "wiki": WIKI},
    "steps": [
        {"normalize": {}},
        {"language": {"keep": ["en"], "min_score": 0.3}},
        {"dedup": {"method": "exact"}},
        {"sql": "tokens >= 5"},
    ],
    "mix": {"budget": "max", "shares": {"financial": 0.5, "general": 0.5}, "max_epochs": 4},
    "splits": {"train": 0.9, "validation": 0.1},
    "execution": {"shard_docs": 60},
    "train": {
        "tokenizer": {"vocab_size": 512},
        "pretrain": {
            "model": {"layers": 1, "heads": 1, "width": 32, "context": 64},
            "steps": 40,
            "batch_tokens": 1024,
            "micro_batch": 8,
            "eval_every": 20,
            "checkpoint_every": 10,
            "log_every": 5,
            "device": "cpu",
        },
    },
}


def _mixloom(*args: str) -> subprocess.Popen:
    env = {**os.environ, "MIXLOOM_QUIET": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mixloom.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds; False if it finished first."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return False
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the run never reached the point to kill it at")


def _finish(*args: str) -> None:
    p = _mixloom(*args)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()[-2000:]


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
        if "_work" not in p.parts and "train" not in p.parts
    }


def _losses(out: Path) -> list[tuple[int, float]]:
    log = out / "train" / "pretrain" / "log.jsonl"
    return [(r["step"], r["loss"]) for r in map(json.loads, log.read_text().splitlines()) if "loss" in r]


@pytest.mark.timeout(900)
def test_sigkill_mid_curation_and_mid_pretraining_then_resume(write_recipe, tmp_path):
    recipe = str(write_recipe(RECIPE))
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _finish("curate", recipe, "--out", str(clean))
    _finish("train", recipe, "--stage", "tokenizer", "--out", str(clean))
    _finish("train", recipe, "--stage", "pretrain", "--out", str(clean))

    # curation: kill once some shards of the first pass are done, then run again
    def some_shards_done() -> bool:
        return len(list(killed.glob("_work/pass0-*/*.done.json"))) >= 3

    was_killed = _kill_when(_mixloom("curate", recipe, "--out", str(killed)), some_shards_done)
    assert was_killed, "curation finished before it could be killed"
    assert not (killed / "manifest.json").exists()
    _finish("curate", recipe, "--out", str(killed))
    assert _digest(killed) == _digest(clean) and len(_digest(clean)) > 5

    # pretraining: kill after the first checkpoint, then resume from it
    _finish("train", recipe, "--stage", "tokenizer", "--out", str(killed))
    ckpts = killed / "train" / "pretrain" / "checkpoints"
    was_killed = _kill_when(
        _mixloom("train", recipe, "--stage", "pretrain", "--out", str(killed)),
        lambda: any(ckpts.glob("*.pt")) if ckpts.exists() else False,
    )
    assert was_killed, "pretraining finished before it could be killed"
    assert not (killed / "train" / "pretrain" / "manifest.json").exists()
    _finish("train", recipe, "--stage", "pretrain", "--out", str(killed))
    assert _losses(killed) == _losses(clean) and len(_losses(clean)) == 8
