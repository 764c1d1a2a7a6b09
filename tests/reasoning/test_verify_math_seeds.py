"""math_cot on MATH-style seeds: boxed-answer prompts, LaTeX answers verified, and pass and solve rates per
subject and level in the generation manifest."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
from gen_helpers import ROOT, read_jsonl
from gen_scripted import ScriptedEngine

import reasoning
from mixloom.recipe import load_recipe
from mixloom.sections.generate import TaskSpec
from reasoning.tasks import make_task

SAMPLE = ROOT / "data" / "math500" / "test_sample.jsonl"
ROWS = read_jsonl(SAMPLE)
BY_PROBLEM = {r["problem"].strip(): r for r in ROWS}


def script(question: str, hinted: bool, n: int) -> list[str]:
    """Algebra and level-1 problems: the right answer boxed, then a wrong one; all others: wrong twice."""
    r = BY_PROBLEM[question]
    right = f"Working it out.\nThe answer is $\\boxed{{{r['answer']}}}$."
    wrong = "Working it out.\nThe answer is $\\boxed{\\text{no idea}}$."
    good = r["subject"] == "Algebra" or r["level"] == 1
    return ([right, wrong] if good else [wrong, wrong])[:n]


def test_math_style_seeds_load_with_subject_level_and_boxed_prompts():
    task = make_task(TaskSpec(kind="math_cot", seeds=str(SAMPLE), shots=1))
    seeds = task.load(SAMPLE)
    assert len(seeds.problems) == 70 and not seeds.quarantined
    p = seeds.problems[1]
    assert p.id == ROWS[1]["unique_id"] and p.reference == ROWS[1]["answer"]
    assert task.groups(p) == {"subject": ROWS[1]["subject"], "level": str(ROWS[1]["level"])}
    prompt = task.prompt(p, seeds.problems[:1])
    assert "\\boxed{}" in prompt and ROWS[0]["solution"].strip()[:40] in prompt
    assert task.template == "math-boxed-fewshot-v1"
    refs = task.verify([(q, task.reference_completion(q)) for q in seeds.problems])
    assert all(c.ok for c in refs), [c.reason for c in refs if not c.ok]


def test_bad_math_records_are_quarantined(tmp_path):
    f = tmp_path / "bad.jsonl"
    rows = [{"problem": "What is 1+1?", "answer": "2"}, {"problem": "No answer here"}, {"problem": " "}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    seeds = make_task(TaskSpec(kind="math_cot", seeds=str(f))).load(f)
    assert len(seeds.problems) == 1
    assert [q.reason[:30] for q in seeds.quarantined] == [
        "MATH-style record without a fi",
        "missing or empty field(s): pro",
    ]


def test_manifest_reports_pass_and_solve_rates_per_subject_and_level(write_recipe, tmp_path):
    spec = {"kind": "math_cot", "seeds": "data/math500/test_sample.jsonl", "n": 2, "shots": 0}
    engine = {"kind": "transformers", "model": "tiny", "batch_size": 16}
    recipe = load_recipe(
        write_recipe({"output": str(tmp_path / "run"), "generate": {"engine": engine, "tasks": [spec]}})
    )
    m = reasoning.run(recipe, engine=ScriptedEngine(script))
    by = m["tasks"]["math_cot"]["by"]
    subjects, levels = Counter(r["subject"] for r in ROWS), Counter(str(r["level"]) for r in ROWS)
    assert set(by["subject"]) == set(subjects) and set(by["level"]) == set(levels)
    for subject, g in by["subject"].items():
        good = sum(r["subject"] == subject and (r["subject"] == "Algebra" or r["level"] == 1) for r in ROWS)
        assert (g["problems"], g["samples"], g["solved"]) == (subjects[subject], 2 * subjects[subject], good)
        assert g["solve_rate"] == round(good / subjects[subject], 4)
        assert g["pass_rate"] == round(good / (2 * subjects[subject]), 4)
    assert by["level"]["1"]["solve_rate"] == 1.0
    assert sum(g["solved"] for g in by["level"].values()) == m["tasks"]["math_cot"]["solved"]
    samples = pq.read_table(tmp_path / "run" / "generate" / "samples").to_pylist()
    assert {s["template"] for s in samples} == {"math-boxed-fewshot-v1"} and {
        s["sandbox"] for s in samples
    } == {""}
    assert all("answer via boxed" in s["reason"] for s in samples)
