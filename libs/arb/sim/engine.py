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
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from ..core.clock import now_ns
from ..core.enums import Market, Venue
from ..core.numeric import floor_to

ZERO = Decimal(0)
ONE = Decimal(1)

REJECT_REASONS = (
    "INSUFFICIENT_BALANCE",
    "BELOW_MIN_QTY",
    "BELOW_MIN_NOTIONAL",
    "ABOVE_MAX_QTY",
    "INVALID_PRECISION",
    "POST_ONLY_WOULD_TAKE",
    "FOK_NOT_FILLED",
    "NO_LIQUIDITY",
    "UNKNOWN_SYMBOL",
    "DUPLICATE_CLIENT_ID",
    "ORDER_NOT_FOUND",
    "ORDER_CLOSED",
    "REDUCE_ONLY_VIOLATION",
    "INVALID_LEVERAGE",
    "INVALID_PARAM",
)

SIDES = ("buy", "sell")
KINDS = ("limit", "market")
TIFS = ("gtc", "ioc", "fok", "poc")

# how many finished client orders / fills each account keeps for queries
KEEP_FINISHED = 20_000
KEEP_PUBLIC_TRADES = 1_000


class SimReject(Exception):
    """The engine refused a request. ``reason`` is one of REJECT_REASONS; wire layers map it to venue codes."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message or reason


class Instrument:
    """Static rules of one instrument on one venue market (immutable after construction)."""

    __slots__ = (
        "base",
        "is_futures",
        "leverage_max",
        "maintenance_rate",
        "maker_fee",
        "market",
        "max_qty",
        "min_notional",
        "min_qty",
        "multiplier",
        "price_decimals",
        "qty_decimals",
        "quote",
        "settle",
        "step",
        "symbol",
        "taker_fee",
        "tick",
        "venue",
        "venue_symbol",
    )

    def __init__(
        self,
        venue: Venue | str,
        market: Market | str,
        venue_symbol: str,
        base: str,
        quote: str,
        tick: Decimal,
        step: Decimal,
        min_qty: Decimal,
        min_notional: Decimal = ZERO,
        max_qty: Decimal = ZERO,
        multiplier: Decimal = ONE,
        maker_fee: Decimal = ZERO,
        taker_fee: Decimal = ZERO,
        leverage_max: int = 100,
        maintenance_rate: Decimal = Decimal("0.005"),
    ) -> None:
        s = object.__setattr__
        s(self, "venue", Venue(venue))
        s(self, "market", Market(market))
        s(self, "venue_symbol", venue_symbol)
        s(self, "base", base)
        s(self, "quote", quote)
        s(self, "settle", quote)
        s(self, "symbol", f"{base}-{quote}")
        s(self, "tick", Decimal(tick))
        s(self, "step", Decimal(step))
        s(self, "min_qty", Decimal(min_qty))
        s(self, "min_notional", Decimal(min_notional))
        s(self, "max_qty", Decimal(max_qty))
        s(self, "multiplier", Decimal(multiplier))
        s(self, "maker_fee", Decimal(maker_fee))
        s(self, "taker_fee", Decimal(taker_fee))
        s(self, "leverage_max", int(leverage_max))
        s(self, "maintenance_rate", Decimal(maintenance_rate))
        s(self, "price_decimals", max(0, -self.tick.normalize().as_tuple().exponent))  # Gate `precision`
        s(self, "qty_decimals", max(0, -self.step.normalize().as_tuple().exponent))  # Gate `amount_precision`
        s(self, "is_futures", self.market is Market.FUTURES)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Instrument is immutable")

    def __repr__(self) -> str:
        return f"Instrument({self.venue.value} {self.market.value} {self.venue_symbol})"

    def notional(self, price: Decimal, qty: Decimal) -> Decimal:
        """Quote value of ``qty`` (contracts for futures) at ``price``."""
        return price * qty * self.multiplier


class Bal:
    """One asset of one wallet: available + locked."""

    __slots__ = ("available", "locked")

    def __init__(self, available: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        self.available = available
        self.locked = locked

    @property
    def total(self) -> Decimal:
        return self.available + self.locked

    def copy(self) -> Bal:
        return Bal(self.available, self.locked)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bal) and other.available == self.available and other.locked == self.locked

    def __repr__(self) -> str:
        return f"Bal(available={self.available}, locked={self.locked})"


class Pos:
    """A futures position (one-way mode). ``size`` is signed contracts: > 0 long, < 0 short."""

    __slots__ = (
        "account",
        "cross_leverage",
        "entry_price",
        "inst",
        "last_close_pnl",
        "leverage",
        "margin",
        "mark_price",
        "open_ns",
        "pnl_fee",
        "pnl_fund",
        "pnl_pnl",
        "realised_pnl",
        "size",
        "update_id",
        "update_ns",
    )

    def __init__(self, account: Account, inst: Instrument, leverage: int, cross_leverage: int) -> None:
        self.account = account
        self.inst = inst
        self.size = ZERO
        self.entry_price = ZERO
        self.leverage = leverage
        self.cross_leverage = cross_leverage
        self.margin = ZERO
        self.realised_pnl = ZERO
        self.pnl_pnl = ZERO
        self.pnl_fund = ZERO
        self.pnl_fee = ZERO
        self.last_close_pnl = ZERO
        self.mark_price = ZERO
        self.update_ns = 0
        self.update_id = 0
        self.open_ns = 0

    @property
    def effective_leverage(self) -> int:
        return self.leverage if self.leverage > 0 else self.cross_leverage

    @property
    def base_size(self) -> Decimal:
        return self.size * self.inst.multiplier

    @property
    def value(self) -> Decimal:
        """Position value at mark, in USDT (unsigned)."""
        return abs(self.size) * self.inst.multiplier * self.mark_price

    @property
    def unrealised_pnl(self) -> Decimal:
        if not self.size:
            return ZERO
        return self.size * self.inst.multiplier * (self.mark_price - self.entry_price)

    @property
    def liq_price(self) -> Decimal:
        """Isolated-margin estimate: where the loss eats the margin down to maintenance (0 when flat)."""
        if not self.size:
            return ZERO
        lev = Decimal(self.effective_leverage)
        mmr = self.inst.maintenance_rate
        if self.size > 0:
            return max(ZERO, self.entry_price * (ONE - ONE / lev + mmr))
        return self.entry_price * (ONE + ONE / lev - mmr)

    def __repr__(self) -> str:
        return f"Pos({self.inst.venue_symbol} size={self.size} entry={self.entry_price} margin={self.margin})"


class SimOrder:
    """An order as the engine keeps it (mutable; ``left``/``avg_price`` derived)."""

    __slots__ = (
        "account",
        "client_id",
        "create_ns",
        "fee",
        "fee_asset",
        "filled",
        "filled_quote",
        "finish_as",
        "id",
        "inst",
        "is_buy",
        "is_close",
        "kind",
        "lock_asset",
        "lock_left",
        "lock_per",
        "price",
        "qty",
        "quote_qty",
        "reduce_only",
        "seq",
        "side",
        "status",
        "tif",
        "update_ns",
    )

    def __init__(self, id: str, client_id: str, account: Account, inst: Instrument, side: str, kind: str,
                 tif: str, price: Decimal | None, qty: Decimal, quote_qty: Decimal | None, reduce_only: bool,
                 is_close: bool, ts: int, seq: int) -> None:
        self.id = id
        self.client_id = client_id
        self.account = account
        self.inst = inst
        self.side = side
        self.is_buy = side == "buy"
        self.kind = kind
        self.tif = tif
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.filled = ZERO
        self.filled_quote = ZERO
        self.fee = ZERO
        self.fee_asset = (inst.settle if inst.is_futures else (inst.base if self.is_buy else inst.quote))
        self.status = "open"
        self.finish_as = "open"
        self.reduce_only = reduce_only
        self.is_close = is_close
        self.create_ns = ts
        self.update_ns = ts
        self.lock_left = ZERO
        self.lock_per = ZERO
        self.lock_asset = ""
        self.seq = seq

    @property
    def left(self) -> Decimal:
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 when nothing filled). filled_quote is quote value: qty*price*multiplier."""
        if not self.filled:
            return ZERO
        return self.filled_quote / (self.filled * self.inst.multiplier)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def __repr__(self) -> str:
        return (f"SimOrder({self.id} {self.inst.venue_symbol} {self.side} {self.kind}/{self.tif} "
                f"{self.qty}@{self.price} filled={self.filled} {self.status}/{self.finish_as})")


class SimFill:
    """One side of one trade, for the account that owns the order."""

    __slots__ = (
        "account",
        "client_id",
        "fee",
        "fee_asset",
        "inst",
        "is_maker",
        "order",
        "order_id",
        "price",
        "qty",
        "quote_qty",
        "side",
        "trade_id",
        "ts_ns",
    )

    def __init__(self, trade_id: int, order: SimOrder, price: Decimal, qty: Decimal, quote_qty: Decimal,
                 fee: Decimal, is_maker: bool, ts_ns: int) -> None:
        self.trade_id = trade_id
        self.order = order
        self.order_id = order.id
        self.client_id = order.client_id
        self.account = order.account
        self.inst = order.inst
        self.side = order.side
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.fee = fee
        self.fee_asset = order.fee_asset
        self.is_maker = is_maker
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"SimFill({self.trade_id} {self.order_id} {self.side} {self.qty}@{self.price} maker={self.is_maker})"


class PublicTrade:
    __slots__ = ("inst", "price", "qty", "taker_side", "trade_id", "ts_ns")

    def __init__(self, trade_id: int, inst: Instrument, price: Decimal, qty: Decimal, taker_side: str,
                 ts_ns: int) -> None:
        self.trade_id = trade_id
        self.inst = inst
        self.price = price
        self.qty = qty
        self.taker_side = taker_side
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"PublicTrade({self.trade_id} {self.inst.venue_symbol} {self.taker_side} {self.qty}@{self.price})"


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


class Account:
    """A client (or internal) account on one venue: spot and futures wallets, positions, orders, fills."""

    def __init__(self, name: str, venue: Venue | str, api_key: str, api_secret: str, internal: bool = False,
                 balances: dict[str, Decimal] | None = None, futures_balances: dict[str, Decimal] | None = None
                 ) -> None:
        self.name = name
        self.venue = Venue(venue)
        self.api_key = api_key
        self.api_secret = api_secret
        self.internal = internal
        self.wallets: dict[Market, dict[str, Bal]] = {
            Market.SPOT: {a: Bal(Decimal(v)) for a, v in (balances or {}).items()},
            Market.FUTURES: {a: Bal(Decimal(v)) for a, v in (futures_balances or {}).items()},
        }
        self.positions: dict[str, Pos] = {}  # futures venue_symbol -> Pos
        self.open_orders: dict[str, SimOrder] = {}  # order id -> order
        self.open_by_client: dict[str, SimOrder] = {}  # client id -> open order
        self.finished: dict[str, SimOrder] = {}  # order id -> finished order (bounded, oldest dropped)
        self.finished_by_client: dict[str, SimOrder] = {}
        self.fills: deque[SimFill] = deque(maxlen=KEEP_FINISHED)

    def __repr__(self) -> str:  # never show the secret
        return f"Account({self.name!r}, {self.venue.value}, internal={self.internal})"

    def bal(self, market: Market, asset: str) -> Bal:
        w = self.wallets[market]
        b = w.get(asset)
        if b is None:
            b = w[asset] = Bal()
        return b

    def remember_finished(self, o: SimOrder) -> None:
        self.finished[o.id] = o
        if o.client_id:
            self.finished_by_client[o.client_id] = o
        if len(self.finished) > KEEP_FINISHED:
            old = self.finished.pop(next(iter(self.finished)))
            if old.client_id and self.finished_by_client.get(old.client_id) is old:
                del self.finished_by_client[old.client_id]


class AccountBook:
    """All accounts: lookup by (venue, api_key) for request auth, by name for admin/tests."""

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self._by_key: dict[tuple[str, str], Account] = {}
        self._by_name: dict[str, Account] = {}
        for a in accounts:
            self.add(a)

    def add(self, account: Account) -> Account:
        key = (account.venue.value, account.api_key)
        if key in self._by_key or account.name in self._by_name:
            raise ValueError(f"account {account.name!r}: duplicate name or api key")
        self._by_key[key] = account
        self._by_name[account.name] = account
        return account

    def get(self, venue: Venue | str, api_key: str) -> Account | None:
        v = venue.value if isinstance(venue, Venue) else str(venue)
        return self._by_key.get((v, api_key))

    def by_name(self, name: str) -> Account:
        return self._by_name[name]

    def all(self) -> list[Account]:
        return list(self._by_name.values())

    def __iter__(self) -> Iterator[Account]:
        return iter(list(self._by_name.values()))


_LISTENER_METHODS = ("on_book", "on_trade", "on_order", "on_fill", "on_balance", "on_position", "on_funding",
                     "on_mark")


class _Action:
    """What one engine action changed, for the listener calls at its end."""

    __slots__ = ("balances", "fills", "orders", "positions", "trades")

    def __init__(self) -> None:
        self.fills: list[SimFill] = []
        self.orders: dict[int, SimOrder] = {}  # id(order) -> counterparty orders that changed
        self.balances: dict[tuple[int, str], tuple[Account, str]] = {}
        self.positions: dict[int, Pos] = {}
        self.trades: list[PublicTrade] = []


class VenueExchange:
    """The engine for one venue market: instruments, books, matching, balances, positions, funding."""

    def __init__(self, venue: Venue | str, market: Market | str, instruments: Iterable[Instrument],
                 clock_ns: Callable[[], int] = now_ns, default_leverage: int = 10, cross_leverage: int = 10,
                 order_id_start: int = 0, trade_id_start: int = 0, funding_interval_s: int = 28800) -> None:
        self.venue = Venue(venue)
        self.market = Market(market)
        self.is_futures = self.market is Market.FUTURES
        self.instruments: dict[str, Instrument] = {}
        self.books: dict[str, Book] = {}
        for inst in instruments:
            if inst.venue is not self.venue or inst.market is not self.market:
                raise ValueError(f"{inst!r} does not belong to {self.venue.value} {self.market.value}")
            self.instruments[inst.venue_symbol] = inst
            self.books[inst.venue_symbol] = Book(inst)
        self.clock_ns = clock_ns
        self.default_leverage = default_leverage
        self.cross_leverage = cross_leverage
        self.funding_interval_s = funding_interval_s
        # venue-style ids: MEXC "C02__<n>", Gate numeric strings
        if order_id_start <= 0:
            order_id_start = {"mexc": 580_000_000_000_000_000, "gateio": 1_852_454_420}[self.venue.value]
            if self.is_futures:
                order_id_start = 58_000_000_000
        self._order_ids = itertools.count(order_id_start)
        self._order_prefix = "C02__" if self.venue is Venue.MEXC else ""
        self._seq = itertools.count(1)
        tid0 = trade_id_start or (400_000_000 if self.venue is Venue.MEXC else 10_851_092)
        self._trade_ids = {s: itertools.count(tid0 + 1) for s in self.instruments}
        self.last_trade_id: dict[str, int] = {s: tid0 for s in self.instruments}
        self.trades: dict[str, deque[PublicTrade]] = {s: deque(maxlen=KEEP_PUBLIC_TRADES) for s in self.instruments}
        self.last_price: dict[str, Decimal] = {}
        self.volume_24h: dict[str, Decimal] = {s: ZERO for s in self.instruments}
        self.marks: dict[str, Decimal] = {}
        self.indexes: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {s: ZERO for s in self.instruments}
        self.next_funding: dict[str, int] = {s: 0 for s in self.instruments}
        self.funding_history: dict[str, deque[tuple[int, Decimal]]] = {s: deque(maxlen=1000) for s in self.instruments}
        self._positions_by_inst: dict[str, dict[str, Pos]] = {s: {} for s in self.instruments}
        self.listeners: list[Any] = []
        self._l: dict[str, list[Callable[..., None]]] = {m: [] for m in _LISTENER_METHODS}
        self.stats = {"orders": 0, "fills": 0, "trades": 0, "book_changes": 0}

    # -- listeners ------------------------------------------------------------------------------------
    def add_listener(self, listener: Any) -> None:
        """Register an object with any of on_book/on_trade/on_order/on_fill/on_balance/on_position/on_funding/on_mark."""
        self.listeners.append(listener)
        for m in _LISTENER_METHODS:
            fn = getattr(listener, m, None)
            if fn is not None:
                self._l[m].append(fn)

    def remove_listener(self, listener: Any) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)
        for m in _LISTENER_METHODS:
            fn = getattr(listener, m, None)
            if fn is not None and fn in self._l[m]:
                self._l[m].remove(fn)

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
        o = self._find(account, order_id, client_id)
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
            self._refresh_mark(p)
        return [p for p in account.positions.values() if p.inst.market is self.market]

    def position(self, account: Account, inst: Instrument | str) -> Pos:
        self._require_futures()
        p = self._pos(account, self.inst(inst))
        self._refresh_mark(p)
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
        if not isinstance(leverage, int) or leverage < 0 or leverage > i.leverage_max:
            raise SimReject("INVALID_LEVERAGE", f"leverage {leverage!r} outside 0..{i.leverage_max}")
        p = self._pos(account, i)
        old_lev = p.leverage
        p.leverage = leverage
        new_margin = abs(p.size) * i.multiplier * p.entry_price / Decimal(p.effective_leverage)
        delta = new_margin - p.margin
        b = account.bal(self.market, i.settle)
        if delta > 0 and b.available < delta and not account.internal:
            p.leverage = old_lev
            raise SimReject("INSUFFICIENT_BALANCE", f"need {delta} {i.settle} more margin")
        act = _Action()
        if delta and not account.internal:
            b.available -= delta
            b.locked += delta
            p.margin = new_margin
            act.balances[(id(account), i.settle)] = (account, i.settle)
        self._pos_touched(p, act)
        self._emit(act, None, None)
        return p

    # -- market-side hooks (called by arb.sim.market) --------------------------------------------------
    def set_mark(self, inst: Instrument | str, mark: Decimal, index: Decimal | None = None) -> None:
        i = self.inst(inst)
        self.marks[i.venue_symbol] = mark
        if index is not None:
            self.indexes[i.venue_symbol] = index
        for p in self._positions_by_inst[i.venue_symbol].values():
            p.mark_price = mark
        for fn in self._l["on_mark"]:
            fn(i, mark, self.indexes.get(i.venue_symbol, mark))

    def set_funding(self, inst: Instrument | str, rate: Decimal, next_ns: int | None = None) -> None:
        """Set the current funding rate (and next settlement time); fires on_funding."""
        i = self.inst(inst)
        self.funding_rates[i.venue_symbol] = Decimal(rate)
        if next_ns is not None:
            self.next_funding[i.venue_symbol] = next_ns
        for fn in self._l["on_funding"]:
            fn(i, self.funding_rates[i.venue_symbol])

    def apply_funding(self, inst: Instrument | str, rate: Decimal | None = None, next_ns: int | None = None
                      ) -> list[tuple[Account, Decimal]]:
        """Settle funding now: each position pays ``size*multiplier*mark*rate`` (longs pay when rate > 0).

        Returns [(account, amount credited)] (negative = charged). Fires on_balance/on_position per
        account, then on_funding once.
        """
        self._require_futures()
        i = self.inst(inst)
        r = self.funding_rates[i.venue_symbol] if rate is None else Decimal(rate)
        mark = self.mark_price(i)
        ts = self.clock_ns()
        self.funding_history[i.venue_symbol].append((ts, r))
        act = _Action()
        out = []
        for p in self._positions_by_inst[i.venue_symbol].values():
            if not p.size or p.account.internal:
                continue
            p.mark_price = mark
            amount = -(p.size * i.multiplier * mark * r)
            b = p.account.bal(self.market, i.settle)
            b.available += amount
            p.pnl_fund += amount
            p.realised_pnl += amount
            act.balances[(id(p.account), i.settle)] = (p.account, i.settle)
            self._pos_touched(p, act, ts)
            out.append((p.account, amount))
        if next_ns is not None:
            self.next_funding[i.venue_symbol] = next_ns
        self._emit(act, None, None)
        for fn in self._l["on_funding"]:
            fn(i, self.funding_rates[i.venue_symbol])
        return out

    @contextmanager
    def batch(self, inst: Instrument | str) -> Iterator[None]:
        """Coalesce every book mutation inside into one BookChange (first_id..last_id) at the end."""
        book = self.book(inst)
        book._batch += 1
        try:
            yield
        finally:
            book._batch -= 1
            if not book._batch:
                self._flush_book(book)

    # -- orders ---------------------------------------------------------------------------------------
    def place(self, account: Account, inst: Instrument | str, side: str, kind: str = "limit", tif: str = "gtc",
              qty: Decimal | str | int = ZERO, price: Decimal | str | None = None, client_id: str = "",
              quote_qty: Decimal | str | None = None, reduce_only: bool = False, close: bool = False) -> SimOrder:
        """Validate, lock funds, match at once, rest the remainder (gtc/poc). Raises SimReject."""
        i = self.inst(inst)
        book = self.books[i.venue_symbol]
        if side not in SIDES:
            raise SimReject("INVALID_PARAM", f"side {side!r}: expected buy|sell")
        if kind not in KINDS:
            raise SimReject("INVALID_PARAM", f"type {kind!r}: expected limit|market")
        if tif not in TIFS:
            raise SimReject("INVALID_PARAM", f"time_in_force {tif!r}: expected gtc|ioc|fok|poc")
        try:
            qty = Decimal(qty)
            price = None if price is None else Decimal(price)
            quote_qty = None if quote_qty is None else Decimal(quote_qty)
        except ArithmeticError:
            raise SimReject("INVALID_PARAM", "qty/price/quote_qty must be decimal numbers") from None
        internal = account.internal
        is_buy = side == "buy"
        pos: Pos | None = None
        if i.is_futures:
            if quote_qty is not None:
                raise SimReject("INVALID_PARAM", "futures orders are sized in contracts")
            if not internal:
                pos = self._pos(account, i)
            if close:
                if pos is None or not pos.size:
                    raise SimReject("REDUCE_ONLY_VIOLATION", "no position to close")
                side = "sell" if pos.size > 0 else "buy"
                is_buy = side == "buy"
                qty = abs(pos.size)
                reduce_only = True
        elif reduce_only or close:
            raise SimReject("INVALID_PARAM", "reduce_only/close apply to futures only")
        if kind == "market":
            price = None
            if tif in ("gtc", "poc"):
                tif = "ioc"
        else:
            if price is None or price <= 0:
                raise SimReject("INVALID_PARAM", "a limit order needs a price > 0")
            if price % i.tick:
                raise SimReject("INVALID_PRECISION", f"price {price} is not a multiple of tick {i.tick}")
        by_quote = quote_qty is not None
        if by_quote:
            if kind != "market" or not is_buy:
                raise SimReject("INVALID_PARAM", "quote_qty applies to market buys only")
            if quote_qty <= 0:
                raise SimReject("INVALID_PARAM", "quote_qty must be > 0")
            if i.min_notional and quote_qty < i.min_notional:
                raise SimReject("BELOW_MIN_NOTIONAL", f"amount {quote_qty} below {i.min_notional} {i.quote}")
            qty = ZERO
        else:
            if qty <= 0:
                raise SimReject("INVALID_PARAM", "qty must be > 0")
            if qty % i.step:
                raise SimReject("INVALID_PRECISION", f"qty {qty} is not a multiple of step {i.step}")
            if qty < i.min_qty:
                raise SimReject("BELOW_MIN_QTY", f"qty {qty} below {i.min_qty}")
            if i.max_qty and qty > i.max_qty:
                raise SimReject("ABOVE_MAX_QTY", f"qty {qty} above {i.max_qty}")
        if client_id and not internal and client_id in account.open_by_client:
            raise SimReject("DUPLICATE_CLIENT_ID", f"client id {client_id!r} is already in use by an open order")
        if reduce_only and pos is not None:
            if not pos.size or (pos.size > 0) == is_buy:
                raise SimReject("REDUCE_ONLY_VIOLATION", "reduce-only order would not reduce the position")
            if qty > abs(pos.size):
                raise SimReject("REDUCE_ONLY_VIOLATION", f"reduce-only qty {qty} exceeds position {abs(pos.size)}")

        # what the order would take from the book now
        opp_best = book.best_ask() if is_buy else book.best_bid()
        if tif == "poc" and opp_best is not None and (price >= opp_best if is_buy else price <= opp_best):
            raise SimReject("POST_ONLY_WOULD_TAKE", f"post-only price {price} would take liquidity at {opp_best}")
        walk_qty = walk_cost = None
        if kind == "market" or tif == "fok":
            walk_qty, walk_cost, room_left = self._walk(book, is_buy, price, None if by_quote else qty, quote_qty)
            if kind == "market" and not walk_qty:
                raise SimReject("NO_LIQUIDITY", "no liquidity on the other side")
            if tif == "fok" and (walk_qty < qty if not by_quote else not room_left):
                raise SimReject("FOK_NOT_FILLED", "fill-or-kill order cannot be filled in full")
        if not by_quote and i.min_notional:
            ref = price if price is not None else (walk_cost / (walk_qty * i.multiplier) if walk_qty else ZERO)
            if i.notional(ref, qty) < i.min_notional:
                raise SimReject("BELOW_MIN_NOTIONAL", f"notional {i.notional(ref, qty)} below {i.min_notional} {i.quote}")

        ts = self.clock_ns()
        oid = f"{self._order_prefix}{next(self._order_ids)}"
        o = SimOrder(oid, client_id, account, i, side, kind, tif, price, qty, quote_qty, reduce_only, close, ts,
                     next(self._seq))
        act = _Action()
        if not internal:
            self._lock(o, pos, walk_qty, walk_cost, act)  # raises INSUFFICIENT_BALANCE
            account.open_orders[oid] = o
            if client_id:
                account.open_by_client[client_id] = o
            self.stats["orders"] += 1
            for fn in self._l["on_order"]:
                fn(o)  # ack
        m0 = book._muts
        quote_spent = self._match(book, o, act)
        if by_quote:
            o.qty = o.filled  # a market buy by quote amount is as large as what it bought
            if o.filled and quote_spent:
                self._finish(o, "filled", "filled", act)
            else:
                self._finish(o, "cancelled", "ioc", act)
        elif o.left > 0:
            if kind == "limit" and tif in ("gtc", "poc"):
                book._add(o)
            else:
                self._finish(o, "cancelled", "fok" if tif == "fok" else "ioc", act)
        else:
            self._finish(o, "filled", "filled", act)
        if book._muts != m0:
            book._touch()  # one client action = one book update id
        if not internal:
            act.orders.pop(id(o), None)
        self._emit(act, o if not internal else None, book)
        return o

    def cancel(self, account: Account, inst: Instrument | str | None = None, order_id: str = "",
               client_id: str = "") -> SimOrder:
        """Cancel an open order by id or client id; ORDER_NOT_FOUND / ORDER_CLOSED."""
        o = account.open_orders.get(order_id) if order_id else account.open_by_client.get(client_id) if client_id else None
        if o is None or o.inst.market is not self.market:
            done = self._find(account, order_id, client_id)
            if done is not None and done.inst.market is self.market:
                raise SimReject("ORDER_CLOSED", f"order {done.id} is already {done.status}")
            raise SimReject("ORDER_NOT_FOUND", f"order {order_id or client_id!r} not found")
        if inst is not None and o.inst is not self.inst(inst):
            raise SimReject("ORDER_NOT_FOUND", f"order {o.id} is not on {inst!r}")
        book = self.books[o.inst.venue_symbol]
        act = _Action()
        self._cancel(book, o, act)
        self._emit(act, o, book)
        return o

    def cancel_all(self, account: Account, inst: Instrument | str | None = None, side: str | None = None
                   ) -> list[SimOrder]:
        i = self.inst(inst) if inst is not None else None
        todo = [o for o in account.open_orders.values()
                if o.inst.market is self.market and (i is None or o.inst is i) and (side is None or o.side == side)]
        by_book: dict[str, list[SimOrder]] = {}
        for o in todo:
            by_book.setdefault(o.inst.venue_symbol, []).append(o)
        for sym, orders in by_book.items():
            book = self.books[sym]
            with self.batch(sym):
                for o in orders:
                    act = _Action()
                    self._cancel(book, o, act)
                    self._emit(act, o, None)
        return todo

    def cancel_internal(self, o: SimOrder) -> None:
        """Cancel a resting internal (maker) order; no private events."""
        if o.status != "open":
            return
        book = self.books[o.inst.venue_symbol]
        act = _Action()
        self._cancel(book, o, act)
        self._flush_book(book) if not book._batch else None

    # -- internals ------------------------------------------------------------------------------------
    def _require_futures(self) -> None:
        if not self.is_futures:
            raise SimReject("INVALID_PARAM", f"{self.venue.value} {self.market.value} has no positions")

    def _find(self, account: Account, order_id: str, client_id: str) -> SimOrder | None:
        if order_id:
            return account.open_orders.get(order_id) or account.finished.get(order_id)
        if client_id:
            return account.open_by_client.get(client_id) or account.finished_by_client.get(client_id)
        return None

    def _pos(self, account: Account, inst: Instrument) -> Pos:
        p = account.positions.get(inst.venue_symbol)
        if p is None:
            p = account.positions[inst.venue_symbol] = Pos(account, inst, self.default_leverage, self.cross_leverage)
            p.mark_price = self.marks.get(inst.venue_symbol, ZERO)
            self._positions_by_inst[inst.venue_symbol][account.name] = p
        return p

    def _refresh_mark(self, p: Pos) -> None:
        m = self.marks.get(p.inst.venue_symbol)
        if m is not None:
            p.mark_price = m

    def _walk(self, book: Book, is_buy: bool, limit: Decimal | None, qty: Decimal | None,
              quote_qty: Decimal | None) -> tuple[Decimal, Decimal, bool]:
        """(qty fillable now, its quote cost, whether the order's size/amount ran out first) without changing the book."""
        inst = book.inst
        mult = inst.multiplier
        got = ZERO
        cost = ZERO
        if is_buy:
            prices = book.ask_prices
            levels = book.asks
            it = iter(prices)
        else:
            prices = book.bid_prices
            levels = book.bids
            it = reversed(prices)
        for p in it:
            if limit is not None and (p > limit if is_buy else p < limit):
                break
            avail = levels[p].total
            if quote_qty is not None:
                room = floor_to((quote_qty - cost) / (p * mult), inst.step)
                q = min(avail, room)
            else:
                q = min(avail, qty - got)
            if q <= 0:
                return got, cost, True
            got += q
            cost += q * p * mult
            if quote_qty is None and got >= qty:
                return got, cost, True
            if quote_qty is not None and q < avail:
                return got, cost, True
        return got, cost, False

    def _lock(self, o: SimOrder, pos: Pos | None, walk_qty: Decimal | None, walk_cost: Decimal | None,
              act: _Action) -> None:
        i = o.inst
        a = o.account
        if i.is_futures:
            assert pos is not None
            opening = o.qty
            if pos.size and (pos.size > 0) != o.is_buy:
                opening = max(ZERO, o.qty - abs(pos.size))
            if o.reduce_only:
                opening = ZERO
            if o.price is not None:
                ref = o.price
            else:
                ref = walk_cost / (walk_qty * i.multiplier) if walk_qty else ZERO
            per = ref * i.multiplier / Decimal(pos.effective_leverage)
            need = opening * per
            asset = i.settle
            o.lock_per = per
        elif o.is_buy:
            asset = i.quote
            if o.quote_qty is not None:
                need = o.quote_qty
            elif o.price is not None:
                need = o.qty * o.price
            else:
                need = walk_cost or ZERO
        else:
            asset = i.base
            need = o.qty
        b = a.bal(self.market, asset)
        if b.available < need:
            raise SimReject("INSUFFICIENT_BALANCE", f"need {need} {asset}, available {b.available}")
        o.lock_asset = asset
        o.lock_left = need
        if need:
            b.available -= need
            b.locked += need
            act.balances[(id(a), asset)] = (a, asset)

    def _match(self, book: Book, o: SimOrder, act: _Action) -> bool:
        """Trade ``o`` against the book; True if it stopped because its size (or quote amount) ran out."""
        is_buy = o.is_buy
        limit = o.price
        by_quote = o.quote_qty is not None
        inst = book.inst
        mult = inst.multiplier
        if is_buy:
            prices, levels, dirty = book.ask_prices, book.asks, book._dirty_asks
        else:
            prices, levels, dirty = book.bid_prices, book.bids, book._dirty_bids
        while prices:
            p = prices[0] if is_buy else prices[-1]
            if limit is not None and (p > limit if is_buy else p < limit):
                break
            lv = levels[p]
            orders = lv.orders
            stop = False
            while orders:
                m = orders[0]
                if by_quote:
                    room = floor_to((o.quote_qty - o.filled_quote) / (p * mult), inst.step)
                    q = min(m.left, room)
                    if q <= 0:
                        stop = True
                        break
                else:
                    q = min(m.left, o.left)
                if m.reduce_only and not m.account.internal:
                    mp = m.account.positions.get(inst.venue_symbol)
                    allowed = abs(mp.size) if (mp is not None and mp.size and (mp.size > 0) != m.is_buy) else ZERO
                    if allowed <= 0:
                        orders.popleft()
                        lv.total -= m.left
                        dirty.add(p)
                        book._muts += 1
                        self._finish(m, "cancelled", "reduce_only", act)
                        act.orders[id(m)] = m
                        continue
                    q = min(q, allowed)
                self._execute(o, m, p, q, act)
                lv.total -= q
                dirty.add(p)
                book._muts += 1
                if m.left <= 0:
                    orders.popleft()
                    self._finish(m, "filled", "filled", act)
                elif m.reduce_only and not m.account.internal:
                    mp = m.account.positions.get(inst.venue_symbol)
                    if mp is None or not mp.size:
                        orders.popleft()
                        lv.total -= m.left
                        self._finish(m, "cancelled", "reduce_only", act)
                if not m.account.internal:
                    act.orders[id(m)] = m
                if (not by_quote and o.left <= 0):
                    stop = True
                    break
            if not orders:
                del levels[p]
                if is_buy:
                    del prices[0]
                else:
                    prices.pop()
            if stop:
                return True
        return False

    def _execute(self, taker: SimOrder, maker: SimOrder, price: Decimal, q: Decimal, act: _Action) -> None:
        inst = taker.inst
        sym = inst.venue_symbol
        ts = self.clock_ns()
        tid = next(self._trade_ids[sym])
        self.last_trade_id[sym] = tid
        quote = q * price * inst.multiplier
        for o, is_maker in ((maker, True), (taker, False)):
            o.filled += q
            o.filled_quote += quote
            o.update_ns = ts
            if o.account.internal:
                continue
            rate = inst.maker_fee if is_maker else inst.taker_fee
            fee = self._settle(o, price, q, quote, rate, act)
            o.fee += fee
            f = SimFill(tid, o, price, q, quote, fee, is_maker, ts)
            o.account.fills.append(f)
            act.fills.append(f)
            self.stats["fills"] += 1
        t = PublicTrade(tid, inst, price, q, taker.side, ts)
        self.trades[sym].append(t)
        act.trades.append(t)
        self.last_price[sym] = price
        self.volume_24h[sym] += q
        self.stats["trades"] += 1

    def _settle(self, o: SimOrder, price: Decimal, q: Decimal, quote: Decimal, rate: Decimal, act: _Action
                ) -> Decimal:
        """Move money for one fill of ``o``; returns the fee charged (in o.fee_asset)."""
        a = o.account
        i = o.inst
        mk = self.market
        if i.is_futures:
            b = a.bal(mk, i.settle)
            release = min(o.lock_left, q * o.lock_per)
            if release:
                o.lock_left -= release
                b.locked -= release
                b.available += release
            pos = self._pos(a, i)
            self._apply_position(pos, o.is_buy, price, q, b)
            fee = quote * rate
            b.available -= fee
            pos.pnl_fee -= fee
            pos.realised_pnl -= fee
            act.balances[(id(a), i.settle)] = (a, i.settle)
            self._pos_touched(pos, act)
            return fee
        if o.is_buy:
            qb = a.bal(mk, i.quote)
            release = q * o.price if o.kind == "limit" else quote
            release = min(release, o.lock_left)
            o.lock_left -= release
            qb.locked -= release
            qb.available += release - quote
            fee = q * rate
            a.bal(mk, i.base).available += q - fee
        else:
            bb = a.bal(mk, i.base)
            release = min(q, o.lock_left)
            o.lock_left -= release
            bb.locked -= release
            bb.available += release - q
            fee = quote * rate
            a.bal(mk, i.quote).available += quote - fee
        act.balances[(id(a), i.quote)] = (a, i.quote)
        act.balances[(id(a), i.base)] = (a, i.base)
        return fee

    def _apply_position(self, pos: Pos, is_buy: bool, price: Decimal, q: Decimal, b: Bal) -> None:
        i = pos.inst
        mult = i.multiplier
        lev = Decimal(pos.effective_leverage)
        s = pos.size
        if s and (s > 0) != is_buy:  # reduce first
            close_q = min(q, abs(s))
            pnl = close_q * mult * (price - pos.entry_price) * (1 if s > 0 else -1)
            freed = pos.margin * close_q / abs(s)
            pos.margin -= freed
            b.locked -= freed
            b.available += freed + pnl
            pos.realised_pnl += pnl
            pos.pnl_pnl += pnl
            pos.last_close_pnl = pnl
            s = s - close_q if s > 0 else s + close_q
            q -= close_q
            if not s:
                pos.entry_price = ZERO
                if pos.margin:  # rounding dust
                    b.locked -= pos.margin
                    b.available += pos.margin
                    pos.margin = ZERO
        if q > 0:
            old = abs(s)
            pos.entry_price = (old * pos.entry_price + q * price) / (old + q)
            if not old:
                pos.open_ns = self.clock_ns()
            add = q * mult * price / lev
            pos.margin += add
            b.available -= add
            b.locked += add
            s = s + q if is_buy else s - q
        pos.size = s

    def _pos_touched(self, pos: Pos, act: _Action, ts: int | None = None) -> None:
        pos.update_ns = self.clock_ns() if ts is None else ts
        pos.update_id += 1
        self._refresh_mark(pos)
        act.positions[id(pos)] = pos

    def _finish(self, o: SimOrder, status: str, finish_as: str, act: _Action) -> None:
        o.status = status
        o.finish_as = finish_as
        o.update_ns = self.clock_ns()
        a = o.account
        if a.internal:
            return
        if o.lock_left:
            b = a.bal(self.market, o.lock_asset)
            b.locked -= o.lock_left
            b.available += o.lock_left
            o.lock_left = ZERO
            act.balances[(id(a), o.lock_asset)] = (a, o.lock_asset)
        a.open_orders.pop(o.id, None)
        if o.client_id and a.open_by_client.get(o.client_id) is o:
            del a.open_by_client[o.client_id]
        a.remember_finished(o)

    def _cancel(self, book: Book, o: SimOrder, act: _Action) -> None:
        book._remove(o)
        book._touch()
        self._finish(o, "cancelled", "cancelled", act)

    def _flush_book(self, book: Book) -> None:
        ch = book._take_change(self.clock_ns())
        if ch is not None:
            self.stats["book_changes"] += 1
            for fn in self._l["on_book"]:
                fn(ch)

    def _emit(self, act: _Action, order: SimOrder | None, book: Book | None) -> None:
        L = self._l
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
            self._flush_book(book)
