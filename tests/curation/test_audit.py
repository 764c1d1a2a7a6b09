"""Bias audit: the removal-rate table flags a step that drops one group's mentions (a planted corpus through
the real curation pipeline); the audit command writes its page; the `audit:` recipe section parses."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from curation.audit.probe import builtin_probe, evaluate, load_probe
from curation.audit.run import AuditSection, run_audit
from curation.pipeline import curate
from mixloom.cli import main
from mixloom.errors import RecipeError, UserError
from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe

NEUTRAL = [
    "{g} in our town opened a new bakery on the main street this spring, number {i}.",
    "The museum tour, stop {i}, covered the history of {g} in the region and their music.",
    "A survey of {g} about commuting times found that most of them ride the bus, item {i}.",
]
OTHER = "The quarterly report, edition {i}, noted that revenue grew while costs stayed flat overall."


def _planted(tmp_path, write_recipe) -> tuple:
    """A corpus mentioning several groups; a sql step drops every document mentioning Muslims plus a few
    others; a second step drops documents at random (unrelated to groups)."""
    rows = []
    for i in range(60):
        for g in ("Muslims", "women", "immigrants", "Christians"):
            rows.append({"id": f"{g[:3]}{i}", "text": random.Random(i).choice(NEUTRAL).format(g=g, i=i)})
        rows.append({"id": f"o{i}", "text": OTHER.format(i=i)})
    src = tmp_path / "planted.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    recipe = write_recipe(
        {
            "sources": {"planted": {"path": str(src), "format": "jsonl", "id": "id", "domain": "general"}},
            "steps": [
                {"sql": {"query": "NOT (text ILIKE '%muslim%' AND id NOT LIKE '%5')", "reason": "planted"}},
                {"sql": {"query": "hash(id) % 5 <> 0", "reason": "random"}},
            ],
            "audit": {"scorers": ["mixloom", "profanity"], "counterfactual_docs": 30},
        }
    )
    r = load_recipe(recipe)
    curate(r, out=tmp_path / "run")
    return r, RunLayout(tmp_path / "run")


def test_removal_table_flags_the_step_that_drops_a_group(tmp_path, write_recipe):
    recipe, layout = _planted(tmp_path, write_recipe)
    res = run_audit(layout, recipe.get("audit"), recipe.root, recipe.seed)
    removal = pl.DataFrame(res["representation"]["removal"])
    flagged = removal.filter(pl.col("flagged"))
    assert flagged.select("step", "group").rows() == [("0:sql", "Muslims")]
    row = removal.filter((pl.col("step") == "0:sql") & (pl.col("group") == "Muslims")).row(0, named=True)
    assert row["docs_in"] == 60 and row["removed"] == 54  # ids ending in 5 survive
    assert row["ratio"] == pytest.approx(0.9 / (54 / 300))
    # the random step removes groups near its overall rate: nothing flagged there
    rand = removal.filter(pl.col("step") == "1:sql")
    assert rand["ratio"].max() < 1.5
    assert any("Muslims" in f and "0:sql" in f for f in res["findings"])
    # mentions per million words: Muslims disappear from the output almost entirely
    ment = pl.DataFrame(res["representation"]["mentions"]).filter(pl.col("group") == "Muslims")
    before = ment.filter(pl.col("stage") == "input")["per_million_words"].sum()
    after = ment.filter(pl.col("stage") == "after 1:sql")["per_million_words"].sum()
    assert before > 5 * after > 0
    # per-group scorer metrics on the built-in probe, for both scorers
    assert set(res["scorers"]) == {"mixloom", "profanity"}
    assert len(res["scorers"]["mixloom"]["groups"]) == 20


def test_audit_command_writes_the_page_and_skips_detoxify_without_weights(
    tmp_path, write_recipe, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _, layout = _planted(tmp_path, write_recipe)
    code = main(["audit", str(layout.root), "--scorers", "profanity,mixloom,detoxify"])
    assert code == 0
    page = (layout.report_dir / "audit.html").read_text()
    assert "Removal rate per step and group" in page and "data:image/png;base64" in page
    res = json.loads((layout.stage_dir("audit") / "audit.json").read_text())
    assert "detoxify" in res["skipped"] and "no local weights" in res["skipped"]["detoxify"]
    assert {"audit_removal.png", "audit_fpr.png", "audit_counterfactual.png"} <= set(res["figures"])
    md = (layout.stage_dir("audit") / "findings.md").read_text()
    assert "## Bias audit" in md and "| group |" in md
    from curation.audit.stage import STAGE

    secs = STAGE.report(layout)
    assert secs and secs[0].title == "Bias audit" and "audit_removal.png" in secs[0].figures
    assert main(["audit", str(layout.root), "--scorers", "nope"]) == 2


def test_recipe_section_parses_and_rejects_unknown_keys(write_recipe):
    r = load_recipe(write_recipe({"audit": {"scorers": ["profanity"], "flag_ratio": 2}}))
    sec = r.get("audit")
    assert isinstance(sec, AuditSection) and sec.flag_ratio == 2 and sec.probe == "builtin"
    with pytest.raises(RecipeError, match="scorer: unknown key"):  # the core drops the "audit." prefix
        load_recipe(write_recipe({"audit": {"scorer": ["profanity"]}}, name="bad.yaml"))
    from curation.audit.stage import STAGE

    r = load_recipe(write_recipe({"audit": {"probe": "nope.csv"}}, name="bad2.yaml"))
    with pytest.raises(RecipeError, match=r"audit\.probe"):
        STAGE.validate(r)


def test_probe_metrics_on_a_known_scorer():
    probe = builtin_probe(per_group=5)
    y = probe["label"].to_numpy()
    perfect = evaluate(probe, y.astype(float), 0.5)
    assert perfect["overall"]["macro_f1"] == 1.0 and perfect["fpr_spread"] == 0.0
    assert all(g["bpsn_auc"] == 1.0 and g["fnr"] == 0.0 for g in perfect["groups"])
    # a scorer that flags every mention of one group: that group's FPR is 1, others 0, its BPSN AUC drops
    biased = y.astype(float) + (probe["group"] == "Muslims").to_numpy()
    ev = evaluate(probe, biased, 0.5)
    by = {g["group"]: g for g in ev["groups"]}
    assert by["Muslims"]["fpr"] == 1.0 and by["women"]["fpr"] == 0.0 and ev["fpr_spread"] == 1.0
    assert by["Muslims"]["bpsn_auc"] < 1.0 <= by["women"]["bpsn_auc"]


def test_probe_files(tmp_path):
    p = tmp_path / "p.csv"
    pl.DataFrame({"text": ["a", "b"], "label": [1, 0], "group": ["women", None]}).write_csv(p)
    assert load_probe(p).columns == ["text", "label", "group", "functionality"]
    pl.DataFrame({"text": ["a"]}).write_csv(p)
    with pytest.raises(UserError, match="missing column"):
        load_probe(p)


def test_hatecheck_per_group_fpr(shared_data):
    """Acceptance check on HateCheck (needs ../shared): FPR on neutral/positive identity mentions differs by
    at most 0.10 between its 7 groups, and the model beats profanity-check at its best threshold."""
    from curation.audit.probe import identity_fpr
    from curation.audit.scorers import make_scorer

    hc = load_probe(shared_data / "toxicity" / "hatecheck" / "test_suite_cases.csv")
    s = make_scorer("mixloom", shared_data)(hc["text"].to_list())
    fpr = identity_fpr(hc, s, 0.5, ["ident_neutral_nh", "ident_pos_nh"])
    assert len(fpr) == 7 and max(fpr.values()) - min(fpr.values()) <= 0.10
    prof = make_scorer("profanity", shared_data)(hc["text"].to_list())
    best = max(evaluate(hc, prof, t / 20)["overall"]["macro_f1"] for t in range(1, 20))
    assert evaluate(hc, s, 0.5)["overall"]["macro_f1"] > best
