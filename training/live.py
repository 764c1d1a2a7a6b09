"""The terminal's view of a TRL / transformers run: one rich progress line (step, loss, tokens/s, ETA).

transformers prints each log dict (`PrinterCallback`, or `ProgressCallback` through tqdm); those dicts already
go to the stage's `log.jsonl`, so unless `--verbose` they are replaced by `StepProgress`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from mixloom.progress import step_progress
from mixloom.stage_log import verbose


class StepProgress(TrainerCallback):
    def __init__(self, desc: str):
        self.desc = desc
        self._stack = contextlib.ExitStack()
        self._show: Any = None
        self._loss: float | None = None
        self._tps: float | None = None
        self._tokens: tuple[float, float] | None = None  # (num_tokens, time) at the previous log

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._show = self._stack.enter_context(step_progress(self.desc, state.max_steps))
            self._show(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self._loss = float(logs["loss"])
        if "num_tokens" in logs:  # TRL's SFT counts the tokens it trained on
            now = (float(logs["num_tokens"]), time.perf_counter())
            if self._tokens and now[1] > self._tokens[1]:
                self._tps = (now[0] - self._tokens[0]) / (now[1] - self._tokens[1])
            self._tokens = now

    def on_step_end(self, args, state, control, **kwargs):
        if self._show:
            self._show(state.global_step, loss=self._loss, tokens_per_s=self._tps)

    def on_train_end(self, args, state, control, **kwargs):
        self._stack.close()
        self._show = None


def attach(trainer, stage: str) -> None:
    """Show `StepProgress`; drop transformers' printed log dicts unless `--verbose`."""
    if not verbose():
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepProgress(f"train.{stage}"))
