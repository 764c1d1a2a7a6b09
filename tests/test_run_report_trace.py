"""`mixloom run` caching, `mixloom trace` lineage, the report in a real headless browser, the data card."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mixloom.orchestrator import run_recipe
from mixloom.recipe import load_recipe
from mixloom.trace import trace
from tests.sources import FIQA, WIKI

SOURCES = {
    "fiqa": {**FIQA, "licence": "FiQA 2018, research use"},
    "wiki": {**WIKI, "licence": "CC BY-SA 3.0"},
}
STEPS = [
    {"normalize": {}},
    {"sql": {"query": "tokens >= 8", "reason": "short"}},
    {"dedup": {"method": "exact"}},
]
MIX = {"budget": "max", "shares": {"financial": 0.5, "general": 0.5}, "max_epochs": 3}


@pytest.fixture
def run(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe({"sources": SOURCES, "steps": STEPS, "mix": MIX, "seed": 3}))
    out = tmp_path / "run"
    summary = run_recipe(recipe, out=out)
    return recipe, out, summary


def test_rerun_is_cached_and_a_changed_step_reruns(run, write_recipe):
    recipe, out, summary = run
    assert summary["curate"].startswith("ran")
    stamp = (out / "manifest.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    again = run_recipe(recipe, out=out)
    assert again["curate"] == "cached" and (out / "manifest.json").stat().st_mtime_ns == stamp
    assert time.perf_counter() - t0 < 10
    changed = load_recipe(
        write_recipe(
            {
                "sources": SOURCES,
                "steps": [*STEPS[:1], {"sql": {"query": "tokens >= 12"}}, STEPS[2]],
                "mix": MIX,
                "seed": 3,
            },
            "r2.yaml",
        )
    )
    assert run_recipe(changed, out=out)["curate"].startswith("ran")
    assert (out / "manifest.json").stat().st_mtime_ns != stamp


def test_trace_kept_rejected_and_duplicate(run):
    _, out, _ = run
    import polars as pl

    rej = pl.read_parquet(out / "rejects")
    kept_id = pl.read_parquet(out / "curated")["id"][0]
    t = trace(out, kept_id)
    assert (
        t["status"] == "kept" and [h["result"] for h in t["path"]] == ["kept"] * 4 and t["mix"]["copies"] >= 1
    )
    short = rej.filter(pl.col("reason") == "short")["id"][0]
    t = trace(out, short)
    assert t["rejected_by"] == "1:sql" and t["path"][-1] == {"step": "1:sql", "result": "rejected"}
    assert len(t["path"]) == 3  # read, normalize, sql: the document went no further
    dup = rej.filter(pl.col("reason") == "exact_duplicate")["id"][0]
    t = trace(out, dup)
    assert t["duplicate_of"] and trace(out, t["duplicate_of"])["status"] == "kept"
    assert t["origin"].startswith("data/") and t["origin"].rsplit(":", 1)[1].isdigit()


def test_data_card_names_sources_licences_and_counts(run):
    _, out, _ = run
    card = (out / "DATACARD.md").read_text()
    assert "FiQA 2018, research use" in card and "CC BY-SA 3.0" in card
    assert "| 1:sql |" in card and "short" in card and "## Known limitations" in card


def test_report_renders_in_headless_chromium(run, tmp_path):
    _, out, summary = run
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    index = Path(summary["report"])
    html = index.read_text()
    assert html.count("data:image/png;base64,") >= 3  # figures embedded: the page is self-contained
    assert {"funnel.png", "mix.png"} <= {p.name for p in index.parent.glob("*.png")}
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            index.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 1600)
    colours = img.resize((120, 160)).getcolors(maxcolors=1 << 16)
    # charts rendered: the funnel's bar blue is on the page, and the page is far from blank
    assert colours is not None and len(colours) > 50
    assert any(abs(r - 0x3B) < 12 and abs(g - 0x7D) < 12 and abs(b - 0xD8) < 12 for _, (r, g, b) in colours)


def test_trace_near_duplicate_names_its_cluster(write_recipe, tmp_path):
    import json

    import polars as pl

    paras = [
        p
        for p in (Path(__file__).parent.parent / "data/wikitext2/wiki_valid_sample.txt")
        .read_text()
        .split("\n \n")
        if len(p.split()) > 80
    ][:20]
    near = paras[3].replace(" the ", " a ", 1)  # one word changed: Jaccard far above 0.8
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in [*paras, near]))
    recipe = load_recipe(
        write_recipe(
            {
                "sources": {"web": {"path": str(path), "format": "jsonl", "domain": "general"}},
                "steps": [{"dedup": {"method": "minhash", "threshold": 0.8}}],
            }
        )
    )
    out = tmp_path / "run"
    run_recipe(recipe, out=out)
    rej = pl.read_parquet(out / "rejects")
    assert rej["reason"].to_list() == ["near_duplicate"]
    t = trace(out, rej["id"][0])
    assert t["status"] == "rejected" and t["rejected_by"] == "0:dedup.minhash"
    assert t["duplicate_of"] == f"web/{path}#0000004" and t["details"]["minhash_jaccard"] > 0.8
    kept = trace(out, t["duplicate_of"])
    assert kept["status"] == "kept" and kept["scores"]["cluster_id"] == t["details"]["cluster_id"]
