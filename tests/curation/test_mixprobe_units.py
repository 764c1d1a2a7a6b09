"""The mix probe's pieces at their boundaries: a document whose hash lies exactly on a bin edge belongs to the
bin that starts there (and to no other), refined bins share the edges of their parent, and a fetched bin's
answer counts units exactly (zero-unit documents and exact ties included)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curation.mixprobe import Cut, ProbeJob, _edges, _find, probe


def _spill(tmp_path, h: list[float], u: list[float]) -> str:
    p = tmp_path / "keys-00000.parquet"
    n = len(h)
    pl.DataFrame({"h": h, "u": u, "source": ["s"] * n, "copy": [False] * n}).write_parquet(p)
    return str(p)


def test_edges_are_even_and_end_at_the_bin_top():
    assert _edges(0.5, 0.75, 4).tolist() == [0.5, 0.5625, 0.625, 0.6875, 0.75]
    # the open top bin [lo, inf): evenly spaced up to 1 (hashes are below 1), the last edge stays inf
    e = _edges(0.5, float("inf"), 4)
    assert e[:-1].tolist() == [0.5, 0.625, 0.75, 0.875] and e[-1] == float("inf")


def test_a_hash_on_a_bin_edge_is_counted_once_in_the_bin_it_starts(tmp_path):
    h = [0.25, 0.3, 0.375, 0.4999, 0.5, 0.75]  # 0.25, 0.375 and 0.5 are edges
    spill = _spill(tmp_path, h, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    hist, rows = probe(
        ProbeJob(
            spill,
            3,
            (
                (
                    "s",
                    False,
                    0.25,
                    0.5,
                    2,
                ),
                ("s", False, 0.25, 0.5, 0),
            ),
        )
    )
    n, u = hist
    assert n.tolist() == [2, 2] and u.tolist() == [3.0, 12.0]  # [0.25, 0.375), [0.375, 0.5): 0.5 is outside
    rh, shard, row, ru = rows
    assert rh.tolist() == [0.25, 0.3, 0.375, 0.4999] and row.tolist() == [0, 1, 2, 3]
    assert set(shard.tolist()) == {3} and ru.tolist() == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("strict", [False, True])
def test_find_counts_units_exactly_through_ties_and_zero_unit_documents(strict):
    # two shards' rows of one fetched bin, ranked by (h, shard, row); units 0 make cum stay on the threshold
    rows = [
        (np.array([0.1, 0.3, 0.3]), np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([2.0, 0.0, 3.0])),
        (np.array([0.2, 0.3]), np.array([1, 1]), np.array([0, 1]), np.array([3.0, 1.0])),
    ]
    # ranking: 0.1 (2) → 0.2 (3) → 0.3 s0 r1 (0) → 0.3 s0 r2 (3) → 0.3 s1 r1 (1); cum from 10: 12, 15, 15, 18, 19
    f = _find(rows, 7, 10.0, 15.0, strict)
    if strict:  # the first document past 15
        assert (f.k, f.cum, f.below, f.key) == (10, 18.0, 15.0, (0.3, 0, 2))
    else:  # the first document reaching 15
        assert (f.k, f.cum, f.below, f.key) == (8, 15.0, 12.0, (0.2, 1, 0))
    assert _find(rows, 7, 10.0, 19.5, strict) is None  # never reached


def test_a_cut_selects_the_prefix_of_the_ranking():
    h = np.array([0.1, 0.2, 0.2, 0.3])
    rows = np.array([0, 1, 2, 3])
    at = Cut((0.2, 5, 1))
    assert at.select(h, 5, rows).tolist() == [True, False, False, False]
    assert Cut((0.2, 5, 1), inclusive=True).select(h, 5, rows).tolist() == [True, True, False, False]
    assert at.select(h, 4, rows).tolist() == [True, True, True, False]  # an earlier shard: all ties before
    assert at.select(h, 6, rows).tolist() == [True, False, False, False]
    assert Cut(everything=True).select(h, 0, rows).all() and not Cut().select(h, 0, rows).any()
