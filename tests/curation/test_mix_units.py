"""`curation.mix.plan_mix` on small tables: targets, repeats, caps, `budget: max`, shortfall, tolerance and
augmented copies, with the numbers each report and error shows. Fast, for the mutation check
(scripts/mutation.sh) as much as for the default suite."""

from __future__ import annotations

import polars as pl
import pytest

from curation.executors import LocalExecutor
from curation.mix import MixError
from curation.mix import plan_mix as plan_from_probe
from curation.mixprobe import Probe
from curation.mixwrite import ScatterJob
from curation.mixwrite import _copies as shard_copies
from mixloom.errors import UserError
from mixloom.sections.curate import Mix


def plan_mix(docs: pl.DataFrame, mix: Mix, seed: int, aug_share: dict | None = None):
    """The shard-wise planner on one table, as (selection of id → copies, report), the way a run uses it: the
    documents in two shards, their keys probed, the plan made, then each shard's copies decided."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        half = docs.height // 2
        files = [Path(d) / "part-0.parquet", Path(d) / "part-1.parquet"]
        docs[:half].write_parquet(files[0])
        docs[half:].write_parquet(files[1])
        probe = Probe.build(files, Path(d) / "keys", LocalExecutor(1), seed, mix.unit)
        picks, report = plan_from_probe(probe, mix, seed, aug_share)
        ids, copies = [], []
        for k, f in enumerate(files):
            job = ScatterJob(str(f), k, probe.spills[k], picks, seed, (("train", 1.0),), 1, "", "")
            part = pl.read_parquet(f)
            for i, c in zip(part["id"], shard_copies(job, part.height), strict=True):
                if c:
                    ids.append(i)
                    copies.append(int(c))
    return pl.DataFrame({"id": ids, "copies": copies}, schema={"id": pl.String, "copies": pl.Int32}), report


def _docs(spec: dict[str, tuple[str, list[int]]]) -> pl.DataFrame:
    """source → (domain, token counts of its documents)."""
    rows = [
        {"id": f"{s}/{i}", "source": s, "domain": d, "tokens": t}
        for s, (d, toks) in spec.items()
        for i, t in enumerate(toks)
    ]
    return pl.DataFrame(rows)


TWO = {"a": ("fin", [10] * 20), "b": ("fin", [30] * 10), "w": ("gen", [50] * 20)}  # 200, 300, 1000 tokens


def _copies(sel: pl.DataFrame) -> dict[str, int]:
    return dict(zip(sel["id"], sel["copies"], strict=True))


def test_targets_split_the_budget_by_domain_share_and_available_tokens():
    mix = Mix(budget=1000, shares={"fin": 0.4, "gen": 0.6})
    sel, rep = plan_mix(_docs(TWO), mix, seed=1)
    # fin gets 400: a has 200 of fin's 500 available tokens (weight 0.4), b 300 (0.6)
    assert rep["sources"]["a"]["target"] == pytest.approx(160)
    assert rep["sources"]["b"]["target"] == pytest.approx(240)
    assert rep["sources"]["w"]["target"] == pytest.approx(600)
    assert (rep["unit"], rep["budget"], rep["shortfall"]) == ("tokens", 1000.0, [])
    for s, r in rep["sources"].items():
        got = sum(
            c * 10 * (1 if s == "a" else 3 if s == "b" else 5) for i, c in _copies(sel).items() if i[0] == s
        )
        assert r["achieved"] == got and abs(got - r["target"]) <= {"a": 5, "b": 15, "w": 25}[s]
        assert r["docs_selected"] == sum(1 for i in _copies(sel) if i[0] == s) and r["docs_repeated"] == 0
        assert r["epochs"] == pytest.approx(got / r["available"]) and r["max_epochs"] == 4.0
        assert r["domain"] == TWO[s][0] and "augmented" not in r
    fin = rep["domains"]["fin"]
    assert (fin["target_share"], fin["target"], fin["available"]) == (0.4, 400.0, 500.0)
    assert fin["achieved"] == rep["sources"]["a"]["achieved"] + rep["sources"]["b"]["achieved"]
    assert fin["achieved_share"] == pytest.approx(fin["achieved"] / rep["achieved_total"])
    assert rep["achieved_total"] == sum(r["achieved"] for r in rep["sources"].values())
    errs = [abs(d["achieved_share"] - d["target_share"]) for d in rep["domains"].values()]
    assert rep["max_share_error"] == max(errs) and rep["within_tolerance"] is True
    assert "augmented_share" not in fin
    assert sel.columns == ["id", "copies"] and sel["copies"].dtype == pl.Int32
    assert sel["copies"].min() == 1 and sel.height < 50  # only documents that are taken, each at least once


def test_given_source_weights_and_repeats():
    mix = Mix(budget=1000, shares={"fin": 0.5, "gen": 0.5}, sources={"fin": {"a": 0.75, "b": 0.25}})
    sel, rep = plan_mix(_docs(TWO), mix, seed=2)
    a = rep["sources"]["a"]
    assert a["target"] == pytest.approx(375) and rep["sources"]["b"]["target"] == pytest.approx(125)
    # a has 200 tokens: one full repeat of every document plus a partial epoch, all copies within the cap
    assert 1.8 <= a["epochs"] <= 1.9 and a["docs_selected"] == 20 and 0 < a["docs_repeated"] < 20
    assert {c for i, c in _copies(sel).items() if i[0] == "a"} == {1, 2}
    assert a["docs_repeated"] == sum(1 for i, c in _copies(sel).items() if i[0] == "a" and c > 1)


def test_the_sample_is_seeded_by_id_not_by_row_order():
    mix = Mix(budget=600, shares={"fin": 0.5, "gen": 0.5})
    docs = _docs(TWO)
    one, _ = plan_mix(docs, mix, seed=1)
    assert _copies(one) == _copies(plan_mix(docs.reverse(), mix, seed=1)[0])
    assert _copies(one) != _copies(plan_mix(docs, mix, seed=9)[0])


def test_docs_unit_counts_documents():
    mix = Mix(unit="docs", budget=40, shares={"fin": 0.5, "gen": 0.5})
    sel, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["unit"] == "docs" and rep["domains"]["fin"]["available"] == 30
    assert rep["sources"]["a"]["target"] == pytest.approx(20 * 20 / 30)
    assert rep["achieved_total"] == sel["copies"].sum() == 40


def test_budget_max_is_the_largest_budget_every_cap_allows():
    mix = Mix(budget="max", shares={"fin": 0.5, "gen": 0.5}, max_epochs={"a": 1.0, "b": 2.0, "w": 3.0})
    _, rep = plan_mix(_docs(TWO), mix, seed=1)
    # a: 1 x 200 / (0.5 x 0.4) = 1000; b: 2 x 300 / (0.5 x 0.6) = 2000; w: 3 x 1000 / 0.5 = 6000
    assert rep["budget"] == pytest.approx(1000)
    assert rep["sources"]["a"]["epochs"] == pytest.approx(1.0) and rep["sources"]["a"]["max_epochs"] == 1.0
    assert rep["sources"]["w"]["max_epochs"] == 3.0 and rep["shortfall"] == []
    mix = Mix(budget="max", shares={"fin": 0.5, "gen": 0.5}, max_epochs=2.0)
    assert plan_mix(_docs(TWO), mix, seed=1)[1]["budget"] == pytest.approx(2000)


def test_targets_beyond_the_caps_fail_with_the_numbers():
    mix = Mix(budget=4000, shares={"fin": 0.5, "gen": 0.5}, max_epochs={"a": 1.0, "b": 4.0, "w": 1.0})
    with pytest.raises(MixError) as e:
        plan_mix(_docs(TWO), mix, seed=1)
    msg = str(e.value)
    assert msg == (
        "mix: targets cannot be met within max_epochs: "
        "source 'a' would need 4.00 epochs (max_epochs 1, available 200 tokens); "
        "source 'w' would need 2.00 epochs (max_epochs 1, available 1,000 tokens); "
        "fix: lower mix.budget to at most 1,000 (or use budget: max), raise max_epochs, "
        "or set allow_shortfall: true to accept lower shares"
    )
    d = e.value.details
    assert (d["unit"], d["budget"], d["max_feasible_budget"]) == ("tokens", 4000.0, pytest.approx(1000))
    assert d["sources"]["a"] == {"domain": "fin", "available": 200.0, "target": 800.0, "max_epochs": 1.0}
    assert sorted(d["sources"]) == ["a", "b", "w"] and isinstance(e.value, UserError)


def test_a_target_exactly_at_its_cap_is_not_short():
    mix = Mix(budget=2000, shares={"fin": 0.5, "gen": 0.5}, max_epochs={"a": 2.0, "b": 4.0, "w": 1.0})
    _, rep = plan_mix(_docs(TWO), mix, seed=1)  # a: 400 of 2 x 200, w: 1000 of 1 x 1000
    assert rep["shortfall"] == [] and rep["sources"]["w"]["epochs"] == pytest.approx(1.0)


def test_allow_shortfall_takes_the_caps_and_reports_the_shares():
    mix = Mix(
        budget=4000,
        shares={"fin": 0.5, "gen": 0.5},
        max_epochs={"a": 1.0, "b": 1.0, "w": 4.0},
        allow_shortfall=True,
    )
    sel, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["shortfall"] == ["a", "b"]
    assert rep["sources"]["a"]["achieved"] == 200 and rep["sources"]["b"]["achieved"] == 300
    assert rep["domains"]["fin"]["achieved"] == 500 and rep["sources"]["w"]["achieved"] == 2000
    assert rep["domains"]["fin"]["achieved_share"] == pytest.approx(0.2)
    assert rep["max_share_error"] == pytest.approx(0.3) and rep["within_tolerance"] is False
    assert sel["copies"].max() == 2


def test_a_domain_without_documents_is_an_error_unless_its_share_is_zero():
    docs = _docs({"a": ("fin", [10] * 5)})
    with pytest.raises(UserError) as e:
        plan_mix(docs, Mix(budget=40, shares={"fin": 0.5, "gen": 0.5}), seed=1)
    assert str(e.value) == (
        "mix: domain 'gen' has share 0.5 but no documents left after curation; "
        "check its sources and the steps' rejects (mixloom stats)"
    )
    _, rep = plan_mix(docs, Mix(budget=40, shares={"fin": 1.0, "gen": 0.0}), seed=1)
    assert rep["domains"]["gen"] == {
        "target_share": 0.0,
        "achieved_share": 0.0,
        "target": 0.0,
        "achieved": 0,
        "available": 0,
    }


def test_off_tolerance_names_the_worst_domain_and_its_worst_source():
    # fin's documents are large (100 and 10 tokens), so its share lands well off the target
    docs = _docs({"big": ("fin", [100, 100]), "tiny": ("fin", [10]), "w": ("gen", [1] * 400)})
    mix = Mix(budget=300, shares={"fin": 0.25, "gen": 0.75}, tolerance=0.02)
    with pytest.raises(MixError) as e:
        plan_mix(docs, mix, seed=1)
    rep = e.value.details
    fin = rep["domains"]["fin"]
    big = rep["sources"]["big"]
    assert abs(fin["achieved_share"] - 0.25) == pytest.approx(rep["max_share_error"])
    assert rep["max_share_error"] > 0.02
    off = 100 * (fin["achieved_share"] - 0.25)
    assert str(e.value) == (
        f"mix: domain 'fin' is at {100 * fin['achieved_share']:.2f}% of the mix, target 25.00% "
        f"({off:+.2f} points; mix.tolerance is 2.00 points); its source 'big' reached "
        f"{big['achieved']:,.0f} of a {big['target']:,.0f} tokens target ({big['docs_selected']:,} documents, "
        f"{big['epochs']:.2f} epochs, max_epochs 4): documents are too few or too large for this budget.\n"
        "  fix: raise mix.budget, raise mix.tolerance (a share fraction, e.g. 0.02 = 2 points), "
        "or set allow_shortfall: true"
    )
    assert rep["within_tolerance"] is False and rep["shortfall"] == []


def test_augmented_copies_stand_in_for_repeats_up_to_their_share():
    docs = _docs({"a": ("fin", [10] * 10), "w": ("gen", [10] * 40)}).with_columns(
        pl.lit(None, pl.String).alias("parent_id")
    )
    copies = pl.DataFrame(
        {
            "id": [f"a/aug{i}" for i in range(10)],
            "source": "a",
            "domain": "fin",
            "tokens": 10,
            "parent_id": "a/0",
        }
    )
    docs = pl.concat([docs, copies], how="vertical_relaxed")
    mix = Mix(budget=400, shares={"fin": 0.5, "gen": 0.5})
    sel, rep = plan_mix(docs, mix, seed=1, aug_share={"fin": 0.25})
    a = rep["sources"]["a"]
    assert a["available"] == 100.0  # copies add nothing to what is available
    assert a["augmented"] == 50.0 and a["augmented_docs"] == 5 and a["achieved"] == 200.0
    assert a["epochs"] == pytest.approx(1.5)  # of the originals only
    assert rep["domains"]["fin"]["augmented_share"] == pytest.approx(0.25)
    assert rep["domains"]["fin"]["max_augmented_share"] == 0.25
    assert rep["domains"]["gen"]["augmented_share"] == 0.0 and rep["sources"]["w"]["augmented"] == 0.0
    aug = [i for i in _copies(sel) if "aug" in i]
    assert len(aug) == 5 and all(_copies(sel)[i] == 1 for i in aug)
    same, _ = plan_mix(docs.reverse(), mix, seed=1, aug_share={"fin": 0.25})
    assert _copies(same) == _copies(sel)


@pytest.mark.parametrize("bad", [float("nan"), None])
def test_missing_token_counts_are_one_clear_error(bad):
    docs = _docs(TWO).with_columns(pl.col("tokens").cast(pl.Float64))
    docs = docs.with_columns(pl.when(pl.col("id") == "w/3").then(bad).otherwise("tokens").alias("tokens"))
    mix = Mix(budget=400, shares={"fin": 0.5, "gen": 0.5}, allow_shortfall=True)
    with pytest.raises(UserError, match="^mix: token counts are missing$"):
        plan_mix(docs, mix, seed=1)
    by_docs = Mix(unit="docs", budget=40, shares={"fin": 0.5, "gen": 0.5})
    assert plan_mix(docs, by_docs, seed=1)[1]["achieved_total"] == 40  # counting documents needs no tokens


def test_sources_without_their_own_cap_get_the_default_four_epochs():
    mix = Mix(budget=1000, shares={"fin": 0.5, "gen": 0.5}, max_epochs={"a": 1.0})
    _, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["sources"]["b"]["max_epochs"] == 4.0 and rep["sources"]["w"]["max_epochs"] == 4.0
    assert rep["sources"]["a"]["max_epochs"] == 1.0


def test_tolerance_message_names_the_source_furthest_from_its_target():
    from curation.mix import _tolerance_message

    src = {"docs_selected": 3, "epochs": 1.0, "max_epochs": 4.0}
    report = {
        "domains": {
            "fin": {"achieved_share": 0.3, "target_share": 0.25},
            "gen": {"achieved_share": 0.72, "target_share": 0.75},
            "web": {"achieved_share": 0.0, "target_share": 0.0},
        },
        "sources": {
            "large": {**src, "domain": "fin", "achieved": 1000.0, "target": 1001.0},
            "small": {**src, "domain": "fin", "achieved": 90.0, "target": 40.0},
            "other": {**src, "domain": "gen", "achieved": 10.0, "target": 900.0},
        },
    }
    msg = _tolerance_message(report, Mix(budget=10, shares={"fin": 0.5, "gen": 0.5}, unit="docs"))
    assert msg.startswith(
        "mix: domain 'fin' is at 30.00% of the mix, target 25.00% (+5.00 points; mix.tolerance is 1.00 points); "
        "its source 'small' reached 90 of a 40 docs target (3 documents, 1.00 epochs, max_epochs 4)"
    )


def test_a_source_left_out_of_mix_sources_gets_nothing():
    mix = Mix(budget=1000, shares={"fin": 0.5, "gen": 0.5}, sources={"fin": {"a": 1.0}})
    sel, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["sources"]["b"]["target"] == 0.0 and rep["sources"]["b"]["docs_selected"] == 0
    assert not any(i.startswith("b/") for i in sel["id"]) and rep["sources"]["a"]["target"] == 500.0


def test_a_dropped_domain_without_tokens_is_fine():
    docs = _docs({**TWO, "z": ("empty", [0, 0])})
    mix = Mix(budget=1000, shares={"fin": 0.5, "gen": 0.5, "empty": 0.0})
    _, rep = plan_mix(docs, mix, seed=1)
    assert rep["sources"]["z"]["target"] == 0.0 and rep["domains"]["empty"]["achieved"] == 0
    assert rep["sources"]["z"]["epochs"] == 0.0


def test_budget_max_skips_sources_with_no_weight():
    mix = Mix(budget="max", shares={"fin": 0.5, "gen": 0.5}, sources={"fin": {"a": 1.0}}, max_epochs=1.0)
    _, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["budget"] == pytest.approx(400)  # a: 1 x 200 / (0.5 x 1.0); b (weight 0) sets no limit
    assert rep["sources"]["b"]["achieved"] == 0


def test_budget_max_when_no_source_can_contribute():
    docs = _docs({"a": ("fin", [0, 0]), "w": ("gen", [5, 5])})
    with pytest.raises(MixError) as e:
        plan_mix(docs, Mix(budget="max", shares={"fin": 1.0, "gen": 0.0}), seed=1)
    assert e.value.details["budget"] == 0.0 and e.value.details["achieved_total"] == 0
    assert [d["achieved_share"] for d in e.value.details["domains"].values()] == [0.0, 0.0]


def _with_copies(seed_docs: dict, copies_of: dict[str, int]) -> pl.DataFrame:
    docs = _docs(seed_docs).with_columns(pl.lit(None, pl.String).alias("parent_id"))
    extra = [
        {"id": f"{s}/aug{i}", "source": s, "domain": seed_docs[s][0], "tokens": 10, "parent_id": f"{s}/0"}
        for s, n in copies_of.items()
        for i in range(n)
    ]
    return pl.concat([docs, pl.DataFrame(extra)], how="vertical_relaxed")


def test_augmented_copies_follow_the_seed_and_only_their_domains_cap():
    docs = _with_copies({"a": ("fin", [10] * 10), "w": ("gen", [10] * 40)}, {"a": 10, "w": 10})
    mix = Mix(budget=400, shares={"fin": 0.5, "gen": 0.5})
    picks = {}
    for seed in (1, 2, 3):
        sel, rep = plan_mix(docs, mix, seed=seed, aug_share={"fin": 0.25})
        picks[seed] = sorted(i for i in sel["id"] if "aug" in i)
        assert rep["sources"]["w"]["augmented_docs"] == 0  # gen has no cap given: none of its copies
        assert all(i.startswith("a/") for i in picks[seed]) and len(picks[seed]) == 5
    assert len({tuple(p) for p in picks.values()}) > 1


def test_a_domain_that_gets_nothing_has_no_augmented_share():
    docs = _with_copies({"a": ("fin", [10] * 10), "w": ("gen", [10] * 40)}, {"a": 4})
    _, rep = plan_mix(docs, Mix(budget=100, shares={"fin": 1.0, "gen": 0.0}), seed=1, aug_share={"fin": 0.2})
    gen = rep["domains"]["gen"]
    assert (gen["achieved"], gen["augmented_share"], gen["max_augmented_share"]) == (0, 0.0, 0.0)
    assert rep["domains"]["fin"]["augmented_share"] == pytest.approx(0.2)


def test_zero_tolerance_accepts_an_exact_mix():
    mix = Mix(unit="docs", budget=40, shares={"fin": 0.5, "gen": 0.5}, tolerance=0.0)
    _, rep = plan_mix(_docs(TWO), mix, seed=1)
    assert rep["max_share_error"] == 0.0 and rep["within_tolerance"] is True


def test_a_source_without_units_has_no_target():
    docs = _docs({"a": ("fin", [10] * 10), "z": ("empty", [0, 0])})
    with pytest.raises(MixError) as e:  # the empty domain cannot reach its share
        plan_mix(docs, Mix(budget=100, shares={"fin": 0.5, "empty": 0.5}), seed=1)
    assert e.value.details["sources"]["z"]["target"] == 0.0
    assert e.value.details["sources"]["a"]["target"] == 50.0
