"""Shared fixtures: paths to the data shipped in data/, recipe writing, and offline settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MIXLOOM_QUIET", "1")
os.environ.setdefault("MIXLOOM_THREADS", "1")  # CPU losses depend on the thread count; tests compare them

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent (the larger shared data set); this check needs it")
    return SHARED


@pytest.fixture
def write_recipe(tmp_path):
    """write_recipe(dict) -> path of a recipe YAML in tmp_path (base_dir defaults to the project root)."""

    def _write(data: dict, name: str = "recipe.yaml") -> Path:
        data = {"name": "test", "base_dir": str(ROOT), **data}
        p = tmp_path / name
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return p

    return _write


# CI names the real components it installs (MIXLOOM_REQUIRE=chromium,ray,...): a test that would skip because
# one of them is missing fails instead, so a broken install cannot turn the suite green by skipping.
REQUIRED = [c.strip().lower() for c in os.environ.get("MIXLOOM_REQUIRE", "").split(",") if c.strip()]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRED and report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr).lower()
        missing = [c for c in REQUIRED if c in reason]
        if missing:
            report.outcome = "failed"
            report.longrepr = f"required component missing ({', '.join(missing)}; MIXLOOM_REQUIRE): {reason}"
