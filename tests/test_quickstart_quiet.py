"""The quickstart's terminal stays readable: library warnings and TRL's dicts go to the stages' output.log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOISE = ("WARNING", "Warning:", "FutureWarning", "UserWarning", "{'loss'", "grad_norm", "Traceback")


@pytest.mark.slow
@pytest.mark.vllm
def test_quickstart_output_is_short_and_free_of_library_noise(tmp_path):
    pytest.importorskip("vllm")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MIXLOOM_VERBOSE", None)
    env.pop("MIXLOOM_QUIET", None)
    cmd = [
        sys.executable,
        "-m",
        "mixloom.cli",
        "run",
        "recipes/quickstart.yaml",
        "--out",
        str(tmp_path / "run"),
    ]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    lines = (p.stdout + p.stderr).splitlines()
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(lines) <= 60, lines
    noisy = [ln for ln in lines if any(n in ln for n in NOISE)]
    assert not noisy, noisy
    # the noise was kept, where a user debugging a stage looks for it
    gen_log = (tmp_path / "run" / "generate" / "output.log").read_text()
    assert "WARNING" in gen_log
    assert (tmp_path / "run" / "train" / "pretrain" / "output.log").exists()
