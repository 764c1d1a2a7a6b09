"""The generate stage end to end: selection, outputs and provenance, resumption, quarantine, and a real
vLLM run on the tiny model."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from gen_helpers import GSM8K, HUMANEVAL, read_jsonl
from gen_scripted import RaisingEngine, ScriptedEngine

import reasoning
from mixloom.recipe import load_recipe

TRAIN = read_jsonl(GSM8K / "train.jsonl")
ANSWER = {r["question"].strip(): int(r["answer"].rsplit("####", 1)[1].replace(",", "")) for r in TRAIN}
INDEX = {r["question"].strip(): i for i, r in enumerate(TRAIN)}


def math_script(question: str, hinted: bool, n: int) -> list[str]:
    """Even seed lines: right, its duplicate, wrong, right in other words. Odd lines: all wrong, unless hinted."""
    a = ANSWER[question]
    if hinted:
        return [f"Using the hint, the total is {a}.\n#### {a}"] * n
    if INDEX[question] % 2 == 0:
        return [f"Work.\n#### {a}", f"Work.\n#### {a}", f"Oops.\n#### {a + 1}", f"The answer is {a}."][:n]
    return [f"Guess {k}.\n#### {a + k + 1}" for k in range(n)]


def math_recipe(write_recipe, tmp_path, **task):
    spec = {
        "kind": "math_cot",
        "seeds": "data/gsm8k/train.jsonl",
        "limit": 6,
        "n": 4,
        "shots": 2,
        "rationalize": True,
        **task,
    }
    engine = {"kind": "transformers", "model": "tiny", "max_tokens": 64, "batch_size": 4}
    return load_recipe(
        write_recipe(
            {"seed": 3, "output": str(tmp_path / "run"), "generate": {"engine": engine, "tasks": [spec]}}
        )
    )


def table(run, name: str) -> list[dict]:
    return pq.read_table(run / "generate" / name / "part-00000.parquet").to_pylist()


def test_verified_selection_sft_pairs_and_provenance(write_recipe, tmp_path):
    recipe = math_recipe(write_recipe, tmp_path)
    m = reasoning.run(recipe, engine=ScriptedEngine(math_script))
    run = tmp_path / "run"
    t = m["tasks"]["math_cot"]
    assert (t["seeds_read"], t["shots"], t["problems"], t["skipped_by_limit"]) == (200, 2, 6, 192)
    assert (t["samples"], t["ok"], t["pass_rate"], t["solved"]) == (24, 9, 0.375, 3)
    assert (t["rationalized"], t["rationalized_ok"], t["solved_with_hint"]) == (12, 12, 3)
    assert t["batches"] == 2 and t["batches_resumed"] == 0
    # problems are seed lines 3..8 (0-based records 2..7; records 0-1 are the exemplars)
    sft = table(run, "sft")
    by_problem: dict[str, list] = {}
    for row in sft:
        by_problem.setdefault(row["problem_id"], []).append(row)
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["verdict"] is True
        assert row["engine"] == "transformers" and row["model"].endswith("tiny-model")
        assert row["template"] == "gsm8k-fewshot-v1" and row["seed_file"] == "data/gsm8k/train.jsonl"
        assert json.loads(row["sampling"])["n"] == 4
    assert sorted(by_problem) == [f"train-{i:05d}" for i in range(3, 9)]
    for rows in by_problem.values():
        q = rows[0]["messages"][0]["content"]
        assert "Hint" not in q and q in ANSWER
        if INDEX[q] % 2 == 0:  # right answer twice in distinct words; the duplicate is not kept
            assert sorted(r["index"] for r in rows) == [0, 3] and not any(r["rationalized"] for r in rows)
        else:  # solved only with the hint: one distinct rationale
            assert [(r["index"], r["rationalized"]) for r in rows] == [(4, True)]
    pairs = table(run, "pairs")
    assert len(pairs) == 6
    for p in pairs:
        assert p["chosen"] != p["rejected"] and "#### " in p["rejected"]
        assert p["chosen_reason"].startswith("'") and "==" in p["chosen_reason"]
        assert "!=" in p["rejected_reason"]
    samples = pq.read_table(run / "generate" / "samples" / "math_cot").to_pylist()
    assert len(samples) == 24 + 12
    assert len({s["sample_id"] for s in samples}) == 36
    assert m["outputs"]["sft"]["rows"] == len(sft) == 2 * 3 + 3


def test_majority_vote_selects_the_most_common_answer(write_recipe, tmp_path):
    recipe = math_recipe(write_recipe, tmp_path, select="majority", rationalize=False)
    m = reasoning.run(recipe, engine=ScriptedEngine(math_script))
    rows = table(tmp_path / "run", "sft")
    for r in rows:
        q = r["messages"][0]["content"]
        if INDEX[q] % 2 == 0:
            assert r["verdict"] is True
        else:  # every answer differs: the first sample's answer wins the tie
            assert r["index"] == 0 and r["verdict"] is False
    assert len(rows) == 3 * 2 + 3
    assert m["tasks"]["math_cot"]["majority_accuracy"] == 0.5


def test_rerun_resumes_finished_batches_and_redoes_missing_ones(write_recipe, tmp_path):
    recipe = math_recipe(write_recipe, tmp_path)
    reasoning.run(recipe, engine=ScriptedEngine(math_script))
    gen = tmp_path / "run" / "generate"
    first = {
        p: p.read_bytes() for p in [gen / "sft" / "part-00000.parquet", gen / "pairs" / "part-00000.parquet"]
    }
    m = reasoning.run(recipe, engine=RaisingEngine())
    assert m["tasks"]["math_cot"]["batches_resumed"] == 2
    assert {p: p.read_bytes() for p in first} == first
    (gen / "samples" / "math_cot" / "part-00001.parquet").unlink()
    engine = ScriptedEngine(math_script)
    m = reasoning.run(recipe, engine=engine)
    assert m["tasks"]["math_cot"]["batches_resumed"] == 1
    asked = {INDEX[q] for q in map(_question, engine.prompts)}
    assert asked == {6, 7}  # batch 1 = records 6-7, and only those
    assert {p: p.read_bytes() for p in first} == first


def _question(prompt: str) -> str:
    import re

    from gen_scripted import last_question

    return re.sub(r"\n\(Hint: .*\)$", "", last_question(prompt))


def test_changed_settings_invalidate_finished_batches(write_recipe, tmp_path):
    reasoning.run(math_recipe(write_recipe, tmp_path), engine=ScriptedEngine(math_script))
    m = reasoning.run(math_recipe(write_recipe, tmp_path, n=3), engine=ScriptedEngine(math_script))
    assert m["tasks"]["math_cot"]["batches_resumed"] == 0
    assert m["tasks"]["math_cot"]["samples"] == 18


def test_bad_seed_records_are_quarantined_with_reasons(write_recipe, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    good = [json.dumps({"question": r["question"], "answer": r["answer"]}) for r in TRAIN[:5]]
    bad = [
        '{"question": "broken json',
        json.dumps({"question": "no answer"}),
        json.dumps({"question": "q", "answer": "42 without a marker"}),
    ]
    twice = [json.dumps({"id": "p-1", "question": TRAIN[9]["question"], "answer": TRAIN[9]["answer"]})] * 2
    seeds.write_text("\n".join(good[:2] + bad + good[2:] + twice) + "\n")
    recipe = load_recipe(
        write_recipe(
            {
                "output": str(tmp_path / "run"),
                "generate": {
                    "engine": {"kind": "transformers", "model": "tiny"},
                    "tasks": [{"kind": "math_cot", "seeds": str(seeds), "n": 2, "shots": 1}],
                },
            }
        )
    )
    m = reasoning.run(recipe, engine=ScriptedEngine(math_script))
    q = table(tmp_path / "run", "quarantine")
    assert [(r["line"], r["reason"]) for r in q] == [
        (3, "not valid JSON"),
        (4, "missing or empty field(s): answer"),
        (5, "answer has no '#### N' final answer"),
        (10, "repeated problem id 'p-1'"),
    ]
    t = m["tasks"]["math_cot"]
    assert t["seeds_read"] == 10 == t["quarantined"] + t["shots"] + t["problems"] + t["skipped_by_limit"]
    assert t["problems"] == 5


def code_script(problems: dict[str, dict]):
    def script(prompt_text: str, hinted: bool, n: int) -> list[str]:
        p = problems[prompt_text]
        return [p["canonical_solution"], "    return None\n", "    raise RuntimeError('boom')\n"][:n]

    return script


def test_code_and_pal_samples_are_verified_in_the_sandbox(write_recipe, tmp_path):
    problems = {p["prompt"]: p for p in read_jsonl(HUMANEVAL)[:4]}

    def script(question: str, hinted: bool, n: int) -> list[str]:
        if question in ANSWER:  # pal: a right program, a wrong one, a crashing one
            a = ANSWER[question]
            return [f"x = {a}\nprint(x)", f"print({a} + 1)", "print(1/0)"][:n]
        return code_script(problems)(question, hinted, n)

    recipe = load_recipe(
        write_recipe(
            {
                "output": str(tmp_path / "run"),
                "generate": {
                    "engine": {"kind": "transformers", "model": "tiny"},
                    "tasks": [
                        {"kind": "code", "seeds": "data/humaneval/problems.jsonl", "limit": 4, "n": 3},
                        {"kind": "pal", "seeds": "data/gsm8k/train.jsonl", "limit": 3, "n": 3},
                    ],
                },
            }
        )
    )
    m = reasoning.run(recipe, engine=ScriptedEngine(script))
    samples = pq.read_table(tmp_path / "run" / "generate" / "samples").to_pylist()
    code = [s for s in samples if s["task"] == "code"]
    assert [s["ok"] for s in code] == [True, False, False] * 4
    assert all(
        "AssertionError" in s["reason"] or "RuntimeError: boom" in s["reason"] for s in code if not s["ok"]
    )
    pal = [s for s in samples if s["task"] == "pal"]
    assert [s["ok"] for s in pal] == [True, False, False] * 3
    assert all(s["reason"].startswith("program failed: ZeroDivisionError") for s in pal[2::3])
    sft = table(tmp_path / "run", "sft")
    code_sft = [r for r in sft if r["task"] == "code"]
    assert len(code_sft) == 4
    for r in code_sft:
        entry = problems_by_id(problems)[r["problem_id"]]["entry_point"]
        assert f"def {entry}(" in r["messages"][1]["content"]
    assert (m["tasks"]["code"]["pass_rate"], m["tasks"]["pal"]["pass_rate"]) == (
        pytest.approx(1 / 3, abs=1e-3),
    ) * 2
    assert len(table(tmp_path / "run", "pairs")) == 7


def problems_by_id(problems: dict[str, dict]) -> dict[str, dict]:
    return {p["task_id"]: p for p in problems.values()}


@pytest.mark.vllm
def test_vllm_generates_every_task_for_real(write_recipe, tmp_path, vllm_engine, tiny_model_dir):
    tasks = [
        {
            "kind": "math_cot",
            "seeds": "data/gsm8k/train.jsonl",
            "limit": 3,
            "n": 2,
            "shots": 1,
            "rationalize": True,
        },
        {"kind": "pal", "seeds": "data/gsm8k/test.jsonl", "limit": 2, "n": 2, "shots": 1},
        {"kind": "code", "seeds": "data/humaneval/problems.jsonl", "limit": 3, "n": 2, "format": "chat"},
    ]

    def run(out: str):
        engine = {"kind": "vllm", "model": str(tiny_model_dir), "max_tokens": 24}
        recipe = load_recipe(
            write_recipe(
                {"seed": 5, "output": str(tmp_path / out), "generate": {"engine": engine, "tasks": tasks}},
                name=f"{out}.yaml",
            )
        )
        return reasoning.run(recipe, engine=vllm_engine)

    m = run("a")
    gen = tmp_path / "a" / "generate"
    for d in ("sft", "pairs", "quarantine"):
        assert (gen / d / "part-00000.parquet").exists()
    assert (gen / "manifest.json").exists()
    samples = pq.read_table(gen / "samples").to_pylist()
    first = [s for s in samples if not s["rationalized"]]
    assert len(first) == 3 * 2 + 2 * 2 + 3 * 2
    assert all(s["engine"] == "vllm" and s["model"] == str(tiny_model_dir) for s in samples)
    assert all(0 < s["tokens"] <= 24 and s["reason"] for s in samples)
    assert all(s["reason"].startswith("tests failed") for s in samples if s["task"] == "code" and not s["ok"])
    assert m["totals"]["tokens_per_s"] > 0 and m["totals"]["samples_per_s"] > 0
    assert m["tasks"]["math_cot"]["rationalized"] == 2 * (3 - m["tasks"]["math_cot"]["solved"])
    run("b")
    again = pq.read_table(tmp_path / "b" / "generate" / "samples").to_pylist()
    assert [s["completion"] for s in again] == [s["completion"] for s in samples]  # seeded: same output


def test_references_join_sft_and_are_chosen_only_where_no_sample_verified(write_recipe, tmp_path):
    recipe = math_recipe(write_recipe, tmp_path, rationalize=False, references=True)
    m = reasoning.run(recipe, engine=ScriptedEngine(math_script))
    t = m["tasks"]["math_cot"]
    assert (t["references"], t["references_ok"]) == (6, 6)  # GSM8K's own solutions verify
    assert (t["samples"], t["ok"]) == (24, 9)  # references never count as model samples
    run = tmp_path / "run"
    sft = table(run, "sft")
    refs = [r for r in sft if r["reference"]]
    assert len(refs) == 6 and all(r["verdict"] for r in refs)
    for r in refs:  # the reference is the seed's solution, calculator annotations removed
        q = r["messages"][0]["content"]
        assert (
            r["messages"][1]["content"].endswith(f"#### {ANSWER[q]}")
            and "<<" not in r["messages"][1]["content"]
        )
    pairs = table(run, "pairs")
    assert len(pairs) == 6  # one per problem: every problem now has a verified answer
    ref_ids = {r["sample_id"] for r in refs}
    for p in pairs:
        q = p["prompt"]
        # even problems have a verified model sample, which is preferred; odd ones fall back to the reference
        assert (p["chosen_id"] in ref_ids) == (INDEX[q] % 2 == 1)


def test_trace_follows_a_generated_sample_back_to_its_seed(write_recipe, tmp_path):
    from mixloom.trace import trace

    recipe = math_recipe(write_recipe, tmp_path, rationalize=False, references=True)
    reasoning.run(recipe, engine=ScriptedEngine(math_script))
    run = tmp_path / "run"
    samples = pq.read_table(run / "generate" / "samples" / "math_cot").to_pylist()
    good = next(s for s in samples if s["ok"] and not s["reference"])
    bad = next(s for s in samples if not s["ok"])
    t = trace(run, good["sample_id"])
    assert t["kind"] == "generated" and t["verdict"] == "verified" and t["in_sft"]
    line = int(good["problem_id"].rsplit("-", 1)[1])
    seed = json.loads((GSM8K / "train.jsonl").read_text().splitlines()[line - 1])
    assert t["seed"]["line"] == line and t["seed"]["record"].startswith(
        json.dumps({"question": seed["question"]})[:40]
    )
    t = trace(run, bad["sample_id"])
    assert t["verdict"] == "failed" and not t["in_sft"] and "!=" in t["reason"]
