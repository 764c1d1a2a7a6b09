"""The curation sections' own rules, each a one-line error that names the key; and the CLI's last-resort
messages (a full disk, a permission error, an interrupt) as a user sees them."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import typer

from mixloom import cli
from mixloom.errors import RecipeError
from mixloom.recipe import parse_recipe

SRC = {"path": "x.jsonl", "domain": "d"}


def _parse(tmp: Path, **doc):
    return parse_recipe({"name": "r", "sources": {"a": SRC}, **doc}, tmp / "r.yaml")


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"sources": {"a": {**SRC, "split_on": "regex:("}}}, "regex:'(' does not compile"),
        (
            {"sources": {"a": {**SRC, "split_on": "para"}}},
            "must be one of none, blank_line, line, regex:PATTERN",
        ),
        ({"sources": {"a": {**SRC, "encoding": "nope-8"}}}, "unknown encoding 'nope-8' (e.g. utf-8"),
        ({"sources": {"a": {**SRC, "encoding": "utf-16"}}}, "encoding 'utf-16' is not ASCII-compatible"),
        ({"steps": [{"a": 1, "b": 2}]}, "steps.0: a step is a mapping with exactly one key"),
        ({"splits": {"train": 0.5, "test": 0.4}}, "splits must sum to 1, got train 0.5 + test 0.4 = 0.9"),
        ({"splits": {"train": 1.5, "test": -0.5}}, "splits must be >= 0 (negative: test)"),
        ({"splits": {"train": float("nan")}}, "splits must be finite numbers (train: nan)"),
        ({"mix": {"shares": {"d": 0.5, "e": 0.5}}}, "mix.shares names domains no source has: ['e']"),
        (
            {"sources": {"a": SRC, "b": {**SRC, "domain": "e"}}, "mix": {"shares": {"d": 1.0}}},
            "mix.shares has no share for domains ['e'] (give 0 to drop them)",
        ),
        (
            {"mix": {"shares": {"d": 1.0}, "sources": {"d": {"zz": 1.0}}}},
            "mix.sources.d names unknown source 'zz'",
        ),
        (
            {
                "sources": {"a": SRC, "b": {**SRC, "domain": "e"}},
                "mix": {"shares": {"d": 0.5, "e": 0.5}, "sources": {"d": {"b": 1.0}}},
            },
            "mix.sources.d.b: source 'b' belongs to domain 'e'",
        ),
        (
            {"mix": {"shares": {"d": 1.0}, "max_epochs": {"zz": 2}}},
            "mix.max_epochs names unknown sources ['zz']",
        ),
        ({"mix": {"shares": {"d": 1.0}, "max_epochs": {"a": 0}}}, "a: must be a number > 0, got 0"),
        ({"mix": {"shares": {"d": 1.0}, "budget": "lots"}}, "must be a positive integer or 'max'"),
        ({"mix": {"shares": {"d": 1.0}, "budget": -5}}, "must be a positive integer or 'max', got -5"),
    ],
)
def test_curation_rules_name_the_key(tmp_path, doc, needle):
    with pytest.raises(RecipeError) as e:
        _parse(tmp_path, **doc)
    assert needle in str(e.value) and str(e.value).startswith(str(tmp_path / "r.yaml"))


def test_budget_with_underscores_and_valid_rules(tmp_path):
    r = _parse(
        tmp_path,
        mix={"shares": {"d": 1.0}, "budget": "1_000"},
        sources={"a": {**SRC, "split_on": "regex:^#"}},
    )
    assert r.mix.budget == 1000 and r.sources["a"].split_on == "regex:^#"
    assert _parse(tmp_path, sources={"a": {**SRC, "encoding": "latin-1"}}).sources["a"].encoding == "latin-1"


# -- the CLI's last-resort messages -----------------------------------------------------------------
@pytest.fixture
def raising():
    """A command `zz-raise KIND` on the real app that raises what the test names."""
    errors = {
        "disk": OSError(errno.ENOSPC, "No space left on device", "/data/out.parquet"),
        "chained": RuntimeError("write failed"),
        "perm": PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"),
        "interrupt": KeyboardInterrupt(),
        "exit3": typer.Exit(3),
        "abort": typer.Abort(),
        "bug": ZeroDivisionError("a bug"),
    }

    def zz_raise(kind: str) -> None:
        if kind == "chained":
            try:
                raise OSError("Disk quota exceeded")
            except OSError as e:
                raise RuntimeError("write failed") from e
        raise errors[kind]

    cli.app.command("zz-raise")(zz_raise)
    yield
    cli.app.registered_commands[:] = [c for c in cli.app.registered_commands if c.name != "zz-raise"]


def test_cli_last_resort_messages(raising, capsys):
    assert cli.main(["zz-raise", "disk"]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "error: no space left on the device writing /data/out.parquet: free some space (or point --out "
        "elsewhere) and run the same command again; finished work is kept"
    )
    assert cli.main(["zz-raise", "chained"]) == 2
    assert "no space left on the device: free some space" in " ".join(capsys.readouterr().err.split())
    assert cli.main(["zz-raise", "perm"]) == 2
    assert "permission denied: /etc/shadow; fix the permissions or choose another path" in " ".join(
        capsys.readouterr().err.split()
    )
    assert cli.main(["zz-raise", "interrupt"]) == 130
    assert "interrupted; run the same command again to resume" in capsys.readouterr().err
    assert cli.main(["zz-raise", "exit3"]) == 3
    assert cli.main(["zz-raise", "abort"]) == 1
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        cli.main(["zz-raise", "bug"])
    assert cli.main(["zz-raise"]) == 2
    assert "error: Missing argument 'kind'. (try '" in capsys.readouterr().err


def test_disk_full_looks_through_the_chain():
    assert cli.disk_full(ValueError("unrelated")) is None
    e = RuntimeError("outer")
    e.__context__ = ValueError("polars: No space left on device (os error 28)")
    assert cli.disk_full(e).startswith("no space left on the device: ")
    loop = RuntimeError("a")
    loop.__context__ = loop  # a cycle ends the walk
    assert cli.disk_full(loop) is None
    assert cli.disk_full(OSError(errno.EFBIG, "big")) is not None


def test_version(capsys):
    from mixloom import __version__

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mixloom {__version__}"
