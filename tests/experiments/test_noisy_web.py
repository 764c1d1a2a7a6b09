"""The demo corpus builder: real clean text plus each kind of noise, deterministic, rebuilt only on change."""

from __future__ import annotations

import json
from pathlib import Path

from mixloom.experiments.noisy_web import build
from mixloom.recipe import parse_recipe

ROOT = Path(__file__).resolve().parents[2]


def _rows(folder: Path) -> dict[str, list[dict]]:
    return {
        c: [json.loads(x) for x in (folder / f"{c}.jsonl").read_text().splitlines()]
        for c in ("web", "finance")
    }


def test_noisy_web_has_every_kind_and_is_deterministic(tmp_path):
    recipe = parse_recipe({"name": "n", "base_dir": str(ROOT)}, tmp_path / "r.yaml")
    out = build(recipe, out=str(tmp_path / "a"), seed=3)
    rows = _rows(out)
    kinds = {c: {r["kind"].split("+")[0] for r in rs} for c, rs in rows.items()}
    web = {"clean_wiki", "exact_dup", "near_dup", "spam", "mojibake", "toxic", "code"}
    assert web <= kinds["web"] and "clean_finance" not in kinds["web"]
    assert {"clean_finance", "exact_dup", "near_dup", "spam"} <= kinds["finance"]
    assert not {"clean_wiki", "code", "toxic", "mojibake"} & kinds["finance"]
    if list(Path("/usr/share/gnupg").glob("help.*.txt")):
        assert "non_english" in kinds["web"]
    every = rows["web"] + rows["finance"]
    assert any("+boilerplate" in r["kind"] for r in every)
    for rs in rows.values():  # a copy of a clean text of the same crawl (whose page may carry boilerplate)
        clean = [r["text"] for r in rs if r["kind"].startswith("clean")]
        assert all(any(r["text"] in t for t in clean) for r in rs if r["kind"] == "exact_dup")
    assert any("Ã" in r["text"] or "â€" in r["text"] for r in every if r["kind"] == "mojibake")
    assert len({r["id"] for r in every}) == len(every)
    again = build(recipe, out=str(tmp_path / "b"), seed=3)
    assert _rows(again) == rows
    mtime = (out / "web.jsonl").stat().st_mtime_ns
    build(recipe, out=str(tmp_path / "a"), seed=3)  # unchanged: not rewritten
    assert (out / "web.jsonl").stat().st_mtime_ns == mtime
    assert _rows(build(recipe, out=str(tmp_path / "a"), seed=4)) != rows
