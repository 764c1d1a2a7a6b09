"""A scripted engine for testing selection and outputs with known right and wrong answers.

The real engines are exercised in test_engines.py and test_pipeline.py; a random tiny model almost never
answers correctly, so the rules that depend on verified samples are checked with this stand-in, which
implements the same `generate` interface and answers from the seed file's references.
"""

from __future__ import annotations

import re

from reasoning.engines import Completion, Generation


def last_question(prompt) -> str:
    text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    if isinstance(prompt, str) and "Question: " in text:  # math and pal prompts end with the question
        text = re.split(r"\nAnswer:|\n```python", text.rsplit("Question: ", 1)[-1])[0]
    return text


class ScriptedEngine:
    """`script(question, hinted, n) -> list of completion texts`; records every prompt it is given."""

    kind = "scripted"
    model = "scripted"

    def __init__(self, script):
        self.script = script
        self.prompts: list = []

    def generate(self, prompts, *, n=1, temperature=1.0, top_p=1.0, max_tokens=256, seed=None, stop=None):
        self.prompts += list(prompts)
        out = []
        for p in prompts:
            q = last_question(p)
            hinted = "(Hint: the final answer is" in q
            texts = self.script(re.sub(r"\n\(Hint: .*\)$", "", q), hinted, n)
            out.append(Generation([Completion(t, len(t.split()), "stop") for t in texts], prompt_tokens=10))
        return out

    def close(self):
        pass


class RaisingEngine:
    kind = "raising"
    model = "raising"

    def generate(self, *args, **kwargs):
        raise AssertionError("the engine was called although every batch was finished")

    def close(self):
        pass
