"""Gate.io trading gateway for one account on spot or USDT perpetual futures.

``GateTrader`` implements ``arb.venues.common.trading.VenueTrader`` over signed REST (facts §2.5, §2.6);
``CommandHandler`` (venue-neutral) serves ``ord.gateio.<account>.cmd.<market>.*`` on top of it. The user stream is a
signed WS (spot.orders / spot.usertrades / spot.balances, futures.orders / futures.usertrades /
futures.positions / futures.balances); after any reconnect the gateway calls ``CommandHandler.reconcile()``.

Orders:

* client ids go out as Gate ``text`` (``t-`` + at most 28 bytes; see ``parse.to_text``);
* spot limit orders carry ``time_in_force`` gtc / ioc / fok / poc (post only); a spot market SELL is Gate's
  ``type=market`` (amount in base). Gate sizes market BUYS in quote currency, which would make the base
  quantity inexact, so a market buy is sent as a limit IOC (FOK if asked) at the command's price: the base
  quantity stays exact and the price is a protection; a market buy without a price is refused;
* futures: the command's base quantity was converted by ``prepare()`` to whole contracts with
  ``quanto_multiplier`` (a fraction is refused, never truncated); ``size`` is signed (+ buy, - sell); market =
  ``price "0"`` + ``tif ioc`` (``fok`` when FOK was asked); decimal-size contracts are sent as a decimal string
  with ``X-Gate-Size-Decimal: 1``; ``reduce_only`` maps to Gate's ``reduce_only``; ``close_position()`` sends ``size 0, close true``.

Symbol rules are re-read every ``symbol_refresh_s`` (``common.symrules.RuleRefresher``; each change logged). An
order's events convert contracts -> base with the multiplier it was placed with (``common.multipliers``: kept per
client id until the order is final and its fills converted; after a restart read back from ORD and the journal),
positions with the contract's current one; a multiplier change schedules a reconcile, and a position read whose
``value / mark_price`` disagrees with contracts x multiplier (the venue changed it since our last read) logs a
warning and re-reads the rules at once (specs/gateways.md, "Contract multiplier changes").

Queries by client id: Gate finds an order by ``text`` only while it is open (futures: ~60 s after), so a query
falls back to the recent finished orders of that symbol (``FINISHED_PAGES`` pages of 1000, newest first) before
answering "unknown" (None): a wrong None here would make the status-unknown path conclude "not placed" for an
order that filled.

Futures margin (specs/gateways.md, "Margin and liquidation warnings"): the account (``GET /futures/usdt/accounts``) and
its positions (``GET /futures/usdt/positions``) are read every ``margin_poll_s``, after a futures.positions or
futures.balances push and in every reconcile; a ``Margin`` goes out on ``evt.margin`` when a figure changed
(``common.margin.MarginTracker``) and after every reconcile, and ``common.margin.LiqWatch`` turns each read into
``LiquidationWarning``s on ``evt.liq_warning``. The venue's funding records (``GET /futures/usdt/account_book``
``type=fund``) are read every ``funding_poll_s``, after a futures.balances push of type ``fund`` and in every
reconcile, and each goes out once as ``FundingPaid`` on ``evt.funding`` (``common.margin.FundingLedger``; at start
the records already in ORD are read back, so a restart repeats none).

Reconcile reads (open orders, fills, positions) are complete: ``rest``'s ``*_all`` pagers read every page up to
a bound; a read cut by that bound is logged (``truncated``), never silently short.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from ...bus import codec
from ...bus.connection import Bus
from ...bus.replay import replay
from ...bus.subjects import OrdSubjects
from ...config.credentials import Credentials
from ...config.schema import GatewayOptions, VenueEndpoints
from ...core.enums import Market, OrderType, Side, TimeInForce, Venue
from ...core.errors import ConfigError, LookupIncomplete, StorageError, ValidationError, VenueClientError
from ...core.execution import Balance, Fill, Order, Position
from ...core.numeric import fmt
from ...core.strategy import FundingPaid
from ...core.symbols import SymbolInfo, SymbolMap
from ...obs.log import RateLimitedLog, audit, get_logger
from ...obs.metrics import counter
from ..common.lifecycle import cancel_tasks
from ..common.margin import NS, FundingLedger, LiqStep, LiqWatch, MarginTracker, stamp
from ..common.multipliers import OrderMultipliers
from ..common.outbox import EventOutbox
from ..common.reconcile import Reconciler
from ..common.symrules import RuleChange, RuleRefresher
from ..common.trading import CommandHandler, PreparedOrder
from . import parse as P
from . import symbols as gsym
from .auth import Signer
from .errors import is_duplicate_client_id, is_not_found
from .rest import MAX_PAGES, FuturesPrivateRest, GateHttp, Pages, PublicRest, SpotPrivateRest
from .schemas import (
    Control,
    FuturesBalancesFrame,
    FuturesOrder,
    FuturesOrdersFrame,
    FuturesPosition,
    FuturesPositionsFrame,
    FuturesTradeRow,
    FuturesUserTradesFrame,
    SpotBalancesFrame,
    SpotOrder,
    SpotOrdersFrame,
    SpotTradesFrame,
)
from .ws import PrivateWs, manager, ws_config

log = get_logger(__name__)
V = Venue.GATEIO
MARGIN_READS = counter("arb_trade_margin_reads_total", "Futures account margin reads (account + positions), by outcome",
                       ["venue", "market", "outcome"])
LIQ_WARNINGS = counter("arb_trade_liquidation_warnings_total", "LiquidationWarnings published, by level",
                       ["venue", "market", "level"])
UNKNOWN_POSITIONS = counter("arb_trade_unknown_contract_positions_total",
                            "Position rows in contracts without symbol rules here (no Position event; margin and "
                            "warnings from the venue's fields)", ["venue", "market"])
FUNDING_RECORDS = counter("arb_trade_funding_records_total", "Venue funding records published as FundingPaid",
                          ["venue", "market"])
FINISHED_PAGES = 3  # a query by client id looks through the newest 3000 finished orders of the symbol


def _ns() -> int:
    return time.time_ns()


def _complete(pages: Pages[Any], what: str) -> list[Any]:
    """The rows of a paged read; a read cut short by the request bound is said loudly (never silently short)."""
    if pages.truncated:
        log.warning("gateio: %s: stopped after %d pages (%d rows); older rows were not read", what,
                    pages.requests, len(pages.rows))
    return pages.rows


class GateTrader:
    """VenueTrader for one Gate account and market."""

    def __init__(self, market: Market, account: str, public: PublicRest, spot: SpotPrivateRest | None,
                 futures: FuturesPrivateRest | None) -> None:
        self.venue = V
        self.market = market
        self.account = account
        self.public = public
        self.spot = spot
        self.fut = futures
        self.symbols = SymbolMap(V, market, [])
        self.ids = P.ClientIds()
        # a request can reach Gate up to 60 s after its Timestamp header (facts §2.5: "within 60 s of server time")
        self.request_expiry_s = 60.0
        self.user_id = ""
        self.dual_mode = False  # the futures account is in dual (hedge) position mode: not supported
        self._vid: OrderedDict[str, tuple[str, OrderType]] = OrderedDict()  # client id -> (venue id, type asked)
        # client id -> the contract multiplier the order was placed with: its events convert with it, never with a
        # multiplier that changed since (specs/gateways.md, "Contract multiplier changes")
        self.mults = OrderMultipliers(f"gateio {market.value} {account}")
        # called with a contract's rules when a position read says the venue's multiplier is not the one held
        self.on_multiplier_mismatch: Any = None
        self.multiplier_mismatches = 0
        self.rlog = RateLimitedLog(log, interval_s=60.0)
        self.unknown_positions = 0  # position rows seen in contracts without symbol rules

    # ---------------------------------------------------------------------------------------- rules

    async def read_symbols(self) -> SymbolMap:
        """The venue's current rules (``GET /spot/currency_pairs`` or ``GET /futures/usdt/contracts``)."""
        if self.market is Market.SPOT:
            return SymbolMap(V, self.market, gsym.spot_infos(await self.public.currency_pairs(), time.time()))
        return SymbolMap(V, self.market, gsym.futures_infos(await self.public.contracts()))

    async def load_symbols(self) -> None:
        """Read the rules and hold them as they are (the gateway's ``RuleRefresher`` merges and logs instead)."""
        self.symbols = await self.read_symbols()

    def put_symbols(self, symbols: SymbolMap) -> None:
        self.symbols = symbols

    def _info_venue(self, venue_symbol: str) -> SymbolInfo | None:
        sym = self.symbols.by_venue.get(venue_symbol)
        return None if sym is None else self.symbols.info_by_name.get(sym.name)

    def _remember(self, cid: str, vid: str, kind: OrderType) -> None:
        if cid:
            self._vid[cid] = (vid, kind)
            if len(self._vid) > 100_000:
                self._vid.popitem(last=False)

    def _kind(self, cid: str) -> OrderType | None:
        v = self._vid.get(cid)
        return v[1] if v else None

    def learn_multiplier(self, cid: str, multiplier: Decimal, final: bool = False,
                         filled: Decimal | None = None) -> bool:
        """An earlier process's record of the multiplier order ``cid`` was placed with (the ORD stream's last event
        of it, or its journal intent): kept unless this process holds one (``CommandHandler`` calls it)."""
        return self.market is Market.FUTURES and self.mults.learn(cid, multiplier, final, filled)

    def multiplier_for(self, cid: str, info: SymbolInfo) -> Decimal:
        """The contract multiplier to convert an event of order ``cid`` with: the one it was placed with (by this
        process, or read back at start), else the contract's current one (an order not placed by us)."""
        m = self.mults.get(cid)
        if m is None:
            return info.contract_multiplier
        if m != info.contract_multiplier:
            self.rlog(("old_multiplier", info.name), "gateio futures: %s order %s converted with the multiplier it "
                      "was placed with (%s; now %s)", info.name, cid, m, info.contract_multiplier)
        return m

    def fut_order(self, o: FuturesOrder, info: SymbolInfo, ts_recv: int, kind: OrderType | None,
                  cid: str | None = None) -> Order:
        if cid is None:
            cid = self.ids.client_id(o.text)
        x = P.futures_order(o, info, self.account, self.ids, ts_recv, kind, self.multiplier_for(cid, info), cid)
        if cid:
            self.mults.order_seen(cid, not x.status.is_open, abs(P.dec(o.size)) - abs(P.dec(o.left)))
        return x

    def fut_fill(self, t: FuturesTradeRow, info: SymbolInfo, ts_recv: int) -> Fill:
        cid = self.ids.client_id(t.text)
        f = P.futures_fill(t, info, self.account, self.ids, ts_recv, multiplier=self.multiplier_for(cid, info),
                           client_order_id=cid)
        if cid:
            self.mults.fill_seen(cid, f.trade_id, abs(P.dec(t.size)))
        return f

    def check_multiplier(self, p: FuturesPosition, info: SymbolInfo) -> bool:
        """The venue's own figures for a position (``value / mark_price``, base) against contracts x the multiplier
        held: a disagreement means the venue changed the multiplier since our last rules read. Logged (naming the
        contract) and handed to ``on_multiplier_mismatch`` (the gateway re-reads the rules at once). True if so."""
        implied = P.implied_multiplier(p)
        if implied is None or P.multipliers_agree(implied, info.contract_multiplier):
            return False
        self.multiplier_mismatches += 1
        self.rlog(("multiplier_mismatch", p.contract), "gateio futures %s: position in %s: the venue's value / mark "
                  "price says %s base per contract, the rules held say %s: the multiplier changed at the venue; "
                  "re-reading the rules now", self.account, p.contract, implied, info.contract_multiplier)
        if self.on_multiplier_mismatch is not None:
            self.on_multiplier_mismatch(info)
        return True

    def order_from_spot(self, o: SpotOrder, ts_recv: int) -> Order | None:
        info = self._info_venue(o.currency_pair)
        if info is None:
            return None
        cid = self.ids.client_id(o.text)
        return P.spot_order(o, info, self.account, self.ids, ts_recv, self._kind(cid))

    def order_from_futures(self, o: FuturesOrder, ts_recv: int) -> Order | None:
        info = self._info_venue(o.contract)
        if info is None:
            return None
        cid = self.ids.client_id(o.text)  # once per event
        return self.fut_order(o, info, ts_recv, self._kind(cid), cid)

    # ---------------------------------------------------------------------------------------- VenueTrader

    async def place(self, order: PreparedOrder) -> Order:
        text = self.ids.text(order.client_order_id)
        if self.market is Market.SPOT:
            return await self._place_spot(order, text)
        return await self._place_futures(order, text)

    async def _place_spot(self, p: PreparedOrder, text: str) -> Order:
        assert self.spot is not None
        body: dict[str, Any] = {"text": text, "currency_pair": p.venue_symbol, "account": "spot",
                                "side": p.side.value, "amount": fmt(p.venue_qty)}
        tif = P.TIF_TO_GATE[p.tif]
        if p.order_type is OrderType.MARKET:
            if tif not in ("ioc", "fok"):
                tif = "ioc"
            if p.side is Side.BUY:
                if p.price is None:
                    raise ValidationError("price: a Gate spot market buy needs a price limit (Gate sizes market buys "
                                          "in quote currency; we send a limit IOC to keep the base quantity exact)")
                body.update(type="limit", price=fmt(p.price), time_in_force=tif)
            else:
                body.update(type="market", time_in_force=tif)
        else:
            assert p.price is not None
            body.update(type="limit", price=fmt(p.price), time_in_force=tif)
        o = await self.spot.place(body)
        self._remember(p.client_order_id, str(o.id), p.order_type)
        out = P.spot_order(o, p.info, self.account, self.ids, _ns(), p.order_type)
        return out

    async def _place_futures(self, p: PreparedOrder, text: str) -> Order:
        assert self.fut is not None
        contracts: Decimal = p.venue_qty if p.side is Side.BUY else -p.venue_qty
        decimal = p.info.decimal_size
        size: Any = fmt(contracts) if decimal else int(contracts)
        body: dict[str, Any] = {"contract": p.venue_symbol, "size": size, "text": text}
        if p.order_type is OrderType.MARKET:  # price "0": market; FOK stays all-or-nothing, anything else is ioc
            body.update(price="0", tif="fok" if p.tif is TimeInForce.FOK else "ioc")
        else:
            assert p.price is not None
            body.update(price=fmt(p.price), tif=P.TIF_TO_GATE[p.tif])
        if p.reduce_only:
            body["reduce_only"] = True
        # before sending: a fill pushed before the response returns already converts with this multiplier
        self.mults.placed(p.client_order_id, p.info.contract_multiplier)
        o = await self.fut.place(body, decimal=decimal)
        self._remember(p.client_order_id, str(o.id), p.order_type)
        return self.fut_order(o, p.info, _ns(), p.order_type, p.client_order_id)

    async def close_position(self, symbol: str) -> Order:
        """Close the whole futures position of ``symbol`` at market (Gate ``size 0, close true, price 0, ioc``)."""
        assert self.fut is not None
        info = self.symbols.require_tradable(symbol)
        o = await self.fut.place({"contract": info.venue_symbol, "size": 0, "close": True, "price": "0",
                                  "tif": "ioc"})
        return P.futures_order(o, info, self.account, self.ids, _ns(), OrderType.MARKET)

    def _id_for(self, cid: str, vid: str) -> str:
        if vid:
            return vid
        known = self._vid.get(cid)
        return known[0] if known else self.ids.text(cid)

    async def cancel(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order:
        info = self.symbols.info(symbol)
        oid = self._id_for(client_order_id, venue_order_id)
        if self.market is Market.SPOT:
            assert self.spot is not None
            o = await self.spot.cancel(oid, info.venue_symbol)
            return P.spot_order(o, info, self.account, self.ids, _ns(), self._kind(client_order_id))
        assert self.fut is not None
        fo = await self.fut.cancel(oid)
        return self.fut_order(fo, info, _ns(), self._kind(client_order_id))

    async def cancel_all(self, symbol: str | None) -> list[Order]:
        if symbol:
            targets = [self.symbols.info(symbol).venue_symbol]
        else:
            targets = sorted({o_.symbol for o_ in await self.open_orders(None)})
            targets = [self.symbols.to_venue(s) for s in targets]
        out: list[Order] = []
        now = _ns()
        for vs in targets:
            if self.market is Market.SPOT:
                assert self.spot is not None
                for o in await self.spot.cancel_all(vs):
                    x = self.order_from_spot(o, now)
                    if x is not None:
                        out.append(x)
            else:
                assert self.fut is not None
                for fo in await self.fut.cancel_all(vs):
                    x = self.order_from_futures(fo, now)
                    if x is not None:
                        out.append(x)
        return out

    async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
        info = self.symbols.info(symbol)
        oid = self._id_for(client_order_id, venue_order_id)
        text = self.ids.text(client_order_id) if client_order_id else ""
        now = _ns()
        try:
            if self.market is Market.SPOT:
                assert self.spot is not None
                o = await self.spot.get_order(oid, info.venue_symbol)
                return P.spot_order(o, info, self.account, self.ids, now, self._kind(client_order_id))
            assert self.fut is not None
            fo = await self.fut.get_order(oid)
            return self.fut_order(fo, info, now, self._kind(client_order_id))
        except Exception as e:
            if not is_not_found(e):
                raise
        # by text, Gate only finds open orders: look through recent finished and open orders
        cut = False  # a listing stopped at its page bound: "not found" would prove nothing
        for status in ("finished", "open"):
            if self.market is Market.SPOT:
                assert self.spot is not None
                pages = await self.spot.list_orders_all(info.venue_symbol, status,
                                                        FINISHED_PAGES if status == "finished" else MAX_PAGES)
                cut = cut or pages.truncated
                for o in pages.rows:
                    if (text and o.text == text) or (venue_order_id and str(o.id) == venue_order_id):
                        self._remember(client_order_id, str(o.id), self._kind(client_order_id) or OrderType.LIMIT)
                        return P.spot_order(o, info, self.account, self.ids, now, self._kind(client_order_id))
            else:
                assert self.fut is not None
                fpages = await self.fut.list_orders_all(status, info.venue_symbol,
                                                        FINISHED_PAGES if status == "finished" else MAX_PAGES)
                cut = cut or fpages.truncated
                for fo in fpages.rows:
                    if (text and fo.text == text) or (venue_order_id and str(fo.id) == venue_order_id):
                        return self.fut_order(fo, info, now, self._kind(client_order_id))
        if cut:
            raise LookupIncomplete("gateio", "LOOKUP_INCOMPLETE",
                                   f"{symbol}: order {client_order_id or venue_order_id} is not among the orders Gate "
                                   f"lists ({FINISHED_PAGES} pages of finished ones); it may be older")
        return None

    async def open_orders(self, symbol: str | None) -> list[Order]:
        now = _ns()
        out: list[Order] = []
        if self.market is Market.SPOT:
            assert self.spot is not None
            if symbol:
                rows = _complete(await self.spot.list_orders_all(self.symbols.to_venue(symbol), "open"),
                                 f"open orders of {symbol}")
            else:
                rows = _complete(await self.spot.open_orders_all(), "open orders")
            for o in rows:
                x = self.order_from_spot(o, now)
                if x is not None:
                    out.append(x)
            return out
        assert self.fut is not None
        frows = _complete(await self.fut.list_orders_all("open", self.symbols.to_venue(symbol) if symbol else ""),
                          "open futures orders")
        for fo in frows:
            x = self.order_from_futures(fo, now)
            if x is not None:
                out.append(x)
        return out

    async def balances(self) -> list[Balance]:
        now = _ns()
        if self.market is Market.SPOT:
            assert self.spot is not None
            return [P.spot_balance(a, self.account, now) for a in await self.spot.accounts()]
        assert self.fut is not None
        acc = await self.fut.account()
        if acc.user:
            self.user_id = str(acc.user)
        self.dual_mode = acc.in_dual_mode
        return [P.futures_balance(acc, self.account, now)]

    async def fills_since(self, symbol: str, since_ns: int) -> list[Fill]:
        info = self.symbols.info(symbol)
        now = _ns()
        since_s = max(0, since_ns // 1_000_000_000)
        if self.market is Market.SPOT:
            assert self.spot is not None
            rows = _complete(await self.spot.my_trades_all(info.venue_symbol, since_s), f"fills of {symbol}")
            return [P.spot_fill(t, info, self.account, self.ids, now) for t in rows]
        assert self.fut is not None
        frows = _complete(await self.fut.my_trades_all(info.venue_symbol, since_s), f"fills of {symbol}")
        return [self.fut_fill(t, info, now) for t in frows]

    async def positions(self) -> list[Position]:
        if self.market is not Market.FUTURES:
            return []
        assert self.fut is not None
        now = _ns()
        out = []
        for p in _complete(await self.fut.positions_all(), "positions"):
            info = self._info_venue(p.contract)
            if info is not None:
                self.check_multiplier(p, info)
                out.append(P.futures_position(p, info, self.account, now))
            else:
                self.note_unknown_position(p)
        return out

    def note_unknown_position(self, p: FuturesPosition) -> None:
        """A position row in a contract without symbol rules here: no Position event can be made of it (no
        multiplier); counted, and logged once a minute per contract (the margin read still watches it)."""
        if not P.dec(p.size):
            return
        self.unknown_positions += 1
        UNKNOWN_POSITIONS.labels(V.value, self.market.value).inc()
        self.rlog(("unknown_position", p.contract), "gateio futures %s: position of %s contracts in %s, a contract "
                  "without symbol rules here: no Position event; margin and liquidation warnings from the venue's "
                  "own fields", self.account, p.size, p.contract)

    async def set_leverage(self, symbol: str, leverage: int) -> Position:
        if self.market is not Market.FUTURES:
            raise ValidationError("set_leverage: only futures have leverage")
        assert self.fut is not None
        info = self.symbols.info(symbol)
        p = await self.fut.set_leverage(info.venue_symbol, leverage)
        return P.futures_position(p, info, self.account, _ns())

    def is_duplicate_client_id(self, exc: VenueClientError) -> bool:
        return is_duplicate_client_id(exc)


class GatePrivateGateway:
    """One account's trading on one Gate market: CommandHandler + user stream + reconciliation."""

    def __init__(self, market: Market, account: str, trader: GateTrader, signer: Signer, bus: Bus,
                 session: aiohttp.ClientSession, endpoints: VenueEndpoints, options: GatewayOptions,
                 ws_factory: Any = None) -> None:
        self.market = market
        self.account = account
        self.trader = trader
        self.signer = signer
        self.bus = bus
        self.session = session
        self.endpoints = endpoints
        self.options = options
        self._ws_factory = ws_factory or manager
        self.subjects = OrdSubjects.of(V, account, market, options.subject_prefix)
        self.handler = CommandHandler(trader, bus, self.subjects, audit=audit,
                                      memory_window_s=options.idempotency_window_s, watch=options.trade_symbols,
                                      subject_prefix=options.subject_prefix)
        self.rlog = RateLimitedLog(log, interval_s=10.0)
        self.ws: Any = None
        self.outbox = EventOutbox("gateio", market.value, {"order": self.handler.on_order,
                                                           "fill": self.handler.on_fill,
                                                           "balance": self.handler.on_balance,
                                                           "position": self.handler.on_position},
                                  on_overflow=lambda: self._schedule_reconcile())
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self.reconciler = Reconciler(self._reconcile, f"gateio {market.value} {account}")
        # futures margin and funding records (specs/gateways.md, "Margin and liquidation warnings")
        self.margin = MarginTracker()
        self.liq = LiqWatch(Decimal(repr(options.liq_warning_fraction)))
        self.funding = FundingLedger(_ns() - int(options.funding_lookback_s * NS))
        self._margin_wake = asyncio.Event()
        self._funding_wake = asyncio.Event()
        self._margin_lock = asyncio.Lock()
        self._margin_force = False  # a reconcile asked: the next read publishes regardless (correction)
        self._funding_lock = asyncio.Lock()
        self.margin_errors = 0
        self.margin_reads = 0  # account + positions reads done (each applied the rules once)
        self.funding_polls = 0  # account book reads done
        self.funding_published = 0
        self._closing = False
        self._balance_refresh: asyncio.Task | None = None
        self._balance_again = False  # a balance push arrived while the account was being re-read
        self.parse_errors = 0
        self.sub_errors: deque[str] = deque(maxlen=100)  # the latest venue error replies, for diagnosis
        self.subs_refused = 0  # private subscriptions the venue refused (each one closes its socket)
        self._sub_refused = False  # this socket's subscriptions are incomplete: not ready until resubscribed
        self._closers: set[asyncio.Task] = set()
        self.frames = self._handlers()
        # symbol rules re-read every symbol_refresh_s, each change logged (common.symrules)
        self.rules = RuleRefresher(f"gateio {market.value} trading {account}", lambda: self.trader.read_symbols(),
                                   lambda: self.trader.symbols, lambda m: self.trader.put_symbols(m),
                                   options.symbol_refresh_s, on_change=self._on_rules_changed)
        trader.on_multiplier_mismatch = lambda info: self.rules.refresh_now()

    @property
    def symbols(self) -> SymbolMap:
        return self.trader.symbols

    async def start(self) -> None:
        await self.rules.refresh()
        if self.market is Market.FUTURES:
            await self.trader.balances()  # learns the user id the futures channels need
            if self.trader.dual_mode:
                raise ConfigError(f"gateio futures: account {self.account!r} is in dual (hedge) position mode; this "
                                  "gateway keeps one net position per contract: switch it to single mode "
                                  "(POST /futures/usdt/dual_mode?dual_mode=false) or use another account")
            if self.options.funding_poll_s:
                await self._restore_funding()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.outbox.run(), name="gate-trade-events"))
        self._tasks.append(loop.create_task(self.rules.run(), name="gate-trade-symbols"))
        if self.market is Market.FUTURES:
            self._tasks.append(loop.create_task(self._margin_loop(), name="gate-margin"))
            if self.options.funding_poll_s:
                self._tasks.append(loop.create_task(self._funding_loop(), name="gate-funding"))
        adapter = PrivateWs(self.market, self, self.signer, lambda: self.trader.user_id)
        o = self.options
        cfg = ws_config(self.endpoints.ws_url, watchdog_s=max(o.watchdog_s, 3 * o.ping_interval_s),
                        ping_s=o.ping_interval_s, backoff_initial_s=o.backoff_initial_s,
                        backoff_max_s=o.backoff_max_s, max_age_s=o.max_connection_age_s, market=self.market)
        self.ws = self._ws_factory(self.session, cfg, adapter, ["user"], name=f"gateio-{self.market.value}-user",
                                   on_reconnect=self._on_reconnect)
        await self.ws.start()
        await self.handler.start()
        self._started = True
        self._schedule_reconcile()  # publish venue truth once at start (balances, positions, open orders)

    async def stop(self) -> None:
        self._started = False
        self._closing = True
        self.reconciler.close()  # no reconcile is scheduled from here on (a reconnect callback could)
        await self.handler.stop()
        if self.ws is not None:
            await self.ws.stop()
        await cancel_tasks([*self._tasks, self.reconciler.task, self._balance_refresh, self.rules.now_task])
        self._tasks.clear()
        try:  # what the user stream delivered last still goes out (bounded)
            await asyncio.wait_for(self.outbox.close(), 10.0)
        except Exception as e:  # noqa: BLE001 -- shutting down: the next start's reconcile republishes venue truth
            self.rlog(("outbox",), "gateio %s: events left unpublished at stop: %s", self.market.value, e)

    def ready(self) -> bool:
        return (self._started and self.reconciler.synced_once and not self._sub_refused and not self.trader.dual_mode
                and self.ws is not None
                and self.ws.connected == len(self.ws.shards))

    # ---------------------------------------------------------------------------------------- reconcile

    def _on_reconnect(self, conn: Any) -> None:
        self._sub_refused = False  # subscribed afresh (a refusal again sets it again)
        self._schedule_reconcile()

    def _schedule_reconcile(self) -> None:
        self.reconciler.schedule()

    def _on_rules_changed(self, changes: list[RuleChange]) -> None:
        """A contract multiplier changed: orders already placed keep converting with the multiplier they were placed
        with (``GateTrader.multiplier_for``); positions are the venue's contracts now, converted with the new one, so
        venue truth is published again at once (reconcile) instead of at the next position push."""
        moved = [c for c in changes if c.field == "contract_multiplier"]
        if not moved:
            return
        log.warning("gateio %s %s: contract multiplier changed (%s): orders placed before convert with the "
                    "multiplier they were placed with, positions with the new one; reconciling", self.market.value,
                    self.account, "; ".join(str(c) for c in moved))
        if self._started:
            self._schedule_reconcile()

    async def _reconcile(self) -> dict[str, int]:
        counts = await self.handler.reconcile(self.options.reconcile_fills_lookback_s)
        if self.market is Market.FUTURES:  # a failure here is the margin / funding loops' to retry, not the reconcile's
            self._margin_force = True
            try:
                counts["margin"] = await self.refresh_margin()
            except Exception as e:  # noqa: BLE001 -- the next read publishes it, still forced
                self._margin_wake.set()
                MARGIN_READS.labels(V.value, self.market.value, "failed").inc()
                self.rlog(("margin",), "gateio futures %s: margin read in reconcile failed: %r", self.account, e)
            try:
                counts["funding"] = await self.poll_funding()
            except Exception as e:  # noqa: BLE001 -- the funding loop reads again
                self._funding_wake.set()
                self.rlog(("funding",), "gateio futures %s: account book read in reconcile failed: %r", self.account, e)
        return counts

    # ---------------------------------------------------------------------------------------- margin (futures)

    async def _margin_loop(self) -> None:
        poll = self.options.margin_poll_s or None
        while True:
            try:
                await asyncio.wait_for(self._margin_wake.wait(), poll)
            except TimeoutError:
                pass
            self._margin_wake.clear()
            try:
                await self.refresh_margin()
            except Exception as e:  # noqa: BLE001 -- a loop that must survive any failure; the next read retries
                self.margin_errors += 1
                MARGIN_READS.labels(V.value, self.market.value, "failed").inc()
                self.rlog(("margin",), "gateio futures %s: margin read failed: %r", self.account, e)

    async def refresh_margin(self) -> int:
        """Read the account and its positions; publish whatever LiquidationWarnings it calls for, then a Margin if it
        changed (always, marked ``correction``, on the first read since a reconcile asked for it). Returns the Margins
        published.

        Warnings and the margin are published independently: each warning on its own, its symbol's ``LiqWatch``
        state moving only once it is acked (one that failed is decided again at the next read; one that went out is
        never repeated), and a Margin whose publish fails takes no warning with it. Raises the first failure after
        everything was tried (the loops log and count it; the reconcile forces the next read)."""
        fut = self.trader.fut
        if fut is None:
            raise ConfigError(f"gateio {self.market.value} {self.account}: margin is read on the futures market only "
                              "(this gateway has no futures client)")
        async with self._margin_lock:
            force = self._margin_force
            acc = await fut.account()
            rows = _complete(await fut.positions_all(), "positions")
            now = _ns()
            pairs: list[tuple[FuturesPosition, SymbolInfo]] = []
            others = []
            for p in rows:
                info = self.trader._info_venue(p.contract)
                if info is not None:
                    self.trader.check_multiplier(p, info)
                    pairs.append((p, info))
                elif P.dec(p.size):
                    self.trader.note_unknown_position(p)
                    if (pm := P.venue_position_margin(p)) is not None:
                        others.append(pm)
            m = P.futures_margin(acc, pairs, self.account, now, others)
            failed: list[BaseException] = []
            for step in self.liq.steps(m):
                try:
                    await self._publish_warning(step)
                except Exception as e:  # noqa: BLE001 -- the next read decides this one again; the rest go on
                    failed.append(e)
                    self.rlog(("liq_warning",), "gateio futures %s: %s %s liquidation warning not published (decided "
                              "again at the next read): %r", self.account, step.warning.symbol,
                              step.warning.level.value, e)
            n = 0
            if self.margin.should_publish(m, force):
                ev = stamp(m, _ns(), correction=force)
                audit("margin", ev)
                try:
                    await self.bus.publish_acked(self.subjects.margin, ev)
                except Exception as e:  # noqa: BLE001 -- raised below, once everything was tried
                    failed.append(e)
                else:
                    self.margin.published(m)
                    if force:
                        self._margin_force = False
                    n = 1
            self.margin_reads += 1  # the rules were applied to this read (whatever could not be published)
            if failed:
                raise failed[0]
            MARGIN_READS.labels(V.value, self.market.value, "ok").inc()
            return n

    async def _publish_warning(self, step: LiqStep) -> None:
        w = msgspec.structs.replace(step.warning, ts_pub=_ns())
        log.warning("gateio futures %s: %s %s liquidation warning: mark %s, liquidation %s, distance %s (threshold %s)",
                    self.account, w.symbol, w.level.value, w.mark_price, w.liq_price, w.distance, w.threshold)
        audit("liq_warning", w)
        await self.bus.publish_acked(self.subjects.liq_warning, w)
        self.liq.apply(step)
        LIQ_WARNINGS.labels(V.value, self.market.value, w.level.value).inc()

    # ---------------------------------------------------------------------------------------- funding (futures)

    async def _restore_funding(self) -> None:
        """The funding records this account published before (ORD): never again, and reads continue from them."""
        n = 0
        try:
            async for ev in replay(self.bus.js, self.subjects.funding, 1, timeout=30.0):
                if isinstance(ev, FundingPaid):
                    self.funding.restore(ev.symbol, ev.ts)
                    n += 1
        except StorageError as e:  # reading nothing back would publish again what was published: start from now
            self.funding = FundingLedger(_ns())
            log.error("gateio futures %s: funding records published before could not be read back (%s); only "
                      "records from now on are published", self.account, e)
            return
        if n:
            self.funding.floor_ns = self.funding.newest_ns - FundingLedger.OVERLAP_S * NS
        log.info("gateio futures %s: %d funding records published before; reading the account book from %d",
                 self.account, n, self.funding.from_s())

    async def _funding_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._funding_wake.wait(), self.options.funding_poll_s)
            except TimeoutError:
                pass
            self._funding_wake.clear()
            try:
                await self.poll_funding()
            except Exception as e:  # noqa: BLE001 -- a loop that must survive any failure; the next read retries
                self.rlog(("funding",), "gateio futures %s: account book read failed: %r", self.account, e)

    async def poll_funding(self) -> int:
        """Publish every funding record of the account book not published before, oldest first, each once."""
        fut = self.trader.fut
        if fut is None or not self.options.funding_poll_s:
            return 0
        async with self._funding_lock:
            rows = _complete(await fut.account_book_all("fund", self.funding.from_s()), "account book")
            found: dict[tuple[str, int], tuple[Any, SymbolInfo]] = {}
            for e in rows:
                info = self.trader._info_venue(P.book_contract(e))
                if info is not None and e.type == "fund":
                    found.setdefault((info.name, P.book_time_ns(e)), (e, info))
            n = 0
            for key in self.funding.new_records(found):
                e, info = found[key]
                ev = P.funding_paid(e, info, await self._rate_at(info, key[1]))
                audit("funding", ev)
                # the record's identity as the message id: JetStream drops a second copy within its duplicate window
                # (two holders of the account for a moment around a takeover would otherwise both publish it)
                await self.bus.js.publish(self.subjects.funding, codec.encode(ev), timeout=2.0,
                                          headers={"Nats-Msg-Id": f"{self.subjects.funding}.{key[0]}.{key[1]}"})
                self.funding.published(*key)
                self.funding_published += 1
                FUNDING_RECORDS.labels(V.value, self.market.value).inc()
                n += 1
            self.funding_polls += 1
            return n

    async def _rate_at(self, info: SymbolInfo, ts_ns: int) -> float:
        """The rate Gate applied at the settlement at ``ts_ns`` (``/futures/usdt/funding_rate``, within 60 s), else 0."""
        try:
            points = await self.trader.public.funding_history(info.venue_symbol, 20)
        except Exception as e:  # noqa: BLE001 -- the rate is informative; the amount is what is booked
            self.rlog(("funding_rate",), "gateio futures: funding rate history of %s not read: %r", info.name, e)
            return 0.0
        t = ts_ns // NS
        near = [pt for pt in points if abs(pt.t - t) <= 60]
        return float(min(near, key=lambda pt: abs(pt.t - t)).r) if near else 0.0

    @property
    def reconciles(self) -> int:
        return self.reconciler.reconciles

    # ---------------------------------------------------------------------------------------- user stream

    def _handlers(self) -> dict[type, Any]:
        if self.market is Market.SPOT:
            return {SpotOrdersFrame: self._on_spot_orders, SpotTradesFrame: self._on_spot_trades,
                    SpotBalancesFrame: self._on_spot_balances}
        return {FuturesOrdersFrame: self._on_fut_orders, FuturesUserTradesFrame: self._on_fut_trades,
                FuturesPositionsFrame: self._on_fut_positions, FuturesBalancesFrame: self._on_fut_balances}

    def on_control(self, c: Control) -> None:
        if c.error is not None:
            self.sub_errors.append(f"{c.channel}: {c.error.code} {c.error.message}")
            self.rlog(("ws_error", c.channel), "gateio %s user ws %s %s error %d: %s", self.market.value, c.channel,
                      c.event, c.error.code, c.error.message)
            if c.event == "subscribe":
                self._refused(c)

    def _refused(self, c: Control) -> None:
        """A private channel the venue refused (e.g. auth code 4) would leave the gateway deaf to that
        account's orders, fills or positions while it looks healthy: not ready, and the socket is closed so
        the shard reconnects with backoff and subscribes again, freshly signed; reconcile follows."""
        self.subs_refused += 1
        self._sub_refused = True
        conn = self.ws.current if self.ws is not None else None
        if conn is not None:
            task = asyncio.get_running_loop().create_task(conn.close())
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    def on_malformed(self, where: str, data: Any) -> None:
        self.parse_errors += 1
        self.rlog(("malformed", where), "gateio %s user ws: malformed frame (%s): %.200r", self.market.value, where,
                  data)

    def _emit(self, kind: str, ev: Any) -> None:
        self.outbox.put(kind, ev)

    def _on_spot_orders(self, f: SpotOrdersFrame, now: int) -> None:
        for o in f.result:
            x = self.trader.order_from_spot(o, now)
            if x is not None:
                self.trader._remember(x.client_order_id, x.venue_order_id, x.order_type)
                self._emit("order", x)

    def _on_spot_trades(self, f: SpotTradesFrame, now: int) -> None:
        for t in f.result:
            info = self.trader._info_venue(t.currency_pair)
            if info is not None:
                self._emit("fill", P.spot_fill(t, info, self.account, self.trader.ids, now))

    def _on_spot_balances(self, f: SpotBalancesFrame, now: int) -> None:
        for b in f.result:
            self._emit("balance", P.spot_balance_update(b, self.account, now))

    def _on_fut_orders(self, f: FuturesOrdersFrame, now: int) -> None:
        for o in f.result:
            x = self.trader.order_from_futures(o, now)
            if x is not None:
                self._emit("order", x)

    def _on_fut_trades(self, f: FuturesUserTradesFrame, now: int) -> None:
        for t in f.result:
            info = self.trader._info_venue(t.contract)
            if info is not None:
                self._emit("fill", self.trader.fut_fill(t, info, now))

    def _on_fut_positions(self, f: FuturesPositionsFrame, now: int) -> None:
        self._margin_wake.set()
        for p in f.result:
            info = self.trader._info_venue(p.contract)
            if info is not None:
                self.trader.check_multiplier(p, info)  # the push rarely has value / mark: the read it wakes checks
                self._emit("position", P.futures_position(p, info, self.account, now))
            else:
                self.trader.note_unknown_position(p)

    def _on_fut_balances(self, f: FuturesBalancesFrame, now: int) -> None:
        # the push carries the new total only; available comes from the account endpoint
        self._margin_wake.set()
        if any(b.type == "fund" for b in f.result):
            self._funding_wake.set()
        if self._balance_refresh is None or self._balance_refresh.done():
            self._balance_refresh = asyncio.get_running_loop().create_task(self._refresh_futures_balance())
        else:  # the read in flight may predate this change: read once more when it ends
            self._balance_again = True

    async def _refresh_futures_balance(self) -> None:
        while True:
            self._balance_again = False
            try:
                for b in await self.trader.balances():
                    self._emit("balance", b)
            except Exception as e:  # noqa: BLE001 -- a loop/peer that must survive any failure
                self.rlog("futures_balance", "gateio futures balance refresh failed: %r", e)
            if not self._balance_again:
                return


def build_private(endpoints: VenueEndpoints, market: Market, account: str, credentials: Credentials, bus: Bus,
                  session: aiohttp.ClientSession, options: GatewayOptions) -> GatePrivateGateway:
    """The Gate.io trading gateway for one account on ``market``, per specs/gateways.md."""
    if market not in (Market.SPOT, Market.FUTURES):
        raise ValueError(f"gateio: no {market} market")
    signer = Signer(credentials)
    http = GateHttp(session, endpoints.rest_url, options.request_timeout_s, signer=signer)
    public = PublicRest(http)
    spot = SpotPrivateRest(http) if market is Market.SPOT else None
    fut = FuturesPrivateRest(http) if market is Market.FUTURES else None
    trader = GateTrader(market, account, public, spot, fut)
    return GatePrivateGateway(market, account, trader, signer, bus, session, endpoints, options)


__all__ = ["GatePrivateGateway", "GateTrader", "TimeInForce", "build_private"]
