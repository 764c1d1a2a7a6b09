"""line_dedup: lines repeated across documents are removed from the text; the rest stays byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from curation.steps import line_dedup as ld
from curation.steps.base import BASE_SCHEMA, REJECT, StepContext

HEADER = "Posted by the editorial team | All rights reserved"
FOOTER = "  Subscribe to our newsletter for more stories.  "


def corpus() -> pl.DataFrame:
    docs = []
    for i in range(6):
        body = f"Story {i}: the river rose {i + 2} metres overnight.\n\nResidents of district {i} were moved."
        text = f"{HEADER}\n{body}\n{FOOTER}" if i < 4 else body  # header/footer in 4 documents
        docs.append({"id": f"d{i}", "text": text})
    docs.append({"id": "spam", "text": "\n".join(["buy now"] * 10)})  # repeated, but inside one document
    docs.append({"id": "only", "text": f"{HEADER}\n\n{FOOTER.strip()}\n"})
    return pl.DataFrame(docs)


def run(step, df: pl.DataFrame, tmp_path: Path, shards: int = 2) -> pl.DataFrame:
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(shards):
        p = tmp_path / f"m{k}.parquet"
        step.map(df.gather_every(shards, offset=k)).write_parquet(p)
        paths.append(p)
    reduced = step.reduce(paths, tmp_path / "reduce")
    return step.apply(df.join(reduced.decisions, on="id", how="left"), reduced.artifacts)


def test_boilerplate_lines_removed_other_lines_kept(tmp_path):
    step = ld.build(ld.LineDedupParams(min_repeats=3), StepContext(root=tmp_path))
    df = corpus()
    out = {r["id"]: r for r in run(step, df, tmp_path).to_dicts()}
    orig = dict(zip(df["id"], df["text"], strict=True))
    for i in range(4):
        body = orig[f"d{i}"].split("\n")[1:-1]
        assert out[f"d{i}"]["text"] == "\n".join(body)  # header and footer gone, blank line kept
        assert out[f"d{i}"]["lines_removed"] == 2 and out[f"d{i}"][REJECT] is None
    for k in ("d4", "d5", "spam"):  # no boilerplate, or repeated only inside one document
        assert out[k]["text"] == orig[k] and out[k]["lines_removed"] == 0
    assert out["only"][REJECT] == "boilerplate_only"


def test_threshold_and_partitioned_reduce(tmp_path, monkeypatch):
    df = corpus()
    strict = ld.build(ld.LineDedupParams(min_repeats=6), StepContext(root=tmp_path))
    assert run(strict, df, tmp_path / "a")["lines_removed"].sum() == 0  # 5 documents < 6
    monkeypatch.setattr(ld, "ROWS_PER_PART", 3)  # many hash ranges: same answer
    step = ld.build(ld.LineDedupParams(), StepContext(root=tmp_path))
    assert run(step, df, tmp_path / "b", shards=3)["lines_removed"].to_list() == [2, 2, 2, 2, 0, 0, 0, 2]


def test_empty_frame(tmp_path):
    step = ld.build(ld.LineDedupParams(), StepContext(root=tmp_path))
    empty = pl.DataFrame(schema=BASE_SCHEMA)
    out = run(step, empty, tmp_path, shards=1)
    assert out.height == 0 and "lines_removed" in out.columns


def test_through_the_pipeline(write_recipe, tmp_path):
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in corpus().to_dicts()))
    recipe = {
        "sources": {"n": {"path": str(src), "format": "jsonl", "id": "id", "domain": "news"}},
        "steps": [{"line_dedup": {"min_repeats": 3}}],
        "execution": {"shard_docs": 3},
        "splits": {"train": 1.0},
    }
    curate(load_recipe(write_recipe(recipe)), out=tmp_path / "run")
    kept = pl.read_parquet(tmp_path / "run" / "curated" / "*.parquet")
    assert kept.height == 7 and not kept["text"].str.contains("All rights reserved").any()
    assert kept.filter(pl.col("id") == "n/d4")["text"][0] == corpus()["text"][4]
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    assert rejects.select("id", "reason").rows() == [("n/only", "boilerplate_only")]
