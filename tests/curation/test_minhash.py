"""MinHash near-duplicates: datasketch-equal signatures, planted duplicates found, deterministic keepers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from pydantic import ValidationError

from curation.minhash import text as tx
from curation.steps.base import BASE_SCHEMA, REJECT, StepContext
from curation.steps.minhash import MinhashParams, build_minhash

DATA = Path(__file__).resolve().parents[2] / "data"
ODD = [
    "",
    "   \n\t",
    "one",
    "two words",
    "Ünïcödé straße ΣΊΣΥΦΟΣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 日本語のテキスト",
    "a_b c-d e.f İstanbul",
]


def paragraphs(n: int) -> list[str]:
    text = (DATA / "wikitext2" / "wiki_valid_sample.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.split()) >= 60][:n]


def step_for(**kw):
    return build_minhash(
        MinhashParams(method="minhash", **kw), StepContext(root=Path("."), seed=kw.get("seed", 3))
    )


def edit(text: str, k: int, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k):
        words[i] = f"zq{rng.randrange(10**6)}"
    return " ".join(words)


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = set(tx.word_shingles_reference(a, n)), set(tx.word_shingles_reference(b, n))
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def run(step, df: pl.DataFrame, shards: int, tmp: Path) -> pl.DataFrame:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, part in enumerate(np.array_split(np.arange(df.height), shards)):
        p = tmp / f"map{k}.parquet"
        step.map(df[part.tolist()]).write_parquet(p)
        paths.append(p)
    return step.reduce(paths, tmp / "reduce").decisions


@pytest.mark.parametrize(
    ("shingle", "ngram", "hashfunc", "shingles"),
    [
        ("words", 5, tx.word_shingle_hash32, tx.word_shingles_reference),
        ("words", 1, tx.word_shingle_hash32, tx.word_shingles_reference),
        ("chars", 7, tx.char_shingle_hash32, tx.char_shingles_reference),
    ],
)
def test_signatures_equal_datasketch_minhash(shingle, ngram, hashfunc, shingles):
    texts = paragraphs(40) + ODD
    step = step_for(shingle=shingle, ngram=ngram, num_perm=64, seed=11)
    sig = step.signatures(texts)
    for i, t in enumerate(texts):
        m = MinHash(num_perm=64, seed=11, hashfunc=hashfunc)
        m.update_batch(shingles(t, ngram))
        assert np.array_equal(sig[i], m.hashvalues), (i, t[:40])


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 11), (256, 12345)])
def test_permutations_are_datasketchs(num_perm, seed):
    from curation.minhash.signature import permutations

    a, b = permutations(num_perm, seed)
    ref = MinHash(num_perm=num_perm, seed=seed).permutations
    assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1]) and a.dtype == ref.dtype


def test_sha1_signatures_equal_datasketch_defaults():
    texts = paragraphs(10) + ODD
    sig = step_for(hash="sha1", num_perm=128, seed=1).signatures(texts)
    for i, t in enumerate(texts):
        m = MinHash(num_perm=128, seed=1)  # datasketch's default hash function (sha1_hash32)
        m.update_batch([s.encode("utf-8") for s in tx.word_shingles_reference(t, 5)])
        assert np.array_equal(sig[i], m.hashvalues)


def test_vectorised_words_match_the_reference_tokeniser():
    texts = paragraphs(20) + ODD
    words = tx.tokenize(texts)
    for i, t in enumerate(texts):
        ref = [tx._horner(w) for w in tx.words_reference(t)]
        assert words.hash[words.doc == i].tolist() == ref


@pytest.fixture(scope="module")
def planted():
    rng = random.Random(5)
    base = paragraphs(300)
    docs = [{"id": f"doc{i:04d}", "text": t} for i, t in enumerate(base)]
    pairs = []
    for j, i in enumerate(rng.sample(range(len(base)), 80)):
        k = [1, 2, 4, 8, 30][j % 5]  # J from ~0.93 down to ~0.2
        docs.append({"id": f"copy{j:03d}", "text": edit(base[i], k, rng)})
        pairs.append((f"doc{i:04d}", f"copy{j:03d}"))
    rng.shuffle(docs)
    return pl.DataFrame(docs), pairs


def test_planted_near_duplicates_are_found_against_exact_jaccard(planted, tmp_path):
    df, _ = planted
    dec = run(step_for(threshold=0.8), df, 3, tmp_path)
    texts = dict(zip(df["id"], df["text"], strict=True))
    found = {
        tuple(sorted(p)) for p in dec.filter(pl.col(REJECT).is_not_null()).select("id", "duplicate_of").rows()
    }
    ids = sorted(texts)
    sets = {i: set(tx.word_shingles_reference(texts[i], 5)) for i in ids}
    truth = {
        (a, b)
        for x, a in enumerate(ids)
        for b in ids[x + 1 :]
        if len(sets[a] & sets[b]) >= 0.8 * len(sets[a] | sets[b])
    }
    assert len(truth) >= 25  # the plant spans both sides of the threshold
    assert len(found & truth) / len(truth) >= 0.95
    for a, b in found:  # exact verification: every reported pair really is above the threshold
        assert jaccard(texts[a], texts[b]) >= 0.8
    kept = dec.filter(pl.col(REJECT).is_null())
    assert set(kept["id"]) <= {a for a, _ in truth}  # originals (smaller ids) are the keepers
    summary = (
        step_for(threshold=0.8).reduce(sorted(tmp_path.glob("map*.parquet")), tmp_path).report["minhash"]
    )
    assert summary["duplicates"] == dec.filter(pl.col(REJECT).is_not_null()).height


@pytest.mark.parametrize("verify", ["exact", "signature", "none"])
def test_same_decisions_for_any_shard_count_and_order(planted, tmp_path, verify):
    df, _ = planted
    step = step_for(verify=verify)
    one = run(step, df, 1, tmp_path / "a")
    many = run(step, df.sample(fraction=1.0, shuffle=True, seed=1), 5, tmp_path / "b")
    assert one.height > 0
    assert one.equals(many)


def test_keeper_is_highest_quality_then_smallest_id(tmp_path):
    text = paragraphs(1)[0]
    rows = [("b", text, 0.2), ("a", text + " extra", 0.2), ("c", text, 0.9), ("d", paragraphs(2)[1], 0.99)]
    df = pl.DataFrame(rows, schema=["id", "text", "quality_score"], orient="row")
    dec = run(step_for(), df, 2, tmp_path / "q")
    assert dec.filter(pl.col(REJECT).is_null())["id"].to_list() == ["c"]
    assert dec.filter(pl.col(REJECT) == "near_duplicate").select("id", "duplicate_of").rows() == [
        ("a", "c"),
        ("b", "c"),
    ]
    assert set(dec["cluster_id"]) == {"a"} and set(dec["cluster_size"]) == {3}
    dec = run(step_for(), df.drop("quality_score"), 2, tmp_path / "noq")
    assert dec.filter(pl.col(REJECT).is_null())["id"].to_list() == ["a"]


def test_rejected_and_empty_documents_are_not_clustered(tmp_path):
    text = paragraphs(1)[0]
    df = pl.DataFrame(
        {
            "id": ["x", "y", "z", "e1", "e2"],
            "text": [text, text, text, "", "  "],
            REJECT: [None, "too_short", None, None, None],
        }
    )
    dec = run(step_for(), df, 1, tmp_path)
    assert sorted(dec["id"]) == ["x", "z"]


def test_empty_frame_and_params_checks(tmp_path):
    step = step_for()
    out = step.map(pl.DataFrame(schema=BASE_SCHEMA))
    assert out.height == 0 and f"b{step.bands - 1}" in out.columns
    assert step.reduce([], tmp_path).decisions.height == 0
    with pytest.raises(ValidationError, match="both bands and rows"):
        MinhashParams(method="minhash", bands=4)
    with pytest.raises(ValidationError, match="exceeds num_perm"):
        MinhashParams(method="minhash", bands=20, rows=10, num_perm=128)
    with pytest.raises(ValidationError):
        MinhashParams(method="minhash", colour="red")
    assert (step.bands, step.rows) == (16, 8)  # datasketch's optimum for recall-weighted (0.05, 0.95) at 0.8


def test_through_the_pipeline(write_recipe, planted, tmp_path):
    from curation.pipeline import curate
    from mixloom.recipe import load_recipe

    df, _ = planted
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in df.to_dicts()))
    recipe = {
        "sources": {"wiki": {"path": str(src), "format": "jsonl", "id": "id", "domain": "general"}},
        "steps": [{"dedup": {"method": "minhash", "threshold": 0.8}}],
        "execution": {"shard_docs": 100},
        "splits": {"train": 1.0},
        "seed": 3,
    }
    manifest = curate(load_recipe(write_recipe(recipe)), out=tmp_path / "run")
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    direct = run(step_for(), df, 1, tmp_path / "direct")
    removed = direct.filter(pl.col(REJECT).is_not_null())
    near = rejects.filter(pl.col("reason") == "near_duplicate")
    assert removed.height > 20
    assert sorted(near["id"]) == sorted("wiki/" + removed["id"])  # the engine prefixes ids with the source
    summary = manifest["step_reports"]["0:dedup.minhash"]["minhash"]
    assert summary["duplicates"] == removed.height
