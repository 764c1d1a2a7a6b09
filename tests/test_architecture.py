"""The import graph the README promises: the core imports no stage, stages import each other not at all.

import-linter checks the contracts in pyproject.toml; the second test shows those same contracts catch a
violation (an import inside a function, the kind that once hid the core's dependence on the stages).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(LINT, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout


def test_contracts_catch_a_core_import_of_a_stage(tmp_path):
    for pkg in ("mixloom", "curation", "reasoning", "training", "verification"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "mixloom" / "report.py", "a") as f:
        f.write("\n\ndef _sneaky():\n    from curation.report import sections\n\n    return sections\n")
    with open(tmp_path / "training" / "refs.py", "a") as f:
        f.write("\n\ndef _cross():\n    import reasoning.select\n\n    return reasoning.select\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "mixloom.report -> curation.report" in r.stdout
    assert "training.refs -> reasoning.select" in r.stdout
    assert "2 broken" in r.stdout
