"""Mark and index prices, funding rates and their schedule, and funding settlement on futures positions.

The market (arb.sim.market) sets marks and rates; ``settle`` pays ``size*multiplier*mark*rate`` per position
(longs pay when the rate is > 0) from the USDT wallet through the positions the ``Ledger`` keeps.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal

from ..core.numeric import floor_to
from .accounts import Account, BookEntry, Ledger
from .events import Action, Listeners
from .model import ZERO, Instrument


class Funding:
    """Marks, indexes, funding rates, next settlement times and the settlement history of one venue market."""

    def __init__(self, symbols: Iterable[str], marks: dict[str, Decimal], ledger: Ledger, events: Listeners,
                 clock_ns: Callable[[], int]) -> None:
        symbols = list(symbols)
        self.ledger = ledger
        self.events = events
        self.clock_ns = clock_ns
        self.marks = marks
        self.indexes: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {s: ZERO for s in symbols}
        self.next_funding: dict[str, int] = {s: 0 for s in symbols}
        self.funding_history: dict[str, deque[tuple[int, Decimal]]] = {s: deque(maxlen=1000) for s in symbols}
        self.mark_shifts: dict[str, tuple[Decimal, int]] = {}  # venue symbol -> (factor, until ns): admin /admin/mark
        self._raw_marks: dict[str, Decimal] = {}  # the market's mark of a shifted symbol, before the shift
        self._book_ids = itertools.count(1)

    def shift_mark(self, i: Instrument, bps: Decimal, seconds: float) -> None:
        """Move the mark (not the book) by ``bps`` for ``seconds`` from now (admin); applied at once and to every
        mark the market sets meanwhile."""
        sym = i.venue_symbol
        raw = self._raw_marks.get(sym) if sym in self.mark_shifts else self.marks.get(sym)
        self.mark_shifts[sym] = (1 + bps / 10_000, self.clock_ns() + int(seconds * 1e9))
        if raw is not None:
            self.set_mark(i, raw, self.indexes.get(sym))

    def set_mark(self, i: Instrument, mark: Decimal, index: Decimal | None = None) -> None:
        sym = i.venue_symbol
        shift = self.mark_shifts.get(sym)
        if shift is not None:
            self._raw_marks[sym] = mark
            if self.clock_ns() < shift[1]:
                mark = floor_to(mark * shift[0], i.tick)
            else:
                del self.mark_shifts[sym]
        self.marks[i.venue_symbol] = mark
        if index is not None:
            self.indexes[i.venue_symbol] = index
        for p in self.ledger.positions_by_inst[i.venue_symbol].values():
            p.mark_price = mark
        for fn in self.events.by_method["on_mark"]:
            fn(i, mark, self.indexes.get(i.venue_symbol, mark))

    def set_rate(self, i: Instrument, rate: Decimal, next_ns: int | None = None) -> None:
        """Set the current funding rate (and next settlement time); fires on_funding."""
        self.funding_rates[i.venue_symbol] = Decimal(rate)
        if next_ns is not None:
            self.next_funding[i.venue_symbol] = next_ns
        for fn in self.events.by_method["on_funding"]:
            fn(i, self.funding_rates[i.venue_symbol])

    def settle(self, i: Instrument, rate: Decimal | None, mark: Decimal, next_ns: int | None = None
               ) -> list[tuple[Account, Decimal]]:
        """Settle funding now at ``mark``; [(account, amount credited)] (negative = charged).

        Fires on_balance/on_position per account, then on_funding once.
        """
        r = self.funding_rates[i.venue_symbol] if rate is None else Decimal(rate)
        ts = self.clock_ns()
        self.funding_history[i.venue_symbol].append((ts, r))
        market = self.ledger.market
        act = Action()
        out = []
        for p in self.ledger.positions_by_inst[i.venue_symbol].values():
            if not p.size or p.account.internal:
                continue
            p.mark_price = mark
            amount = -(p.size * i.multiplier * mark * r)
            b = p.account.bal(market, i.settle)
            b.available += amount
            p.account.futures_book.append(BookEntry(next(self._book_ids), ts, amount, b.total, "fund",
                                                    i.venue_symbol))
            p.pnl_fund += amount
            p.realised_pnl += amount
            act.balances[(id(p.account), i.settle)] = (p.account, i.settle)
            self.ledger.pos_touched(p, act, ts)
            out.append((p.account, amount))
        if next_ns is not None:
            self.next_funding[i.venue_symbol] = next_ns
        self.events.emit(act, None, None)
        for fn in self.events.by_method["on_funding"]:
            fn(i, self.funding_rates[i.venue_symbol])
        return out
