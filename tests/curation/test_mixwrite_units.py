"""The shard-wise mix writer on its own (no reading, no steps): the parts it writes are the whole-corpus order
of the whole-corpus selection, part by part and column by column, for many small key ranges and parts, with
and without a mix section, in Parquet and JSONL; an earlier mix never survives a new one."""

from __future__ import annotations

import polars as pl
import pytest

from curation import mixwrite
from curation.executors import LocalExecutor
from curation.mix import plan_mix
from curation.mixprobe import Probe
from mixloom.layout import RunLayout
from mixloom.recipe import load_recipe
from tests.curation.mix_reference import plan_order, random_docs, reference_mix, write_shards

SPLITS = {"train": 0.7, "validation": 0.2, "test": 0.1}


def _corpus(
    tmp_path, seed: int, n: int = 400, shards: int = 5, copies: bool = False
) -> tuple[pl.DataFrame, list]:
    """The reference's random documents (augmented copies beside some, with `copies`), with a text and the
    record's fields as curated documents have them, cut into shards."""
    docs = random_docs(seed, n, copies).with_columns(
        (pl.lit("document ") + pl.col("id")).alias("text"),
        pl.format('{{"n": {}}}', pl.int_range(pl.len())).alias("meta"),
    )
    return docs, write_shards(docs, tmp_path / "curated", shards, seed)


def _recipe(write_recipe, mix: dict | None, seed: int, part_rows: int, fmt: str = "parquet", cap=0.0):
    data = {
        "sources": {
            "fin": {"path": "data/finance/fiqa_posts.json", "format": "json", "domain": "financial"},
            "gen": {"path": "data/wikitext2/wiki_valid_sample.txt", "format": "text", "domain": "general"},
        },  # only the domains count here: the writer reads the curated shards it is given
        "splits": SPLITS,
        "seed": seed,
        "execution": {"shard_docs": part_rows, "output_format": fmt},
        **({"mix": mix} if mix else {}),
        **({"augment": {"max_augmented_share": cap, "word_replace": {"sources": ["fin"]}}} if cap else {}),
    }
    return load_recipe(write_recipe(data))


def _read(path, fmt: str) -> pl.DataFrame:
    return pl.read_parquet(path) if fmt == "parquet" else pl.read_ndjson(path)


REPEATS = {"budget": "max", "shares": {"financial": 0.3, "general": 0.7}, "max_epochs": 4}
SOME = {
    "unit": "docs",
    "budget": 150,
    "shares": {"financial": 0.6, "general": 0.4},
}  # most documents left out
DOCS = {"unit": "docs", "budget": 500, "shares": {"financial": 0.6, "general": 0.4}}


@pytest.mark.parametrize(
    ("seed", "mix", "part_rows", "ranges", "fmt", "cap"),
    [
        (1, REPEATS, 37, 3, "parquet", 0.0),
        (2, DOCS, 64, 1, "parquet", 0.0),
        (3, None, 29, 5, "jsonl", 0.0),
        (4, SOME, 16, 2, "parquet", 0.0),
        (5, REPEATS, 41, 3, "parquet", 0.25),
        (6, REPEATS, 41, 3, "parquet", {"financial": 0.3, "general": 0.0}),  # a cap per domain
    ],
)
def test_written_parts_are_the_global_order(
    write_recipe, tmp_path, monkeypatch, seed, mix, part_rows, ranges, fmt, cap
):
    monkeypatch.setattr(mixwrite, "RANGES_PER_PART", ranges)
    docs, finals = _corpus(tmp_path, seed, copies=bool(cap))
    recipe = _recipe(write_recipe, mix, seed, part_rows, fmt, cap)
    report, stats = mixwrite.write_mix(recipe, finals, tmp_path, LocalExecutor(1))
    if mix is None:
        assert report is None
        copies = dict.fromkeys(docs["id"].to_list(), 1)
    else:
        shares = (cap if isinstance(cap, dict) else {"financial": cap, "general": cap}) if cap else None
        copies, _ = reference_mix(docs, recipe.mix, seed, shares)
        assert report["sources"]
    if mix is REPEATS:
        assert max(copies.values()) > 1  # repeats: epochs 1.. are written too
    if mix is SOME:
        assert len(copies) < docs.height / 2  # left-out documents are not written
    sel = pl.DataFrame(
        {"id": list(copies), "copies": list(copies.values())}, schema={"id": pl.String, "copies": pl.Int32}
    )
    if cap:
        sel = sel.join(docs.select("id", "parent_id"), on="id")  # a copy lands in its parent's split
        assert sel["parent_id"].is_not_null().any()
    order = plan_order(sel, SPLITS, seed, part_rows).join(docs, on="id")
    root = RunLayout(tmp_path).mix_root
    ext = "parquet" if fmt == "parquet" else "jsonl"
    for split in SPLITS:
        want = order.filter(pl.col("split") == split).sort("pos")
        files = sorted((root / split).glob(f"part-*.{ext}"))
        assert len(files) == -(-want.height // part_rows)  # ceil: full parts, then the rest
        got = pl.concat([_read(f, fmt) for f in files]) if files else pl.DataFrame()
        for f in files[:-1]:
            assert _read(f, fmt).height == part_rows
        assert got.columns == [*docs.columns, "split", "epoch"]  # no helper column left
        if fmt == "parquet":
            assert got.schema == pl.Schema({**docs.schema, "split": pl.String, "epoch": pl.Int32})
        assert got.select("id", "epoch", "text", "tokens").equals(
            want.select("id", "epoch", "text", "tokens")
        ), split
        assert set(got["split"]) <= {split}
        assert stats[split] == {
            "docs": want.height,
            "tokens": int(want["tokens"].sum() or 0),
            "unique_docs": want.filter(pl.col("epoch") == 0).height,
        }
    assert not (tmp_path / "_work" / "mix_work").exists()  # the shuffle's files are gone


def test_a_new_mix_replaces_every_part_of_the_old_one(write_recipe, tmp_path):
    docs, finals = _corpus(tmp_path, 4)
    root = RunLayout(tmp_path).mix_root
    mixwrite.write_mix(_recipe(write_recipe, None, 4, 10), finals, tmp_path, LocalExecutor(1))
    old = {s: len(list((root / s).glob("part-*"))) for s in SPLITS}
    (root / "output.log").write_text("the stage's log")
    mixwrite.write_mix(_recipe(write_recipe, None, 4, 1000), finals, tmp_path, LocalExecutor(1))
    new = {s: sorted(p.name for p in (root / s).glob("part-*")) for s in SPLITS}
    assert all(v == ["part-00000.parquet"] for v in new.values()) and max(old.values()) > 1
    assert (root / "output.log").read_text() == "the stage's log"
    mixwrite.clear_mix(tmp_path / "nothing-here")  # no mix yet: nothing to clear, no error


def test_the_bucket_sizing_bounds_the_rows(write_recipe, tmp_path):
    """The row count that sizes the key ranges is an upper bound of the mix's rows, and not a loose one: the
    ranges (and so a part task's reads) stay near the planned size."""
    docs, finals = _corpus(tmp_path, 5)
    recipe = _recipe(
        write_recipe, {"budget": "max", "shares": {"financial": 0.2, "general": 0.8}, "max_epochs": 5}, 5, 50
    )
    probe = Probe.build(finals, tmp_path / "keys", LocalExecutor(1), 5, recipe.mix.unit)
    picks, _ = plan_mix(probe, recipe.mix, 5, None)
    copies, _ = reference_mix(docs, recipe.mix, 5, None)
    rows = sum(copies.values())
    assert rows <= mixwrite._mix_rows(finals, probe, picks) <= rows + docs.height
    assert mixwrite._mix_rows(finals, None, None) == docs.height


class RecordingExecutor(LocalExecutor):
    """The inline executor, keeping the progress label of every map (what the user sees on the progress line)."""

    def __init__(self):
        super().__init__(1)
        self.labels: list[str] = []
        self.items: list[list] = []

    def map(self, fn, items, desc="tasks"):
        self.labels.append(desc)
        self.items.append(list(items))
        return super().map(fn, items, desc)


def test_each_mix_phase_names_itself_on_the_progress_line(write_recipe, tmp_path):
    docs, finals = _corpus(tmp_path, 6)
    ex = RecordingExecutor()
    mixwrite.write_mix(_recipe(write_recipe, SOME, 6, 50), finals, tmp_path, ex)
    assert ex.labels[0] == "mix (keys)" and ex.labels[-2:] == ["mix (shuffle)", "mix (write)"]
    assert set(ex.labels[1:-2]) == {"mix (probe)"}  # the cut's bins, then its rows


@pytest.mark.parametrize(("mix", "cap"), [(None, 0.0), (REPEATS, 0.25)])
def test_a_part_task_reads_about_one_part_of_rows(write_recipe, tmp_path, monkeypatch, mix, cap):
    """The memory bound of the writer: a part's task reads only the key ranges that overlap its positions, about
    (1 + 2 / RANGES_PER_PART) parts of rows, not its whole split."""
    docs, finals = _corpus(tmp_path, 7, n=1200, shards=6, copies=bool(cap))
    read: list[int] = []
    real = mixwrite.gather

    def gather(job):
        want = (pl.col("split") == job.split) & pl.col("_bucket").is_between(job.first, job.last)
        read.append(sum(pl.scan_parquet(f).filter(want).select(pl.len()).collect().item() for f in job.files))
        return real(job)

    monkeypatch.setattr(mixwrite, "gather", gather)
    part_rows = 100
    ex = RecordingExecutor()
    _, stats = mixwrite.write_mix(_recipe(write_recipe, mix, 7, part_rows, cap=cap), finals, tmp_path, ex)
    rows = sum(s["docs"] for s in stats.values())
    assert stats["train"]["docs"] > 5 * part_rows and len(read) > 5
    assert max(read) <= 2 * part_rows  # RANGES_PER_PART = 4: about 1.5 parts
    # and no more key ranges than that needs: the driver holds a count per range and split
    (ranges,) = {job.buckets for job in ex.items[-2]}  # the shuffle's jobs
    per_part = mixwrite.RANGES_PER_PART / part_rows
    assert rows * per_part <= ranges <= (rows + docs.height) * per_part + 1


def test_shards_with_different_columns_are_written_as_one_table(write_recipe, tmp_path):
    """Curated shards need not share every column (a score a step wrote only where it had documents, a column
    of nulls): the parts hold the union, with nulls where a shard had none."""
    docs, finals = _corpus(tmp_path, 8, n=120, shards=3)
    a = pl.read_parquet(finals[0]).with_columns(pl.lit(0.5).alias("score"))
    b = pl.read_parquet(finals[1]).with_columns(pl.lit(None).alias("score"))  # Null dtype
    a.write_parquet(finals[0])
    b.write_parquet(finals[1])
    mixwrite.write_mix(_recipe(write_recipe, None, 8, 1000), finals, tmp_path, LocalExecutor(1))
    out = pl.concat(
        [pl.read_parquet(f) for f in sorted(RunLayout(tmp_path).mix_root.glob("*/part-*.parquet"))]
    )
    assert out.height == docs.height and out.schema["score"] == pl.Float64
    by_id = dict(zip(out["id"], out["score"], strict=True))
    assert {by_id[i] for i in a["id"]} == {0.5} and {by_id[i] for i in b["id"]} == {None}
    assert all(by_id[i] is None for i in pl.read_parquet(finals[2])["id"])
