"""A curation run with the `pii` step on planted data: no planted value survives anywhere in the run
directory (outputs, rejects, manifests, report, data card) or in what `trace` and `stats` print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from bench.pii_corpus import build, real_paragraphs
from mixloom.cli import app
from mixloom.orchestrator import run_recipe
from mixloom.recipe import load_recipe

STEPS = [
    {"normalize": {}},
    {
        "polars": {
            "filter": "~(pl.col('text').str.contains('@') & pl.col('id').str.ends_with('1'))",
            "reason": "before_pii",
        }
    },
    {"pii": {"types": {"secret": "reject", "private_key": "reject", "phone": "mask"}}},
    {"sql": {"query": "tokens >= 5", "reason": "short"}},
    {"dedup": {"method": "exact"}},
]


def _needles(docs) -> set[str]:
    """Every planted value, and the digits of the numeric ones (a value must not survive re-spaced)."""
    out = set()
    for d in docs:
        for s, e, t in d.spans:
            v = d.text[s:e]
            out.add(v)
            if t == "url_credentials":
                out.add(v.split(":", 1)[1])  # the password alone
            digits = re.sub(r"\D", "", v)
            if t in ("phone", "credit_card", "national_id", "iban") and len(digits) >= 9:
                out.add(digits)
    return out


def _file_text(p: Path) -> str:
    if p.suffix == ".parquet":
        df = pl.read_parquet(p)
        return "\n".join(
            "\n".join(v for v in df[c].cast(pl.String).to_list() if v is not None) for c in df.columns
        )
    return p.read_bytes().decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pii")
    docs = build(real_paragraphs(shared=False), per_type=20, seed=7)
    rows = [{"id": f"d{i}", "text": d.text, "contact": f"owner: {docs[(i + 1) % len(docs)].text[:0]}"}
            for i, d in enumerate(docs)]  # fmt: skip
    # a planted value in another field (it reaches `meta`), and exact repeats that dedup rejects after pii
    rows[0]["contact"] = "reach me at jane.roe@posteo.net or +49 30 12345678"
    rows += [{"id": f"dup{i}", "text": docs[i].text, "contact": ""} for i in range(10)]
    src = tmp / "planted.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    recipe_path = tmp / "recipe.yaml"
    import yaml

    recipe_path.write_text(
        yaml.safe_dump(
            {
                "name": "pii-test",
                "base_dir": str(tmp),
                "sources": {"planted": {"path": "planted.jsonl", "format": "jsonl", "id": "id", "domain": "general"}},
                "steps": STEPS,
            }
        )
    )  # fmt: skip
    out = tmp / "run"
    run_recipe(load_recipe(recipe_path), out=out)
    return docs, out, rows


def test_no_planted_value_anywhere_in_the_run(planted_run):
    docs, out, _ = planted_run
    needles = _needles(docs) | {"jane.roe@posteo.net", "+49 30 12345678"}
    runner = CliRunner()
    rej = pl.read_parquet(out / "rejects")
    kept = pl.read_parquet(out / "curated")
    printed = [runner.invoke(app, ["stats", str(out)]).output]
    for doc_id in [*rej["id"].to_list()[:40], *kept["id"].to_list()[:40]]:
        res = runner.invoke(app, ["trace", str(out), doc_id])
        assert res.exit_code == 0, res.output
        printed.append(res.output)
    scanned = [p for p in out.rglob("*") if p.is_file()]  # every file, the cache included
    assert {p.name for p in scanned} >= {"manifest.json", "DATACARD.md", "index.html"}
    assert any(p.suffix == ".parquet" for p in scanned if "rejects" in p.parts)
    leaks = {}
    for p in scanned:
        text = _file_text(p)
        found = [n for n in needles if n in text]
        if found:
            leaks[str(p.relative_to(out))] = found[:3]
    for i, text in enumerate(printed):
        found = [n for n in needles if n in text]
        if found:
            leaks[f"cli output {i}"] = found[:3]
    assert not leaks
    # the check itself can find values: the input holds them, and so did a document rejected before pii
    assert all(n in (out.parent / "planted.jsonl").read_text() for n in ("jane.roe@posteo.net",))
    before = rej.filter(pl.col("reason") == "before_pii")
    assert before.height > 0 and all(re.search(r"<[A-Z_]+>", t) for t in before["text"])
    assert not (out / "_work").exists()


def test_rejects_are_redacted_and_trace_shows_types_and_offsets(planted_run):
    docs, out, rows = planted_run
    rej = pl.read_parquet(out / "rejects")
    by_pii = rej.filter(pl.col("step") == "2:pii")
    assert set(by_pii["reason"]) == {"pii:secret", "pii:private_key"}
    secret = [any(t in ("secret", "private_key") for *_, t in d.spans) for d in docs]
    assert by_pii.height == sum(secret) + sum(secret[:10])  # with the repeats of documents 0-9
    assert all("<SECRET>" in t or "<PRIVATE_KEY>" in t for t in by_pii["text"])
    dups = rej.filter(pl.col("reason") == "exact_duplicate")
    assert dups.height > 0  # repeats of kept documents, rejected after pii: redacted too (checked above)
    kept = pl.read_parquet(out / "curated")
    assert "pii_email" in kept.columns and "pii_spans" in kept.columns
    row = kept.filter(pl.col("pii_email") > 0).row(0, named=True)
    spans = json.loads(row["pii_spans"])
    assert all(
        row["text"][s["start"] : s["end"]] == "<EMAIL>"
        for s in spans
        if s["type"] == "email" and "field" not in s
    )
    res = CliRunner().invoke(app, ["trace", str(out), row["id"]])
    assert '"type": "email"' in res.output and '"start":' in res.output
    phones = [
        (r["text"], s)
        for r in kept.filter(pl.col("pii_phone") > 0).iter_rows(named=True)
        for s in json.loads(r["pii_spans"])
        if s["type"] == "phone" and "field" not in s
    ]
    assert phones and all(set(t[s["start"] : s["end"]]) <= set("*+ ()-.") for t, s in phones)
    meta_row = kept.filter(pl.col("id") == "planted/d0")
    if meta_row.height:
        assert "<EMAIL>" in meta_row["meta"][0] and "jane.roe" not in meta_row["meta"][0]


def test_manifest_has_counts_per_type(planted_run):
    docs, out, _ = planted_run
    m = json.loads((out / "manifest.json").read_text())
    row = next(r for r in m["steps"] if r["step"] == "2:pii")
    counts = row["counts"]
    planted = {}
    for d in docs:
        for *_, t in d.spans:
            planted[t] = planted.get(t, 0) + 1
    for t, n in planted.items():
        assert counts[t] >= n, (t, counts[t], n)  # every planted value counted (the repeats add more)
    assert row["reasons"]["pii:secret"] > 0


def test_report_and_data_card_show_what_was_found(planted_run):
    _, out, _ = planted_run
    card = (out / "DATACARD.md").read_text()
    row = next(x for x in card.splitlines() if x.startswith("| 2:pii |"))
    assert "(found: " in row and "email" in row
    html = (out / "report" / "index.html").read_text()
    assert "found: " in html and "credit_card" in html
