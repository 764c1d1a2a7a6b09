"""Wrong solutions that try to forge the verdict: each fails with its own reason, in both sandbox modes,
through `run_tests` and through the code and pal tasks' own verification."""

from __future__ import annotations

import os

import pytest
from gen_helpers import GSM8K, HUMANEVAL, ROOT

from mixloom.sections.generate import TaskSpec
from reasoning.tasks import make_task
from verification import _sandbox_setup, sandbox
from verification.sandbox import Limits, run_tests, run_tests_many

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = "# SECRET-MARKER-7f3a\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
HONEST = "def add(a, b):\n    return a + b\n"
ALWAYS_EQUAL = "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n\n"

# name -> (candidate code, what the reason must say)
GAMED = {
    "sys.exit in the function": ("import sys\ndef add(a, b):\n    sys.exit(0)\n", "forged exit"),
    "exit() builtin": ("def add(a, b):\n    exit(0)\n", "forged exit"),
    "os._exit in the function": ("import os\ndef add(a, b):\n    os._exit(0)\n", "forged exit"),
    "exit while loading": ("import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n", "forged exit"),
    "atexit os._exit": (
        "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    return 0\n",
        "AssertionError",
    ),
    "excepthook exits 0": (
        "import os, sys\nsys.excepthook = lambda *a: os._exit(0)\ndef add(a, b):\n    return 0\n",
        "AssertionError",
    ),
    "always-equal object": (
        ALWAYS_EQUAL + "def add(a, b):\n    return AlwaysEqual()\n",
        "non-plain return value",
    ),
    "int subclass with __eq__": (
        "class Int(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Int(0)\n",
        "non-plain return value: Int (a subclass of int)",
    ),
    "always-equal inside a list": (
        ALWAYS_EQUAL + "def add(a, b):\n    return [AlwaysEqual()]\n",
        "non-plain",
    ),
    "patched builtins": (
        "import builtins\nbuiltins.AssertionError = SystemExit\nbuiltins.abs = lambda x: 0\n"
        "builtins.print = None\ndef add(a, b):\n    return 0\n",
        "AssertionError",
    ),
    "settrace raises SystemExit": (
        "import sys\ndef tracer(frame, event, arg):\n    raise SystemExit(0)\nsys.settrace(tracer)\n"
        "def add(a, b):\n    return 0\n",
        "forged exit",
    ),
    "reads the canonical solution from the project's data": (
        f"src = open({str(HUMANEVAL)!r}).read()\ndef add(a, b):\n    return 5\n",
        "candidate failed to load",
    ),
}

SNOOP = """
import glob, os
found = []
paths = glob.glob('*') + glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ') + glob.glob('/proc/*/fd/*')
paths += glob.glob('/tmp/**', recursive=True) + glob.glob('/work/**/*.jsonl', recursive=True)
for path in paths:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if ('SECRET' + '-MARKER').encode() in os.read(fd, 1 << 20):
            found.append(path)
    except OSError:
        pass
print('FOUND', found, flush=True)
def add(a, b):
    return 0
"""

FORGE = """
import glob, os
line = b'{"nonce": "0", "passed": true, "reason": "passed", "status": 0}\\n'
for fd in range(0, 64):
    try:
        os.write(fd, line)
    except OSError:
        pass
for path in glob.glob('/proc/*/fd/*'):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, line)
    except OSError:
        pass
def add(a, b):
    return 0
"""


@pytest.fixture(params=["namespaces", "userns", "hooks"])
def mode(request, monkeypatch):
    """The strong mode as root (two uids), in a user namespace (no capabilities), and the fallback."""
    if request.param != "namespaces":
        monkeypatch.setenv("MIXLOOM_SANDBOX", request.param)
    sandbox.reset_probe()
    want = "hooks" if request.param == "hooks" else "namespaces"
    userns = "--user" in _sandbox_setup.probe()[1]
    if sandbox.sandbox_mode() != want or (request.param == "userns") != userns:
        pytest.skip(f"{request.param} mode is not available here")
    yield want
    monkeypatch.delenv("MIXLOOM_SANDBOX", raising=False)
    sandbox.reset_probe()


def test_honest_solution_passes(mode):
    r = run_tests(HONEST, TEST, "add", context=PROMPT)
    assert r.passed and r.reason == "passed" and r.mode == mode


def test_every_gaming_attempt_fails_with_its_reason(mode):
    items = [(code, TEST, "add", PROMPT) for code, _ in GAMED.values()]
    results = run_tests_many(items, Limits(timeout=10))
    for (name, (_, why)), r in zip(GAMED.items(), results, strict=True):
        assert not r.passed, name
        assert why in r.reason, (name, r.reason)


def test_the_tests_are_nowhere_the_candidate_can_read(mode):
    r = run_tests(SNOOP, TEST, "add", context=PROMPT)
    assert not r.passed
    assert "FOUND []" in r.stdout, r.stdout


def test_a_verdict_written_by_the_candidate_is_ignored(mode):
    r = run_tests(FORGE, TEST, "add", context=PROMPT)
    assert not r.passed, r.reason


def test_killing_every_process_it_can_does_not_silence_the_harness(mode):
    code = "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
    r = run_tests(code + "def add(a, b):\n    return 0\n", TEST, "add", context=PROMPT)
    assert not r.passed
    if os.geteuid() == 0 and "--user" not in _sandbox_setup.probe()[1]:  # the harness has a uid of its own
        assert r.reason.startswith("AssertionError"), r.reason


def test_a_wrong_answer_names_the_failing_assertion():
    r = run_tests("def add(a, b):\n    return a - b\n", TEST, "add", context=PROMPT)
    assert r.reason.startswith("AssertionError") and "candidate(2, 3) == 5" in r.reason


def test_candidate_exceptions_reach_the_tests_as_their_own_type():
    test = (
        "def check(candidate):\n    try:\n        candidate(1, 0)\n    except ZeroDivisionError:\n"
        "        return\n    raise AssertionError('no error')\n"
    )
    assert run_tests("def add(a, b):\n    return a / b\n", test, "add").passed
    r = run_tests("def add(a, b):\n    raise KeyError('k')\n", TEST, "add")
    assert not r.passed and r.reason.startswith("candidate raised KeyError")


def _code_task(tmp_path):
    import json

    seeds = tmp_path / "add.jsonl"
    rec = {"task_id": "add/0", "prompt": PROMPT, "test": TEST, "entry_point": "add", "canonical_solution": ""}
    seeds.write_text(json.dumps(rec) + "\n")
    task = make_task(TaskSpec(kind="code", seeds=str(seeds), timeout=10))
    return task, task.load(seeds).problems[0]


def test_code_task_rejects_every_gaming_attempt(tmp_path):
    task, problem = _code_task(tmp_path)
    bodies = ["    return a + b\n"] + [code for code, _ in GAMED.values()]
    # text mode: the completion continues the prompt; a whole module is a chat-style reply instead
    chat = make_task(TaskSpec(kind="code", seeds=task.spec.seeds, timeout=10, format="chat"))
    checks = task.verify([(problem, bodies[0])]) + chat.verify(
        [(problem, f"```python\n{c}```") for c in bodies[1:]]
    )
    assert checks[0].ok and checks[0].reason == "tests passed"
    for (name, (_, why)), c in zip(GAMED.items(), checks[1:], strict=True):
        assert not c.ok, name
        assert c.reason.startswith("tests failed: ") and why in c.reason, (name, c.reason)
    assert task.sandbox_mode() == sandbox.sandbox_mode()


def test_pal_program_that_reads_the_answers_from_project_data_is_rejected():
    rows = (GSM8K / "train.jsonl").read_text().splitlines()[:5]
    task = make_task(TaskSpec(kind="pal", seeds=str(GSM8K / "train.jsonl"), timeout=10))
    problems = task.load(GSM8K / "train.jsonl").problems[:5]
    cheat = (
        "import json\n"
        f"rows = [json.loads(l) for l in open({str(GSM8K / 'train.jsonl')!r})]\n"
        "print(rows[{i}]['answer'].split('####')[-1].strip())\n"
    )
    checks = task.verify([(p, cheat.format(i=i)) for i, p in enumerate(problems)])
    assert len(rows) == 5 and [c.ok for c in checks] == [False] * 5
    assert all("program failed" in c.reason for c in checks), [c.reason for c in checks]
    assert not (ROOT / "sandbox").exists()


def test_generate_pipeline_keeps_only_the_honest_sample(write_recipe, tmp_path):
    import json

    import pyarrow.parquet as pq
    from gen_scripted import ScriptedEngine

    import reasoning
    from mixloom.recipe import load_recipe

    seeds = tmp_path / "add.jsonl"
    seeds.write_text(
        json.dumps({"task_id": "add/0", "prompt": PROMPT, "test": TEST, "entry_point": "add"}) + "\n"
    )
    gamed = ["exit while loading", "always-equal object", "atexit os._exit", "settrace raises SystemExit"]
    replies = [f"```python\n{HONEST}```"] + [f"```python\n{GAMED[g][0]}```" for g in gamed]
    spec = {"kind": "code", "seeds": str(seeds), "n": len(replies), "format": "chat"}
    engine = {"kind": "transformers", "model": "tiny"}
    recipe = load_recipe(
        write_recipe({"output": str(tmp_path / "run"), "generate": {"engine": engine, "tasks": [spec]}})
    )
    reasoning.run(recipe, engine=ScriptedEngine(lambda q, hinted, n: replies[:n]))
    rows = pq.read_table(tmp_path / "run" / "generate" / "samples").to_pylist()
    assert [r["ok"] for r in rows] == [True] + [False] * len(gamed)
    for r, g in zip(rows[1:], gamed, strict=True):
        assert GAMED[g][1] in r["reason"], (g, r["reason"])
    sft = pq.read_table(tmp_path / "run" / "generate" / "sft").to_pylist()
    assert [r["sample_id"] for r in sft] == [rows[0]["sample_id"]]
