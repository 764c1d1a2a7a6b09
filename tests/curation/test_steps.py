"""Local steps on real text (financial posts, Wikipedia paragraphs), and exact dedup's map/reduce."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curation.io.readers import ReadTask, read_file
from curation.steps.base import REJECT
from curation.steps.registry import build_steps


@pytest.fixture(scope="module")
def docs(
    tmp_path_factory,
) -> pl.DataFrame:
    """Real documents: 675 FiQA posts and WikiText-2 paragraphs, as the reader makes them."""
    from tests.conftest import DATA

    out = tmp_path_factory.mktemp("docs")
    frames = []
    for i, (path, fmt, field, split, dom) in enumerate(
        [
            (DATA / "finance/fiqa_posts.json", "json", "sentence", "none", "financial"),
            (DATA / "wikitext2/wiki_valid_sample.txt", "text", "text", "blank_line", "general"),
        ]
    ):
        t = ReadTask(
            source=dom,
            domain=dom,
            path=str(path),
            rel=path.name,
            fmt=fmt,
            text_field=field,
            id_field=None,
            split_on=split,
            fields=None,
            sql=None,
            polars=None,
            max_doc_bytes=1 << 20,
            encoding="utf-8",
            shard_docs=100_000,
            shard_bytes=1 << 30,
            tokenizer="approx",
            out_dir=str(out),
            stem=f"x{i}",
        )
        res = read_file(t)
        frames += [pl.read_parquet(out / f"{s['name']}.parquet") for s in res["shards"]]
    return pl.concat(frames)


def _step(entry, tmp_path=None):
    from tests.conftest import ROOT

    return build_steps([entry], ROOT, 0, "test.yaml", tmp_path)[0]


def test_normalize_nfkc_controls_whitespace():
    df = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["ﬁnance\u00a0\u00a0report\x07", "  a\r\n\n\n\nb  ", " \x00 "],
            "tokens": [1, 1, 1],
        }
    )
    out = _step({"normalize": {}}).process(df)
    assert out["text"].to_list() == ["finance report", "a\n\nb", ""]
    assert out["norm_changed"].to_list() == [True, True, True]
    assert out[REJECT].to_list() == [None, None, "normalize:empty"]


def test_normalize_fixes_mojibake_when_asked():
    df = pl.DataFrame({"id": ["a"], "text": ["The companyâ€™s shares"], "tokens": [3]})
    assert _step({"normalize": {"form": "none"}}).process(df)["text"][0] == "The companyâ€™s shares"
    assert _step({"normalize": {"fix_mojibake": True}}).process(df)["text"][0] == "The company's shares"


def test_sql_filters_and_derives_columns_on_real_text(docs):
    out = _step(
        {"sql": "SELECT *, length(text) AS chars FROM docs WHERE domain = 'financial' AND length(text) >= 60"}
    ).process(docs)
    kept = out.filter(pl.col(REJECT).is_null())
    assert kept.height > 100 and (kept["chars"] >= 60).all() and (kept["domain"] == "financial").all()
    assert kept["chars"].to_list() == kept["text"].str.len_chars().to_list()
    assert out.height == docs.height  # nothing vanishes: the rest is marked rejected
    assert set(out.filter(pl.col(REJECT).is_not_null())["id"]) == set(docs["id"]) - set(kept["id"])
    assert kept["id"].to_list() == [i for i in docs["id"] if i in set(kept["id"])]  # input order kept


def test_sql_where_shorthand_and_custom_reason(docs):
    out = _step({"sql": {"query": "tokens < 8", "reason": "too short"}}).process(docs)
    assert set(out[REJECT].drop_nulls()) == {"too short"}
    assert (out.filter(pl.col(REJECT).is_null())["tokens"] < 8).all()


def test_sql_without_id_is_a_clear_error(docs):
    with pytest.raises(ValueError, match="no `id` column"):
        _step({"sql": "SELECT text FROM docs"}).process(docs)


def test_polars_filter_and_columns(docs):
    out = _step(
        {
            "polars": {
                "with_columns": {"n_tickers": "pl.col('text').str.count_matches(r'\\$[A-Za-z]+')"},
                "filter": "pl.col('n_tickers') > 0",
                "reason": "no ticker",
            }
        }
    ).process(docs)
    kept = out.filter(pl.col(REJECT).is_null())
    assert kept.height > 300 and (kept["domain"] == "financial").all()
    assert set(out[REJECT].drop_nulls()) == {"no ticker"}


def test_language_keeps_english_rejects_others(docs):
    step = _step({"language": {"keep": ["en"], "min_score": 0.5}})
    wiki = docs.filter(pl.col("domain") == "general", pl.col("tokens") > 40).head(30)
    foreign = pl.DataFrame(
        {
            "id": ["de", "fr"],
            "source": ["x", "x"],
            "domain": ["x", "x"],
            "tokens": [10, 10],
            "text": [
                "Die Europäische Zentralbank hat die Leitzinsen heute erneut angehoben, um die Inflation zu bekämpfen.",
                "La Banque centrale européenne a relevé ses taux directeurs afin de lutter contre l'inflation.",
            ],
        }
    )
    out = step.process(pl.concat([wiki.select(foreign.columns), foreign]))
    assert out.filter(pl.col("id").is_in(["de", "fr"]))[REJECT].to_list() == ["language:de", "language:fr"]
    assert out.head(30)[REJECT].null_count() >= 29 and (out.head(30)["lang"] == "en").sum() >= 29


def test_apply_to_limits_a_step_to_a_domain(docs):
    step = _step({"sql": {"query": "tokens > 1000000", "apply_to": {"domains": ["general"]}}})
    out = step.process(docs)
    assert (
        out.filter(pl.col("domain") == "financial")[REJECT].null_count()
        == (docs["domain"] == "financial").sum()
    )
    assert (
        out.filter(pl.col("domain") == "general")[REJECT].drop_nulls().len()
        == (docs["domain"] == "general").sum()
    )
    assert out["id"].to_list() == docs["id"].to_list()


def test_exact_dedup_map_reduce_keeps_smallest_id(tmp_path, docs):
    step = _step({"dedup": {"method": "exact"}})
    base = docs.head(50)
    copies = base.head(5).with_columns(
        ("zz-" + pl.col("id")).alias("id"), (pl.col("text").str.to_uppercase() + "  ").alias("text")
    )
    shards = [base.head(25), pl.concat([base.tail(25), copies])]
    paths = []
    for i, s in enumerate(shards):
        paths.append(tmp_path / f"{i}.parquet")
        step.map(s).write_parquet(paths[-1])
    dec = step.reduce(paths, tmp_path).decisions
    assert sorted(dec["id"]) == sorted(copies["id"])
    assert dec["duplicate_of"].to_list() == [i.removeprefix("zz-") for i in dec["id"]]
    assert set(dec[REJECT]) == {"exact_duplicate"}
    # the same decisions whatever the shard order
    assert step.reduce(paths[::-1], tmp_path).decisions.sort("id").equals(dec.sort("id"))
    assert json.dumps(dec.columns) == json.dumps(["id", REJECT, "duplicate_of", "cluster_id"])
