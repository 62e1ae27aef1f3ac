"""Gate.io market-data gateway (spot or USDT perpetual futures): no key, publishes ``md.gateio.<market>.>`` only.

Per configured symbol it keeps an ``L2Book`` under ``BookSync(GATE_RULE)`` (facts §2.10):

* diffs ``order_book_update`` (U/u) are checked against the REST ``with_id`` snapshot id and then against the
  last applied ``u``; spot ``full: true`` pushes replace the book (``on_full``); a gap, an out-of-order or
  malformed push, a crossed book (Gate's "zombie levels") or a disconnect makes *that* book ``stale``: a
  ``status`` and a ``book`` with state stale are published, and the snapshot worker refetches that one
  book (REST ``limit=100``, the depth Gate advises and the depth we subscribe), with per-book backoff;
* the published ``book`` is the top ``options.depth`` levels, at most every ``options.book_interval_ms``;
* planned rotation (before Gate's 24 h cut-off) without a hole: each subscription gets its own U..u windows (net
  diffs of what that socket was told), so a book is fed by one socket only, its *source* (``WsManager.current``
  names the socket of each frame). The replacement's frames build a *pending* ``BookSync`` of their own (spot:
  its first push is ``full``; futures: a REST snapshot via the snapshot worker plus its buffered diffs), which
  becomes the book once it is OK and its id is not behind (no gap, no status, ids never go back); the old
  socket's frames are then ignored and the old socket is retired once every in-sync book moved
  (``rotation_ready``). If it went first, the book goes stale and resyncs from the new socket (a resync). A real
  disconnect of the source makes the book stale as before; a pending book of a dead socket is dropped;
* ``book_ticker`` -> ``bbo`` (a crossed top of book is dropped and counted), ``trades`` -> ``trade``; during a
  rotation's overlap both sockets deliver them: a socket other than the last one published only what is newer
  (bbo ``u``, trade ``id``), so nothing is published twice or goes back;
* futures: sizes are contracts and are published in base asset (contracts x ``quanto_multiplier``, computed as a division for exactness);
  ``futures.tickers`` -> ``mark``, ``index`` and ``funding`` (the current ``funding_rate`` with the next
  funding time from the contract rules, never ``funding_rate_indicative``); the funding-rate history is read
  over REST at start (``funding_history()``);
* futures, the perpetual's crowding and risk (specs/subjects.md): ``oi`` from ``GET /futures/usdt/contract_stats``
  (5-minute buckets) every ``options.open_interest_poll_s``, published when the bucket or its value moved;
  ``liquidation`` from ``futures.public_liquidates``, with ``GET /futures/usdt/liq_orders`` read at start and after
  every reconnect to fill the gap, both through one ``LiqCursor`` per contract (kept across a stop/start of the
  gateway) so that no liquidation is published twice;
* both markets: ``kline`` for ``options.kline_intervals`` from ``futures.candlesticks`` / ``spot.candlesticks``,
  backfilled from ``GET /futures/usdt/candlesticks`` / ``GET /spot/candlesticks`` at start and after a reconnect,
  through ``arb.venues.common.klines.KlineFeed`` (a candle is never published older than one already published,
  nor a window again once it went out closed); closed = the venue's ``w`` (REST spot: its last column), else, for
  a REST row, the window ended before the read. ``w`` "may be missing" (docs), so a window that did not go out closed
  from the channel is settled over REST (``arb.venues.common.klines.KlineSettler``, as on MEXC): ``KLINE_SETTLE_S``
  after the next window's first push the newest rows are read and only the closed ones go out; a failed read keeps
  the window due and is retried with backoff;
* reference data: each configured symbol's rules and fees (futures: with the funding interval) as ``SymbolRef`` into
  the KV bucket ``REF`` at start and whenever a refresh (``options.symbol_refresh_s``) finds a change
  (``arb.venues.common.refpub``); futures: a refresh that finds a new ``quanto_multiplier`` rescales every size from
  then on and rebuilds the book from a fresh snapshot (``_remultiply``: stale with reason ``rules_changed``).

Liveness (specs/gateways.md): the socket sends ``spot.ping`` / ``futures.ping`` at least every ``stale_after_s / 3``;
any frame, a pong included, proves it live. A socket with no frame for ``stale_after_s`` is *silent*: every feed it
carries is published stale at once (``status`` with ``feed`` ``book``, ``bbo`` and, on futures, ``funding`` for the
tickers channel that also carries mark and index; reason ``silent``). A book is ok again only after a resync (a REST
snapshot and the diffs after it, once frames are back); bbo and funding with their next push. The watchdog still
replaces a socket that stays silent for ``watchdog_s``.

Hot path (one WS frame): one decode into the channel-tagged union of typed frames, one domain Struct, one deque append.
Encoding, the NATS publish and ``ts_pub`` happen in ``arb.venues.common.mdpub.MdPublisher``'s task (the same for
every venue); counters are plain ints exported to Prometheus every second. A frame that does not decode is counted, logged (rate-limited) and skipped.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import aiohttp

from ...bus.connection import Bus
from ...bus.subjects import MdSubjects
from ...config.schema import GatewayOptions, VenueEndpoints
from ...core.enums import BookState, Market, Side, Venue
from ...core.errors import ConfigError, SymbolError
from ...core.refdata import SymbolRef
from ...core.symbols import SymbolMap
from ...obs.log import RateLimitedLog, get_logger
from ..common.book import flat_apply, scaled_apply
from ..common.klines import KlineFeed, KlineSettler
from ..common.lifecycle import cancel_tasks
from ..common.mdpub import MdPublisher
from ..common.metrics import bind as bind_metrics
from ..common.refpub import RefPublisher
from ..common.refpub import refresh as refresh_refs
from ..common.sync import (
    FLAT_SYNC,
    GATE_RULE,
    R_DISCONNECTED,
    R_FRESH,
    R_RULES,
    R_SILENT,
    ApplyLevels,
    BookSync,
)
from . import symbols as gsym
from .rest import GateHttp, PublicRest
from .schemas import (
    Candle,
    Control,
    FLevel,
    FundingPoint,
    FuturesBookTickerFrame,
    FuturesBookUpdateFrame,
    FuturesCandlesFrame,
    FuturesLiquidatesFrame,
    FuturesTickersFrame,
    FuturesTradesFrame,
    LiqOrder,
    SpotBookTickerFrame,
    SpotBookUpdateFrame,
    SpotCandleRow,
    SpotCandlesFrame,
    SpotTradeFrame,
)
from .ws import BOOK_LEVELS, BookFeed, PublicWs, manager, ws_config

log = get_logger(__name__)
V = Venue.GATEIO
BUY = Side.BUY
SELL = Side.SELL
SNAPSHOT_LIMIT = int(BOOK_LEVELS)
_OK = BookState.OK


def contract_levels(mult: float) -> ApplyLevels:
    """How a futures diff goes into the book: levels as decoded (``FLevel`` {p, s contracts}), stored in base
    (s / contracts-per-base), without building a (price, size) tuple per level on the hot path: one compiled call
    for both sides (``scaled_apply``), which also answers whether the book came out crossed. Works on ``L2Book``'s
    layout (price -> size dict, ascending price list per side). Spot levels are float pairs, which BookSync's
    default (``apply_book``, compiled) takes as they are."""
    return scaled_apply(mult, FLevel)


# Gate's candle intervals (futures.candlesticks / GET candlesticks) -> seconds
INTERVAL_S = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "8h": 28800,
              "1d": 86400, "7d": 604800}
LIQ_WINDOW_S = 3600  # Gate's liq_orders window (from..to) at most; also how far back the first read goes
LIQ_KEEP_S = 3600  # keys of published liquidations kept this long behind the newest (REST re-reads overlap)
OI_BUCKET = "5m"
KLINE_SETTLE_S = 1.0  # after a window's first push, wait this long before reading it closed over REST (no ``w``)


class LiqCursor:
    """The liquidations of one contract already published, so that neither a REST re-read nor the WS channel
    repeats one: ``sec`` is the newest published (unix s) and ``seen`` the keys (second, signed order contracts,
    order price) of those within ``LIQ_KEEP_S`` of it. The WS channel and the REST history describe one
    liquidation with the same three values (WS ``size`` is the order's, REST ``size`` the position's: negated)."""

    __slots__ = ("dropped", "sec", "seen")

    def __init__(self) -> None:
        self.sec = 0
        self.seen: set[tuple[int, float, float]] = set()
        self.dropped = 0

    def admit(self, sec: int, order_size: float, price: float) -> bool:
        key = (sec, order_size, price)
        seen = self.seen
        if key in seen:
            self.dropped += 1
            return False
        seen.add(key)
        if sec > self.sec:
            self.sec = sec
            if len(seen) > 10_000:
                floor = sec - LIQ_KEEP_S
                self.seen = {k for k in seen if k[0] >= floor}
        return True


class _Book:
    """Per-symbol state."""

    __slots__ = (
        "apply",
        "bbo_conn",
        "bbo_stale",
        "bbo_u",
        "crossed_bbo",
        "dirty",
        "funding_interval_s",
        "funding_next_s",
        "funding_stale",
        "futures",
        "last_book_ns",
        "last_state",
        "mult",
        "name",
        "pend_attempt",
        "pend_not_before",
        "pending",
        "pending_conn",
        "read_apply",
        "snap_attempt",
        "snap_not_before",
        "src",
        "subj",
        "sync",
        "trade_conn",
        "trade_id",
        "ts_event",
        "ts_recv",
        "venue_symbol",
    )

    def __init__(self, name: str, venue_symbol: str, subj: MdSubjects, mult: float, futures: bool | None = None) -> None:
        """``mult``: contracts per base unit (1 / quanto_multiplier; spot 1.0); ``futures``: levels are {p, s
        contracts} (default: ``mult != 1.0``)."""
        self.name = name
        self.venue_symbol = venue_symbol
        self.subj = subj
        self.mult = mult
        self.futures = mult != 1.0 if futures is None else futures
        self.apply = contract_levels(mult) if self.futures else None  # a diff's levels into the book (None: L2Book's)
        self.read_apply = flat_apply(mult if self.futures else 1.0)  # the same for levels the compiled reader read
        self.sync = self.new_sync()
        self.src: Any = None  # the WsConnection whose diffs feed ``sync`` (None: the next one to deliver)
        self.pending: BookSync | None = None  # the book rebuilt from a rotation's new socket, until it takes over
        self.pending_conn: Any = None
        self.pend_attempt = 0
        self.pend_not_before = 0.0
        self.trade_conn: Any = None  # the socket of the last published trade / bbo, and its id
        self.trade_id = 0
        self.bbo_conn: Any = None
        self.bbo_u = 0
        self.last_book_ns = 0
        self.dirty = False
        self.last_state = BookState.STALE
        self.snap_attempt = 0
        self.snap_not_before = 0.0
        self.ts_event = 0  # venue time and socket read of the last book frame handled
        self.ts_recv = 0
        self.crossed_bbo = 0
        self.funding_next_s = 0.0
        self.funding_interval_s = 0
        self.bbo_stale = False  # published stale (socket silent or lost): ok again with the next push
        self.funding_stale = False  # futures tickers (funding, mark, index): the same

    def set_mult(self, mult: float) -> None:
        """The contract multiplier changed (a rules refresh): every size read from now on is divided by the new
        ``mult`` (contracts per base): the per-message paths read ``self.mult``; the book's appliers are rebuilt
        (``BookFeed`` reads ``read_apply`` from this slot per frame, so it follows). The caller resyncs the book."""
        self.mult = mult
        self.apply = contract_levels(mult)
        self.read_apply = flat_apply(mult)

    def new_sync(self) -> BookSync:
        return BookSync(GATE_RULE, max_buffer=2000, apply=self.apply)

    def feed(self, sync: BookSync, r: Any) -> bool:
        """One ``order_book_update`` result of either market into ``sync``: a ``full`` push replaces the book (futures:
        not documented, handled the same), a diff goes through ``self.apply``."""
        if r.full:
            return sync.on_full(r.u, self.base(r.b), self.base(r.a))
        return sync.on_diff(r.U, r.u, r.b, r.a)

    def base(self, levels: Any) -> Any:
        """Levels of a snapshot or full push as (price, size in base) pairs: futures {p, s contracts} are divided
        by contracts-per-base; spot levels already are float pairs."""
        if self.futures:
            m = self.mult
            return [(lv.p, lv.s / m) for lv in levels]
        return levels

    def trade_news(self, conn: Any, tid: int) -> bool:
        """Trade ``tid`` from ``conn`` is not one the other socket of a rotation already told (ids only grow)."""
        if conn is not self.trade_conn:
            if tid <= self.trade_id:
                return False
            self.trade_conn = conn
        if tid > self.trade_id:  # noqa: PLR1730 -- max() costs a call per trade
            self.trade_id = tid
        return True

    def bbo_news(self, conn: Any, u: int) -> bool:
        """The book ticker with id ``u`` from ``conn`` is not one the other socket of a rotation already told."""
        if conn is not self.bbo_conn:
            if u <= self.bbo_u and u:
                return False
            self.bbo_conn = conn
        self.bbo_u = u
        return True


class _Detached:
    """Stands in for the WsManager before ``start`` (handlers fed directly): no delivering socket."""

    current = None


_DETACHED = _Detached()
_COUNTERS = ("gaps", "crossed", "dropped", "applied", "overflows")  # BookSync counters kept across a switch


class GatePublicGateway:
    """Market data for one Gate market. Construct with ``build_public`` (or inject ``rest`` / ``ws_factory``)."""

    def __init__(self, market: Market, symbols: list[str], bus: Bus, rest: PublicRest, session: aiohttp.ClientSession,
                 endpoints: VenueEndpoints, options: GatewayOptions, ws_factory: Any = None) -> None:
        self.market = market
        self.wanted = list(dict.fromkeys(symbols))
        self.bus = bus
        self.rest = rest
        self.session = session
        self.endpoints = endpoints
        self.options = options
        self._ws_factory = ws_factory or manager
        self.symbols = SymbolMap(V, market, [])
        self.meta: dict[str, gsym.ContractMeta] = {}
        self.books: dict[str, _Book] = {}  # by venue symbol
        self.funding: dict[str, list[FundingPoint]] = {}
        self.metrics = bind_metrics(V.value, market.value)
        self.rlog = RateLimitedLog(log, interval_s=10.0)
        self.pub = MdPublisher(V, market, bus, self.metrics, self.rlog)
        self._out = self.pub.out  # (subject, event, kind) waiting for the publishing task
        self._snap_event = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.ws: Any = None
        self._wsm: Any = _DETACHED  # .current: the socket delivering the frame being handled
        self.switches = 0  # books moved to a rotation's new socket without a resync
        self.snapshots = 0  # REST book snapshots fetched
        self._started = False
        self._interval_ns = options.book_interval_ms * 1_000_000
        self._depth = options.depth
        # plain counters (exported every second)
        self.n = {"bbo": 0, "book": 0, "trade": 0, "ticker": 0, "control": 0}
        self.parse_errors = 0
        self.frames = self._handlers()
        self.refs: dict[str, SymbolRef] = {}  # configured symbol -> its rules as last read
        self.refpub = RefPublisher(getattr(bus, "js", None), options.subject_prefix)
        futures = market is Market.FUTURES
        self.liquidations = futures and options.liquidations  # read by PublicWs.on_open
        self.kline_intervals = tuple(options.kline_intervals)
        bad = [iv for iv in self.kline_intervals if iv not in INTERVAL_S]
        if bad:
            raise ConfigError(f"gateway.kline_intervals: gateio has no {', '.join(bad)}; it has "
                              f"{', '.join(INTERVAL_S)}")
        self.oi_poll_s = options.open_interest_poll_s if futures else 0.0
        # kept across stop/start: what was published stays published
        self.liq: dict[str, LiqCursor] = {}
        self.klines = KlineFeed(self.pub)
        self.clock_s = time.time  # wall clock of the REST candle reads (a futures row is closed once its window ended)
        self.settler = KlineSettler(self.klines, self._settle_read, INTERVAL_S, settle_s=KLINE_SETTLE_S,
                                    name=f"gateio {market.value}")
        self.oi_last: dict[str, tuple[int, float]] = {}
        self._catchup = asyncio.Event()  # a (re)connect: read the REST history of liquidations and candles again
        self.n.update({"oi": 0, "liquidation": 0, "kline": 0})

    # ---------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self._load_symbols(strict=True)
        prefix = self.options.subject_prefix
        for name in self.wanted:
            info = self.symbols.info(name)
            # ``mult`` holds contracts per base unit (1 / quanto_multiplier, e.g. 10000.0): dividing by an exact
            # float is correctly rounded (416 / 10000 -> 0.0416) where multiplying drifts (416 * 0.0001 -> 0.041600000000000005).
            mult = float(1 / info.contract_multiplier) if self.market is Market.FUTURES else 1.0
            b = _Book(name, info.venue_symbol, MdSubjects.of(V, self.market, name, prefix), mult,
                      futures=self.market is Market.FUTURES)
            meta = self.meta.get(info.venue_symbol)
            if meta is not None:
                b.funding_interval_s = meta.funding_interval_s
                b.funding_next_s = meta.funding_next_apply_s
            self.books[info.venue_symbol] = b
        if self.market is Market.FUTURES:
            await self._load_funding_history()
            for vs in self.books:
                self.liq.setdefault(vs, LiqCursor())
        if self.market is Market.FUTURES or self.kline_intervals:
            await self._catch_up()  # before the socket: backfilled candles go out before the live ones
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.pub.run(), name="gate-md-publish"))
        adapter = PublicWs(self.market, self)
        o = self.options
        cfg = ws_config(self.endpoints.ws_url, watchdog_s=o.watchdog_s, ping_s=o.ping_interval_s,
                        backoff_initial_s=o.backoff_initial_s, backoff_max_s=o.backoff_max_s,
                        max_age_s=o.max_connection_age_s, market=self.market, stale_after_s=o.stale_after_s)
        self.ws = self._ws_factory(self.session, cfg, adapter, list(self.books), name=f"gateio-{self.market.value}-md",
                                   on_reconnect=self._on_reconnect, on_disconnect=self._on_disconnect)
        self.adapter = adapter
        if hasattr(self.ws, "current"):
            self._wsm = self.ws
            self.ws.rotation_ready = self._rotation_ready
            self.ws.on_silent = self._on_silent
            self.ws.on_resumed = self._on_resumed
        for b in self.books.values():
            self._status(b, time.time_ns())
        await self.ws.start()
        self._tasks.append(loop.create_task(self._snapshot_worker(), name="gate-md-snapshots"))
        self._tasks.append(loop.create_task(self._book_flusher(), name="gate-md-flush"))
        self._tasks.append(loop.create_task(self._housekeeping(), name="gate-md-housekeeping"))
        if self.market is Market.FUTURES or self.kline_intervals:
            self._tasks.append(loop.create_task(self._stats_worker(), name="gate-md-stats"))
        if self.kline_intervals:
            self._tasks.append(loop.create_task(self.settler.run(), name="gate-md-kline-settle"))
        if self.market is Market.FUTURES:
            for b in self.books.values():
                meta = self.meta.get(b.venue_symbol)
                if meta is not None and meta.funding_rate:
                    self._publish_funding(b, float(meta.funding_rate), time.time_ns(), time.time_ns())
        self._started = True

    async def stop(self) -> None:
        self._started = False
        if self.ws is not None:
            await self.ws.stop()
        await cancel_tasks(self._tasks)
        self._tasks.clear()
        await self.pub.close(2.0)

    @property
    def published(self) -> int:
        return self.pub.published

    def ready(self) -> bool:
        return self._started and self.ws is not None and self.ws.connected == len(self.ws.shards)

    def books_ok(self) -> bool:
        return all(b.sync.ok for b in self.books.values())

    def funding_history(self, symbol: str) -> list[FundingPoint]:
        return list(self.funding.get(self.symbols.to_venue(symbol), []))

    # ---------------------------------------------------------------------------------------- symbols

    async def _load_symbols(self, strict: bool) -> None:
        if self.market is Market.SPOT:
            pairs = await self.rest.currency_pairs()
            ts = time.time_ns()
            infos = gsym.spot_infos(pairs, ts / 1e9)
        else:
            contracts = await self.rest.contracts()
            ts = time.time_ns()
            self.meta = {c.name: gsym.contract_meta(c) for c in contracts}
            infos = gsym.futures_infos(contracts)
        smap = SymbolMap(V, self.market, infos)
        wanted = {smap.by_name[n] for n in self.wanted if n in smap.by_name}
        if self.market is Market.SPOT:
            refs = [gsym.spot_ref(p, ts) for p in pairs if p.id in wanted]
        else:
            refs = [gsym.futures_ref(c, ts) for c in contracts if c.name in wanted]
        # An unknown configured symbol stops the start (a config error); a listed one that is halted or delisted
        # does not: its data and its REF entry (which keeps the strategy out) are still wanted.
        unknown, problems = [], []
        for name in self.wanted:
            try:
                smap.require_tradable(name)
            except SymbolError as e:
                (problems if name in smap.info_by_name else unknown).append(str(e))
        if unknown and strict:
            raise SymbolError("; ".join(unknown))
        problems += unknown
        if problems:
            self.rlog("symbols", "gateio %s: symbol rules changed: %s", self.market.value, "; ".join(problems))
        self.symbols = smap
        for b in self.books.values():
            meta = self.meta.get(b.venue_symbol)
            if meta is not None:
                b.funding_interval_s = meta.funding_interval_s
                b.funding_next_s = max(b.funding_next_s, meta.funding_next_apply_s)
            if b.futures and (info := smap.info_by_name.get(b.name)) is not None:
                mult = float(1 / info.contract_multiplier)
                if mult != b.mult:
                    self._remultiply(b, mult)
        refresh_refs(self.refs, [r for r in refs if r is not None], self.wanted, ts)
        await self.refpub.publish(self.refs.values())

    def _remultiply(self, b: _Book, mult: float) -> None:
        """A refresh found a new ``quanto_multiplier``: sizes are divided by the new ``mult`` from now on, and the book
        is rebuilt from a fresh snapshot (stale until then, reason ``rules_changed``) so that no published book mixes
        levels read with two multipliers; a rotation's pending book, built with the old one, is dropped."""
        log.warning("gateio futures %s: contract multiplier changed: %s -> %s base per contract; book resynced",
                    b.name, 1 / b.mult, 1 / mult)
        b.set_mult(mult)
        b.pending = None
        b.pending_conn = None
        b.sync.rescale(b.apply, R_RULES)
        self._status(b, time.time_ns())
        self._snap_event.set()

    async def _load_funding_history(self) -> None:
        for vs in self.books:
            try:
                self.funding[vs] = sorted(await self.rest.funding_history(vs), key=lambda p: p.t)
            except Exception as e:  # history is informative; never blocks market data  # noqa: BLE001 -- a loop/peer that must survive any failure
                self.rlog(("funding_history", vs), "gateio funding history %s failed: %r", vs, e)

    # ---------------------------------------------------------------------------------------- WS sink

    def _handlers(self) -> dict[type, Any]:
        if self.market is Market.SPOT:
            return {SpotBookTickerFrame: self.on_spot_bbo, SpotBookUpdateFrame: self.on_book,
                    SpotTradeFrame: self.on_spot_trade, SpotCandlesFrame: self.on_spot_candles}
        return {FuturesBookTickerFrame: self.on_fut_bbo, FuturesBookUpdateFrame: self.on_book,
                FuturesTradesFrame: self.on_fut_trades, FuturesTickersFrame: self.on_fut_tickers,
                FuturesLiquidatesFrame: self.on_fut_liquidates, FuturesCandlesFrame: self.on_fut_candles}

    def on_control(self, c: Control) -> None:
        self.n["control"] += 1
        if c.error is not None:
            self.rlog(("ws_error", c.channel), "gateio %s ws %s %s error %d: %s", self.market.value, c.channel,
                      c.event, c.error.code, c.error.message)

    def on_malformed(self, where: str, data: Any) -> None:
        self.parse_errors += 1
        self.rlog(("malformed", where), "gateio %s: malformed frame (%s): %.200r", self.market.value, where, data)

    def on_spot_bbo(self, f: SpotBookTickerFrame, ts_recv: int) -> None:
        r = f.result
        self._bbo(r.s, r.b, r.B, r.a, r.A, r.u, r.t, ts_recv)

    def on_fut_bbo(self, f: FuturesBookTickerFrame, ts_recv: int) -> None:
        r = f.result
        try:
            bp = float(r.b) if r.b != "" else 0.0
            ap = float(r.a) if r.a != "" else 0.0
            bq = float(r.B)
            aq = float(r.A)
        except ValueError:
            self.on_malformed("futures.book_ticker", r)
            return
        self._bbo(r.s, bp, bq, ap, aq, r.u, r.t, ts_recv)

    def _bbo(self, vs: str, bp: float, bq: float, ap: float, aq: float, u: int, t_ms: int, ts_recv: int) -> None:
        """One book ticker of either market (sizes as the venue sends them: futures in contracts)."""
        b = self.books.get(vs)
        if b is None:
            return
        self.n["bbo"] += 1
        if not b.bbo_news(self._wsm.current, u):
            return
        if bp >= ap > 0.0:
            b.crossed_bbo += 1
            return
        if b.bbo_stale:
            self._feed_ok(b, "bbo", ts_recv)
        m = b.mult
        self.pub.bbo(b.subj, b.name, bp, bq / m, ap, aq / m, u, t_ms * 1_000_000, ts_recv)

    def on_book(self, f: SpotBookUpdateFrame | FuturesBookUpdateFrame, ts_recv: int) -> None:
        """``spot.order_book_update`` / ``futures.order_book_update``: the same frame for both markets (``U``/``u``,
        ``full``); only the levels differ (spot float pairs, futures ``{p, s}`` in contracts), and ``_Book`` knows
        how to take them."""
        r = f.result
        b = self.books.get(r.s)
        if b is None:
            return
        self.n["book"] += 1
        conn = self._wsm.current
        if conn is not b.src:
            if b.src is not None:
                self._from_other(b, conn, r, ts_recv)
                return
            b.src = conn  # start-up or after a disconnect: the book is (re)built from this socket
        sync = b.sync
        b.ts_event = r.t * 1_000_000
        b.ts_recv = ts_recv
        # _Book.feed inlined
        if r.full:
            changed = sync.on_full(r.u, b.base(r.b), b.base(r.a))
        else:
            changed = sync.on_diff(r.U, r.u, r.b, r.a)
        self._after_book(b, sync, changed, ts_recv)

    def on_book_read(self, r: tuple, ts_recv: int) -> bool:
        """An ``order_book_update`` as the compiled reader read it (``ws.BookReader``: ``(s, U, u, t, bids, asks)``, each
        side flat ``[price, size, ...]``; never a ``full`` push): the hot path. It handles only the common case, a
        diff from the book's source that continues its OK book, exactly as ``on_book`` would; for anything else it
        returns False having touched nothing, and the frame goes through msgspec and ``on_book``."""
        s, first, last, t, bids, asks = r
        b = self.books.get(s)
        if b is None or self._wsm.current is not b.src:
            return False
        sync = b.sync
        changed = sync.continue_with(first, last, bids, asks, b.read_apply)
        if changed is None:
            return False
        self.n["book"] += 1
        b.ts_event = t * 1_000_000
        b.ts_recv = ts_recv
        if changed and b.last_state is _OK:  # _after_book's common branch, inlined
            if ts_recv - b.last_book_ns >= self._interval_ns:
                self._publish_book(b, ts_recv)
            else:
                b.dirty = True
        else:
            self._after_book(b, sync, changed, ts_recv)
        return True

    def book_feed(self, futures: bool) -> Any:
        """``on_book_read``'s common case and the reader in one compiled call (``ws.BookFeed``, reading this
        gateway's ``books``, ``n``, ``_wsm`` and ``_interval_ns`` per frame), or None without the extensions."""
        if BookFeed is None or FLAT_SYNC is None:
            return None
        return BookFeed(futures, self, _Book, _OK, FLAT_SYNC)

    def _after_book(self, b: _Book, sync: BookSync, changed: bool, ts_recv: int) -> None:
        """A book frame was fed to ``sync`` (``changed``: the book changed and is OK): a status when its state moved,
        else the book (at most every ``book_interval_ms``; marked dirty for the flusher in between)."""
        if sync.state is not b.last_state:
            self._status(b, ts_recv)
            if sync.needs_snapshot:
                self._snap_event.set()
        elif changed:
            if ts_recv - b.last_book_ns >= self._interval_ns:
                self._publish_book(b, ts_recv)
            else:
                b.dirty = True
        elif sync.needs_snapshot:
            self._snap_event.set()

    # ------------------------------------------------------------------ which socket feeds a book (rotation)

    def _from_other(self, b: _Book, conn: Any, r: Any, ts_recv: int) -> None:
        """A book frame from a socket that is not the book's source (a rotation's overlap, after it).

        Gate gives each subscription its own U..u windows, so the two sockets of a rotation cannot feed one
        BookSync: the new socket's frames build a pending book of their own, which takes over once it is OK and
        not behind; the old socket's frames are then ignored.
        """
        src = b.src
        if conn.serial < src.serial:
            return  # the retiring socket of a rotation whose replacement already took this book over
        p = b.pending
        if p is None or b.pending_conn is not conn:
            p = b.pending = b.new_sync()
            b.pending_conn = conn
            b.pend_attempt = 0
            b.pend_not_before = 0.0
        b.feed(p, r)
        if p.ok and p.book.seq >= b.sync.book.seq:
            b.ts_event = r.t * 1_000_000
            b.ts_recv = ts_recv
            self._switch(b, ts_recv)
        elif src.closed:
            # the old socket was retired before the new one had this book in sync: a possible hole
            self._promote(b, ts_recv)
        elif p.needs_snapshot:
            self._snap_event.set()

    def _take_pending(self, b: _Book) -> BookSync:
        """Make the pending book the book (its socket the source), keeping the counters of the one it replaces."""
        p = b.pending
        assert p is not None
        old = b.sync
        for k in _COUNTERS:
            setattr(p, k, getattr(p, k) + getattr(old, k))
        p.resyncs = old.resyncs  # the pending book losing its own sync never touched what was published
        b.sync = p
        b.src = b.pending_conn
        b.snap_attempt, b.snap_not_before = b.pend_attempt, b.pend_not_before
        b.pending = None
        b.pending_conn = None
        return p

    def _switch(self, b: _Book, ts_recv: int) -> None:
        """The pending book is OK and not behind: it takes over without a hole (published ids never go back)."""
        self._take_pending(b)
        self.switches += 1
        if b.sync.state is not b.last_state:
            self._status(b, ts_recv)
        else:
            self._publish_book(b, ts_recv)

    def _promote(self, b: _Book, ts_recv: int) -> None:
        """Rotation fallback: the old socket is gone and the new one's book is not in sync yet: stale, resync."""
        was_ok = b.sync.ok
        p = self._take_pending(b)
        resyncs = p.resyncs + was_ok  # one resync for the book, however the pending one stood
        if p.ok:  # in sync but behind the old socket's last id: rebuild rather than publish an older book
            p.mark_stale()
        p.resyncs = resyncs
        self._status(b, ts_recv)
        if p.needs_snapshot:
            self._snap_event.set()

    def _rotation_ready(self, new: Any) -> bool:
        """WsManager hook: the old socket may go once every in-sync book of ``new``'s symbols is fed by ``new``."""
        books = self.books
        for vs in new.subscriptions:
            b = books.get(vs)
            if b is not None and b.src is not None and b.src is not new and b.sync.ok:
                return False
        return True

    # ------------------------------------------------------------------ trades

    def on_spot_trade(self, f: SpotTradeFrame, ts_recv: int) -> None:
        r = f.result
        b = self.books.get(r.currency_pair)
        if b is None:
            return
        self.n["trade"] += 1
        if not b.trade_news(self._wsm.current, r.id):
            return
        ts_event = int(r.create_time_ms * 1_000_000) if r.create_time_ms else r.create_time * 1_000_000_000
        self.pub.trade(b.subj, b.name, r.price, r.amount, BUY if r.side == "buy" else SELL, str(r.id), ts_event,
                       ts_recv)

    def on_fut_trades(self, f: FuturesTradesFrame, ts_recv: int) -> None:
        books = self.books
        conn = self._wsm.current
        trade = self.pub.trade
        for r in f.result:
            b = books.get(r.contract)
            if b is None:
                continue
            self.n["trade"] += 1
            if not b.trade_news(conn, r.id):
                continue
            ts_event = int(r.create_time_ms * 1_000_000) if r.create_time_ms else int(r.create_time * 1e9)
            size = r.size
            trade(b.subj, b.name, r.price, abs(size) / b.mult, BUY if size > 0 else SELL, str(r.id), ts_event, ts_recv)

    def on_fut_tickers(self, f: FuturesTickersFrame, ts_recv: int) -> None:
        ts_event = f.time_ms * 1_000_000 or ts_recv
        for t in f.result:
            b = self.books.get(t.contract)
            if b is None:
                continue
            self.n["ticker"] += 1
            if b.funding_stale:
                self._feed_ok(b, "funding", ts_recv)
            try:
                if t.mark_price:
                    self.pub.mark(b.subj, b.name, float(t.mark_price), ts_event, ts_recv)
                if t.index_price:
                    self.pub.index(b.subj, b.name, float(t.index_price), ts_event, ts_recv)
                if t.funding_rate:
                    self._publish_funding(b, float(t.funding_rate), ts_event, ts_recv)
            except ValueError:
                self.on_malformed("futures.tickers", t)

    def _publish_funding(self, b: _Book, rate: float, ts_event: int, ts_recv: int) -> None:
        interval = b.funding_interval_s
        nxt = b.funding_next_s
        now_s = ts_recv / 1e9
        if interval > 0 and nxt > 0:
            while nxt <= now_s:  # the venue applied it; the next one is one interval later
                nxt += interval
            b.funding_next_s = nxt
        self.pub.funding(b.subj, b.name, rate, int(nxt * 1e9), interval, ts_event, ts_recv)

    # ------------------------------------------------------------------ open interest, liquidations, klines

    def on_fut_liquidates(self, f: FuturesLiquidatesFrame, ts_recv: int) -> None:
        """``futures.public_liquidates``: each order once (``LiqCursor``), size in base, side from the size's sign."""
        books = self.books
        for r in f.result:
            b = books.get(r.contract)
            if b is None:
                continue
            try:
                t = r.time or r.time_ms
                ts_event = int(t * 1_000_000) if t > 1e11 else int(t * 1_000_000_000)  # ms (2026 docs) or s
                size = float(r.size)
                price = float(r.price)
            except ValueError:
                self.on_malformed("futures.public_liquidates", r)
                continue
            self.n["liquidation"] += 1
            cur = self.liq.get(r.contract)
            if cur is None:
                cur = self.liq[r.contract] = LiqCursor()
            if cur.admit(ts_event // 1_000_000_000, size, price):
                self.pub.liquidation(b.subj, b.name, price, abs(size) / b.mult, BUY if size > 0 else SELL, ts_event,
                                     ts_recv, "ws")

    def _rest_liquidation(self, b: _Book, r: LiqOrder, ts_recv: int) -> None:
        """One ``liq_orders`` row: ``size`` is the liquidated position (> 0 long), so the order is its negation."""
        try:
            order_size = -float(r.size)
            order_price = float(r.order_price)
            fill = float(r.fill_price) if r.fill_price else 0.0
        except ValueError:
            self.on_malformed("liq_orders", r)
            return
        sec = int(r.time)
        if order_size == 0.0 or not self.liq.setdefault(b.venue_symbol, LiqCursor()).admit(sec, order_size,
                                                                                            order_price):
            return
        self.pub.liquidation(b.subj, b.name, fill or order_price, abs(order_size) / b.mult,
                             BUY if order_size > 0 else SELL, int(r.time * 1e9), ts_recv, "rest")

    def on_fut_candles(self, f: FuturesCandlesFrame, ts_recv: int) -> None:
        """``futures.candlesticks``: ``n`` is ``<interval>_<contract>``; volume in contracts -> base."""
        ts_event = f.time_ms * 1_000_000 or ts_recv
        for r in f.result:
            iv, _, vs = r.n.partition("_")
            b = self.books.get(vs)
            if b is None or iv not in INTERVAL_S:
                continue
            self.n["kline"] += 1
            self.settler.on_live(vs, iv, r.t)  # a new window: the previous one is settled over REST unless closed
            self._kline(b, iv, r.t, r.o, r.h, r.l, r.c, r.v, 0.0, r.w, ts_event, ts_recv, "futures.candlesticks")

    def on_spot_candles(self, f: SpotCandlesFrame, ts_recv: int) -> None:
        """``spot.candlesticks``: ``n`` is ``<interval>_<pair>``; ``a`` is the base volume, ``v`` the quote volume."""
        r = f.result
        iv, _, vs = r.n.partition("_")
        b = self.books.get(vs)
        if b is None or iv not in INTERVAL_S:
            return
        self.n["kline"] += 1
        self.settler.on_live(vs, iv, r.t)
        self._kline(b, iv, r.t, r.o, r.h, r.l, r.c, r.a, r.v, r.w, f.time_ms * 1_000_000 or ts_recv, ts_recv,
                    "spot.candlesticks")

    def _kline(self, b: _Book, iv: str, t: int, o: Any, h: Any, low: Any, c: Any, v: Any, quote: Any, closed: bool,
               ts_event: int, ts_recv: int, where: str) -> None:
        """One candle of either market (``v`` in the venue's size unit: futures contracts, spot base) into the
        common ``KlineFeed`` (published once, never an older window)."""
        try:
            o_, h_, l_, c_, v_, q_ = float(o), float(h), float(low), float(c), float(v) / b.mult, float(quote)
        except ValueError:
            self.on_malformed(where, (t, o, h, low, c, v))
            return
        self.klines.candle(b.subj, b.name, b.venue_symbol, iv, t, o_, h_, l_, c_, v_, q_, closed, ts_event, ts_recv)

    def _backfill_klines(self, b: _Book, iv: str, candles: list[Candle], now_s: float, ts_recv: int,
                         closed_only: bool = False) -> None:
        """GET /futures/usdt/candlesticks: closed when the window ended before the read (the rows say nothing).
        ``closed_only`` (a settle read): the open row is not published (it may be older than the last push)."""
        step = INTERVAL_S[iv]
        for k in sorted(candles, key=lambda k: k.t):
            t = int(k.t)
            closed = t + step <= now_s
            if closed_only and not closed:
                continue
            self._kline(b, iv, t, k.o, k.h, k.l, k.c, k.v, k.sum, closed, t * 1_000_000_000, ts_recv, "candlesticks")

    def _backfill_spot_klines(self, b: _Book, iv: str, rows: list[SpotCandleRow], now_s: float, ts_recv: int,
                              closed_only: bool = False) -> None:
        """GET /spot/candlesticks rows [t, quote volume, close, high, low, open, base volume, closed] (7 values as in
        the docs' example: no base volume, the last is the flag); closed as the venue says, else when the window
        ended before the read."""
        step = INTERVAL_S[iv]
        parsed = []
        for r in rows:
            try:
                t = int(r[0])
                if len(r) == 7 and str(r[6]).lower() in ("true", "false"):  # the docs' example: no base volume
                    base, flag = 0, r[6]
                else:
                    base, flag = (r[6] if len(r) > 6 else 0), (r[7] if len(r) > 7 else "")
                flag = str(flag).lower()
                closed = flag == "true" if flag in ("true", "false") else t + step <= now_s
                parsed.append((t, r[5], r[3], r[4], r[2], base, r[1], closed))
            except (IndexError, TypeError, ValueError):
                self.on_malformed("spot candlesticks", r)
        for t, o, h, low, c, base, quote, closed in sorted(parsed, key=lambda x: x[0]):
            if closed_only and not closed:
                continue
            self._kline(b, iv, t, o, h, low, c, base, quote, closed, t * 1_000_000_000, ts_recv, "spot candlesticks")

    async def _catch_up(self) -> None:
        """What a socket cannot replay: liquidations since the cursor and the latest candles, over REST."""
        for b in list(self.books.values()):
            vs = b.venue_symbol
            now_s = time.time()
            if self.liquidations:
                cur = self.liq.setdefault(vs, LiqCursor())
                to_s = int(now_s) + 1
                from_s = max(cur.sec, to_s - LIQ_WINDOW_S)  # the cursor's own second again: keys drop repeats
                try:
                    rows = await self.rest.liq_orders(vs, from_s, to_s)
                    ts_recv = time.time_ns()
                    for r in sorted(rows, key=lambda r: r.time):
                        if r.contract == vs:
                            self._rest_liquidation(b, r, ts_recv)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 -- history fills a gap; never blocks market data
                    self.rlog(("liq_orders", vs), "gateio liq_orders %s failed: %r", vs, e)
            for iv in self.kline_intervals:
                if self.options.kline_backfill <= 0:
                    break
                try:
                    if self.market is Market.SPOT:
                        rows = await self.rest.spot_candles(vs, iv, self.options.kline_backfill)
                        self._backfill_spot_klines(b, iv, rows, time.time(), time.time_ns())
                        continue
                    candles = await self.rest.futures_candles(vs, iv, self.options.kline_backfill)
                    self._backfill_klines(b, iv, candles, time.time(), time.time_ns())
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 -- history; never blocks market data
                    self.rlog(("candlesticks", vs, iv), "gateio candlesticks %s %s failed: %r", vs, iv, e)

    async def _settle_read(self, vs: str, iv: str, limit: int) -> None:
        """``KlineSettler``'s read: the newest ``limit`` candles, only the closed ones published; raises on failure
        (the settler keeps the window due and retries)."""
        b = self.books[vs]
        if self.market is Market.SPOT:
            rows = await self.rest.spot_candles(vs, iv, limit)
            self._backfill_spot_klines(b, iv, rows, self.clock_s(), time.time_ns(), closed_only=True)
        else:
            candles = await self.rest.futures_candles(vs, iv, limit)
            self._backfill_klines(b, iv, candles, self.clock_s(), time.time_ns(), closed_only=True)

    async def poll_open_interest(self) -> None:
        """One read of every contract's statistics: the newest bucket is published when it moved."""
        for b in list(self.books.values()):
            vs = b.venue_symbol
            try:
                stats = await self.rest.contract_stats(vs, int(time.time()) - 900, OI_BUCKET)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 -- a poll that must survive any failure
                self.rlog(("contract_stats", vs), "gateio contract_stats %s failed: %r", vs, e)
                continue
            ts_recv = time.time_ns()
            if not stats:
                continue
            st = max(stats, key=lambda x: x.time)
            try:
                oi = float(st.open_interest)
                usd = float(st.open_interest_usd)
            except ValueError:
                self.on_malformed("contract_stats", st)
                continue
            if self.oi_last.get(vs) == (st.time, oi):
                continue
            self.oi_last[vs] = (st.time, oi)
            self.n["oi"] += 1
            self.pub.open_interest(b.subj, b.name, oi / b.mult, usd, st.time * 1_000_000_000, ts_recv)

    async def _stats_worker(self) -> None:
        """Open interest every ``open_interest_poll_s``; the REST catch-up after every reconnect."""
        loop = asyncio.get_running_loop()
        next_oi = loop.time()
        while True:
            wait = next_oi - loop.time() if self.oi_poll_s > 0 else 3600.0
            try:
                async with asyncio.timeout(max(0.0, wait)):
                    await self._catchup.wait()
            except TimeoutError:
                pass
            if self._catchup.is_set():
                self._catchup.clear()
                await self._catch_up()
            if self.oi_poll_s > 0 and loop.time() >= next_oi:
                next_oi = loop.time() + self.oi_poll_s
                await self.poll_open_interest()

    # ---------------------------------------------------------------------------------------- book publishing

    def _publish_book(self, b: _Book, now: int) -> None:
        """The top of ``b``'s book (empty unless OK); ``now`` is the frame's read time or, without one, the clock."""
        sync = b.sync
        if sync.ok:
            bids, asks = sync.book.top(self._depth)
        else:
            bids, asks = [], []
        b.last_book_ns = now
        b.dirty = False
        self.pub.book(b.subj, b.name, bids, asks, sync.book.seq, sync.state, b.ts_event or now, b.ts_recv or now)

    def _feeds_stale(self, b: _Book, reason: str, ts: int) -> None:
        """bbo (and futures funding) cannot prove they are live: one stale status each until their next push."""
        if not b.bbo_stale:
            b.bbo_stale = True
            self.pub.status(b.subj, b.name, BookState.STALE, reason, ts, "bbo")
        if self.market is Market.FUTURES and not b.funding_stale:
            b.funding_stale = True
            self.pub.status(b.subj, b.name, BookState.STALE, reason, ts, "funding")

    def _feed_ok(self, b: _Book, feed: str, ts_recv: int) -> None:
        if feed == "bbo":
            b.bbo_stale = False
        else:
            b.funding_stale = False
        self.pub.status(b.subj, b.name, BookState.OK, R_FRESH, ts_recv, feed)

    def _status(self, b: _Book, ts_recv: int) -> None:
        sync = b.sync
        b.last_state = sync.state
        self.pub.status(b.subj, b.name, sync.state, sync.reason, ts_recv)
        self._publish_book(b, ts_recv)

    async def _book_flusher(self) -> None:
        period = max(0.005, self.options.book_interval_ms / 2000.0)
        while True:
            await asyncio.sleep(period)
            now = time.time_ns()
            for b in self.books.values():
                if b.dirty and now - b.last_book_ns >= self._interval_ns:
                    self._publish_book(b, now)

    # ---------------------------------------------------------------------------------------- resync

    async def _snapshot_worker(self) -> None:
        rng = random.Random()
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(0.5):  # not wait_for: on 3.11 it can lose the cancel of stop()
                    await self._snap_event.wait()
            except TimeoutError:
                pass
            self._snap_event.clear()
            now = loop.time()
            for b in list(self.books.values()):
                p = b.pending
                if (p is not None and p.needs_snapshot and now >= b.pend_not_before and p.buffered
                        and not b.pending_conn.closed and not b.pending_conn.silent):
                    await self._snapshot(b, p, rng)  # a rotation's new socket (futures: no full push)
                    now = loop.time()
                sync = b.sync
                if not sync.needs_snapshot or now < b.snap_not_before:
                    continue
                if not self._socket_up(b.venue_symbol):
                    continue  # diffs must be flowing (buffered) before a snapshot can be continued
                await self._snapshot(b, sync, rng)

    async def _snapshot(self, b: _Book, sync: BookSync, rng: random.Random) -> None:
        """Fetch one REST snapshot into ``sync`` (the book's, or its pending one) and replay the buffered diffs."""
        loop = asyncio.get_running_loop()
        main = sync is b.sync
        sync.begin_snapshot()
        if main:
            self._status(b, time.time_ns())
        try:
            fetch = self.rest.spot_order_book if self.market is Market.SPOT else self.rest.futures_order_book
            s = await fetch(b.venue_symbol, SNAPSHOT_LIMIT)
            self.snapshots += 1
            if sync.state is not BookState.RESYNCING:
                return  # made stale during the fetch (socket silent or lost), or synced by a full push: not installed
            ok = sync.on_snapshot(s.id, b.base(s.bids), b.base(s.asks))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 -- a loop/peer that must survive any failure
            sync.snapshot_failed()
            ok = False
            self.rlog(("snapshot", b.venue_symbol), "gateio %s %s: snapshot failed: %r", self.market.value,
                      b.venue_symbol, e)
        if main:
            if ok:
                b.snap_attempt = 0
            else:
                b.snap_attempt += 1
                b.snap_not_before = loop.time() + rng.uniform(0.05, min(30.0, 0.2 * 2 ** min(b.snap_attempt, 8)))
        elif sync is b.pending:
            if ok:
                b.pend_attempt = 0
            else:
                b.pend_attempt += 1
                b.pend_not_before = loop.time() + rng.uniform(0.05, min(30.0, 0.2 * 2 ** min(b.pend_attempt, 8)))
        if sync is b.sync:  # also a pending book promoted while its snapshot was in flight
            self._status(b, time.time_ns())
        elif sync is b.pending and sync.ok and sync.book.seq >= b.sync.book.seq:
            self._switch(b, time.time_ns())

    def _socket_up(self, venue_symbol: str) -> bool:
        """The socket that carries this book's diffs is connected and not silent. Not just any socket: with several
        shards, a snapshot taken while the book's own socket is down would be published OK and then stay frozen;
        one taken while it is silent would be published OK with nothing proving that diffs still follow it."""
        ws = self.ws
        if ws is None:
            return False
        for sh in ws.shards:
            if venue_symbol in sh.subscriptions:
                return bool(getattr(sh, "live", sh.connected))
        return bool(ws.connected)

    def _books_of(self, conn: Any) -> list[_Book]:
        """The books ``conn`` carries; a pending book it was building is dropped (its socket is gone or silent)."""
        out = []
        for vs in conn.subscriptions:
            b = self.books.get(vs)
            if b is None:
                continue
            if b.pending_conn is conn:
                b.pending = None
                b.pending_conn = None
            out.append(b)
        return out

    def _on_disconnect(self, conn: Any) -> None:
        """A socket died (not a rotation): the books it fed are stale, unless a rotation's new socket already
        holds them in sync (then that one takes over); a pending book of the dead socket is dropped."""
        now = time.time_ns()
        for b in self._books_of(conn):
            if b.trade_conn is conn:  # no overlap to deduplicate any more (and a venue may have reset its ids)
                b.trade_conn = None
                b.trade_id = 0
            if b.bbo_conn is conn:
                b.bbo_conn = None
                b.bbo_u = 0
            src = b.src
            if src is not None and src is not conn and not src.closed:
                continue  # fed by another live socket (a rotation already moved this book)
            p = b.pending
            if p is not None and p.ok and p.book.seq >= b.sync.book.seq and not b.pending_conn.closed:
                self._switch(b, now)
                continue
            b.src = None
            b.pending = None
            b.pending_conn = None
            b.sync.mark_stale(R_DISCONNECTED)
            self._status(b, now)
            self._feeds_stale(b, R_DISCONNECTED, now)

    def _on_silent(self, conn: Any) -> None:
        """No frame, not even a pong, for ``stale_after_s``: every feed the socket carries is stale at once (a book
        another socket already feeds after a rotation is left alone). Books resync once frames are back."""
        now = time.time_ns()
        for b in self._books_of(conn):
            src = b.src
            if src is None or src is conn or src.closed:
                b.sync.mark_stale(R_SILENT)
                if b.last_state is not BookState.STALE:
                    self._status(b, now)
            self._feeds_stale(b, R_SILENT, now)

    def _on_resumed(self, conn: Any) -> None:
        """Frames flow again on a socket that was silent: its stale books resync (the snapshot worker)."""
        self._snap_event.set()

    def _on_reconnect(self, conn: Any) -> None:
        self.metrics.reconnects.inc()
        self._snap_event.set()
        self._catchup.set()

    # ---------------------------------------------------------------------------------------- housekeeping

    async def _housekeeping(self) -> None:
        """Export counters every second; refresh symbol rules every ``symbol_refresh_s``."""
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.options.symbol_refresh_s
        while True:
            await asyncio.sleep(1.0)
            self.export_metrics()
            if loop.time() >= next_refresh:
                next_refresh = loop.time() + self.options.symbol_refresh_s
                try:
                    await self._load_symbols(strict=False)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 -- a loop/peer that must survive any failure
                    self.rlog("refresh", "gateio %s: symbol refresh failed: %r", self.market.value, e)

    def export_metrics(self) -> None:
        self.metrics.export(self.n, self.parse_errors, self.gaps, self.resyncs)

    @property
    def gaps(self) -> int:
        return sum(b.sync.gaps for b in self.books.values())

    @property
    def resyncs(self) -> int:
        return sum(b.sync.resyncs for b in self.books.values())


def build_public(endpoints: VenueEndpoints, market: Market, symbols: list[str], bus: Bus,
                 session: aiohttp.ClientSession, options: GatewayOptions) -> GatePublicGateway:
    """The Gate.io market-data gateway for ``market`` (spot or futures), per specs/gateways.md."""
    if market not in (Market.SPOT, Market.FUTURES):
        raise ValueError(f"gateio: no {market} market")
    rest = PublicRest(GateHttp(session, endpoints.rest_url, options.request_timeout_s))
    return GatePublicGateway(market, symbols, bus, rest, session, endpoints, options)


__all__ = ["GatePublicGateway", "build_public"]
