"""A real generated run to review: the generate stage run with the scripted engine on GSM8K seeds.

Even seed lines get right and wrong answers (so there are verified samples and preference pairs), odd lines
only wrong ones; every answer of the first problem carries HTML and a `<script>` to test escaping.
"""

from __future__ import annotations

from pathlib import Path

from gen_helpers import GSM8K, read_jsonl
from gen_scripted import ScriptedEngine

import reasoning
from mixloom.recipe import load_recipe

TRAIN = read_jsonl(GSM8K / "train.jsonl")
ANSWER = {r["question"].strip(): int(r["answer"].rsplit("####", 1)[1].replace(",", "")) for r in TRAIN}
INDEX = {r["question"].strip(): i for i, r in enumerate(TRAIN)}
HOSTILE = (
    '<script>document.title="pwned"</script><b id="injected">bold</b><img src=x onerror="document.title=1">'
)


def script(question: str, hinted: bool, n: int) -> list[str]:
    a = ANSWER[question]
    extra = f" {HOSTILE}" if INDEX[question] == 0 else ""
    if INDEX[question] % 2 == 0:
        return [f"Work{extra}.\n#### {a}", f"Oops{extra}.\n#### {a + 1}", f"Slip.\n#### {a + 2}"][:n]
    return [f"Guess {k}.\n#### {a + k + 1}" for k in range(n)]


def make_run(write_recipe, tmp_path: Path, limit: int = 4, train: dict | None = None) -> Path:
    """Generate into tmp_path/run (12 samples, 4 pairs with limit=4) and return the run directory."""
    spec = {"kind": "math_cot", "seeds": "data/gsm8k/train.jsonl", "limit": limit, "n": 3, "shots": 0}
    engine = {"kind": "transformers", "model": "tiny", "max_tokens": 64, "batch_size": 4}
    data = {"seed": 1, "output": str(tmp_path / "run"), "generate": {"engine": engine, "tasks": [spec]}}
    if train:
        data["train"] = train
    recipe = load_recipe(write_recipe(data))
    reasoning.run(recipe, engine=ScriptedEngine(script))
    return tmp_path / "run"
