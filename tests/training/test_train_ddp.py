"""The multi-process path: 2 processes with the gloo backend via torchrun, compared with one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import yaml
from train_helpers import TINY_MODEL

from training.logs import read_log

PRETRAIN = {
    "model": TINY_MODEL,
    "steps": 6,
    "batch_tokens": 2048,
    "micro_batch": 8,
    "eval_every": 3,
    "log_every": 1,
    "eval_tokens": 4096,
    "checkpoint_every": 3,
    "device": "cpu",
    "data": "mix/train",
    "validation": "mix/validation",
}


def _run(tmp_path, wiki_pretrained, name: str, nproc: int):
    src, _, _ = wiki_pretrained
    d = tmp_path / name
    shutil.copytree(src / "mix", d / "mix")
    shutil.copytree(src / "train" / "tokenizer", d / "train" / "tokenizer")
    recipe = d / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "ddp",
                "seed": 3,
                "output": str(d),
                "train": {"tokenizer": {"vocab_size": 512, "data": "mix/train"}, "pretrain": PRETRAIN},
            }
        )
    )
    cli = ["-m", "mixloom.cli", "train", str(recipe), "--stage", "pretrain"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    cmd = [*launcher, *cli] if nproc > 1 else [sys.executable, *cli]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MIXLOOM_QUIET": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return d / "train" / "pretrain"


def test_two_process_gloo_matches_one_process_shape(tmp_path, wiki_pretrained):
    one = _run(tmp_path, wiki_pretrained, "one", 1)
    two = _run(tmp_path, wiki_pretrained, "two", 2)
    m1, m2 = (json.loads((d / "manifest.json").read_text())["results"] for d in (one, two))
    assert set(m1) == set(m2)
    assert m2["plan"]["world"] == 2 and m2["plan"]["grad_accum"] == 1 and m1["plan"]["grad_accum"] == 2
    # same tokens per optimizer step, split over the processes
    assert m1["domain_tokens"] == m2["domain_tokens"] == {"general": 6 * 2048}
    assert set(m1["validation"]) == set(m2["validation"]) == {"general", "overall"}
    # every validation token is counted once, whichever process scored it
    assert m1["validation"]["overall"]["tokens"] == m2["validation"]["overall"]["tokens"]
    l1, l2 = read_log(one / "log.jsonl"), read_log(two / "log.jsonl")
    assert [sorted(r) for r in l1] == [sorted(r) for r in l2]
    # gradients are averaged across processes: both ranks end with the same weights, bit for bit (without
    # gradient sync each rank would drift on its own batches); the two runs see different batches in a
    # different order, so their losses agree only roughly
    assert len(m2["weights_digest"]) == 2 and len(set(m2["weights_digest"])) == 1
    assert all(abs(a["loss"] - b["loss"]) < 0.5 for a, b in zip(l1, l2, strict=True) if "loss" in a)
    assert (two / "model" / "config.json").exists() and len(list((two / "checkpoints").glob("*.pt"))) == 2
