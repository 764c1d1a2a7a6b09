"""The run-time accounting check: it passes on real runs and stops a run whose outputs lose or invent records."""

from __future__ import annotations

import polars as pl
import pytest

from curation.accounting import AccountingError, check_accounting
from curation.pipeline import curate
from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe


def _run(tmp_path, write_recipe):
    recipe = write_recipe(
        {
            "sources": {
                "wiki": {
                    "path": "data/wikitext2/wiki_valid_sample.txt",
                    "format": "text",
                    "split_on": "blank_line",
                    "domain": "general",
                }
            },
            "steps": [
                {"sql": "SELECT * FROM docs WHERE length(text) >= 100"},
                {"dedup": {"method": "exact"}},
            ],
            "splits": {"train": 0.9, "test": 0.1},
        }
    )
    return curate(load_recipe(recipe), out=tmp_path / "run")


def test_real_run_accounts_for_every_record(tmp_path, write_recipe):
    m = _run(tmp_path, write_recipe)
    counts = check_accounting(RunLayout(tmp_path / "run"), m)
    assert counts["kept"] + counts["rejected"] == counts["records"] > 0 and counts["rejected"] > 0


def test_lost_and_invented_records_are_caught(tmp_path, write_recipe):
    m = _run(tmp_path, write_recipe)
    layout = RunLayout(tmp_path / "run")
    part = sorted(layout.curated.glob("*.parquet"))[0]
    df = pl.read_parquet(part)
    df.head(df.height - 1).write_parquet(part)  # one document lost
    with pytest.raises(AccountingError, match="kept \\+ rejected must equal input records"):
        check_accounting(layout, m)
    pl.concat([df.head(df.height - 1), df.head(1)]).write_parquet(part)  # the count is right, an id repeats
    with pytest.raises(AccountingError, match="ids repeat"):
        check_accounting(layout, m)
    df.write_parquet(part)
    mix = sorted(layout.mix_root.rglob("*.parquet"))[0]
    pl.read_parquet(mix).with_columns(pl.lit("wiki/invented").alias("id")).write_parquet(mix)
    with pytest.raises(AccountingError, match="not curated"):
        check_accounting(layout, m)
