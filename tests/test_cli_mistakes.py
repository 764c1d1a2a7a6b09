"""Twenty common command-line mistakes: each is one line on stderr naming what is wrong, exit 2, no traceback."""

from __future__ import annotations

import pytest

from mixloom.cli import main

QS = "recipes/quickstart.yaml"


def _cases(tmp):
    (tmp / "list.yaml").write_text("- just\n- a list\n")
    (tmp / "typo.yaml").write_text("name: t\nsources: {}\nmix_shares: {a: 1}\n")
    (tmp / "bad.yaml").write_text("name: t\nsteps: [\n")
    return [
        (["curat"], "No such command"),
        (["curate", QS, "--wokers", "2"], "No such option"),
        (["curate"], "Missing argument"),
        (["curate", QS, "--workers", "two"], "Invalid value"),
        (["curate", QS, "--workers", "0"], "Invalid value"),
        ([], "no command given"),
        (["validate", str(tmp / "nope.yaml")], "not found"),
        (["run", str(tmp / "nope.yaml")], "not found"),
        (["validate", str(tmp / "list.yaml")], "must be a YAML mapping"),
        (["validate", str(tmp / "typo.yaml")], "mix_shares"),
        (["validate", str(tmp / "bad.yaml")], "not valid YAML"),
        (["plan"], "Missing argument"),
        (["trace", str(tmp / "norun"), "fiqa/1"], "no such run directory"),
        (["stats", str(tmp)], "no manifest"),
        (["train", QS, "--stage", "pretrian"], "unknown stage"),
        (["eval", QS, "--metric", "perplexty"], "unknown metric"),
        (["run", QS, "--set", "train.sft.max_steps"], "--set"),
        (["run", QS, "--set", "train.sft.max_steps=-3"], "max_steps"),
        (["generate", "recipes/bloomberg_style.yaml"], "no `generate:` section"),
        (["export", str(tmp / "norun"), "--format", "hf"], "norun"),
        (["report"], "Missing argument"),
        (["tiny-model"], "Missing argument"),
    ]


def test_twenty_common_mistakes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(__import__("pathlib").Path(__file__).resolve().parent.parent)
    failures = []
    cases = _cases(tmp_path)
    assert len(cases) >= 20
    for args, needle in cases:
        try:
            rc = main(args)
        except SystemExit as e:  # pragma: no cover - main never lets one out
            rc = e.code
        out = capsys.readouterr()
        text = (out.err + out.out).strip()
        ok = (
            rc == 2
            and needle.lower() in text.lower()
            and "Traceback" not in text
            and len(text.splitlines()) == 1
        )
        if not ok:
            failures.append((args, rc, text[:300]))
    assert not failures, failures


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["curate", "--help"]])
def test_help_and_version_exit_0(args, capsys):
    assert main(args) == 0
    assert capsys.readouterr().out.strip()
