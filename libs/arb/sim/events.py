"""Event fan-out of one venue market's engine: who listens, what one engine action changed, and the order in
which listeners hear about it (specs/sim-engine.md and the ``arb.sim.engine`` module doc).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.enums import Market

if TYPE_CHECKING:
    from .accounts import Account, Pos
    from .book import Book
    from .model import PublicTrade, SimFill, SimOrder

LISTENER_METHODS = ("on_book", "on_trade", "on_order", "on_fill", "on_balance", "on_position", "on_funding",
                     "on_mark")


class Action:
    """What one engine action changed, for the listener calls at its end."""

    __slots__ = ("balances", "fills", "orders", "positions", "trades")

    def __init__(self) -> None:
        self.fills: list[SimFill] = []
        self.orders: dict[int, SimOrder] = {}  # id(order) -> counterparty orders that changed
        self.balances: dict[tuple[int, str], tuple[Account, str]] = {}
        self.positions: dict[int, Pos] = {}
        self.trades: list[PublicTrade] = []


class Listeners:
    """The listeners of one venue market by method name, and the calls at the end of each engine action."""

    def __init__(self, market: Market, clock_ns: Callable[[], int], stats: dict[str, int]) -> None:
        self.market = market
        self.clock_ns = clock_ns
        self.stats = stats
        self.objects: list[Any] = []
        self.by_method: dict[str, list[Callable[..., None]]] = {m: [] for m in LISTENER_METHODS}

    def add(self, listener: Any) -> None:
        """Register an object with any of on_book/on_trade/on_order/on_fill/on_balance/on_position/on_funding/on_mark."""
        self.objects.append(listener)
        for m in LISTENER_METHODS:
            fn = getattr(listener, m, None)
            if fn is not None:
                self.by_method[m].append(fn)

    def remove(self, listener: Any) -> None:
        if listener in self.objects:
            self.objects.remove(listener)
        for m in LISTENER_METHODS:
            fn = getattr(listener, m, None)
            if fn is not None and fn in self.by_method[m]:
                self.by_method[m].remove(fn)

    def flush_book(self, book: Book) -> None:
        ch = book._take_change(self.clock_ns())
        if ch is not None:
            self.stats["book_changes"] += 1
            for fn in self.by_method["on_book"]:
                fn(ch)

    def emit(self, act: Action, order: SimOrder | None, book: Book | None) -> None:
        L = self.by_method
        if act.fills:
            for fn in L["on_fill"]:
                for f in act.fills:
                    fn(f)
        if act.orders:
            for fn in L["on_order"]:
                for m in act.orders.values():
                    fn(m)
        if order is not None and not order.account.internal:
            for fn in L["on_order"]:
                fn(order)
        if act.balances:
            fns = L["on_balance"]
            for a, asset in act.balances.values():
                bal = a.bal(self.market, asset).copy()
                for fn in fns:
                    fn(a, asset, bal)
        if act.positions:
            for fn in L["on_position"]:
                for p in act.positions.values():
                    fn(p.account, p)
        if act.trades:
            for fn in L["on_trade"]:
                for t in act.trades:
                    fn(t)
        if book is not None and not book._batch:
            self.flush_book(book)
