"""L2 order book: price -> size per side, absolute level updates, cheap top-N.

Layout (measured in ``bench/bench_book.py``, chosen over ``sortedcontainers.SortedDict``): per side a
plain ``dict`` price -> size plus an ascending ``list`` of the prices kept sorted with ``bisect``.

* Updating the size of an existing level (the common case in a depth frame) is one dict probe and one
  dict store; the sorted list is not touched.
* A new level is one ``insort`` (C memmove of a few thousand pointers at most), a removed level one
  ``bisect`` + ``del``.
* ``top(n)`` slices the sorted list: O(n), no sorting on read.

Level updates (``apply``) run in ``_book.pyx`` when the extension was built at install (a C compiler and
Cython), else in ``_apply_side`` below; ``IMPL`` says which ("compiled" or "python"). Both work on the same
dict + list with the same results (tests/unit/test_book_property.py); measured in the same run by
``bench/bench_book.py``: ~0.2 us per level (floats) compiled, ~0.45-0.6 us in Python, where a bare inline
dict store + ``insort`` loop alone already costs ~0.4 us.

Prices and sizes are floats: market data is an observation (see ``arb.core.market_data``). Keys come
from the venue's decimal strings through ``float()``, which is deterministic, so the same string always
maps to the same key ("92877.58" and "92877.580" too). A size that parses to 0 deletes the level;
deleting a level we do not hold is a no-op (venues delete levels outside the snapshot depth).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...core.market_data import Level

try:
    from ._book import FlatApply as _FlatApply_c
    from ._book import ScaledApply as _ScaledApply_c
    from ._book import apply_book as _apply_book_c
    from ._book import apply_book_scaled as _apply_book_scaled_c
    from ._book import apply_frame as _apply_frame_c
    from ._book import apply_side as _apply_side_c
except ImportError:  # built without a C compiler; .ci/run insists on the compiled one where a compiler is
    _apply_frame_c = _apply_side_c = _apply_book_c = _apply_book_scaled_c = _ScaledApply_c = _FlatApply_c = None

PriceSize = Sequence[str | float]  # (price, size) as the venue's decimal strings or floats


class L2Book:
    """One instrument's local book. ``seq`` is the venue update id / version the book reflects."""

    __slots__ = ("_ask_px", "_bid_px", "asks", "bids", "seq")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self._bid_px: list[float] = []  # ascending; best bid is the last
        self._ask_px: list[float] = []  # ascending; best ask is the first
        self.seq = 0

    # ------------------------------------------------------------------ updates (hot path)

    def apply(self, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> None:
        """Apply absolute level updates: size replaces the level, size 0 removes it."""
        _apply_frame(self.bids, self._bid_px, self.asks, self._ask_px, bids, asks)

    def set_bid(self, price: float, size: float) -> None:
        _set(self.bids, self._bid_px, price, size)

    def set_ask(self, price: float, size: float) -> None:
        _set(self.asks, self._ask_px, price, size)

    def replace(self, bids: Iterable[PriceSize], asks: Iterable[PriceSize], seq: int | None = None) -> None:
        """Replace the whole book with a snapshot (zero-size levels in a snapshot are ignored)."""
        self.bids = b = {}
        self.asks = a = {}
        for p, s in bids:
            s = float(s)
            if s > 0.0:
                b[float(p)] = s
        for p, s in asks:
            s = float(s)
            if s > 0.0:
                a[float(p)] = s
        self._bid_px = sorted(b)
        self._ask_px = sorted(a)
        if seq is not None:
            self.seq = seq

    def clear(self) -> None:
        self.bids = {}
        self.asks = {}
        self._bid_px = []
        self._ask_px = []
        self.seq = 0

    # ------------------------------------------------------------------ reads

    def best_bid(self) -> Level | None:
        px = self._bid_px
        if not px:
            return None
        p = px[-1]
        return Level(p, self.bids[p])

    def best_ask(self) -> Level | None:
        px = self._ask_px
        if not px:
            return None
        p = px[0]
        return Level(p, self.asks[p])

    def best_bid_price(self) -> float | None:
        px = self._bid_px
        return px[-1] if px else None

    def best_ask_price(self) -> float | None:
        px = self._ask_px
        return px[0] if px else None

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """Best ``n`` levels per side: bids descending, asks ascending."""
        b = self.bids
        a = self.asks
        bp = self._bid_px
        return (
            [Level(p, b[p]) for p in bp[: -n - 1 : -1]] if n > 0 else [],
            [Level(p, a[p]) for p in self._ask_px[:n]] if n > 0 else [],
        )

    def is_crossed(self) -> bool:
        """Best bid >= best ask. A single venue's book is never locked or crossed, so this means corruption."""
        bp = self._bid_px
        ap = self._ask_px
        return bool(bp) and bool(ap) and bp[-1] >= ap[0]

    def depth(self) -> tuple[int, int]:
        return len(self.bids), len(self.asks)

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)

    def __repr__(self) -> str:
        return f"L2Book(seq={self.seq}, bids={len(self.bids)}, asks={len(self.asks)}, bbo={self.best_bid_price()}/{self.best_ask_price()})"


def _apply_side(levels: dict[float, float], px: list[float], updates: Iterable[PriceSize]) -> None:
    for p, s in updates:
        p = float(p)
        s = float(s)
        if s > 0.0:
            if p not in levels:
                insort(px, p)
            levels[p] = s
        elif p in levels:
            del levels[p]
            del px[bisect_left(px, p)]


def _apply_frame_py(
    bids: dict[float, float],
    bid_px: list[float],
    asks: dict[float, float],
    ask_px: list[float],
    bid_updates: Iterable[PriceSize],
    ask_updates: Iterable[PriceSize],
) -> None:
    _apply_side(bids, bid_px, bid_updates)
    _apply_side(asks, ask_px, ask_updates)


IMPL = "python" if _apply_frame_c is None else "compiled"
# one side's updates on a (price -> size dict, ascending price list) pair; for books that keep the same layout
apply_side = _apply_side if _apply_side_c is None else _apply_side_c
_apply_frame = _apply_frame_py if _apply_frame_c is None else _apply_frame_c


def _apply_book_py(book: L2Book, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> bool:
    _apply_frame(book.bids, book._bid_px, book.asks, book._ask_px, bids, asks)
    return book.is_crossed()


def _apply_scaled_side(levels: dict[float, float], px: list[float], updates: Iterable[object], div: float) -> None:
    for lv in updates:
        p = lv.p  # type: ignore[attr-defined]
        s = lv.s  # type: ignore[attr-defined]
        if s > 0.0:
            if p not in levels:
                insort(px, p)
            levels[p] = s / div
        elif p in levels:
            del levels[p]
            del px[bisect_left(px, p)]


def _apply_book_scaled_py(book: L2Book, bids: Iterable[object], asks: Iterable[object], div: float) -> bool:
    _apply_scaled_side(book.bids, book._bid_px, bids, div)
    _apply_scaled_side(book.asks, book._ask_px, asks, div)
    return book.is_crossed()


# a diff into a book, answering whether it came out crossed (``L2Book.apply`` then ``is_crossed``), in one call:
# ``apply_book(book, bids, asks)`` for (price, size) pairs; ``apply_book_scaled(book, bids, asks, div)`` for levels
# with ``.p`` / ``.s`` whose sizes are stored as ``s / div`` (Gate futures contracts -> base)
apply_book = _apply_book_py if _apply_book_c is None else _apply_book_c
apply_book_scaled = _apply_book_scaled_py if _apply_book_scaled_c is None else _apply_book_scaled_c


def scaled_apply(div: float, level_type: type | None = None) -> Callable[[L2Book, Any, Any], bool]:
    """``apply_book_scaled`` bound to ``div``, called as ``(book, bids, asks)`` (compiled: no Python frame per diff;
    levels of ``level_type``, a class whose ``p`` and ``s`` are slots such as a msgspec Struct, are read from them)."""
    if _ScaledApply_c is not None:
        return _ScaledApply_c(div, level_type)  # type: ignore[no-any-return]

    def apply(book: L2Book, bids: Any, asks: Any) -> bool:
        return _apply_book_scaled_py(book, bids, asks, div)

    return apply


def _apply_flat_side(levels: dict[float, float], px: list[float], flat: list[float], div: float) -> None:
    for j in range(0, len(flat) - 1, 2):
        p = float(flat[j])
        s = float(flat[j + 1])
        if s > 0.0:
            if p not in levels:
                insort(px, p)
            levels[p] = s / div if div != 1.0 else s
        elif p in levels:
            del levels[p]
            del px[bisect_left(px, p)]


def flat_apply(div: float = 1.0) -> Callable[[L2Book, list[float], list[float]], bool]:
    """How a diff read flat goes into the book, called as ``(book, bids, asks)`` with each side ``[price, size, price,
    size, ...]`` and sizes stored as ``size / div`` (1.0: as they are), answering whether the book came out crossed
    (``L2Book.apply`` then ``is_crossed``, in one compiled call where the extension was built)."""
    if _FlatApply_c is not None:
        return _FlatApply_c(div)  # type: ignore[no-any-return]

    def apply(book: L2Book, bids: list[float], asks: list[float]) -> bool:
        _apply_flat_side(book.bids, book._bid_px, bids, div)
        _apply_flat_side(book.asks, book._ask_px, asks, div)
        return book.is_crossed()

    return apply


def _set(levels: dict[float, float], px: list[float], p: float, s: float) -> None:
    if s > 0.0:
        if p not in levels:
            insort(px, p)
        levels[p] = s
    elif p in levels:
        del levels[p]
        del px[bisect_left(px, p)]


__all__ = [
    "IMPL", "L2Book", "Level", "PriceSize", "apply_book", "apply_book_scaled", "apply_side", "flat_apply", "scaled_apply",
]
