"""Recipe validation before any work, and the `mixloom generate` / `mixloom tiny-model` commands."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import reasoning
from mixloom.cli import main
from mixloom.errors import RecipeError
from mixloom.recipe import load_recipe

MATH = {"kind": "math_cot", "seeds": "data/gsm8k/train.jsonl", "limit": 2, "n": 2, "shots": 1}


def recipe_with(write_recipe, tmp_path, engine=None, tasks=None):
    engine = engine or {"kind": "transformers", "model": "tiny", "max_tokens": 8}
    return write_recipe(
        {"output": str(tmp_path / "run"), "generate": {"engine": engine, "tasks": tasks or [MATH]}}
    )


@pytest.mark.parametrize(
    ("generate", "message"),
    [
        (
            {"engine": {"model": "tiny", "temprature": 1}, "tasks": [MATH]},
            "generate.engine.temprature: unknown key",
        ),
        ({"engine": {"model": "tiny"}, "tasks": [{**MATH, "kind": "sql"}]}, "generate.tasks.0.kind"),
        (
            {"engine": {"model": "tiny"}, "tasks": [{**MATH, "kind": "code", "select": "majority"}]},
            "majority",
        ),
        ({"engine": {"kind": "openai", "model": "m"}, "tasks": [MATH]}, "base_url is required"),
        ({"engine": {"model": "tiny"}, "tasks": [MATH, MATH]}, "task names must be unique"),
        ({"engine": {"model": "tiny"}, "tasks": []}, "generate.tasks"),
        ({"engine": {"model": "tiny"}, "tasks": [{**MATH, "n": 0}]}, "generate.tasks.0.n"),
    ],
)
def test_schema_errors_name_the_key(write_recipe, generate, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(write_recipe({"generate": generate}))
    assert message in str(e.value)


def test_checks_before_work(write_recipe, tmp_path):
    def problem(**kw) -> str:
        with pytest.raises(RecipeError) as e:
            reasoning.check(load_recipe(recipe_with(write_recipe, tmp_path, **kw)))
        return str(e.value)

    assert "seed file not found" in problem(tasks=[{**MATH, "seeds": "data/gsm8k/nope.jsonl"}])
    assert "generate.tasks.0.seeds" in problem(tasks=[{**MATH, "seeds": "data/gsm8k/nope.jsonl"}])
    msg = problem(tasks=[{**MATH, "kind": "code"}])  # GSM8K records are not code problems
    assert "no usable code problem" in msg and "prompt, test, entry_point" in msg
    assert "leaving none to generate for" in problem(tasks=[{**MATH, "shots": 200}])
    assert "model directory not found" in problem(engine={"kind": "vllm", "model": "models/none"})
    (tmp_path / "empty-model").mkdir()
    assert "has no config.json" in problem(engine={"kind": "vllm", "model": str(tmp_path / "empty-model")})
    msg = problem(engine={"kind": "openai", "model": "tiny", "base_url": "http://127.0.0.1:1/v1"})
    assert "served model" in msg or "serves" in msg


def test_chat_format_needs_a_chat_template(write_recipe, tmp_path, tiny_model_dir):
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain)
    cfg = json.loads((plain / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(cfg))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    path = recipe_with(
        write_recipe,
        tmp_path,
        engine={"kind": "transformers", "model": str(plain)},
        tasks=[{**MATH, "format": "chat"}],
    )
    with pytest.raises(RecipeError, match="no chat template"):
        reasoning.check(load_recipe(path))
    reasoning.check(
        load_recipe(
            recipe_with(write_recipe, tmp_path, engine={"kind": "transformers", "model": str(tiny_model_dir)})
        )
    )


def test_cli_reports_user_errors_without_traceback(write_recipe, tmp_path, capsys):
    path = recipe_with(write_recipe, tmp_path, tasks=[{**MATH, "seeds": "data/missing.jsonl"}])
    assert main(["generate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "seed file not found" in err and "Traceback" not in err


def test_cli_generates_with_a_tiny_model_it_builds(write_recipe, tmp_path, capsys):
    path = recipe_with(write_recipe, tmp_path)
    assert main(["generate", str(path), "--out", str(tmp_path / "cli")]) == 0
    gen = tmp_path / "cli" / "generate"
    assert (tmp_path / "cli" / "tiny-model" / "config.json").exists()
    rows = pq.read_table(gen / "samples" / "math_cot").num_rows
    assert rows == 2 * 2
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["engine"]["kind"] == "transformers"
    assert manifest["tasks"]["math_cot"]["samples"] == 4
    assert "math_cot 2 problems, 4 samples" in capsys.readouterr().err


def test_cli_tiny_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = tmp_path / "texts.txt"
    texts.write_text("alpha beta gamma\n" * 50)
    assert main(["tiny-model", str(tmp_path / "m"), "--texts", str(texts), "--vocab-size", "400"]) == 0
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert tok.chat_template and len(tok) <= 400
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "m").config.head_dim >= 32
