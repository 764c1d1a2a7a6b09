"""`curation.passes.run_pass` on one small shard with real steps (normalize, sql, pii, exact and line dedup):
what it writes, the funnel numbers per step, token recounts after text edits, the done marker that makes a
killed run resume, and a failing step named. Fast, for the mutation check (scripts/mutation.sh) too."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest

from curation.io.writers import write_parquet
from curation.passes import _STEP_CACHE, Applied, PassJob, run_pass
from curation.plan import PlannedStep
from curation.steps.base import BASE_SCHEMA
from curation.steps.invariants import StepInvariantError
from curation.steps.registry import build_steps
from curation.tokens import count_expr

TEXTS = ["Hello   world, this is one.", "short", "  ", "Hello world, this is one.", "The same line.\nA line."]


def _shard(tmp: Path, texts=TEXTS) -> Path:
    df = pl.DataFrame(
        {
            "id": [f"s/{i}" for i in range(len(texts))],
            "source": "s",
            "domain": "d",
            "text": texts,
            "origin": "f.txt",
            "meta": None,
        },
        schema={k: v for k, v in BASE_SCHEMA.items() if k != "tokens"},
    ).with_columns(count_expr("approx").alias("tokens"))
    return write_parquet(df.select(list(BASE_SCHEMA)), tmp / "in" / "shard0.parquet")


def _approx(texts: list[str]) -> int:
    return int(pl.DataFrame({"text": texts}).select(count_expr("approx"))["text"].sum())


def _planned(tmp: Path, entries: list[dict]) -> list[PlannedStep]:
    steps = build_steps(entries, tmp, 0, "r.yaml", workdir=tmp / "work")
    return [PlannedStep(i, next(iter(e)), e, s) for i, (e, s) in enumerate(zip(entries, steps, strict=True))]


def _job(tmp: Path, steps, *, key: str, apply=None, map_step=None, out: str = "out") -> PassJob:
    return PassJob("shard0", str(_shard(tmp)), str(tmp / out), key, tuple(steps), apply, map_step, "approx")


def test_local_steps_write_kept_rejects_and_the_funnel(tmp_path):
    steps = _planned(
        tmp_path, [{"normalize": {}}, {"sql": {"query": "length(text) >= 10", "reason": "short"}}]
    )
    res = run_pass(_job(tmp_path, steps, key="local"))
    out = tmp_path / "out"
    kept = pl.read_parquet(out / "shard0.parquet")
    assert kept["id"].to_list() == ["s/0", "s/3", "s/4"]
    assert kept["text"][0] == "Hello world, this is one." and kept["norm_changed"].to_list() == [
        True,
        False,
        False,
    ]
    assert kept["tokens"].to_list() == [7, 7, 7]  # recounted after normalize
    rej = pl.read_parquet(out / "shard0.rejects.parquet")
    assert dict(zip(rej["id"], rej["reason"], strict=True)) == {"s/2": "normalize:empty", "s/1": "short"}
    assert dict(zip(rej["id"], rej["step"], strict=True)) == {"s/2": "0:normalize", "s/1": "1:sql"}
    assert res["shard"] == "shard0" and res["docs"] == 3 and res["tokens"] == 21
    norm, sql = res["steps"]["0:normalize"], res["steps"]["1:sql"]
    assert (norm["docs_in"], norm["docs_out"], norm["reasons"]) == (5, 4, {"normalize:empty": 1})
    assert (norm["tokens_in"], norm["tokens_out"]) == (7 + 1 + 0 + 7 + 7, 7 + 1 + 7 + 7)
    assert (sql["docs_in"], sql["docs_out"], sql["reasons"]) == (4, 3, {"short": 1})
    assert (sql["tokens_in"], sql["tokens_out"]) == (22, 21) and sql["seconds"] >= 0
    assert json.loads((out / "shard0.done.json").read_text()) == res
    assert not (out / "shard0.map.parquet").exists()


def test_a_done_shard_is_not_run_again(tmp_path):
    steps = _planned(tmp_path, [{"sql": "length(text) >= 10"}])
    job = _job(tmp_path, steps, key="done")
    first = run_pass(job)
    (tmp_path / "out" / "shard0.parquet").unlink()
    assert run_pass(job) == first and not (tmp_path / "out" / "shard0.parquet").exists()


def test_no_steps_links_the_input_and_writes_no_rejects(tmp_path):
    res = run_pass(_job(tmp_path, [], key="none"))
    src, dst = tmp_path / "in" / "shard0.parquet", tmp_path / "out" / "shard0.parquet"
    assert dst.read_bytes() == src.read_bytes() and os.stat(dst).st_ino == os.stat(src).st_ino
    assert res == {"shard": "shard0", "docs": 5, "tokens": 22, "steps": {}}
    assert not (tmp_path / "out" / "shard0.rejects.parquet").exists()


def test_map_then_apply_a_global_step(tmp_path):
    (dedup,) = _planned(tmp_path, [{"dedup": {"method": "exact"}}])
    mapped = run_pass(_job(tmp_path, [], key="map", map_step=dedup, out="p1"))
    keys = pl.read_parquet(tmp_path / "p1" / "shard0.map.parquet")
    assert keys["id"].to_list() == [f"s/{i}" for i in range(5)] and "key" in keys.columns
    assert set(mapped["steps"]) == {"0:dedup.exact (map)"}
    assert list(mapped["steps"]["0:dedup.exact (map)"]) == ["seconds"]
    secs = mapped["steps"]["0:dedup.exact (map)"]["seconds"]
    assert isinstance(secs, float) and 0 <= secs < 60 and secs == round(secs, 4)
    reduced = dedup.step.reduce([tmp_path / "p1" / "shard0.map.parquet"], tmp_path / "work")
    write_parquet(reduced.decisions, tmp_path / "dec.parquet")
    applied = Applied(dedup, str(tmp_path / "dec.parquet"), {})
    res = run_pass(_job(tmp_path, [], key="apply", apply=applied, out="p2"))
    kept = pl.read_parquet(tmp_path / "p2" / "shard0.parquet")
    assert kept["id"].to_list() == ["s/0", "s/1", "s/2", "s/4"]  # s/3 repeats s/0 up to spaces and case
    assert kept["duplicate_of"].to_list() == [None] * 4 and "cluster_id" in kept.columns
    rej = pl.read_parquet(tmp_path / "p2" / "shard0.rejects.parquet")
    assert rej["id"].to_list() == ["s/3"] and rej["reason"].to_list() == ["exact_duplicate"]
    assert rej["step"].to_list() == ["0:dedup.exact"]
    st = res["steps"]["0:dedup.exact"]
    assert (st["docs_in"], st["docs_out"], st["tokens_out"], st["reasons"]) == (
        5,
        4,
        15,
        {"exact_duplicate": 1},
    )


def test_applied_decisions_replace_columns_of_the_same_name(tmp_path):
    """A later step's decision columns replace an earlier one's instead of clashing in the join."""
    (dedup,) = _planned(tmp_path, [{"dedup": {"method": "exact"}}])
    in_path = _shard(tmp_path)
    df = pl.read_parquet(in_path).with_columns(pl.lit("old").alias("cluster_id"))
    write_parquet(df, in_path)
    dec = pl.DataFrame(
        {"id": ["s/3"], "_reject": ["exact_duplicate"], "duplicate_of": ["s/0"], "cluster_id": ["c"]}
    )
    write_parquet(dec, tmp_path / "dec.parquet")
    job = PassJob(
        "shard0",
        str(in_path),
        str(tmp_path / "o"),
        "repl",
        (),
        Applied(dedup, str(tmp_path / "dec.parquet"), {}),
        None,
        "approx",
    )
    run_pass(job)
    kept = pl.read_parquet(tmp_path / "o" / "shard0.parquet")
    assert kept["cluster_id"].to_list() == [None] * 4


def test_an_applied_text_edit_recounts_tokens(tmp_path):
    (lines,) = _planned(tmp_path, [{"line_dedup": {"min_repeats": 2}}])
    texts = [
        "Repeated boiler line here.\nUnique words one two three.",
        "Repeated boiler line here.\nOther text.",
    ]
    in_path = _shard(tmp_path, texts)
    mapped = run_pass(PassJob("shard0", str(in_path), str(tmp_path / "m"), "lm", (), None, lines, "approx"))
    assert mapped["tokens"] == _approx(texts) == 19
    reduced = lines.step.reduce([tmp_path / "m" / "shard0.map.parquet"], tmp_path / "work")
    write_parquet(reduced.decisions, tmp_path / "dec.parquet")
    job = PassJob(
        "shard0",
        str(in_path),
        str(tmp_path / "a"),
        "la",
        (),
        Applied(lines, str(tmp_path / "dec.parquet"), reduced.artifacts),
        None,
        "approx",
    )
    res = run_pass(job)
    kept = pl.read_parquet(tmp_path / "a" / "shard0.parquet")
    assert kept["text"].to_list() == ["Unique words one two three.", "Other text."]
    assert kept["tokens"].to_list() == [_approx([t]) for t in kept["text"]] and res["tokens"] == 9
    st = res["steps"]["0:line_dedup"]
    assert (st["tokens_in"], st["tokens_out"], st["docs_out"]) == (19, 9, 2)


def test_step_counts_go_into_the_funnel(tmp_path):
    steps = _planned(tmp_path, [{"pii": {}}])
    texts = ["mail a@b.org or c@d.org", "nothing here"]
    in_path = _shard(tmp_path, texts)
    res = run_pass(
        PassJob("shard0", str(in_path), str(tmp_path / "o"), "pii", tuple(steps), None, None, "approx")
    )
    assert res["steps"]["0:pii"]["counts"]["email"] == 2


def test_a_failing_step_is_named(tmp_path):
    steps = _planned(tmp_path, [{"sql": "SELECT * REPLACE (upper(source) AS source) FROM docs"}])
    with pytest.raises(StepInvariantError, match=r"^step 0:sql: it rewrote `source` of 5 documents"):
        run_pass(_job(tmp_path, steps, key="bad"))
    steps = _planned(tmp_path, [{"sql": "SELECT * REPLACE (id || 'x' AS id) FROM docs"}])
    with pytest.raises(
        StepInvariantError, match=r"^step 0:sql failed: the SQL result has 5 ids not in the batch"
    ):
        run_pass(_job(tmp_path, steps, key="bad2"))
    assert not (tmp_path / "out" / "shard0.done.json").exists()


def test_steps_are_built_once_per_pass_key(tmp_path):
    steps = _planned(tmp_path, [{"sql": "length(text) >= 10"}])
    run_pass(_job(tmp_path, steps, key="cache-key", out="c1"))
    cached = _STEP_CACHE["cache-key"]
    assert cached == [steps[0].step, None]
    other = _planned(tmp_path, [{"sql": "length(text) >= 1"}])
    res = run_pass(_job(tmp_path, other, key="cache-key", out="c2"))  # same key: the cached steps run
    assert res["docs"] == 3 and _STEP_CACHE["cache-key"] is cached


def test_no_steps_copies_when_the_input_is_on_another_filesystem(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary directory")
    src_dir = Path(tempfile.mkdtemp(dir=shm))
    try:
        src = _shard(src_dir)
        res = run_pass(PassJob("shard0", str(src), str(tmp_path / "out"), "xdev", (), None, None, "approx"))
        dst = tmp_path / "out" / "shard0.parquet"
        assert dst.read_bytes() == src.read_bytes() and os.stat(dst).st_dev != os.stat(src).st_dev
        assert res["docs"] == 5
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["shard0.done.json", "shard0.parquet"]
    finally:
        shutil.rmtree(src_dir)


def test_funnel_numbers_of_a_step_that_rejects_everything(tmp_path):
    steps = _planned(tmp_path, [{"sql": "length(text) > 1000"}])
    res = run_pass(_job(tmp_path, steps, key="all-out"))
    st = res["steps"]["0:sql"]
    assert (st["docs_out"], st["tokens_out"], st["tokens_in"]) == (0, 0, 22) and res["tokens"] == 0
    assert (
        isinstance(st["seconds"], float) and st["seconds"] == round(st["seconds"], 4) and st["seconds"] < 60
    )
    empty = _shard(tmp_path / "e", ["", ""])
    res = run_pass(
        PassJob(
            "shard0", str(empty), str(tmp_path / "e" / "o"), "all-out", tuple(steps), None, None, "approx"
        )
    )
    assert (res["steps"]["0:sql"]["tokens_in"], res["steps"]["0:sql"]["tokens_out"]) == (0, 0)


def test_a_step_error_is_cut_to_500_characters(tmp_path):
    col = "c" * 700
    steps = _planned(tmp_path, [{"sql": f"SELECT *, {col} AS x FROM docs"}])
    with pytest.raises(StepInvariantError) as e:
        run_pass(_job(tmp_path, steps, key="long"))
    msg = str(e.value)
    assert msg.startswith("step 0:sql failed: SQL failed: ") and len(msg.split(" failed: ", 1)[1]) == 500


def test_a_text_edit_by_a_local_step_recounts_tokens(tmp_path):
    steps = _planned(tmp_path, [{"sql": "SELECT * REPLACE (text || ' and three more' AS text) FROM docs"}])
    res = run_pass(_job(tmp_path, steps, key="grow"))
    kept = pl.read_parquet(tmp_path / "out" / "shard0.parquet")
    assert kept["tokens"].to_list() == [_approx([t]) for t in kept["text"]]
    assert res["steps"]["0:sql"]["tokens_out"] == 22 + 3 * 5


def test_a_failing_or_identity_breaking_apply_is_named(tmp_path):
    (dedup,) = _planned(tmp_path, [{"dedup": {"method": "exact"}}])
    dec = pl.DataFrame({"id": ["s/3", "s/3"], "_reject": ["exact_duplicate", "exact_duplicate"]})
    write_parquet(dec, tmp_path / "dup.parquet")
    with pytest.raises(StepInvariantError, match=r"^step 0:dedup.exact: it returned 6 rows for 5 documents"):
        run_pass(_job(tmp_path, [], key="dup", apply=Applied(dedup, str(tmp_path / "dup.parquet"), {})))
    (lines,) = _planned(tmp_path, [{"line_dedup": {"min_repeats": 2}}])
    (tmp_path / "not.parquet").write_text("not parquet")
    write_parquet(pl.DataFrame({"id": ["s/0"]}), tmp_path / "d2.parquet")
    bad = Applied(lines, str(tmp_path / "d2.parquet"), {"lines": tmp_path / "not.parquet"})
    with pytest.raises(StepInvariantError, match=r"^step 0:line_dedup failed: "):
        run_pass(_job(tmp_path, [], key="bad-apply", apply=bad, out="o2"))


def test_apply_seconds_are_measured(tmp_path):
    (dedup,) = _planned(tmp_path, [{"dedup": {"method": "exact"}}])
    write_parquet(pl.DataFrame({"id": ["s/3"], "_reject": ["exact_duplicate"]}), tmp_path / "d.parquet")
    res = run_pass(_job(tmp_path, [], key="sec", apply=Applied(dedup, str(tmp_path / "d.parquet"), {})))
    assert 0 <= res["steps"]["0:dedup.exact"]["seconds"] < 60
