"""Matching for one venue market: order entry (validation, FOK/post-only checks, market orders by size or by
quote amount), price-time priority against the books, trades and their ids, cancels.

Money moves through the ``Ledger`` (accounts.py), listeners hear through ``Listeners`` (events.py); the
rules are in the ``arb.sim.engine`` module doc.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

from ..core.enums import Market, Venue
from ..core.numeric import floor_to
from .accounts import Account, Ledger, Pos
from .book import Book
from .events import Action, Listeners
from .model import (
    KEEP_PUBLIC_TRADES,
    KINDS,
    SIDES,
    TIFS,
    ZERO,
    Instrument,
    PublicTrade,
    SimFill,
    SimOrder,
    SimReject,
)


class Matcher:
    """The books of one venue market and everything that trades on them."""

    def __init__(self, venue: Venue, market: Market, instruments: dict[str, Instrument], ledger: Ledger,
                 events: Listeners, clock_ns: Callable[[], int], stats: dict[str, int], order_id_start: int = 0,
                 trade_id_start: int = 0) -> None:
        self.venue = venue
        self.market = market
        self.is_futures = market is Market.FUTURES
        self.instruments = instruments
        self.books: dict[str, Book] = {s: Book(inst) for s, inst in instruments.items()}
        self.ledger = ledger
        self.events = events
        self.clock_ns = clock_ns
        self.stats = stats
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

    @contextmanager
    def batch(self, book: Book) -> Iterator[None]:
        """Coalesce every book mutation inside into one BookChange (first_id..last_id) at the end."""
        book._batch += 1
        try:
            yield
        finally:
            book._batch -= 1
            if not book._batch:
                self.events.flush_book(book)

    # -- orders ---------------------------------------------------------------------------------------
    def place(self, account: Account, i: Instrument, side: str, kind: str = "limit", tif: str = "gtc",
              qty: Decimal | str | int = ZERO, price: Decimal | str | None = None, client_id: str = "",
              quote_qty: Decimal | str | None = None, reduce_only: bool = False, close: bool = False) -> SimOrder:
        """Validate, lock funds, match at once, rest the remainder (gtc/poc). Raises SimReject."""
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
                pos = self.ledger.pos(account, i)
            if close:
                if pos is None or not pos.size:
                    raise SimReject("REDUCE_ONLY_VIOLATION", "no position to close")
                side = "sell" if pos.size > 0 else "buy"
                is_buy = side == "buy"
                qty = abs(pos.size)
                reduce_only = True
        elif reduce_only or close:
            raise SimReject("INVALID_PARAM", "reduce_only/close apply to futures only")
        if i.status != "trading" and not internal and not (i.status == "halted" and reduce_only):
            # a rule change (POST /admin/rules): a halted contract takes only orders that reduce a position (Gate's
            # in_delisting), anything else halted or delisted takes nothing; the background liquidity quotes on
            raise SimReject("SYMBOL_HALTED", f"{i.venue_symbol} is {i.status}: new orders refused")
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
        act = Action()
        if not internal:
            self.ledger.lock(o, pos, walk_qty, walk_cost, act)  # raises INSUFFICIENT_BALANCE
            account.open_orders[oid] = o
            if client_id:
                account.open_by_client[client_id] = o
            self.stats["orders"] += 1
            for fn in self.events.by_method["on_order"]:
                fn(o)  # ack
        m0 = book._muts
        quote_spent = self._match(book, o, act)
        if by_quote:
            o.qty = o.filled  # a market buy by quote amount is as large as what it bought
            if o.filled and quote_spent:
                self.ledger.finish(o, "filled", "filled", act)
            else:
                self.ledger.finish(o, "cancelled", "ioc", act)
        elif o.left > 0:
            if kind == "limit" and tif in ("gtc", "poc"):
                book._add(o)
            else:
                self.ledger.finish(o, "cancelled", "fok" if tif == "fok" else "ioc", act)
        else:
            self.ledger.finish(o, "filled", "filled", act)
        if book._muts != m0:
            book._touch()  # one client action = one book update id
        if not internal:
            act.orders.pop(id(o), None)
        self.events.emit(act, o if not internal else None, book)
        return o

    def cancel(self, o: SimOrder) -> SimOrder:
        """Cancel one open order of a client account."""
        book = self.books[o.inst.venue_symbol]
        act = Action()
        self._cancel(book, o, act)
        self.events.emit(act, o, book)
        return o

    def cancel_all(self, account: Account, i: Instrument | None = None, side: str | None = None
                   ) -> list[SimOrder]:
        todo = [o for o in account.open_orders.values()
                if o.inst.market is self.market and (i is None or o.inst is i) and (side is None or o.side == side)]
        by_book: dict[str, list[SimOrder]] = {}
        for o in todo:
            by_book.setdefault(o.inst.venue_symbol, []).append(o)
        for sym, orders in by_book.items():
            book = self.books[sym]
            with self.batch(book):
                for o in orders:
                    act = Action()
                    self._cancel(book, o, act)
                    self.events.emit(act, o, None)
        return todo

    def cancel_internal(self, o: SimOrder) -> None:
        """Cancel a resting internal (maker) order; no private events."""
        if o.status != "open":
            return
        book = self.books[o.inst.venue_symbol]
        act = Action()
        self._cancel(book, o, act)
        self.events.flush_book(book) if not book._batch else None

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

    def _match(self, book: Book, o: SimOrder, act: Action) -> bool:
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
                        self.ledger.finish(m, "cancelled", "reduce_only", act)
                        act.orders[id(m)] = m
                        continue
                    q = min(q, allowed)
                self._execute(o, m, p, q, act)
                lv.total -= q
                dirty.add(p)
                book._muts += 1
                if m.left <= 0:
                    orders.popleft()
                    self.ledger.finish(m, "filled", "filled", act)
                elif m.reduce_only and not m.account.internal:
                    mp = m.account.positions.get(inst.venue_symbol)
                    if mp is None or not mp.size:
                        orders.popleft()
                        lv.total -= m.left
                        self.ledger.finish(m, "cancelled", "reduce_only", act)
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

    def _execute(self, taker: SimOrder, maker: SimOrder, price: Decimal, q: Decimal, act: Action) -> None:
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
            fee = self.ledger.settle(o, price, q, quote, rate, act)
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

    def _cancel(self, book: Book, o: SimOrder, act: Action) -> None:
        book._remove(o)
        book._touch()
        self.ledger.finish(o, "cancelled", "cancelled", act)
