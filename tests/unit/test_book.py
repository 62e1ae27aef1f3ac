"""L2Book: absolute level updates, snapshots, top-N ordering, crossed detection."""

import pytest
from arb.core.market_data import Level
from arb.venues.common.book import L2Book

pytestmark = pytest.mark.unit


def _book() -> L2Book:
    b = L2Book()
    b.replace(
        [("117053.41", "1.86837271"), ("117053.40", "0.5"), ("117050.00", "2")],
        [("117145.49", "0.3"), ("117146.00", "1"), ("117150.00", "4")],
        seq=43296363236,
    )
    return b


def test_replace_sets_levels_and_seq() -> None:
    """A snapshot replaces both sides and the sequence."""
    b = _book()
    assert b.seq == 43296363236
    assert b.depth() == (3, 3)
    assert b.best_bid() == Level(117053.41, 1.86837271)
    assert b.best_ask() == Level(117145.49, 0.3)


def test_replace_ignores_zero_levels_and_drops_old_ones() -> None:
    """A second snapshot forgets every level of the first; zero sizes in a snapshot are not levels."""
    b = _book()
    b.replace([("1.17", "201.863"), ("1.16", "0")], [("1.52", "1.151")], seq=123456)
    assert b.depth() == (1, 1)
    assert b.top(5) == ([Level(1.17, 201.863)], [Level(1.52, 1.151)])


def test_apply_updates_inserts_and_deletes() -> None:
    """Sizes are absolute: a size replaces the level, a zero size removes it."""
    b = _book()
    b.apply([("117053.41", "0.1"), ("117053.45", "3")], [("117145.49", "0"), ("117147.5", "2")])
    bids, asks = b.top(10)
    assert bids == [Level(117053.45, 3.0), Level(117053.41, 0.1), Level(117053.40, 0.5), Level(117050.0, 2.0)]
    assert asks == [Level(117146.0, 1.0), Level(117147.5, 2.0), Level(117150.0, 4.0)]


def test_same_price_in_different_spellings_is_one_level() -> None:
    """Keys come from float(): '92877.58' and '92877.580' are the same level."""
    b = L2Book()
    b.apply([("92877.58", "1")], [])
    b.apply([("92877.580", "2")], [])
    assert b.top(5)[0] == [Level(92877.58, 2.0)]
    b.apply([("92877.5800", "0.00000000")], [])
    assert b.depth() == (0, 0)


def test_deleting_unknown_level_is_noop() -> None:
    """A zero size at a price we do not hold (outside the snapshot depth) changes nothing."""
    b = _book()
    b.apply([("1.0", "0")], [("999999", "0")])
    assert b.depth() == (3, 3)


def test_top_n_limits_and_orders_sides() -> None:
    """top(n) returns the best n bids descending and the best n asks ascending."""
    b = L2Book()
    b.apply([(str(100 - i), "1") for i in range(30)], [(str(101 + i), "1") for i in range(30)])
    bids, asks = b.top(20)
    assert [lv.price for lv in bids] == [float(100 - i) for i in range(20)]
    assert [lv.price for lv in asks] == [float(101 + i) for i in range(20)]
    assert b.top(0) == ([], [])


def test_empty_book_has_no_best_and_is_not_crossed() -> None:
    """An empty book has no best level and is not crossed."""
    b = L2Book()
    assert b.best_bid() is None and b.best_ask() is None
    assert not b.is_crossed()


def test_is_crossed_on_locked_and_crossed_books() -> None:
    """Bid >= ask is crossed (a venue's own book is never locked)."""
    b = _book()
    assert not b.is_crossed()
    b.apply([("117145.49", "1")], [])
    assert b.is_crossed()
    b.apply([("117145.49", "0")], [])
    assert not b.is_crossed()
    b.apply([("117200", "1")], [])
    assert b.is_crossed()


def test_set_bid_and_ask_with_floats() -> None:
    """set_bid/set_ask take floats directly and follow the same rules."""
    b = L2Book()
    b.set_bid(10.0, 1.0)
    b.set_ask(11.0, 2.0)
    b.set_ask(11.0, 0.0)
    assert b.top(1) == ([Level(10.0, 1.0)], [])


def test_apply_accepts_float_pairs() -> None:
    """Already-parsed float pairs are accepted as well as decimal strings."""
    b = L2Book()
    b.apply([(10.5, 1.0)], [[11.5, 2.0]])
    assert b.top(1) == ([Level(10.5, 1.0)], [Level(11.5, 2.0)])


def test_clear_empties_book() -> None:
    """clear() drops every level and the sequence."""
    b = _book()
    b.clear()
    assert len(b) == 0 and b.seq == 0


def test_impl_names_the_path_apply_takes() -> None:
    """IMPL is "compiled" when the extension was built, else "python"; apply runs that path."""
    from arb.venues.common import book

    assert book.IMPL in ("compiled", "python")
    assert (book._apply_frame is book._apply_frame_py) == (book.IMPL == "python")


def test_python_fallback_applies_like_the_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the extension absent, apply gives the same book (here the sizes-are-absolute example)."""
    from arb.venues.common import book

    monkeypatch.setattr(book, "_apply_frame", book._apply_frame_py)
    b = _book()
    b.apply([("117053.41", "0.1"), ("117053.45", "3")], [("117145.49", "0"), ("117147.5", "2")])
    bids, asks = b.top(10)
    assert bids == [Level(117053.45, 3.0), Level(117053.41, 0.1), Level(117053.40, 0.5), Level(117050.0, 2.0)]
    assert asks == [Level(117146.0, 1.0), Level(117147.5, 2.0), Level(117150.0, 4.0)]


def test_apply_side_updates_a_dict_and_its_sorted_prices() -> None:
    """apply_side, for books with the same layout, updates one side's dict and ascending price list."""
    from arb.venues.common.book import apply_side

    levels: dict[float, float] = {}
    px: list[float] = []
    apply_side(levels, px, [(2.0, 1.0), ("1", "3"), (3.0, 1.0), ("2.0", "0")])
    assert levels == {1.0: 3.0, 3.0: 1.0} and px == [1.0, 3.0]
