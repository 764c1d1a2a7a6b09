"""Training logs: one JSON object per line, and a loss-curve plot drawn from them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mixloom.figures import png, pyplot


def quiet_libraries() -> None:
    """No per-item progress bars from datasets/transformers unless on a terminal (logs stay readable),
    and no warning about TRL's vLLM version range (TRL's vLLM path is not used by these stages)."""
    import warnings

    warnings.filterwarnings("ignore", message="TRL currently supports vLLM versions")
    if os.environ.get("MIXLOOM_QUIET") or not sys.stderr.isatty():
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()


class JsonlLog:
    """Appends records; on resume, records after the checkpoint's step are dropped so the log has no doubles."""

    def __init__(self, path: Path, resume_step: int | None = None, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            path.write_text("")
        elif path.exists():
            kept = [
                ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= resume_step
            ]
            path.write_text("".join(ln + "\n" for ln in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def plot_loss(records: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """Train loss per step and validation loss per domain, on one chart (PNG)."""
    plt = pyplot()
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    evals = [r for r in records if "eval" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", lw=1.2)
    for name in sorted({k for r in evals for k in r["eval"]}):
        pts = [(r["step"], r["eval"][name]["loss"]) for r in evals if name in r["eval"]]
        ax.plot(*zip(*pts, strict=True), marker="o", ms=3, label=f"val {name}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    out.write_bytes(png(fig))
    return out
