"""The review app over a real generated run: escaping, malformed requests (4xx, database unchanged), the
append-only log, agreement statistics and the export into review.sft / review.pairs."""

from __future__ import annotations

import sqlite3

import pyarrow.parquet as pq
import pytest
from review_helpers import HOSTILE, make_run
from starlette.testclient import TestClient

from mixloom.layout import RunLayout
from reasoning.review.agreement import cohen_kappa, fleiss_kappa
from reasoning.review.app import make_app
from reasoning.review.export import decisions_path, export
from reasoning.review.items import load_items

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def run(write_recipe, tmp_path):
    return make_run(write_recipe, tmp_path)


def clients(run, *names: str | None) -> tuple[list[TestClient], str]:
    """One app over the run and a browser-like client (own cookies) per reviewer name (None: not logged in)."""
    app = make_app(RunLayout(run))
    token = app.state.review.token
    out = []
    for name in names:
        c = TestClient(app, base_url=BASE)
        if name:
            assert c.post("/reviewer", data={"token": token, "name": name}).status_code == 200
        out.append(c)
    return out, token


def client(run, name: str = "alice") -> tuple[TestClient, str]:
    (c,), token = clients(run, name)
    return c, token


def db_rows(run) -> list[tuple]:
    con = sqlite3.connect(decisions_path(RunLayout(run)))
    try:
        return con.execute("SELECT * FROM decisions ORDER BY id").fetchall()
    finally:
        con.close()


def test_hostile_sample_text_is_shown_as_text(run):
    c, _ = client(run)
    item = load_items(RunLayout(run))[0]
    assert HOSTILE in item.answers[0].text
    page = c.get("/item", params={"id": item.id})
    assert page.status_code == 200
    assert "<script>document.title" not in page.text and '<b id="injected">' not in page.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "unsafe-inline" not in csp


def test_malformed_requests_get_4xx_and_leave_the_database_unchanged(run):
    (c, anonymous), token = clients(run, "alice", None)
    items = load_items(RunLayout(run))
    sample = next(i for i in items if i.kind == "sample")
    pair = next(i for i in items if i.kind == "pair")
    ok = c.post(
        "/decide", data={"token": token, "item": sample.id, "action": "accept"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["x-decision-id"] == "1"
    before = db_rows(run)
    good = {"token": token, "item": sample.id}
    bad = [
        ({**good, "action": "accept", "token": "stale"}, 403),
        ({"item": sample.id, "action": "accept"}, 403),
        ({**good, "item": "s:no/such#0", "action": "accept"}, 404),
        ({**good, "action": "delete"}, 400),
        ({**good, "action": "reject"}, 400),
        ({**good, "action": "reject", "reason": "   "}, 400),
        ({**good, "action": "edit"}, 400),
        ({**good, "action": "edit", "answer": sample.answers[0].text}, 400),
        ({**good, "action": "pick", "pick": "a"}, 400),
        ({**good, "action": "accept", "reason": "x" * 2001}, 400),
        ({**good, "item": pair.id, "action": "pick", "pick": "c"}, 400),
        ({**good, "item": pair.id, "action": "accept"}, 400),
        ({**good, "action": "edit", "answer": "y" * 300_000}, 413),
    ]
    for form, status in bad:
        assert c.post("/decide", data=form).status_code == status, form
    assert (
        c.post("/decide", content=b"\xff\xfe garbage", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    assert c.post("/decide", json={"token": token, "item": sample.id, "action": "accept"}).status_code == 415
    dup = f"token={token}&item={sample.id}&action=accept&action=reject"
    assert (
        c.post(
            "/decide", content=dup, headers={"content-type": "application/x-www-form-urlencoded"}
        ).status_code
        == 400
    )
    cross = c.post("/decide", data={**good, "action": "accept"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    rebound = c.post("/decide", data={**good, "action": "accept"}, headers={"host": "evil.example:8765"})
    assert rebound.status_code == 400  # DNS rebinding: a foreign Host header is refused
    assert anonymous.post("/decide", data={**good, "action": "accept"}).status_code == 400
    for name in ["", "x" * 65, "<b>", "a b", "ä"]:
        assert anonymous.post("/reviewer", data={"token": token, "name": name}).status_code in (400, 403)
    assert db_rows(run) == before


def test_the_log_is_append_only(run):
    c, token = client(run)
    item = load_items(RunLayout(run))[0]
    c.post("/decide", data={"token": token, "item": item.id, "action": "accept"})
    con = sqlite3.connect(decisions_path(RunLayout(run)))
    for sql in ("UPDATE decisions SET action = 'reject'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert len(db_rows(run)) == 1


def test_kappas_match_references():
    sklearn = pytest.importorskip("sklearn.metrics")
    a = ["accept", "reject", "accept", "accept", "reject", "accept", "reject", "reject"]
    b = ["accept", "reject", "reject", "accept", "reject", "accept", "accept", "reject"]
    assert cohen_kappa(a, b) == pytest.approx(sklearn.cohen_kappa_score(a, b))
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    # Fleiss (1971) as worked in the literature: 10 items, 14 raters, 5 categories -> 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    counts = [{str(j): v for j, v in enumerate(row) if v} for row in table]
    assert fleiss_kappa(counts) == pytest.approx(0.2099, abs=1e-4)


def test_export_applies_decisions_to_sft_and_pairs(run):
    layout = RunLayout(run)
    items = load_items(layout)
    samples = [i for i in items if i.kind == "sample"]
    pair = next(i for i in items if i.kind == "pair")
    sft_before = pq.read_table(layout.ref_path("generate.sft")).to_pylist()
    in_sft = {r["sample_id"] for r in sft_before}
    verified = [i for i in samples if i.answers[0].sample_id in in_sft]
    failed = [i for i in samples if not i.answers[0].verdict]
    (alice, bob), token = clients(run, "alice", "bob")

    def post(c, item, **form):
        r = c.post("/decide", data={"token": token, "item": item.id, **form}, follow_redirects=False)
        assert r.status_code == 303, r.text

    # both reject the first verified sample; alice corrects a failed one, bob agrees it is wrong
    post(alice, verified[0], action="reject", reason="hides a script")
    post(bob, verified[0], action="reject", reason="unsafe")
    post(alice, failed[0], action="edit", answer="Fixed.\n#### 1", reason="wrong sum")
    post(bob, failed[0], action="reject", reason="wrong")
    post(alice, failed[1], action="accept")  # people rescue a sample the checker failed
    post(bob, failed[1], action="accept")
    letter = "ab"[[a.sample_id for a in pair.answers].index(pair.id[2:].split("|")[1])]
    post(alice, pair, action="pick", pick=letter)  # both prefer the checker's `rejected`
    post(bob, pair, action="pick", pick=letter)
    post(alice, verified[1], action="accept")  # a disagreement: alice accepts, bob rejects...
    post(bob, verified[1], action="reject", reason="no")
    post(bob, verified[1], action="accept")  # ...then bob changes his mind: his latest decision counts

    m = export(layout)
    sft = {r["sample_id"]: r for r in pq.read_table(layout.ref_path("review.sft")).to_pylist()}
    pairs = pq.read_table(layout.ref_path("review.pairs")).to_pylist()
    assert verified[0].answers[0].sample_id not in sft
    assert sft[failed[0].answers[0].sample_id]["messages"][1]["content"] == "Fixed.\n#### 1"
    assert sft[failed[0].answers[0].sample_id]["review"] == "added"
    assert sft[failed[1].answers[0].sample_id]["review"] == "added"
    assert sft[verified[1].answers[0].sample_id]["review"] == "accepted"
    assert m["sft"] == {"generated": len(sft_before), "rows": len(sft_before) - 1 + 2, "dropped": 1,
                        "accepted": 1, "added": 2, "edited": 0, "unreviewed": len(sft_before) - 2}  # fmt: skip
    flipped = [p for p in pairs if p["review"] == "flipped"]
    assert [(p["chosen_id"], p["rejected_id"]) for p in flipped] == [tuple(pair.id[2:].split("|")[::-1])]
    corr = [p for p in pairs if p["review"] == "correction"]
    assert [(p["chosen"], p["rejected_id"]) for p in corr] == [
        ("Fixed.\n#### 1", failed[0].answers[0].sample_id)
    ]
    # the same items by both reviewers, all agreeing on labels -> kappa 1 (undefined would be None)
    cohen = m["agreement"]["cohen"]["alice / bob"]
    assert cohen["items"] == 5 and cohen["kappa"] == pytest.approx(1.0)
    assert m["decisions"] == 11 and m["items"]["reviewed"] == 5


def test_training_reads_review_refs_and_the_stage_key_follows_decisions(write_recipe, tmp_path):
    import training
    from mixloom.errors import RecipeError
    from mixloom.plugins import STAGES
    from mixloom.recipe import load_recipe
    from training.refs import data_files

    train = {"sft": {"data": "review.sft", "model": "data"}, "rm": {"data": "review.pairs", "model": "data"}}
    run = make_run(write_recipe, tmp_path, train=train)
    recipe = load_recipe(tmp_path / "recipe.yaml")
    training.check(recipe)  # review.pairs is a known reference
    stage = STAGES.get("review")
    assert stage.enabled(recipe) and "generate.pairs" in stage.reads(recipe)
    key = stage.section(recipe, RunLayout(run))
    c, token = client(run)
    item = load_items(RunLayout(run))[0]
    c.post("/decide", data={"token": token, "item": item.id, "action": "accept"})
    assert stage.section(recipe, RunLayout(run)) != key  # a new decision re-runs the export and what reads it
    result = stage.run(recipe, RunLayout(run))
    assert "1 decisions on 1 items" in stage.summary(result)
    assert data_files(recipe, run, "review.pairs", "train.rm.data")[0].name == "part-00000.parquet"
    assert stage.report(RunLayout(run))[0].title == "Human review"
    bad = load_recipe(
        write_recipe(
            {**yaml_of(recipe), "train": {"rm": {"data": "review.bogus", "model": "data"}}}, "bad.yaml"
        )
    )
    with pytest.raises(RecipeError, match="unknown data reference 'review.bogus'"):
        training.check(bad)


def yaml_of(recipe) -> dict:
    import yaml

    return yaml.safe_load(recipe.path.read_text())


def test_filters_progress_and_escaped_decisions(run):
    (alice, bob), token = clients(run, "alice", "bob")
    items = load_items(RunLayout(run))
    first, second = items[0], items[1]
    assert first.answers[0].verdict and not second.answers[0].verdict
    alice.post("/decide", data={"token": token, "item": first.id, "action": "reject", "reason": "<i>x</i>"})
    bob.post("/decide", data={"token": token, "item": first.id, "action": "accept"})
    alice.post("/decide", data={"token": token, "item": second.id, "action": "reject", "reason": "wrong"})
    # unreviewed skips what alice decided
    assert alice.get("/next", params={"filter": "unreviewed"}).url.params["id"] == items[2].id
    assert bob.get("/next", params={"filter": "unreviewed"}).url.params["id"] == second.id
    # disagreements: alice vs bob (and alice vs the checker) on the first; the second agrees with the checker
    r = alice.get("/next", params={"filter": "disagreements"})
    assert r.url.params["id"] == first.id
    assert "&lt;i&gt;x&lt;/i&gt;" in r.text and "<i>x</i>" not in r.text  # her own reason, escaped
    assert (
        alice.get("/next", params={"filter": "disagreements", "after": first.id}).url.params["id"] == first.id
    )
    assert 'id="done"' in bob.get("/next", params={"filter": "all", "task": "no-such-task"}).text
    stats = alice.get("/stats.json").json()
    assert stats["progress"] == {"alice": 2, "bob": 1} and stats["decisions"] == 3
    page = alice.get("/item", params={"id": second.id}).text
    assert "you: 2/14" in page and "disagreements: 1" in page and 'id="mine">reject' in page
