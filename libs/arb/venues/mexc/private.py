"""MEXC Spot trading gateway for one account: signed REST + protobuf user data stream.

* ``MexcTrader`` implements ``arb.venues.common.trading.VenueTrader`` (place / cancel / cancel all / query /
  open orders / balances / fills) over ``MexcPrivateRest``. The venue-neutral ``CommandHandler`` serves
  ``ord.mexc.<account>.cmd.spot.*`` on top of it: rounding, min checks, idempotency by client order id and
  status-unknown resolution by query live there, once for every venue.
* User data stream: ``POST /api/v3/userDataStream`` -> listenKey; ``wss://.../ws?listenKey=`` subscribed to
  ``spot@private.orders|deals|account.v3.api.pb``; the key is extended (``PUT``) every 30 min, checked after
  every disconnect and recreated when the venue no longer knows it or it is 23 h old. Pushes become
  Order / Fill / Balance events on ``ord.mexc.<account>.evt.*`` (JetStream-acked, in arrival order); a frame
  identical to one of the last ``RECENT_FRAMES`` (both sockets of a 24 h rotation deliver it) is dropped.
* After the first connect and after every reconnect: ``CommandHandler.reconcile()`` republishes open orders,
  fills and balances from REST marked ``correction``. Fills are read through ``myTrades`` pages (<= 100
  trades each) by narrowing time windows until every window is proven complete (``MexcTrader._trades_between``).

MEXC ``GET /api/v3/openOrders`` requires a symbol, so "every open order" means every symbol this gateway has
traded or seen in the user stream since it started, plus the symbols in ``extra_symbols``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from ...bus.connection import Bus
from ...bus.subjects import OrdSubjects
from ...config.credentials import Credentials
from ...config.schema import GatewayOptions, VenueEndpoints
from ...core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from ...core.errors import ConfigError, RateLimited, ValidationError, VenueClientError, VenueServerError
from ...core.execution import Balance, Fill, Order, Position
from ...core.symbols import SymbolMap
from ...obs.log import RateLimitedLog, audit, get_logger
from ..common.lifecycle import cancel_tasks
from ..common.outbox import EventOutbox
from ..common.reconcile import Reconciler
from ..common.symrules import RuleRefresher
from ..common.trading import CommandHandler, PreparedOrder
from ..common.ws import WsConnection, WsManager
from . import parse
from .errors import is_duplicate_client_id, is_order_not_found
from .rest import MY_TRADES_LIMIT, MexcPrivateRest
from .schemas import TradeRaw
from .symbols import symbol_map
from .ws import MexcWsAdapter, ws_config

log = get_logger(__name__)
_now = time.time_ns
_MS = 1_000_000
_PROGRESS = {OrderStatus.PENDING: 0, OrderStatus.NEW: 1, OrderStatus.PARTIALLY_FILLED: 2, OrderStatus.FILLED: 3,
             OrderStatus.CANCELED: 3, OrderStatus.REJECTED: 3, OrderStatus.EXPIRED: 3}


def _trade_order(r: TradeRaw) -> tuple[int, str]:
    return r.time, str(r.id)


def _further(a: Order, b: Order) -> bool:
    """``a`` is a later state of the same order than ``b``."""
    if a.filled_qty != b.filled_qty:
        return a.filled_qty > b.filled_qty
    return _PROGRESS[a.status] > _PROGRESS[b.status]


class MexcTrader:
    """``VenueTrader`` for one MEXC spot account."""

    venue = Venue.MEXC
    market = Market.SPOT
    LATEST_MAX = 10_000
    # fills reconcile: about 3 myTrades pages per 100 fills, so 300 pages cover ~10 k fills of one symbol; at
    # our 90 % of 500 / 10 s with weight 10 (45 pages / 10 s) that takes ~65 s
    TRADES_MAX_REQUESTS = 300
    TRADES_MAX_WAIT_S = 30.0  # a page may wait this long for the limiter (the default 5 s fails long reconciles)
    TRADES_END_MARGIN_MS = 1_000  # the window ends a little after the venue's "now" (offset estimate error)

    def __init__(self, rest: MexcPrivateRest, account: str, symbols: SymbolMap | None = None,
                 extra_symbols: list[str] | None = None) -> None:
        self.rest = rest
        self.account = account
        self.symbols = symbols or SymbolMap(Venue.MEXC, Market.SPOT, [])
        self.interest: dict[str, None] = dict.fromkeys(extra_symbols or [])  # unified symbols with possible orders
        self.cid_by_oid: OrderedDict[str, str] = OrderedDict()
        self.latest: OrderedDict[str, Order] = OrderedDict()  # client order id -> newest state seen
        self.fills_incomplete = 0  # fills reconciles that could not prove they read every trade
        # MEXC processes a signed request only while serverTime - timestamp <= recvWindow (SIGNED endpoint docs)
        self.request_expiry_s = getattr(getattr(rest, "signer", None), "recv_window_ms", 5000) / 1000.0

    # -- bookkeeping shared with the user stream ----------------------------------------------
    def note(self, order: Order) -> Order:
        """Remember an order state; returns the newest state known for it (stream and REST may race)."""
        self.interest[order.symbol] = None
        if order.venue_order_id and order.client_order_id:
            self.cid_by_oid[order.venue_order_id] = order.client_order_id
            if len(self.cid_by_oid) > self.LATEST_MAX:
                self.cid_by_oid.popitem(last=False)
        key = order.client_order_id or order.venue_order_id
        prev = self.latest.get(key)
        if prev is not None and _further(prev, order):
            return prev
        self.latest[key] = order
        self.latest.move_to_end(key)
        if len(self.latest) > self.LATEST_MAX:
            self.latest.popitem(last=False)
        return order

    def name_of(self, venue_symbol: str) -> str:
        s = self.symbols.by_venue.get(venue_symbol)
        return s.name if s is not None else venue_symbol

    # -- VenueTrader --------------------------------------------------------------------------
    async def place(self, order: PreparedOrder) -> Order:
        type_ = parse.order_type_out(order.order_type, order.tif)
        raw = await self.rest.place(order.venue_symbol, "BUY" if order.side is Side.BUY else "SELL", type_,
                                    order.venue_qty, order.price, order.client_order_id)
        ack = parse.rest_order(raw, order.symbol, self.account, _now(), client_order_id=order.client_order_id,
                               fallback_type=(order.order_type, order.tif))
        if ack.client_order_id != order.client_order_id:
            ack = msgspec.structs.replace(ack, client_order_id=order.client_order_id)
        newest = self.note(ack)  # a fill pushed before the ack (fill before ack) leaves a later state here
        if newest is ack and (order.order_type is OrderType.MARKET or order.tif in (TimeInForce.IOC, TimeInForce.FOK)):
            # the ack says NEW, but an IOC/FOK/market order is already final at the venue: report that state
            with contextlib.suppress(Exception):
                q = await self.query(order.symbol, order.client_order_id, ack.venue_order_id)
                if q is not None:
                    newest = self.note(q)
        return newest

    async def cancel(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order:
        vs = self.symbols.to_venue(symbol)
        raw = await self.rest.cancel(vs, client_order_id, venue_order_id)
        cid = raw.origClientOrderId or client_order_id or self.cid_by_oid.get(str(raw.orderId), "")
        return self.note(parse.rest_order(raw, symbol, self.account, _now(), client_order_id=cid))

    def _interest(self) -> list[str]:
        """Symbols that may hold our orders, known to the symbol map (a push may name a pair the map lacks, e.g.
        a new listing traded by hand on this account: asking the venue for it would fail every reconcile)."""
        known = self.symbols.by_name
        return [n for n in self.interest if n in known]

    async def cancel_all(self, symbol: str | None) -> list[Order]:
        names = [symbol] if symbol else self._interest()
        if not names:
            return []
        raws = await self.rest.cancel_all([self.symbols.to_venue(n) for n in names])
        out = []
        for r in raws:
            cid = r.origClientOrderId or self.cid_by_oid.get(str(r.orderId), "") or (r.clientOrderId or "")
            out.append(self.note(parse.rest_order(r, self.name_of(r.symbol) if r.symbol else names[0], self.account,
                                                  _now(), client_order_id=cid)))
        return out

    async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
        vs = self.symbols.to_venue(symbol)
        try:
            raw = await self.rest.query(vs, client_order_id, venue_order_id)
        except VenueClientError as e:
            if is_order_not_found(e):
                return None
            raise
        cid = raw.clientOrderId or client_order_id or self.cid_by_oid.get(str(raw.orderId), "")
        order = parse.rest_order(raw, symbol, self.account, _now(), client_order_id=cid)
        self.note(order)
        return order

    async def open_orders(self, symbol: str | None) -> list[Order]:
        names = [symbol] if symbol else self._interest()
        out: list[Order] = []
        for n in names:
            vs = self.symbols.to_venue(n)
            for r in await self.rest.open_orders(vs):
                cid = r.clientOrderId or self.cid_by_oid.get(str(r.orderId), "")
                o = parse.rest_order(r, n, self.account, _now(), client_order_id=cid)
                self.note(o)
                out.append(o)
        return out

    async def balances(self) -> list[Balance]:
        acct = await self.rest.account()
        ts = _now()
        ev = (acct.updateTime or 0) * _MS or ts
        return [Balance(venue=Venue.MEXC, market=Market.SPOT, account=self.account, asset=b.asset,
                        free=parse.dec(b.free), locked=parse.dec(b.locked), ts_event=ev, ts_recv=ts, ts_pub=ts)
                for b in acct.balances]

    async def fills_since(self, symbol: str, since_ns: int) -> list[Fill]:
        """Every fill of ``symbol`` from ``since_ns`` until now (oldest first), paged through ``myTrades``."""
        vs = self.symbols.to_venue(symbol)
        end_ms = self.rest.clock.now_ms() + self.TRADES_END_MARGIN_MS
        raws, complete = await self._trades_between(vs, max(0, since_ns // _MS), end_ms)
        if not complete:
            self.fills_incomplete += 1
            log.warning("mexc spot private %s: fills reconcile of %s incomplete (more than %d pages, or more than "
                        "%d trades in one ms); %d trades read", self.account, symbol, self.TRADES_MAX_REQUESTS,
                        MY_TRADES_LIMIT, len(raws))
        ts = _now()
        raws.sort(key=_trade_order)
        return [parse.rest_fill(r, symbol, self.account, self.cid_by_oid.get(str(r.orderId), ""), ts)
                for r in raws if r.time * _MS >= since_ns]

    async def _trades_between(self, venue_symbol: str, start_ms: int, end_ms: int) -> tuple[list[TradeRaw], bool]:
        """Every trade with ``start_ms <= time <= end_ms`` and whether that is certain.

        The docs say neither in which order a page comes nor which ``limit`` trades a fuller window yields, so
        nothing here depends on either. A page shorter than the limit is the whole window. A full page whose
        times span ``lo..hi`` may not be: the window is cut into ``[start, lo]``, ``[lo+1, hi-1]`` (proves the
        page skipped nothing) and ``[hi, end]``, and each part is asked again; trades tied at ``lo``/``hi`` are
        asked again, never assumed complete. That costs ~3 pages per 100 trades when a full page is the oldest
        or newest run of its window; a page spread over more than half its window (a venue picking any trades)
        makes the window halve instead. Trades are kept by id. Each part is smaller than its window, so this
        ends; it is also capped at ``TRADES_MAX_REQUESTS`` pages (the REST limiter paces them). Only a single
        millisecond holding more than ``limit`` trades cannot be cut further: reported incomplete."""
        by_id: dict[str, TradeRaw] = {}
        todo = [(start_ms, end_ms)]
        complete = True
        for _ in range(self.TRADES_MAX_REQUESTS):
            if not todo:
                break
            a, b = todo.pop()
            page = await self.rest.my_trades(venue_symbol, start_ms=a, end_ms=b, limit=MY_TRADES_LIMIT,
                                             max_wait_s=self.TRADES_MAX_WAIT_S)
            times = []
            for r in page:
                by_id.setdefault(str(r.id), r)
                if a <= r.time <= b:
                    times.append(r.time)
            if len(page) < MY_TRADES_LIMIT:
                continue
            if not times:  # a full page, none of it in the window asked for: the window was not honoured
                complete = False
                continue
            lo, hi = min(times), max(times)
            if 2 * (hi - lo) > b - a:  # the page spreads over the window (not its oldest or newest run): halve
                m = (a + b) // 2
                parts = ((a, m), (m + 1, b))
            elif lo < hi:
                parts = ((a, lo), (lo + 1, hi - 1), (hi, b))
            else:
                parts = ((a, lo - 1), (lo, lo), (lo + 1, b))
            for part in parts:
                if part[0] > part[1]:
                    continue
                if part == (a, b):  # one millisecond, more than a page of trades: nothing left to cut by
                    complete = False
                    continue
                todo.append(part)
        else:
            complete = complete and not todo
        return list(by_id.values()), complete

    async def positions(self) -> list[Position]:
        return []

    async def set_leverage(self, symbol: str, leverage: int) -> Position:
        raise ValidationError("set_leverage: MEXC spot has no leverage")

    def is_duplicate_client_id(self, exc: VenueClientError) -> bool:
        return is_duplicate_client_id(exc)


WsFactory = Callable[[MexcWsAdapter, list[str], Callable[[], str], Any, Any, Any], WsManager]


class MexcPrivateGateway:
    """``PrivateGateway`` for one MEXC spot account. Construct with ``build_private``."""

    venue = Venue.MEXC
    KEEPALIVE_S = 30 * 60.0  # docs: extend every 30 min (valid 60 min)
    KEEPALIVE_RETRY_S = 60.0  # a failed extension is retried soon: the key dies 60 min after the last one
    KEY_MAX_AGE_S = 23 * 3600.0  # recreate before the 24 h mark
    TIME_SYNC_S = 300.0
    RECENT_FRAMES = 1024  # user-stream frames remembered to drop the copies a rotation's second socket delivers

    def __init__(self, rest: MexcPrivateRest, ws_factory: WsFactory, ws_url: str, market: Market, account: str,
                 bus: Bus, options: GatewayOptions, *, extra_symbols: list[str] | None = None) -> None:
        if market is not Market.SPOT:
            raise ConfigError(f"mexc: only the spot market is supported, not {market.value}")
        self.market = market
        self.account = account
        self.rest = rest
        self.bus = bus
        self.options = options
        self.ws_url = ws_url
        self.trader = MexcTrader(rest, account, extra_symbols=[*options.trade_symbols, *(extra_symbols or [])])
        self.subjects = OrdSubjects.of(Venue.MEXC, account, Market.SPOT, options.subject_prefix)
        self.handler = CommandHandler(self.trader, bus, self.subjects, audit=audit,
                                      memory_window_s=options.idempotency_window_s, watch=options.trade_symbols,
                                      subject_prefix=options.subject_prefix)
        self.adapter = MexcWsAdapter(self.on_binary, on_text_push=self._on_text_push)
        self._ws_factory = ws_factory
        self.ws: WsManager | None = None
        self.listen_key = ""
        self._key_created = 0.0
        self._key_invalid = False
        self._key_lock = asyncio.Lock()
        self.outbox = EventOutbox("mexc", "spot", {"order": self.handler.on_order, "fill": self.handler.on_fill,
                                                   "balance": self.handler.on_balance},
                                  on_overflow=lambda: self._schedule_reconcile())
        self._tasks: list[asyncio.Task] = []
        self.reconciler = Reconciler(lambda: self.handler.reconcile(self.options.reconcile_fills_lookback_s),
                                     f"mexc spot private {account}")
        self._rlog = RateLimitedLog(log, 10.0)
        self.frames = 0
        self.duplicates = 0
        self._recent: deque[bytes] = deque()
        self._recent_set: set[bytes] = set()
        self.parse_errors = 0
        self.unrouted = 0
        self.key_renewals = 0
        self.keepalives = 0
        # symbol rules re-read every symbol_refresh_s, each change logged (common.symrules)
        self.rules = RuleRefresher(f"mexc spot trading {account}", self._read_symbols, lambda: self.trader.symbols,
                                   self._put_symbols, options.symbol_refresh_s)
        self._started = False
        self._closing = False

    @property
    def symbols(self) -> SymbolMap:
        return self.trader.symbols

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.rest.sync_time()
        await self.rules.refresh()
        await self._new_key()
        self.ws = self._ws_factory(self.adapter, list(parse.PRIVATE_CHANNELS), self._url, self._on_reconnect,
                                   self._on_disconnect, self._on_connect_failed)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.outbox.run(), name="mexc-trade-events"),
            loop.create_task(self._key_keeper(), name="mexc-listen-key"),
            loop.create_task(self._time_keeper(), name="mexc-time"),
            loop.create_task(self.rules.run(), name="mexc-trade-symbols"),
            loop.create_task(self._first_sync(), name="mexc-first-reconcile"),
        ]
        await self.handler.start()
        await self.ws.start()
        self._started = True
        log.info("mexc spot trading: account %s started", self.account)

    async def stop(self) -> None:
        self._started = False
        self.reconciler.close()  # no reconcile is scheduled from here on (a reconnect callback could)
        await self.handler.stop()
        if self.ws is not None:
            await self.ws.stop()
        self._closing = True
        await cancel_tasks([*self._tasks, self.reconciler.task])
        self._tasks = []
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.outbox.close(), 10.0)
        if self.listen_key:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.rest.close_listen_key(self.listen_key), 2.0)

    def ready(self) -> bool:
        ws = self.ws
        return self._started and self.reconciler.synced_once and ws is not None and ws.connected == len(ws.shards)

    async def _read_symbols(self) -> SymbolMap:
        info = await self.rest.exchange_info()
        return symbol_map(info.symbols)

    def _put_symbols(self, symbols: SymbolMap) -> None:
        self.trader.symbols = symbols

    # ------------------------------------------------------------------ user stream (hot-ish path)

    def on_binary(self, data: bytes) -> None:
        ts_recv = _now()
        self.frames += 1
        # during a rotation both sockets deliver every push: publish a frame once (an identical frame is the
        # same venue state, so dropping a repeat never loses anything)
        if data in self._recent_set:
            self.duplicates += 1
            return
        self._recent_set.add(data)
        self._recent.append(data)
        if len(self._recent) > self.RECENT_FRAMES:
            self._recent_set.discard(self._recent.popleft())
        try:
            w = parse.decode_wrapper(data)
            which = w.WhichOneof("body")
            t = self.trader
            if which == parse.B_ORDERS:
                body = w.privateOrders
                o = parse.pb_order(body, t.name_of(w.symbol), self.account, parse.event_ms(w) * _MS, ts_recv,
                                   t.cid_by_oid.get(body.id, ""))
                t.note(o)
                self.outbox.put("order", o)
            elif which == parse.B_MYDEALS:
                body = w.privateDeals
                f = parse.pb_fill(body, t.name_of(w.symbol), self.account, t.cid_by_oid.get(body.orderId, ""), ts_recv)
                t.interest[f.symbol] = None
                self.outbox.put("fill", f)
            elif which == parse.B_ACCOUNT:
                self.outbox.put("balance", parse.pb_balance(w.privateAccount, self.account, ts_recv))
            else:
                self.unrouted += 1
                return
        except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
            self.parse_errors += 1
            self._rlog("malformed", "mexc spot private: malformed frame skipped (%s: %.200s)", type(e).__name__, str(e))

    def _on_text_push(self, text: str) -> None:
        if "listen key" in text.lower():
            self._key_invalid = True
        self._rlog(("text",), "mexc spot private: text frame: %.200s", text)

    # ------------------------------------------------------------------ listenKey

    def _url(self) -> str:
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}listenKey={self.listen_key}"

    async def _new_key(self) -> None:
        old = self.listen_key
        self.listen_key = await self.rest.create_listen_key()
        self._key_created = time.monotonic()
        self._key_invalid = False
        if old:
            self.key_renewals += 1
            with contextlib.suppress(Exception):
                await self.rest.close_listen_key(old)

    async def _check_key(self) -> None:
        """Extend the key; recreate it when the venue no longer knows it (or it is too old)."""
        async with self._key_lock:
            if self._key_invalid or time.monotonic() - self._key_created >= self.KEY_MAX_AGE_S:
                await self._new_key()
                return
            try:
                await self.rest.keepalive_listen_key(self.listen_key)
                self.keepalives += 1
            except (VenueServerError, RateLimited):
                raise
            except VenueClientError:
                await self._new_key()

    async def _key_keeper(self) -> None:
        delay = self.KEEPALIVE_S
        while True:
            await asyncio.sleep(delay)
            old = self.listen_key
            try:
                await self._check_key()
            except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
                self._rlog(("keepalive",), "mexc spot private: listenKey keepalive failed: %s", e)
                delay = self.KEEPALIVE_RETRY_S
                continue
            delay = self.KEEPALIVE_S
            if self.listen_key != old:
                await self._reconnect_all()  # sockets on the old key: move them to the new one

    async def _reconnect_all(self) -> None:
        if self.ws is None:
            return
        for s in self.ws.shards:
            c = s.conn
            if c is not None:
                await c.close()

    async def _on_disconnect(self, conn: WsConnection) -> None:
        await self._recheck_key()

    async def _recheck_key(self) -> None:
        try:
            await asyncio.wait_for(self._check_key(), self.options.request_timeout_s)
        except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
            self._rlog(("keycheck",), "mexc spot private: listenKey check (socket lost or refused) failed: %s", e)

    async def _on_connect_failed(self, exc: Exception) -> None:
        """A refused handshake may mean the venue no longer knows the key: check it (recreated if so), so
        the next attempt does not knock with a dead key until the keeper's next turn."""
        await self._recheck_key()

    def _on_reconnect(self, conn: WsConnection) -> None:
        self._schedule_reconcile()

    # ------------------------------------------------------------------ reconciliation

    async def _first_sync(self) -> None:
        assert self.ws is not None
        while not await self.ws.wait_connected(5.0):
            pass
        self.reconciler.schedule()

    def _schedule_reconcile(self) -> None:
        self.reconciler.schedule()

    @property
    def reconciles(self) -> int:
        return self.reconciler.reconciles

    # ------------------------------------------------------------------ housekeeping

    async def _time_keeper(self) -> None:
        while True:
            await asyncio.sleep(self.TIME_SYNC_S)
            with contextlib.suppress(Exception):
                await self.rest.sync_time()



def _rest_base(url: str) -> str:
    u = url.rstrip("/")
    return u.removesuffix("/api/v3")


def build_private(endpoints: VenueEndpoints, market: Market, account: str, credentials: Credentials, bus: Bus,
                  session: aiohttp.ClientSession, options: GatewayOptions) -> MexcPrivateGateway:
    """The factory's builder (specs/gateways.md): signed REST + user-stream WS injected into the composite."""
    rest = MexcPrivateRest(session, _rest_base(endpoints.rest_url), credentials,
                           recv_window_ms=options.recv_window_ms, timeout_s=options.request_timeout_s)
    cfg = ws_config(endpoints.ws_url, options)

    def ws_factory(adapter: MexcWsAdapter, subs: list[str], url: Callable[[], str], on_reconnect: Any,
                   on_disconnect: Any, on_connect_failed: Any) -> WsManager:
        return WsManager(session, cfg, adapter, subs, name=f"mexc-spot-private-{account}", url_factory=url,
                         on_reconnect=on_reconnect, on_disconnect=on_disconnect, on_connect_failed=on_connect_failed)

    return MexcPrivateGateway(rest, ws_factory, endpoints.ws_url, market, account, bus, options)


__all__ = ["MexcPrivateGateway", "MexcTrader", "build_private"]
