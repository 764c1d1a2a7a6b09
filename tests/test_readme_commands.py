"""Every shell command the README shows runs as written (in a copy of the project, on the built-in data) and
exits 0 without a traceback. Slow (it runs the quickstart, generation, training, ablations): `pytest -m slow`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = ("bash scripts/setup.sh", ".venv/bin/pytest")  # the set-up and the test suite itself


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            cmd = line.split("  #")[0].strip()
            if cmd and not cmd.startswith("#") and not cmd.startswith(SKIP):
                out.append(cmd)
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("readme") / "mixloom"
    ignore = shutil.ignore_patterns(".venv", ".git", "runs", ".bench", "__pycache__", "*.egg-info")
    shutil.copytree(ROOT, dst, ignore=ignore)
    if (ROOT.parent / "shared").exists() and not (dst.parent / "shared").exists():
        (dst.parent / "shared").symlink_to(ROOT.parent / "shared")
    return dst


def test_readme_lists_the_main_commands():
    cmds = readme_commands()
    assert any("run recipes/quickstart.yaml" in c for c in cmds) and len(cmds) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("cmd", readme_commands())
def test_readme_command_runs(project, cmd):
    if "../shared" in cmd and not (project.parent / "shared").exists():
        pytest.skip("needs ../shared")
    py = f"{sys.executable} -m mixloom.cli"
    shell = re.sub(r"(^|&&\s*)(?:\.venv/bin/)?mixloom\b", lambda m: m.group(1) + py, cmd)
    env = {**os.environ, "PYTHONPATH": str(project), "MIXLOOM_QUIET": "1"}
    p = subprocess.run(shell, shell=True, cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, (cmd, p.stdout[-2000:], p.stderr[-3000:])
    assert "Traceback" not in p.stdout + p.stderr, (cmd, p.stderr[-3000:])
