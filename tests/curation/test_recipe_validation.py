"""A recipe is validated before any work starts; every error names the file, the key and the fix."""

from __future__ import annotations

import pytest

from mixloom.errors import RecipeError
from mixloom.recipe import load_recipe
from mixloom.validate import validate
from tests.sources import FIQA, WIKI


def _err(write_recipe, data) -> str:
    path = write_recipe(data)
    with pytest.raises(RecipeError) as e:
        validate(str(path))
    msg = str(e.value)
    assert str(path) in msg  # every error names the recipe file
    return msg


def test_valid_recipe_passes(write_recipe):
    recipe, summary = validate(
        str(
            write_recipe(
                {
                    "sources": {"fiqa": FIQA, "wiki": WIKI},
                    "steps": [{"normalize": {}}, {"dedup": {"method": "exact"}}],
                }
            )
        )
    )
    assert summary["sources"] == {"fiqa": 1, "wiki": 1}
    assert summary["steps"] == ["0:normalize", "1:dedup.exact"]


def test_unknown_key_names_its_path(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": {**FIQA, "txt": "x"}}})
    assert "sources.fiqa.txt" in msg and "unknown key" in msg


def test_shares_must_sum_to_one_with_numbers(write_recipe):
    msg = _err(
        write_recipe,
        {"sources": {"fiqa": FIQA, "wiki": WIKI}, "mix": {"shares": {"financial": 0.6, "general": 0.5}}},
    )
    assert "mix.shares" in msg and "0.6" in msg and "0.5" in msg and "1.1" in msg


def test_splits_must_sum_to_one(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": FIQA}, "splits": {"train": 0.9, "test": 0.2}})
    assert "splits" in msg and "1.1" in msg


def test_missing_file(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": {**FIQA, "path": "data/finance/nope.json"}}})
    assert "sources.fiqa.path" in msg and "nope.json" in msg and "not found" in msg


def test_glob_matching_nothing(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": {**FIQA, "path": "data/finance/*.nothing"}}})
    assert "no files match" in msg


def test_unknown_step_lists_known_ones(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": FIQA}, "steps": [{"normalise": {}}]})
    assert "steps.0.normalise" in msg and "unknown step" in msg and "normalize" in msg


def test_unknown_step_parameter(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": FIQA}, "steps": [{"normalize": {"from": "NFKC"}}]})
    assert "steps.0.normalize.from" in msg and "form" in msg


def test_bad_sql_is_caught_by_duckdb_parser(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": FIQA}, "steps": [{"sql": "SELEC * FROM docs"}]})
    assert "steps.0.sql" in msg and "parse" in msg.lower()


def test_sql_unknown_column_caught_before_work(write_recipe):
    msg = _err(
        write_recipe, {"sources": {"fiqa": FIQA}, "steps": [{"sql": "SELECT * FROM docs WHERE nchars > 3"}]}
    )
    assert "steps.0.sql" in msg and "nchars" in msg and "columns available" in msg


def test_bad_polars_expression(write_recipe):
    msg = _err(
        write_recipe, {"sources": {"fiqa": FIQA}, "steps": [{"polars": {"filter": "pl.col('text').len(("}}]}
    )
    assert "steps.0.polars" in msg and "Polars expression" in msg


def test_text_field_missing_in_every_record(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": {**FIQA, "text": "body"}}})
    assert "sources.fiqa.text" in msg and "'body'" in msg and "sentence" in msg  # offers the real field


def test_mix_domain_without_source(write_recipe):
    msg = _err(write_recipe, {"sources": {"fiqa": FIQA}, "mix": {"shares": {"financial": 0.5, "legal": 0.5}}})
    assert "legal" in msg


def test_yaml_syntax_error_has_line(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\nsources: {a: [1, 2\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    assert "line" in str(e.value) and str(p) in str(e.value)


def test_cli_prints_user_error_without_traceback(write_recipe, capsys):
    from mixloom.cli import main

    path = write_recipe({"sources": {"fiqa": {**FIQA, "path": "missing.json"}}})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err
