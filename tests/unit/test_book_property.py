"""L2Book against a trivially correct reference (a dict per side, sorted on read), compiled and Python paths alike."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from arb.core.market_data import Level
from arb.venues.common import book as book_mod
from arb.venues.common.book import L2Book
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

try:
    from arb.venues.common._book import apply_frame as compiled_frame
except ImportError:  # built without a C compiler; .ci/run insists on the compiled one where a compiler is
    compiled_frame = None

needs_compiled = pytest.mark.skipif(compiled_frame is None, reason="arb.venues.common._book was not built")
Frame = Callable[..., None]
IMPLS = [
    pytest.param(book_mod._apply_frame_py, id="python"),
    pytest.param(compiled_frame, id="compiled", marks=needs_compiled),
]


class RefBook:
    """The obvious book: price -> size per side, sorted whenever it is read."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}

    @staticmethod
    def _apply(side: dict[float, float], updates: list[Any]) -> None:
        for p, s in updates:
            p, s = float(p), float(s)
            if s > 0.0:
                side[p] = s
            else:
                side.pop(p, None)

    def apply(self, bids: list[Any], asks: list[Any]) -> None:
        self._apply(self.bids, bids)
        self._apply(self.asks, asks)

    def replace(self, bids: list[Any], asks: list[Any]) -> None:
        self.bids = {float(p): float(s) for p, s in bids if float(s) > 0.0}
        self.asks = {float(p): float(s) for p, s in asks if float(s) > 0.0}

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        return (
            [Level(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[: max(n, 0)]],
            [Level(p, self.asks[p]) for p in sorted(self.asks)[: max(n, 0)]],
        )


def _same(book: L2Book, ref: RefBook, n: int) -> None:
    assert book.bids == ref.bids and book.asks == ref.asks
    assert book._bid_px == sorted(ref.bids) and book._ask_px == sorted(ref.asks)
    assert book.top(n) == ref.top(n)
    assert book.depth() == (len(ref.bids), len(ref.asks))
    rb, ra = ref.top(1)
    assert book.best_bid() == (rb[0] if rb else None) and book.best_ask() == (ra[0] if ra else None)
    assert book.is_crossed() == bool(rb and ra and rb[0].price >= ra[0].price)


def _apply_with(impl: Frame, book: L2Book, bids: list[Any], asks: list[Any]) -> None:
    impl(book.bids, book._bid_px, book.asks, book._ask_px, bids, asks)


# prices on a small grid so that updates hit existing levels, deletes find them and inserts land in between
_ticks = st.integers(min_value=0, max_value=60)
_float_sizes = st.one_of(
    st.just(0.0), st.just(-0.0), st.just(-1.0), st.just(math.nan),
    st.floats(min_value=1e-8, max_value=1e3, allow_nan=False),
)
_float_level = st.tuples(_ticks.map(lambda t: 100.0 + t * 0.25), _float_sizes)
# the venue's decimal strings, one price in several spellings ("100.5", "100.50", "100.500")
_str_price = st.tuples(_ticks, st.integers(0, 2)).map(lambda x: f"{100 + x[0] * 0.25:.{2 + x[1]}f}")
_str_size = st.one_of(
    st.sampled_from(["0", "0.0", "0.00000000", "-1"]),
    st.decimals(min_value="0.00000001", max_value="1000", places=8).map(str),
)
_str_level = st.tuples(_str_price, _str_size)


def _ops(level: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    side = st.lists(level, max_size=8)
    op = st.one_of(
        st.tuples(st.just("apply"), side, side),
        st.tuples(st.just("replace"), st.lists(level, max_size=30), st.lists(level, max_size=30)),
        st.tuples(st.just("top"), st.integers(-1, 40)),
    )
    return st.lists(op, max_size=60)


def _run(impl: Frame | None, ops: list[Any]) -> None:
    book, ref = L2Book(), RefBook()
    for op in ops:
        if op[0] == "apply":
            if impl is None:
                book.apply(op[1], op[2])
            else:
                _apply_with(impl, book, op[1], op[2])
            ref.apply(op[1], op[2])
            _same(book, ref, 5)
        elif op[0] == "replace":
            book.replace(op[1], op[2])
            ref.replace(op[1], op[2])
            _same(book, ref, 5)
        else:
            assert book.top(op[1]) == ref.top(op[1])


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=150, deadline=None)
@given(ops=_ops(_float_level))
def test_float_levels_match_reference(impl: Frame, ops: list[Any]) -> None:
    """Float levels: every apply/replace/top sequence leaves the book equal to the reference."""
    _run(impl, ops)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=150, deadline=None)
@given(ops=_ops(_str_level))
def test_decimal_string_levels_match_reference(impl: Frame, ops: list[Any]) -> None:
    """Decimal-string levels (several spellings of one price): the book equals the reference after every step."""
    _run(impl, ops)


@settings(max_examples=100, deadline=None)
@given(ops=_ops(st.one_of(_float_level, _str_level)))
def test_book_apply_matches_reference(ops: list[Any]) -> None:
    """L2Book.apply, whichever implementation IMPL names, equals the reference on mixed floats and strings."""
    _run(None, ops)


@pytest.mark.parametrize("impl", IMPLS)
def test_long_random_run_matches_reference(impl: Frame) -> None:
    """20,000 random frames on a 1000-level book (updates, inserts, deletes, misses) end equal to the reference."""
    rng = random.Random(7)
    book, ref = L2Book(), RefBook()
    snap_b = [(f"{100 - i * 0.01:.2f}", "1.5") for i in range(1000)]
    snap_a = [(f"{101 + i * 0.01:.2f}", "1.5") for i in range(1000)]
    book.replace(snap_b, snap_a)
    ref.replace(snap_b, snap_a)
    for i in range(20_000):
        frame: tuple[list[Any], list[Any]] = ([], [])
        for _ in range(rng.randint(0, 6)):
            side = rng.random() < 0.5
            p = (100 - rng.randint(0, 1200) * 0.01) if side else (101 + rng.randint(0, 1200) * 0.01)
            s = 0.0 if rng.random() < 0.2 else rng.random() * 3
            frame[0 if side else 1].append((p, s) if i % 2 else (f"{p:.2f}", f"{s:.8f}"))
        _apply_with(impl, book, *frame)
        ref.apply(*frame)
        if i % 1000 == 0:
            _same(book, ref, 20)
    _same(book, ref, 20)


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_level_raises_after_applying_earlier_ones(impl: Frame) -> None:
    """A level that is not a number raises ValueError; the levels before it are applied, the rest are not."""
    book = L2Book()
    with pytest.raises(ValueError):
        _apply_with(impl, book, [("10", "1"), ("x", "1"), ("9", "1")], [("11", "1")])
    assert book.bids == {10.0: 1.0} and book._bid_px == [10.0] and book.asks == {}
    with pytest.raises(ValueError):
        _apply_with(impl, book, [("10", "abc")], [])
    assert book.bids == {10.0: 1.0}
    with pytest.raises((TypeError, ValueError)):
        _apply_with(impl, book, [("10", "1", "2")], [])


@pytest.mark.parametrize("impl", IMPLS)
def test_sequences_of_lists_and_tuples_and_ints_are_levels(impl: Frame) -> None:
    """A level may be any (price, size) pair: a tuple, a list, ints, floats or strings."""
    book = L2Book()
    _apply_with(impl, book, [[10, 1], (9.5, "2")], iter([("11", 3)]))
    assert book.top(5) == ([Level(10.0, 1.0), Level(9.5, 2.0)], [Level(11.0, 3.0)])
    assert all(type(p) is float for p in book._bid_px + book._ask_px)
