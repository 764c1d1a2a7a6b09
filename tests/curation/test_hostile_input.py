"""Nothing lost, nothing invented: hostile input is quarantined record by record (exit 0, every record counted
independently of the readers); mistakes a user can fix are one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
import yaml

import curation.pipeline as pipeline
from mixloom.cli import main
from mixloom.manifest import file_entry
from tests.curation.hostile_corpus import build, jsonl_bytes, sentence

ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, data: dict, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"name": "hostile", **data}, sort_keys=False))
    return p


def _file_of(origin: pl.Expr) -> pl.Expr:
    return origin.str.extract(r"^(?:.*/)?([^/]+):\d+$")


def test_bad_input_corpus_every_record_kept_or_rejected_once(tmp_path, capsys):
    sources, expected = build(tmp_path / "in")
    recipe = _recipe(tmp_path, {"sources": sources, "steps": [{"sql": "length(text) >= 1"}]})
    out = tmp_path / "out"
    assert main(["curate", str(recipe), "--out", str(out), "--workers", "2"]) == 0
    kept = pl.read_parquet(out / "curated" / "*.parquet")
    rej = pl.read_parquet(out / "rejects" / "*.parquet")
    per_file = pl.concat([kept.select(_file_of(pl.col("origin"))), rej.select(_file_of(pl.col("origin")))])
    counts = dict(per_file.group_by("origin").len().rows())
    assert counts == expected  # kept + rejected = records counted by hand, file by file
    assert kept.height + rej.height == sum(expected.values())
    assert kept["id"].n_unique() == kept.height and rej["id"].n_unique() == rej.height
    for r in rej.iter_rows(named=True):  # each reject: file, line and reason
        assert r["reason"] and r["origin"].rsplit(":", 1)[1].isdigit()
        d = json.loads(r["details"])
        assert d["file"].endswith(r["origin"].rsplit(":", 1)[0].split("/")[-1]) and d["line"] >= 1
    reasons = dict(rej.select("origin", "reason").rows())
    assert reasons["in/hostile.jsonl:2"] == "lone surrogate in a JSON string"
    assert reasons["in/hostile.jsonl:4"] == "JSON nested too deeply"
    assert reasons["in/hostile.jsonl:5"] == "JSON value out of range"
    assert reasons["in/unterminated.csv:3"] == "malformed CSV"
    assert reasons["in/corrupt.parquet:1"] == "unreadable Parquet file"
    assert reasons["in/array.json:2"] == "lone surrogate in a JSON string"
    assert reasons["in/array.json:3"] == "entry is not an object"
    assert reasons["in/deep.json:1"] == "unreadable JSON file"
    for kind in ("gz", "xz", "zst", "bz2"):
        (origin,) = [o for o in reasons if f"trunc.jsonl.{kind}:" in o]
        assert reasons[origin] == "truncated compressed file"
        n_read = expected[f"trunc.jsonl.{kind}"] - 1
        assert f"{n_read} records read before it" in rej.filter(pl.col("origin") == origin)["details"][0]
    texts = dict(kept.select("origin", "text").rows())
    assert texts["in/hostile.jsonl:1"].startswith("A BOM starts")  # the BOM is not a malformed record
    assert "\u2028" in texts["in/hostile.jsonl:7"]  # a line separator inside JSON is not a record boundary
    assert len(texts["in/big_field.csv:3"]) == 150_000  # the 150 KB field: one record, whole
    assert texts["in/big_field.csv:4"] == 'a "quoted" word, and a comma'  # the BOM'd header found `text`
    assert [texts[f"in/unterminated.csv:{i}"] for i in (2, 4, 5, 6)] == ["fine", "after it", "plain", "last"]
    assert [texts[f"in/lines.txt:{i}"] for i in range(1, 6)] == [
        "one\u2028still one",
        "two\x0cstill two",
        "three\x1cstill three",
        "four\x85still four",
        "five",
    ]
    assert [texts[f"in/crlf.txt:{i}"] for i in (1, 4, 7)] == ["para one\nstill one", "para two", "para three"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["read"]["records"] == sum(expected.values())
    assert m["curated"]["docs"] + m["rejected"] == m["read"]["records"]


def test_manifest_records_the_bytes_actually_read(tmp_path, monkeypatch):
    """A file truncated after planning: the manifest has the size and checksum of what was read."""
    p = tmp_path / "a.jsonl"
    p.write_bytes(jsonl_bytes(100))
    half = p.read_bytes()[: len(p.read_bytes()) // 2]

    def entry_then_truncate(path, checksum=True):
        e = file_entry(path, checksum)
        Path(path).write_bytes(half)  # the file changes between planning and reading
        return e

    monkeypatch.setattr(pipeline, "file_entry", entry_then_truncate)
    recipe = _recipe(tmp_path, {"sources": {"a": {"path": str(p), "domain": "d"}}})
    from mixloom.recipe import load_recipe

    m = pipeline.curate(load_recipe(recipe), out=tmp_path / "out", workers=1)
    (inp,) = m["inputs"]
    truth = file_entry(p)
    assert (
        (inp["bytes"], inp["xxh3_128"])
        == (truth["bytes"], truth["xxh3_128"])
        == (len(half), truth["xxh3_128"])
    )
    assert inp["changed_while_read"]["bytes"] > len(half)  # what the plan saw is kept, for the record
    cut = 1 if half.rsplit(b"\n", 1)[-1].strip() else 0  # the cut last line: a malformed record
    assert m["read"]["records"] == half.count(b"\n") + cut


def test_symlinked_subdirectory_is_read_and_listed(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "b.jsonl").write_bytes(jsonl_bytes(3, 100))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_bytes(jsonl_bytes(2))
    (src / "linked").symlink_to(real, target_is_directory=True)
    (src / "loop").symlink_to(src, target_is_directory=True)  # a loop is walked once, not forever
    recipe = _recipe(tmp_path, {"sources": {"a": {"path": str(src), "format": "jsonl", "domain": "d"}}})
    from mixloom.recipe import load_recipe

    m = pipeline.curate(load_recipe(recipe), out=tmp_path / "out", workers=1)
    assert sorted(Path(i["path"]).name for i in m["inputs"]) == ["a.jsonl", "b.jsonl"]
    assert m["curated"]["docs"] == 5


def _as_unprivileged() -> list[str]:
    """A command prefix that drops root, since root reads unreadable files; empty when not root."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _unprivileged_env(home: Path) -> dict[str, str]:
    """The environment for that command, less coverage's (`pytest --cov`): the dropped user could not write
    its data file into the checkout, and the error would end the child's stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    return {**env, "PYTHONPATH": str(ROOT), "MIXLOOM_QUIET": "1", "HOME": str(home)}


@pytest.mark.parametrize("what", ["dir", "file"])
def test_unreadable_directory_or_file_is_one_clear_error(what):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        d.chmod(0o755)
        src = d / "src"
        (src / "sub").mkdir(parents=True)
        (src / "a.jsonl").write_bytes(jsonl_bytes(2))
        (src / "sub" / "b.jsonl").write_bytes(jsonl_bytes(2, 10))
        bad = src / "sub" if what == "dir" else src / "a.jsonl"
        bad.chmod(0)
        recipe = _recipe(d, {"sources": {"a": {"path": str(src), "format": "jsonl", "domain": "d"}}})
        recipe.chmod(0o644)
        p = subprocess.run(
            [*_as_unprivileged(), sys.executable, "-m", "mixloom.cli", "validate", str(recipe)],
            cwd=ROOT,
            env=_unprivileged_env(d),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2, p.stderr
        assert (
            "Traceback" not in p.stderr and f"cannot read {'directory ' if what == 'dir' else ''}" in p.stderr
        )
        assert str(bad) in p.stderr


# -- mistakes: one line, exit 2 ----------------------------------------------------------------------


def _jsonl_source(tmp_path: Path, **extra) -> dict:
    p = tmp_path / "docs.jsonl"
    p.write_text(
        "".join(json.dumps({"text": sentence(i), "kind": "a" if i % 2 else "b"}) + "\n" for i in range(40))
    )
    return {"path": str(p), "domain": "d", **extra}


MISTAKES = {
    "nan share": ({"mix": {"shares": {"d": float("nan")}}}, "mix.shares must be finite"),
    "nan split": ({"splits": {"train": float("nan"), "test": 0.5}}, "splits must be finite"),
    "negative max_epochs": ({"mix": {"shares": {"d": 1.0}, "max_epochs": -1}}, "must be a number > 0"),
    "bad split_on regex": ({"_src": {"format": "text", "split_on": "regex:(unclosed"}}, "does not compile"),
    "unknown encoding": ({"_src": {"encoding": "utf-99"}}, "unknown encoding"),
    "utf-16 encoding": ({"_src": {"encoding": "utf-16"}}, "not ASCII-compatible"),
    "typo in a source's sql": ({"_src": {"sql": "knd = 'a'"}}, "sources.s.sql"),
    "typo in a source's polars": ({"_src": {"polars": "pl.col('knd') == 'a'"}}, "sources.s.polars"),
    "sql rewrites ids": ({"steps": [{"sql": "SELECT * REPLACE (id || '_x' AS id) FROM docs"}]}, "step 0:sql"),
    "sql UNION ALL": (
        {"steps": [{"sql": "SELECT * FROM docs UNION ALL SELECT * REPLACE (id || 'b' AS id) FROM docs"}]},
        "step 0:sql",
    ),
    "sql text to an integer": (
        {"steps": [{"sql": "SELECT * REPLACE (42 AS text) FROM docs"}]},
        "steps.0.sql",
    ),
    "polars constant id": ({"steps": [{"polars": {"with_columns": {"id": "pl.lit('x')"}}}]}, "step 0:polars"),
    "polars text to an integer": (
        {"steps": [{"polars": {"with_columns": {"text": "pl.lit(1)"}}}]},
        "changed `text` from String to Int32",
    ),
    "polars fails at run time": (
        {"steps": [{"polars": {"filter": "pl.col('text').str.to_integer() > 0"}}]},
        "step 0:polars failed",
    ),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_user_mistakes_are_one_line_exit_2(case, tmp_path, capsys):
    extra, needle = MISTAKES[case]
    extra = dict(extra)
    src = _jsonl_source(tmp_path, **extra.pop("_src", {}))
    if src.get("format") == "text":
        src["path"] = str(Path(src["path"]).with_suffix(".txt"))
        Path(src["path"]).write_text("a\nb\n")
    recipe = _recipe(tmp_path, {"sources": {"s": src}, **extra})
    capsys.readouterr()
    rc = main(["curate", str(recipe), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert needle in err and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.strip() and not ln.startswith("  ")]) == 1, err


def test_source_filter_failing_on_a_later_file_names_source_and_file(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(json.dumps({"text": "first file", "kind": "a"}) + "\n")
    (src / "b.jsonl").write_text(json.dumps({"text": "no kind field here"}) + "\n")
    recipe = _recipe(
        tmp_path, {"sources": {"s": {"path": str(src), "domain": "d", "polars": "pl.col('kind') == 'a'"}}}
    )
    assert main(["validate", str(recipe)]) == 0  # the first file's records have the column
    rc = main(["curate", str(recipe), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "sources.s.polars failed on" in err and "b.jsonl" in err and "Traceback" not in err


def test_out_pointing_at_a_file(tmp_path, capsys):
    recipe = _recipe(tmp_path, {"sources": {"s": _jsonl_source(tmp_path)}})
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        assert main(["curate", str(recipe), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "is a file, not a directory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["curat"], "No such command 'curat'"),
        (["curate", "r.yaml", "--wokers", "2"], "No such option: --wokers"),
        (["curate"], "Missing argument"),
        (["curate", "r.yaml", "--workers", "two"], "Invalid value for '--workers'"),
        ([], "no command given"),
    ],
)
def test_cli_usage_mistakes_one_line(args, needle):
    p = subprocess.run(
        [sys.executable, "-m", "mixloom.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MIXLOOM_QUIET": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2
    assert needle in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_version():
    p = subprocess.run(
        [sys.executable, "-m", "mixloom.cli", "--version"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    from mixloom import __version__

    assert p.returncode == 0 and p.stdout.strip() == f"mixloom {__version__}"


def test_out_in_an_unwritable_directory_is_one_line():
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        d.chmod(0o755)
        locked = d / "locked"
        locked.mkdir(mode=0o555)
        (d / "a.jsonl").write_bytes(jsonl_bytes(2))
        recipe = _recipe(d, {"sources": {"a": {"path": str(d / "a.jsonl"), "domain": "d"}}})
        recipe.chmod(0o644)
        (d / "a.jsonl").chmod(0o644)
        p = subprocess.run(
            [
                *_as_unprivileged(),
                sys.executable,
                "-m",
                "mixloom.cli",
                "curate",
                str(recipe),
                "--out",
                str(locked / "run"),
            ],
            cwd=ROOT,
            env=_unprivileged_env(d),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2 and "is not writable" in p.stderr and "Traceback" not in p.stderr, p.stderr
