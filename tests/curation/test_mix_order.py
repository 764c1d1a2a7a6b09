"""Mix shards are interleaved (sources spread, repeats apart, deterministic) and a failed mix leaves a manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from curation.pipeline import curate
from curation.stats import all_tables
from mixloom.errors import UserError
from mixloom.recipe import load_recipe
from tests.curation.mix_reference import plan_order
from tests.sources import FIQA, HEADLINES, WIKI

MIX = {"budget": "max", "shares": {"financial": 0.5127, "general": 0.4873}, "max_epochs": 4}


@pytest.fixture
def recipe_data():
    return {
        "sources": {"fiqa": FIQA, "headlines": HEADLINES, "wiki": WIKI},
        "steps": [{"dedup": {"method": "exact"}}],
        "mix": MIX,
        "splits": {"train": 0.9, "validation": 0.1},
        "execution": {"shard_docs": 300},
        "seed": 3,
    }


def _mix_rows(run: Path, split: str = "train") -> pl.DataFrame:
    files = sorted((run / "mix" / split).glob("part-*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files])  # in file order, as a streaming reader sees them


def test_mix_is_interleaved_across_sources_with_repeats_apart(write_recipe, recipe_data, tmp_path):
    m = curate(load_recipe(write_recipe(recipe_data)), out=tmp_path / "run")
    rows = _mix_rows(tmp_path / "run")
    assert len(list((tmp_path / "run" / "mix" / "train").glob("*.parquet"))) >= 3
    overall = rows["source"].value_counts(normalize=True)
    overall = dict(zip(overall["source"], overall["proportion"], strict=True))
    n = rows.height
    for k in range(5):  # every fifth of the stream holds each source near its overall share
        lo = k * n // 5
        window = rows[lo : (k + 1) * n // 5]
        for src, share in overall.items():
            got = (window["source"] == src).mean()
            assert abs(got - share) < 0.08, (lo, src, got, share)
    # a repeated document's copies are far apart: about n / copies rows between consecutive copies
    pos = rows.with_row_index("pos").filter(pl.len().over("id") > 1)
    gaps = (
        pos.sort("id", "pos").group_by("id").agg(pl.col("pos").diff().min().alias("gap"), pl.len().alias("c"))
    )
    assert gaps.height > 50
    assert (gaps["gap"] >= 0.3 * n / gaps["c"]).all(), gaps.sort("gap").head()
    # epochs of one document appear in order 0, 1, 2, ...
    ep = rows.with_row_index("pos").group_by("id", maintain_order=True).agg(pl.col("epoch"))
    assert all(e == sorted(e) for e in ep["epoch"].to_list())
    assert (
        sum(s["docs"] for s in m["splits"].values())
        == rows.height + _mix_rows(tmp_path / "run", "validation").height
    )


def test_order_does_not_depend_on_sharding_or_workers(write_recipe, recipe_data, tmp_path):
    recipe = load_recipe(write_recipe(recipe_data))
    curate(recipe, out=tmp_path / "a", workers=1)
    curate(recipe, out=tmp_path / "b", workers=2)
    resharded = load_recipe(
        write_recipe({**recipe_data, "execution": {"shard_docs": 300, "shard_bytes": 20_000}})
    )
    curate(resharded, out=tmp_path / "c", workers=2)

    def digest(run: Path) -> dict[str, str]:
        return {
            str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((run / "mix").rglob("*.parquet"))
        }

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    # other read shards: same rows in the same order (columns identical, so the same bytes too)
    a, c = _mix_rows(tmp_path / "a"), _mix_rows(tmp_path / "c")
    assert a.select("id", "epoch").equals(c.select("id", "epoch"))


def test_plan_order_spreads_copies_and_changes_with_the_seed():
    sel = pl.DataFrame({"id": [f"d{i}" for i in range(200)], "copies": [3] * 20 + [1] * 180})
    one = plan_order(sel, {"train": 1.0}, seed=1, part_rows=50)
    assert one.height == 240 and one["pos"].to_list() == list(range(240))
    assert one["part"].max() == 4  # 240 rows / 50 per part
    assert not one.equals(plan_order(sel, {"train": 1.0}, seed=2, part_rows=50))
    assert one.equals(plan_order(sel.reverse(), {"train": 1.0}, seed=1, part_rows=50))


def test_failed_mix_leaves_manifest_and_names_what_is_off(write_recipe, recipe_data, tmp_path):
    data = {**recipe_data, "mix": {**MIX, "budget": 5_000_000}}
    with pytest.raises(UserError, match=r"source 'fiqa' would need"):
        curate(load_recipe(write_recipe(data)), out=tmp_path / "run")
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "failed" and m["mix"] is None
    assert m["mix_error"]["sources"]["fiqa"]["target"] > m["mix_error"]["sources"]["fiqa"]["available"]
    assert m["steps"] and m["curated"]["docs"] > 0  # the funnel is there to inspect
    assert not list((tmp_path / "run" / "mix").rglob("*.parquet"))  # no mix (its log may stay)
    titles = [t.title for t in all_tables(m)]
    assert any("Mix FAILED" in t for t in titles)


def test_tolerance_error_names_domain_and_source(write_recipe, recipe_data, tmp_path):
    tight = {**MIX, "budget": 3000, "tolerance": 0.0001}
    with pytest.raises(UserError) as e:
        curate(load_recipe(write_recipe({**recipe_data, "mix": tight})), out=tmp_path / "run")
    msg = str(e.value)
    assert "mix.tolerance is 0.01 points" in msg
    assert any(f"domain '{d}'" in msg for d in ("financial", "general"))
    assert any(f"source '{s}'" in msg for s in ("fiqa", "headlines", "wiki"))
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["mix_error"]["max_share_error"] > 0.0001
