"""The corpus-wide checks run shard-wise (no per-document table in the driver) and decide exactly what a
whole-corpus computation decides: duplicate ids, the mix selection and its order, the accounting check."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import polars as pl
import pytest

from curation import idbuckets, mixprobe
from curation.dupids import drop_duplicate_ids
from curation.executors import LocalExecutor
from curation.mix import plan_mix
from curation.mixprobe import Probe
from curation.mixwrite import ScatterJob, _copies
from curation.pipeline import curate
from mixloom.recipe import load_recipe
from mixloom.sections.curate import Mix
from tests.curation.mix_reference import plan_order, random_docs, reference_mix, write_shards


def _shard(path: Path, ids: list, source: str = "s") -> dict:
    n = len(ids)
    df = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.String),
            "source": [source] * n,
            "domain": ["d"] * n,
            "text": [f"text {i}" for i in range(n)],
            "origin": [f"{path.stem}.jsonl:{i + 1}" for i in range(n)],
            "tokens": [2] * n,
        }
    )
    df.write_parquet(path)
    return {"name": path.stem, "path": str(path), "docs": n, "source": source}


def _reference_repeats(shards: list[dict]) -> set[tuple[int, int]]:
    """The whole-corpus rule: every occurrence of an id after its first, in (shard, row) order."""
    seen, later = set(), set()
    for k, s in enumerate(shards):
        for r, i in enumerate(pl.read_parquet(s["path"])["id"].to_list()):
            if i in seen:
                later.add((k, r))
            seen.add(i)
    return later


CASES = {
    "across_and_within": [["a", "b", "a"], ["c", "a", "d"], ["b", "e", "e"]],
    "all_equal": [["x"] * 5, ["x"] * 3, ["x"]],
    "none_repeat": [["a", "b"], ["c"], ["d", "e"]],
    "empty_shard": [[], ["a", "a"], []],
    "unicode_and_near": [["é", "e\u0301", "É"], ["é", "e"], ["e\u0301"]],
    "random": [[f"id{random.Random(k * 100 + j).randrange(40)}" for j in range(60)] for k in range(6)],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("rows_per_bucket", [1_000_000, 3])
def test_duplicate_ids_shard_wise_equal_the_whole_corpus_rule(tmp_path, monkeypatch, case, rows_per_bucket):
    monkeypatch.setattr(idbuckets, "ROWS_PER_BUCKET", rows_per_bucket)  # 3: many buckets
    shards = [_shard(tmp_path / f"src-{k:05d}.parquet", ids) for k, ids in enumerate(CASES[case])]
    before = {s["path"]: pl.read_parquet(s["path"]) for s in shards}
    expected = _reference_repeats(shards)
    dropped = drop_duplicate_ids(shards, tmp_path, LocalExecutor(1))
    assert dropped == len(expected)
    for k, s in enumerate(shards):
        kept = pl.read_parquet(s["path"])
        want = [r for r in range(before[s["path"]].height) if (k, r) not in expected]
        assert kept.equals(before[s["path"]][want])
        rej = tmp_path / f"{s['name']}.dupids.rejects.parquet"
        n_rej = sum(1 for kk, _ in expected if kk == k)
        assert (pl.read_parquet(rej).height if rej.exists() else 0) == n_rej
        if n_rej:
            r = pl.read_parquet(rej)
            assert set(r["reason"]) == {"duplicate id"} and r["id"].str.contains("#").all()
    # repeatable after a crash: a second check finds nothing more and changes nothing
    assert drop_duplicate_ids(shards, tmp_path, LocalExecutor(1)) == 0
    assert not (tmp_path / "idcheck").exists()


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
        if "_work" not in p.parts
    }


def test_hostile_ids_through_a_real_run_same_for_one_and_two_workers(tmp_path, write_recipe, monkeypatch):
    """Ids of mixed types (1 and "1" are the same id), null and missing ids, repeats inside a file and across
    files of two sources: later repeats are rejected, the accounting holds, 1 and 2 workers write the same bytes."""
    monkeypatch.setattr(idbuckets, "ROWS_PER_BUCKET", 4)  # the driver decides the bucket count: many buckets
    d = tmp_path / "in"
    d.mkdir()
    recs = [
        {"id": 1, "text": "first of id one, a number"},
        {"id": "1", "text": "the same id one, as a string"},
        {"id": None, "text": "a null id"},
        {"text": "no id at all"},
        {"id": "2", "text": "id two"},
        {"id": "2", "text": "id two again, same file"},
        {"id": 1.5, "text": "a float id"},
        {"id": True, "text": "a boolean id"},
    ]
    (d / "a.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    (d / "b.jsonl").write_text(
        "\n".join(json.dumps({"id": 2, "text": f"id two in file b, copy {i}"}) for i in range(3))
    )
    (tmp_path / "same.jsonl").write_text(
        "\n".join(json.dumps({"id": "z", "text": f"every id equal {i}"}) for i in range(7))
    )
    src = {"format": "jsonl", "id": "id", "domain": "d"}
    recipe = load_recipe(
        write_recipe(
            {
                "sources": {
                    "mixed": {"path": str(d / "*.jsonl"), **src},
                    "same": {"path": str(tmp_path / "same.jsonl"), **src},
                },
                "steps": [{"normalize": {}}],
                "execution": {"shard_docs": 2},
                "seed": 3,
            }
        )
    )
    one = curate(recipe, out=tmp_path / "w1", workers=1)
    two = curate(recipe, out=tmp_path / "w2", workers=2)
    assert _digest(tmp_path / "w1") == _digest(tmp_path / "w2")
    assert one["read"] == two["read"]
    # 1 then "1": one repeat; "2" then "2" in a.jsonl and three 2s in b.jsonl: four; seven "z": six
    assert one["read"]["reasons"]["duplicate id"] == 1 + 4 + 6
    assert one["read"]["reasons"]["missing id field 'id'"] == 2  # null and absent: rejected when read
    kept = pl.read_parquet(sorted((tmp_path / "w1" / "curated").glob("*.parquet")))["id"].to_list()
    assert sorted(kept) == sorted(["mixed/1", "mixed/2", "mixed/1.5", "mixed/True", "same/z"])


@pytest.mark.parametrize(
    ("seed", "unit", "budget", "with_copies", "bins"),
    [
        (1, "tokens", "max", False, "default"),
        (2, "tokens", 9000.0, False, "split"),
        (3, "docs", 700.0, False, "split"),
        (4, "tokens", 25000.0, True, "split"),
        (5, "docs", "max", True, "default"),
        (6, "tokens", 2500.0, True, "split"),
        (7, "tokens", 9000.0, False, "fat"),
        (8, "docs", 700.0, True, "fat"),
        (9, "tokens", 25000.0, True, "fat"),
    ],
)
def test_shard_wise_mix_selects_what_the_whole_corpus_sort_selects(
    tmp_path, monkeypatch, seed, unit, budget, with_copies, bins
):
    if bins == "split":  # bins split again and again: the refinement rounds run
        monkeypatch.setattr(mixprobe, "BINS", 4)
        monkeypatch.setattr(mixprobe, "FETCH_ROWS", 3)
    if (
        bins == "fat"
    ):  # as in a large corpus: the bin that holds the cut is fetched with hundreds of documents
        monkeypatch.setattr(mixprobe, "BINS", 2)
        monkeypatch.setattr(mixprobe, "FETCH_ROWS", 1_000_000)
    docs = random_docs(seed, 900, with_copies)
    mix = Mix.model_validate(
        {
            "unit": unit,
            "budget": budget,
            "shares": {"financial": 0.4, "general": 0.6},
            "max_epochs": 6,
            "allow_shortfall": True,
            "tolerance": 1.0,
        }
    )
    aug_share = {"financial": 0.3, "general": 0.1} if with_copies else None
    expected, ref_report = reference_mix(docs, mix, seed, aug_share)
    files = write_shards(docs, tmp_path, 7, seed)
    probe = Probe.build(files, tmp_path / "keys", LocalExecutor(1), seed, unit)
    picks, report = plan_mix(probe, mix, seed, aug_share)
    got = {}
    for k, f in enumerate(files):
        job = ScatterJob(str(f), k, probe.spills[k], picks, seed, (("train", 1.0),), 1, "", "")
        part = pl.read_parquet(f)
        got.update({i: int(c) for i, c in zip(part["id"], _copies(job, part.height), strict=True) if c})
    assert got == expected
    for s, (achieved, selected, repeated, n_aug) in ref_report.items():
        r = report["sources"][s]
        assert (r["achieved"], r["docs_selected"], r["docs_repeated"]) == (achieved, selected, repeated)
        assert r.get("augmented_docs", 0) == n_aug


def test_mix_parts_are_the_global_sort_and_equal_for_one_and_two_workers(tmp_path, write_recipe, monkeypatch):
    """The written mix equals the whole-corpus order (`plan_order`) of the whole-corpus selection, part by part,
    with key ranges much smaller than a part and shards much smaller than the mix."""
    from curation import mixwrite
    from tests.sources import FIQA, HEADLINES, WIKI

    monkeypatch.setattr(mixwrite, "RANGES_PER_PART", 7)
    data = {
        "sources": {"fiqa": FIQA, "headlines": HEADLINES, "wiki": WIKI},
        "steps": [{"normalize": {}}],
        "mix": {
            "budget": "max",
            "shares": {"financial": 0.5, "general": 0.5},
            "max_epochs": 3,
            "tolerance": 0.05,
        },
        "splits": {"train": 0.8, "validation": 0.1, "test": 0.1},
        "execution": {"shard_docs": 150},
        "seed": 11,
    }
    recipe = load_recipe(write_recipe(data))
    m = curate(recipe, out=tmp_path / "w1", workers=1)
    curate(recipe, out=tmp_path / "w2", workers=2)
    assert _digest(tmp_path / "w1") == _digest(tmp_path / "w2")
    docs = pl.read_parquet(sorted((tmp_path / "w1" / "curated").glob("*.parquet"))).select(
        "id", "source", "domain", "tokens"
    )
    copies, _ = reference_mix(docs, recipe.mix, recipe.seed, None)
    sel = pl.DataFrame(
        {"id": list(copies), "copies": list(copies.values())}, schema={"id": pl.String, "copies": pl.Int32}
    )
    order = plan_order(sel, recipe.splits, recipe.seed, recipe.execution.shard_docs)
    for (split, part), rows in order.group_by("split", "part"):
        written = pl.read_parquet(tmp_path / "w1" / "mix" / split / f"part-{part:05d}.parquet")
        assert written.select("id", "epoch").equals(rows.sort("pos").select("id", "epoch")), (split, part)
    assert sum(s["docs"] for s in m["splits"].values()) == order.height
