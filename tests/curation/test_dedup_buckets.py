"""Exact dedup's reduce, bucket by bucket: the same decisions as one pass over every key, while it holds one
bucket's keys at a time.

The keys are mapped from real text (the finance and WikiText samples) with planted duplicates across shards
(the same text, other case and spacing), and the decisions are checked against the single-pass reduce (the
code path a small corpus takes) and against a plain-Python reading of the rule.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from curation.steps import dedup
from curation.steps.base import REJECT
from curation.steps.dedup import ExactDedup, ExactParams

DATA = Path(__file__).resolve().parents[2] / "data"


def _texts() -> list[str]:
    fiqa = [r["sentence"] for r in json.loads((DATA / "finance/fiqa_posts.json").read_text()).values()]
    heads = [r["title"] for r in json.loads((DATA / "finance/semeval2017_task5_headlines.json").read_text())]
    wiki = [
        b.strip() for b in (DATA / "wikitext2/wiki_valid_sample.txt").read_text().split("\n\n") if b.strip()
    ]
    return fiqa + heads + wiki


def _maps(tmp: Path, shards: int = 7) -> list[Path]:
    """Shards of real documents plus planted near-identical copies (case, spacing) spread over other shards."""
    rng = random.Random(7)
    texts = _texts()
    docs = [(f"doc-{i:06d}", t) for i, t in enumerate(texts)]
    for j, t in enumerate(rng.sample(texts, len(texts) // 4)):
        variant = rng.choice([t, t.upper(), "  " + t.replace(" ", "  ") + "\n", t.lower()])
        docs.append((f"copy-{j:06d}", variant))
    rng.shuffle(docs)
    step = ExactDedup(ExactParams())
    paths = []
    for s in range(shards):
        part = docs[s::shards]
        df = pl.DataFrame({"id": [d[0] for d in part], "text": [d[1] for d in part]})
        p = tmp / f"shard-{s:03d}.map.parquet"
        step.map(df).write_parquet(p)
        paths.append(p)
    return paths


def _oracle(paths: list[Path]) -> dict[str, str]:
    """id -> the id it duplicates, straight from the rule (smallest id of a key's group is kept)."""
    groups: dict[int, list[str]] = {}
    for p in paths:
        for i, k in pl.read_parquet(p).iter_rows():
            groups.setdefault(k, []).append(i)
    return {i: min(ids) for ids in groups.values() if len(ids) > 1 for i in ids if i != min(ids)}


def test_bucketed_reduce_decides_like_one_pass(tmp_path):
    paths = _maps(tmp_path)
    total = sum(pl.read_parquet(p).height for p in paths)
    one = ExactDedup(ExactParams()).reduce(paths, tmp_path / "one")
    assert one.decisions.height > 500  # planted duplicates (and the samples' own repeats) found
    for rows in (total // 3, 1_000, 97, 1):  # 4 to 2**14 buckets
        work = tmp_path / f"b{rows}"
        got = ExactDedup(ExactParams(), bucket_rows=rows).reduce(paths, work)
        assert got.decisions.equals(one.decisions), rows
        assert got.report == one.report
        assert not (work / "dedup-buckets").exists()  # the spilled keys are gone
    want = _oracle(paths)
    assert dict(zip(one.decisions["id"], one.decisions["duplicate_of"], strict=True)) == want
    assert set(one.decisions[REJECT]) == {"exact_duplicate"}


def test_no_maps_and_no_duplicates(tmp_path):
    empty = ExactDedup(ExactParams(), bucket_rows=1).reduce([], tmp_path / "e")
    assert empty.decisions.height == 0 and empty.decisions.columns == [
        "id",
        REJECT,
        "duplicate_of",
        "cluster_id",
    ]
    p = tmp_path / "m.parquet"
    ExactDedup(ExactParams()).map(
        pl.DataFrame({"id": ["a", "b", "c"], "text": ["x y", "y z", "z w"]})
    ).write_parquet(p)
    got = ExactDedup(ExactParams(), bucket_rows=1).reduce([p], tmp_path / "n")
    assert got.decisions.height == 0 and got.decisions.schema == empty.decisions.schema


def test_curate_with_small_buckets_gives_the_same_bytes(tmp_path, monkeypatch, write_recipe):
    """The whole stage with the reduce split into many buckets writes the files of the single-pass reduce."""
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe
    from tests.cloud import LOCAL_PATHS, bloomberg_recipe, local_tree

    r = bloomberg_recipe(LOCAL_PATHS, shard_docs=300)
    r["steps"] = [{"normalize": {"form": "NFKC"}}, {"dedup": {"method": "exact"}}]
    r["mix"] = {"unit": "docs", "budget": "max", "shares": r["mix"]["shares"]}
    recipe = load_recipe(write_recipe(r))
    a = curate(recipe, out=tmp_path / "one", workers=1)
    monkeypatch.setattr(dedup, "BUCKET_ROWS", 64)
    calls = []
    monkeypatch.setattr(dedup, "_decide", lambda keys, real=dedup._decide: calls.append(1) or real(keys))
    b = curate(recipe, out=tmp_path / "many", workers=1)  # one worker: the reduce runs in this process
    assert len(calls) > 16  # many buckets, each decided alone
    assert a["curated"] == b["curated"] and a["rejected"] == b["rejected"]
    assert [{k: v for k, v in s.items() if k != "seconds"} for s in a["steps"]] == [
        {k: v for k, v in s.items() if k != "seconds"} for s in b["steps"]
    ]
    (row,) = [s for s in b["steps"] if "dedup" in s["step"]]
    assert row["reasons"]["exact_duplicate"] > 100  # the samples' own repeated lines
    one, many = local_tree(tmp_path / "one"), local_tree(tmp_path / "many")
    assert sorted(one) == sorted(many) and [k for k in one if one[k] != many[k]] == []


@pytest.mark.parametrize("rows, buckets", [(0, 1), (10, 1), (11, 2), (40, 4), (41, 8)])
def test_bucket_count(tmp_path, rows, buckets, monkeypatch):
    """Buckets: the smallest power of two that keeps each at or under `bucket_rows` keys on average."""
    seen = []
    real = dedup._decide

    def spy(keys):
        seen.append(1)
        return real(keys)

    monkeypatch.setattr(dedup, "_decide", spy)
    p = tmp_path / "m.parquet"
    df = pl.DataFrame({"id": [f"{i:04d}" for i in range(rows)], "text": [f"t{i}" for i in range(rows)]})
    ExactDedup(ExactParams()).map(df).write_parquet(p)
    ExactDedup(ExactParams(), bucket_rows=10).reduce([p], tmp_path / "w")
    assert len(seen) <= buckets and (buckets == 1 or len(seen) > buckets // 2)
