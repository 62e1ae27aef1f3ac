"""Venue-neutral matching engine of the simulator (see specs/sim-engine.md, the contract with the wire layers).

One ``VenueExchange`` per venue market (MEXC spot, Gate spot, Gate USDT perpetual). Synchronous: the wire
layers call it from aiohttp handlers and the market task calls it between awaits, so every call sees and
leaves a consistent state (a REST depth's ``update_id`` always matches its levels).

Money is ``Decimal`` throughout. Spot quantities are base; futures quantities are contracts of
``Instrument.multiplier`` base each.

Books: price-time priority, one ``Level`` (FIFO of resting orders and its total) per price. Every engine
mutation of a book (a placement that rests or trades, a cancel) increments ``Book.update_id`` by exactly
one. A ``BookChange`` covers ``first_id..last_id``: one id for a client action, several when the market's
makers re-quote inside ``VenueExchange.batch(inst)``; its levels are absolute totals (0 = removed).

Balances (spot): placing locks what the order may spend (limit buy ``qty*price`` quote, market buy its
quote amount or the cost of walking the book, sells their base qty); fills spend from the lock and refund
the difference at once; a finished order refunds what is left. Fees are charged on the asset received
(buyer pays base, seller pays quote), at the maker or taker rate; a negative rate is a rebate.

Futures (USDT-margined, one-way positions): opening an order locks ``open_contracts*price*multiplier /
leverage`` (leverage 0 = cross, margined at ``cross_leverage``); fills turn that into position margin;
reducing realises PnL ``contracts*multiplier*(price-entry)`` and frees margin pro rata; fees and funding
are paid from the USDT wallet. Unrealised PnL is on the mark price the market sets.

Internal accounts (background liquidity) skip all balance and position bookkeeping and produce no
private listener events.

Listener events for one client action come in this order: ``on_order`` (ack: open, nothing filled),
``on_fill`` for each of its fills and each counterparty's fill, ``on_order`` for each counterparty order
that changed, ``on_order`` (the order's final state for this action), ``on_balance`` per changed
(account, asset), ``on_position`` per changed position, then ``on_trade`` per public trade and
``on_book`` (one ``BookChange``). Objects passed to listeners are live (``SimOrder``, ``Pos``) and keep
changing: a listener serialises what it needs at once. ``Bal`` passed to ``on_balance`` is a copy.

Layout, one module per concern (this module wires them and keeps every name importable from here):
``model`` (Instrument, SimOrder, SimFill, PublicTrade, SimReject), ``book`` (Book, Level, BookChange),
``matching`` (order entry, price-time matching, trades, cancels), ``accounts`` (Bal, Pos, Account,
AccountBook and the Ledger: locks, fill settlement, positions and margin), ``funding`` (marks, indexes,
funding rates and settlement), ``events`` (listeners and the order of their calls).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from ..core.clock import now_ns
from ..core.enums import Market, Venue
from .accounts import Account, AccountBook, Bal, Ledger, Pos
from .book import Book, BookChange, Level
from .events import LISTENER_METHODS, Action, Listeners
from .funding import Funding
from .matching import Matcher
from .model import (
    KEEP_FINISHED,
    KEEP_PUBLIC_TRADES,
    KINDS,
    ONE,
    REJECT_REASONS,
    SIDES,
    TIFS,
    ZERO,
    Instrument,
    PublicTrade,
    SimFill,
    SimOrder,
    SimReject,
)

_LISTENER_METHODS = LISTENER_METHODS
_Action = Action


class VenueExchange:
    """The engine for one venue market: matching, accounts and margin, funding and event fan-out, wired together.

    State lives in the part that owns it; the attributes below are those parts' own dicts, kept here for the
    wire layers and the market (``books``, ``last_price``, ``funding_history``, ...).
    """

    def __init__(self, venue: Venue | str, market: Market | str, instruments: Iterable[Instrument],
                 clock_ns: Callable[[], int] = now_ns, default_leverage: int = 10, cross_leverage: int = 10,
                 order_id_start: int = 0, trade_id_start: int = 0, funding_interval_s: int = 28800) -> None:
        self.venue = Venue(venue)
        self.market = Market(market)
        self.is_futures = self.market is Market.FUTURES
        self.instruments: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.venue is not self.venue or inst.market is not self.market:
                raise ValueError(f"{inst!r} does not belong to {self.venue.value} {self.market.value}")
            self.instruments[inst.venue_symbol] = inst
        self.clock_ns = clock_ns
        self.funding_interval_s = funding_interval_s
        self.stats = {"orders": 0, "fills": 0, "trades": 0, "book_changes": 0}
        self.events = Listeners(self.market, clock_ns, self.stats)
        self.marks: dict[str, Decimal] = {}
        self.ledger = Ledger(self.market, self.instruments, self.marks, clock_ns, default_leverage, cross_leverage)
        self.funding = Funding(self.instruments, self.marks, self.ledger, self.events, clock_ns)
        self.matching = Matcher(self.venue, self.market, self.instruments, self.ledger, self.events, clock_ns,
                                self.stats, order_id_start, trade_id_start)
        m, f = self.matching, self.funding
        self.books: dict[str, Book] = m.books
        self.last_trade_id = m.last_trade_id
        self.trades = m.trades
        self.last_price = m.last_price
        self.volume_24h = m.volume_24h
        self.indexes = f.indexes
        self.funding_rates = f.funding_rates
        self.next_funding = f.next_funding
        self.funding_history = f.funding_history
        self._positions_by_inst = self.ledger.positions_by_inst
        self.listeners = self.events.objects
        self._l = self.events.by_method

    @property
    def default_leverage(self) -> int:
        return self.ledger.default_leverage

    @default_leverage.setter
    def default_leverage(self, value: int) -> None:
        self.ledger.default_leverage = value

    @property
    def cross_leverage(self) -> int:
        return self.ledger.cross_leverage

    @cross_leverage.setter
    def cross_leverage(self, value: int) -> None:
        self.ledger.cross_leverage = value

    # -- listeners ------------------------------------------------------------------------------------
    def add_listener(self, listener: Any) -> None:
        """Register an object with any of on_book/on_trade/on_order/on_fill/on_balance/on_position/on_funding/on_mark."""
        self.events.add(listener)

    def remove_listener(self, listener: Any) -> None:
        self.events.remove(listener)

    # -- lookups --------------------------------------------------------------------------------------
    def inst(self, inst: Instrument | str) -> Instrument:
        """Resolve an Instrument or a venue symbol; SimReject UNKNOWN_SYMBOL if not listed here."""
        if isinstance(inst, Instrument):
            if self.instruments.get(inst.venue_symbol) is not inst:
                raise SimReject("UNKNOWN_SYMBOL", f"{inst.venue_symbol} is not listed on {self.venue.value} {self.market.value}")
            return inst
        i = self.instruments.get(inst)
        if i is None:
            raise SimReject("UNKNOWN_SYMBOL", f"{inst!r} is not listed on {self.venue.value} {self.market.value}")
        return i

    def book(self, inst: Instrument | str) -> Book:
        return self.books[self.inst(inst).venue_symbol]

    def recent_trades(self, inst: Instrument | str, limit: int = 100) -> list[PublicTrade]:
        """Newest first."""
        dq = self.trades[self.inst(inst).venue_symbol]
        return list(itertools.islice(reversed(dq), max(0, limit)))

    def get_order(self, account: Account, inst: Instrument | str | None = None, order_id: str = "",
                  client_id: str = "") -> SimOrder:
        o = self.ledger.find(account, order_id, client_id)
        if o is None or (inst is not None and o.inst is not self.inst(inst)):
            raise SimReject("ORDER_NOT_FOUND", f"order {order_id or client_id!r} not found")
        return o

    def open_orders(self, account: Account, inst: Instrument | str | None = None) -> list[SimOrder]:
        i = self.inst(inst) if inst is not None else None
        return [o for o in account.open_orders.values()
                if o.inst.market is self.market and (i is None or o.inst is i)]

    def finished_orders(self, account: Account, inst: Instrument | str | None = None, limit: int = 100
                        ) -> list[SimOrder]:
        """Newest first."""
        i = self.inst(inst) if inst is not None else None
        out = []
        for o in reversed(account.finished.values()):
            if o.inst.market is self.market and (i is None or o.inst is i):
                out.append(o)
                if len(out) >= limit:
                    break
        return out

    def my_trades(self, account: Account, inst: Instrument | str | None = None, order_id: str = "",
                  limit: int = 100) -> list[SimFill]:
        """Newest first."""
        i = self.inst(inst) if inst is not None else None
        out = []
        for f in reversed(account.fills):
            if f.inst.market is not self.market or (i is not None and f.inst is not i):
                continue
            if order_id and f.order_id != order_id:
                continue
            out.append(f)
            if len(out) >= limit:
                break
        return out

    def balances(self, account: Account) -> dict[str, Bal]:
        """Copies of this market's wallet."""
        return {a: b.copy() for a, b in account.wallets[self.market].items()}

    def balance(self, account: Account, asset: str) -> Bal:
        return account.bal(self.market, asset).copy()

    def positions(self, account: Account) -> list[Pos]:
        """Every position of this account here, flat ones included once they existed."""
        self._require_futures()
        for p in account.positions.values():
            self.ledger.refresh_mark(p)
        return [p for p in account.positions.values() if p.inst.market is self.market]

    def position(self, account: Account, inst: Instrument | str) -> Pos:
        self._require_futures()
        p = self.ledger.pos(account, self.inst(inst))
        self.ledger.refresh_mark(p)
        return p

    def mark_price(self, inst: Instrument | str) -> Decimal:
        i = self.inst(inst)
        m = self.marks.get(i.venue_symbol)
        if m is None:
            m = self.book(i).mid() or self.last_price.get(i.venue_symbol, ZERO)
        return m

    def index_price(self, inst: Instrument | str) -> Decimal:
        i = self.inst(inst)
        return self.indexes.get(i.venue_symbol) or self.mark_price(i)

    def funding_rate(self, inst: Instrument | str) -> Decimal:
        return self.funding_rates[self.inst(inst).venue_symbol]

    def next_funding_ns(self, inst: Instrument | str) -> int:
        return self.next_funding[self.inst(inst).venue_symbol]

    # -- futures settings -----------------------------------------------------------------------------
    def set_leverage(self, account: Account, inst: Instrument | str, leverage: int) -> Pos:
        """Set leverage (0 = cross). Re-margins an open position; INSUFFICIENT_BALANCE if it cannot."""
        self._require_futures()
        i = self.inst(inst)
        act = Action()
        p = self.ledger.set_leverage(account, i, leverage, act)
        self.events.emit(act, None, None)
        return p

    # -- market-side hooks (called by arb.sim.market) --------------------------------------------------
    def set_mark(self, inst: Instrument | str, mark: Decimal, index: Decimal | None = None) -> None:
        self.funding.set_mark(self.inst(inst), mark, index)

    def set_funding(self, inst: Instrument | str, rate: Decimal, next_ns: int | None = None) -> None:
        """Set the current funding rate (and next settlement time); fires on_funding."""
        self.funding.set_rate(self.inst(inst), rate, next_ns)

    def apply_funding(self, inst: Instrument | str, rate: Decimal | None = None, next_ns: int | None = None
                      ) -> list[tuple[Account, Decimal]]:
        """Settle funding now: each position pays ``size*multiplier*mark*rate`` (longs pay when rate > 0).

        Returns [(account, amount credited)] (negative = charged). Fires on_balance/on_position per
        account, then on_funding once.
        """
        self._require_futures()
        i = self.inst(inst)
        return self.funding.settle(i, rate, self.mark_price(i), next_ns)

    @contextmanager
    def batch(self, inst: Instrument | str) -> Iterator[None]:
        """Coalesce every book mutation inside into one BookChange (first_id..last_id) at the end."""
        with self.matching.batch(self.book(inst)):
            yield

    # -- orders ---------------------------------------------------------------------------------------
    def place(self, account: Account, inst: Instrument | str, side: str, kind: str = "limit", tif: str = "gtc",
              qty: Decimal | str | int = ZERO, price: Decimal | str | None = None, client_id: str = "",
              quote_qty: Decimal | str | None = None, reduce_only: bool = False, close: bool = False) -> SimOrder:
        """Validate, lock funds, match at once, rest the remainder (gtc/poc). Raises SimReject."""
        return self.matching.place(account, self.inst(inst), side, kind, tif, qty, price, client_id, quote_qty,
                                   reduce_only, close)

    def cancel(self, account: Account, inst: Instrument | str | None = None, order_id: str = "",
               client_id: str = "") -> SimOrder:
        """Cancel an open order by id or client id; ORDER_NOT_FOUND / ORDER_CLOSED."""
        o = account.open_orders.get(order_id) if order_id else account.open_by_client.get(client_id) if client_id else None
        if o is None or o.inst.market is not self.market:
            done = self.ledger.find(account, order_id, client_id)
            if done is not None and done.inst.market is self.market:
                raise SimReject("ORDER_CLOSED", f"order {done.id} is already {done.status}")
            raise SimReject("ORDER_NOT_FOUND", f"order {order_id or client_id!r} not found")
        if inst is not None and o.inst is not self.inst(inst):
            raise SimReject("ORDER_NOT_FOUND", f"order {o.id} is not on {inst!r}")
        return self.matching.cancel(o)

    def cancel_all(self, account: Account, inst: Instrument | str | None = None, side: str | None = None
                   ) -> list[SimOrder]:
        return self.matching.cancel_all(account, self.inst(inst) if inst is not None else None, side)

    def cancel_internal(self, o: SimOrder) -> None:
        """Cancel a resting internal (maker) order; no private events."""
        self.matching.cancel_internal(o)

    # -- internals ------------------------------------------------------------------------------------
    def _require_futures(self) -> None:
        if not self.is_futures:
            raise SimReject("INVALID_PARAM", f"{self.venue.value} {self.market.value} has no positions")


__all__ = [
    "KEEP_FINISHED",
    "KEEP_PUBLIC_TRADES",
    "KINDS",
    "ONE",
    "REJECT_REASONS",
    "SIDES",
    "TIFS",
    "ZERO",
    "Account",
    "AccountBook",
    "Bal",
    "Book",
    "BookChange",
    "Instrument",
    "Level",
    "Pos",
    "PublicTrade",
    "SimFill",
    "SimOrder",
    "SimReject",
    "VenueExchange",
]
