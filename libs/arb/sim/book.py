"""One instrument's order book: price levels (FIFO of resting orders and their total) and its update ids.

Every engine mutation of a book increments ``Book.update_id`` by exactly one; a ``BookChange`` covers
``first_id..last_id`` with absolute level totals (0 = removed). Only ``matching`` mutates a book.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from .model import ZERO, Instrument, SimOrder


class BookChange:
    """Absolute totals at the levels changed by updates first_id..last_id (qty 0 = level removed).

    ``bids`` best (highest) first, ``asks`` best (lowest) first.
    """

    __slots__ = ("asks", "bids", "first_id", "inst", "last_id", "ts_ns")

    def __init__(self, inst: Instrument, first_id: int, last_id: int, bids: list[tuple[Decimal, Decimal]],
                 asks: list[tuple[Decimal, Decimal]], ts_ns: int) -> None:
        self.inst = inst
        self.first_id = first_id
        self.last_id = last_id
        self.bids = bids
        self.asks = asks
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"BookChange({self.inst.venue_symbol} {self.first_id}..{self.last_id} bids={self.bids} asks={self.asks})"


class Level:
    __slots__ = ("orders", "price", "total")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.orders: deque[SimOrder] = deque()
        self.total = ZERO


class Book:
    """One instrument's order book. Prices sorted ascending on both sides (best bid last, best ask first)."""

    __slots__ = (
        "_batch",
        "_dirty_asks",
        "_dirty_bids",
        "_first",
        "_muts",
        "ask_prices",
        "asks",
        "bid_prices",
        "bids",
        "inst",
        "update_id",
        "update_ns",
    )

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.update_id = 0
        self.update_ns = 0
        self.bids: dict[Decimal, Level] = {}
        self.asks: dict[Decimal, Level] = {}
        self.bid_prices: list[Decimal] = []
        self.ask_prices: list[Decimal] = []
        self._first = 0  # first update id of the change being collected, 0 = none pending
        self._dirty_bids: set[Decimal] = set()
        self._dirty_asks: set[Decimal] = set()
        self._batch = 0
        self._muts = 0  # level mutations so far (an action that changes it gets a new update id)

    def depth(self, limit: int = 100) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(update_id, bids best first, asks best first), at most ``limit`` levels a side."""
        bp = self.bid_prices
        bids = [(p, self.bids[p].total) for p in reversed(bp[-limit:])] if limit > 0 else []
        asks = [(p, self.asks[p].total) for p in self.ask_prices[:limit]] if limit > 0 else []
        return self.update_id, bids, asks

    def best(self) -> tuple[Decimal | None, Decimal, Decimal | None, Decimal]:
        """(bid price, bid qty, ask price, ask qty); a missing side is (None, 0)."""
        if self.bid_prices:
            bp = self.bid_prices[-1]
            bq = self.bids[bp].total
        else:
            bp, bq = None, ZERO
        if self.ask_prices:
            ap = self.ask_prices[0]
            aq = self.asks[ap].total
        else:
            ap, aq = None, ZERO
        return bp, bq, ap, aq

    def best_bid(self) -> Decimal | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> Decimal | None:
        return self.ask_prices[0] if self.ask_prices else None

    def mid(self) -> Decimal | None:
        if self.bid_prices and self.ask_prices:
            return (self.bid_prices[-1] + self.ask_prices[0]) / 2
        return None

    def orders(self) -> Iterator[SimOrder]:
        for p in self.bid_prices:
            yield from self.bids[p].orders
        for p in self.ask_prices:
            yield from self.asks[p].orders

    # -- mutation helpers (engine only) ----------------------------------------------------------
    def _add(self, o: SimOrder) -> None:
        p = o.price
        assert p is not None
        if o.is_buy:
            lv = self.bids.get(p)
            if lv is None:
                lv = self.bids[p] = Level(p)
                bisect.insort(self.bid_prices, p)
            self._dirty_bids.add(p)
        else:
            lv = self.asks.get(p)
            if lv is None:
                lv = self.asks[p] = Level(p)
                bisect.insort(self.ask_prices, p)
            self._dirty_asks.add(p)
        lv.orders.append(o)
        lv.total += o.left
        self._muts += 1

    def _remove(self, o: SimOrder) -> None:
        """Take a resting order out of its level (cancel)."""
        p = o.price
        levels, prices, dirty = (self.bids, self.bid_prices, self._dirty_bids) if o.is_buy else \
            (self.asks, self.ask_prices, self._dirty_asks)
        lv = levels[p]
        lv.orders.remove(o)
        lv.total -= o.left
        dirty.add(p)
        self._muts += 1
        if not lv.orders:
            del levels[p]
            del prices[bisect.bisect_left(prices, p)]

    def _touch(self) -> None:
        """Count one mutation: a new update id."""
        self.update_id += 1
        if not self._first:
            self._first = self.update_id

    def _take_change(self, ts: int) -> BookChange | None:
        if not self._first:
            return None
        bids_l, asks_l = self.bids, self.asks
        bids = [(p, bids_l[p].total if p in bids_l else ZERO) for p in sorted(self._dirty_bids, reverse=True)]
        asks = [(p, asks_l[p].total if p in asks_l else ZERO) for p in sorted(self._dirty_asks)]
        ch = BookChange(self.inst, self._first, self.update_id, bids, asks, ts)
        self._first = 0
        self._dirty_bids.clear()
        self._dirty_asks.clear()
        self.update_ns = ts
        return ch
