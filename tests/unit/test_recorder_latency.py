"""The latency histograms (arb.core.latency): buckets, the stored form, the rollup rows of a batch, percentiles.
Checked against plain Python (a dict of Counters, numpy's percentile) over generated batches."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
from arb.core import latency as L
from hypothesis import given, settings
from hypothesis import strategies as st

MIGRATION = Path(L.__file__).parents[1] / "recorder" / "migrations" / "0005_feed_latency.sql"
LIMIT = int(L.BOUNDS[-1])
_BOUNDS = L.BOUNDS.tolist()


def test_the_migrations_bounds_are_the_modules():
    """PostgreSQL's latency_code uses the same bounds, so the SQL backfill and the writer agree to the bucket."""
    found = re.search(r"width_bucket\(abs\(\$1\), '\{([0-9,]+)\}'::bigint\[\]\)", MIGRATION.read_text())
    assert found is not None
    assert [int(x) for x in found.group(1).split(",")] == L.BOUNDS.tolist()


def test_codes_at_the_edges_of_the_buckets():
    b = L.BOUNDS
    assert L.codes(np.array([0, 999, -999, 1000, -1000, int(b[1]) - 1, int(b[1]), LIMIT - 1, LIMIT, 10**15])).tolist() == [
        256, 256, 256, 257, 255, 257, 258, 256 + 239, 256 + 240, 256 + 240]
    assert L.VALUE[256] == 0.0
    assert L.VALUE[257] == math.sqrt(1000 * int(b[1]))


@given(st.lists(st.integers(-LIMIT + 1, LIMIT - 1), min_size=1, max_size=200))
def test_a_value_reads_back_within_the_half_bucket_and_codes_order_like_values(vs):
    v = np.array(sorted(vs), dtype=np.int64)
    c = L.codes(v)
    assert (np.diff(c) >= 0).all()
    back = L.VALUE[c]
    small = np.abs(v) < 1000
    assert (back[small] == 0).all()
    big = ~small
    assert (np.abs(back[big] - v[big]) <= L.ERROR * np.abs(v[big]) + 1e-6).all()
    assert (np.sign(back[big]) == np.sign(v[big])).all()


@given(st.lists(st.integers(1000, LIMIT - 1), min_size=1, max_size=300),
       st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_percentiles_are_those_of_the_values_read_back_and_within_the_half_bucket(vs, q):
    v = np.array(vs, dtype=np.int64)
    (got,) = L.percentiles(L.counts(L.encode(L.codes(v))), (q,))
    assert got == np.float64(np.percentile(L.VALUE[L.codes(v)], q * 100)) or math.isclose(
        got, float(np.percentile(L.VALUE[L.codes(v)], q * 100)), rel_tol=1e-12)
    exact = float(np.percentile(v.astype(np.float64), q * 100))
    assert abs(got - exact) <= L.ERROR * exact * (1 + 1e-9)


def test_an_empty_histogram_has_no_percentiles_and_concatenations_add_up():
    assert L.percentiles(L.counts(b""), (0.5, 0.99)) == [None, None]
    a, b = L.codes(np.array([5000, 5000, -3000])), L.codes(np.array([5000, 7, 10**9]))
    both = L.counts(L.encode(a) + L.encode(b))
    assert both.sum() == 6 and both[L.codes(np.array([5000]))[0]] == 3


def _reference(ex: list[int], sym: list[int], tev: list[int], tpub: list[int], trec: list[int]) -> dict[tuple, list]:
    """The rollup rows worked out in plain Python: {(exchange, symbol, minute ns): [n, Counter per series]}; the
    minute is ns_to_ts's (microsecond truncated toward zero, then floored), a code counts the bounds <= |d|."""
    want: dict[tuple, list] = {}
    for e, s, a, b, c in zip(ex, sym, tev, tpub, trec, strict=True):
        us = a // 1000 if a >= 0 else -(-a // 1000)
        w = want.setdefault((e, s, us // 60_000_000 * 60_000_000_000), [0, Counter(), Counter(), Counter()])
        w[0] += 1
        for j, d in enumerate((b - a, c - b, c - a)):
            k = sum(1 for bound in _BOUNDS if bound <= abs(d))
            w[1 + j][256 + (k if d > 0 else -k)] += 1
    return want


def _assert_rows(got: list[tuple], want: dict[tuple, list]) -> None:
    assert [g[:3] for g in got] == sorted(want)
    for g in got:
        w = want[g[:3]]
        assert g[3] == w[0]
        for j in range(3):
            c = L.counts(g[4 + j])
            assert {k: int(c[k]) for k in np.flatnonzero(c)} == dict(w[1 + j])


_rows = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(0, 5 * 60 * 10**9),
                           st.integers(-10**7, 10**10), st.integers(0, 10**10)), min_size=1, max_size=300)


@settings(max_examples=200)
@given(_rows, st.integers(0, 1))
def test_the_rollup_rows_of_a_batch_equal_a_plain_python_grouping(recs, per_row_rec):
    """One row per (exchange, symbol, minute of ts_event) in key order, n and the three histograms as Counters;
    ts_rec per batch (the writer's direct path) or per row (a staged merge's returned rows)."""
    t0 = 1_750_000_000 * 10**9
    ex = [r[0] for r in recs]
    sym = [r[1] for r in recs]
    tev = [t0 + r[2] for r in recs]
    tpub = [t + r[3] for t, r in zip(tev, recs, strict=True)]
    trec = [p + r[4] for p, r in zip(tpub, recs, strict=True)] if per_row_rec else t0 + 10**12
    got = L.rows(ex, sym, tev, tpub, trec)
    want = _reference(ex, sym, tev, tpub, trec if per_row_rec else [trec] * len(recs))
    _assert_rows(got, want)
    for g in got:
        for j in range(3):
            assert len(g[4 + j]) == 4 * len(want[g[:3]][1 + j])  # one pair per distinct code



def test_a_count_above_65535_is_split_over_pairs_of_its_code():
    h = np.zeros(L.CODES, dtype=np.int64)
    h[300], h[301], h[17] = 65_535, 200_000, 1
    blob = L.from_counts(h)
    pairs = np.frombuffer(blob, dtype=L.PAIR)
    assert [(int(c), int(n)) for c, n in pairs] == [(17, 1), (300, 65_535), (301, 65_535), (301, 65_535),
                                                    (301, 65_535), (301, 3_395)]
    assert (L.counts(blob) == h).all()
    many = np.full(70_000, 301)  # one batch's codes: the same split
    assert L.encode(many) == L.from_counts(np.bincount(many, minlength=L.CODES))
    (row,) = L.rows([1] * 70_000, [2] * 70_000, [0] * 70_000, [5_000] * 70_000, 10_000)
    assert row[3] == 70_000 and L.counts(row[4])[L.codes(np.array([5_000]))[0]] == 70_000


def test_split_counts_in_a_batch_of_many_groups():
    n = 140_000
    ex, sym = [1] * n, [i % 2 for i in range(n)]
    (a, b) = L.rows(ex, sym, [0] * n, [5_000] * n, 10_000)
    for row in (a, b):
        assert row[3] == 70_000
        assert [int(x) for x in np.frombuffer(row[4], dtype=L.PAIR)["count"]] == [65_535, 4_465]


_stamp = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(10**12), 10**12))


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 2), st.integers(1, 2), _stamp, _stamp, _stamp), min_size=1, max_size=40))
def test_garbage_stamps_get_exact_codes_and_minutes_not_wrapped_ones(recs):
    """Stamps near int64's ends (a venue's garbage time): the differences are taken in Python integers, so
    ts_pub - ts_event beyond 2^63 lands in the top bucket (code 496), never wraps to a negative one; the minute is
    ns_to_ts's (truncated to the microsecond toward zero, then floored to the minute)."""
    ex, sym = [r[0] for r in recs], [r[1] for r in recs]
    tev, tpub, trec = [r[2] for r in recs], [r[3] for r in recs], [r[4] for r in recs]
    _assert_rows(L.rows(ex, sym, tev, tpub, trec), _reference(ex, sym, tev, tpub, trec))


@settings(max_examples=100)
@given(_rows)
def test_the_exact_path_equals_the_numpy_path_where_both_apply(recs):
    t0 = 1_750_000_000 * 10**9
    args = ([r[0] for r in recs], [r[1] for r in recs], [t0 - 10**14 + r[2] * 7 for r in recs],
            [t0 + r[3] for r in recs], t0 + 10**12)
    assert L.rows(*args) == L._rows_exact(*args)
