"""MEXC Spot market-data gateway: protobuf WS (aggre depth, bookTicker, deals) -> md.mexc.spot.<symbol>.*

Per configured symbol it subscribes three channels (so a 30-subscription connection carries 10 symbols; the
``WsManager`` shards), keeps an L2 book from ``GET /api/v3/depth`` + aggre depth diffs under MEXC's
fromVersion/toVersion rules (``arb.venues.common.sync.MEXC_RULE``), and publishes:

* ``bbo``    every aggre bookTicker push (deduplicated by its ``version`` when MEXC sends one);
* ``trade``  every deal of an aggre deals push (deduplicated by time/tradeId across a WS rotation);
* ``book``   top ``options.depth`` levels of the synced book, at most every ``options.book_interval_ms``;
             on a gap / crossed book / disconnect an empty book with ``state=stale`` at once, then resync;
* reference data: each configured symbol's rules and fees (``SymbolRef``) into the KV bucket ``REF`` at start and
             whenever a refresh (``options.symbol_refresh_s``) finds a change (``arb.venues.common.refpub``); a
             refresh reads ``exchangeInfo?symbols=<configured>`` only (``_load_symbols``);
* ``status`` when a book goes stale (with the reason) and when it is synced again (``feed`` ``book``), and when
             the bbo feed goes stale (socket silent or lost) and with its first push after that (``feed`` ``bbo``);
* ``kline``  for ``options.kline_intervals`` (REST names 1m 5m 15m 30m 60m 4h 1d 1W 1M): every push of
             ``spot@public.kline.v3.api.pb@<SYMBOL>@<Min1|...>`` (body 308), backfilled from ``GET /api/v3/klines`` at
             start and after every reconnect, through ``arb.venues.common.klines.KlineFeed`` (never an older
             window open, never a closed window twice). The push has no closed flag: it is closed when its
             ``windowEnd`` is at or before the push's time, else open; a REST row is closed when its close time has
             passed. So a window's final, closed candle comes from REST (``arb.venues.common.klines.KlineSettler``):
             ``KLINE_SETTLE_S`` after the first push of the next window, the newest rows are read (2, or as many as
             cover every window still due; 1 request per interval and symbol per window), and only the closed rows
             go out, after the new window's first open candle (``KlineFeed``'s one exception to "never go back"); a
             failed read keeps the window due and is retried with backoff.

Liveness (specs/gateways.md): the socket sends ``{"method":"PING"}`` at least every ``stale_after_s / 3``; any frame,
a ``PONG`` included, proves it live. A socket with no frame for ``stale_after_s`` is *silent*: every book and bbo it
carries is published stale at once (reason ``silent``); a book is ok again only after a resync (a REST snapshot and
the diffs after it, taken once frames are back), the bbo with its next push. The watchdog still replaces a socket
that stays silent for ``watchdog_s``.

A book is only snapshotted while its depth channel is on a live socket; a depth channel the venue refuses
("Not Subscribed successfully! [...]") leaves the book stale (``subscription_refused``) until an ack of it.

Limit-depth mode (``options.mexc_limit_depth`` 5, 10 or 20; 0, the default, is the diff-synced book above): the
depth channel is ``spot@public.limit.depth.v3.api.pb@<SYMBOL>@<N>`` (body 303, ``PublicLimitDepthsV3Api``). Each push
is the venue's whole top N, so it replaces the book (``BookSync.on_full``) and is published ``ok`` at once: no REST
snapshot, no fromVersion/toVersion chain. Its ``version`` (the venue's book update id, a decimal string) is the
published ``seq`` and orders the pushes: one not newer than the book held is dropped (the same push from both
sockets during a rotation), except after the book went stale (disconnect, silence, refusal, crossed), when the
next push is taken whatever its version (a venue restart may start the ids again). A push without a version gets
the held seq + 1. A crossed push leaves the book stale until the next push that is not.

A crossed or gapped book is never published as ``ok``. Every frame is counted per kind; a malformed frame
is counted and logged (rate-limited) and the loop goes on. Frames are read by ``wire.decode_public`` (a
compiled one-pass reader; upb when it is not built) and routed on the push's symbol and body field. Publishing is
``arb.venues.common.mdpub.MdPublisher``'s (the same for every venue: the frame handler queues the event, one task
publishes it and stamps ``ts_pub``), so the WS read loop never waits on the bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from ...bus.connection import Bus
from ...bus.subjects import MdSubjects
from ...config.schema import GatewayOptions, VenueEndpoints
from ...core.enums import BookState, Market, Side, SymbolStatus, Venue
from ...core.errors import ConfigError, SymbolError, VenueClientError
from ...core.refdata import SymbolRef
from ...core.symbols import SymbolInfo, SymbolMap
from ...obs.log import RateLimitedLog, get_logger
from ..common import metrics as gm
from ..common.klines import KlineFeed, KlineSettler
from ..common.lifecycle import cancel_tasks
from ..common.mdpub import MdPublisher
from ..common.refpub import RefPublisher
from ..common.refpub import refresh as refresh_refs
from ..common.sync import MEXC_RULE, R_DISCONNECTED, R_FRESH, R_SILENT, BookSync
from ..common.ws import WsConnection, WsManager
from . import parse, wire
from .rest import MexcPublicRest
from .symbols import check_configured, symbol_map, to_ref
from .ws import MexcWsAdapter, refused_channels, ws_config

log = get_logger(__name__)
_now = time.time_ns
_OK = BookState.OK
_STALE = BookState.STALE
_DEPTH, _BBO, _DEALS = 0, 1, 2  # frame counters
_MEXC = Venue.MEXC
_MS = 1_000_000
_BUY, _SELL = Side.BUY, Side.SELL
_decode, _decode_py = wire.decode_public, wire.decode_public_py
_W_DEPTH, _W_BBO, _W_DEALS, _W_LIMIT, _W_KLINE = wire.DEPTH, wire.BBO, wire.DEALS, wire.LIMIT_DEPTH, wire.KLINE
R_REFUSED = "subscription_refused"  # MarketStatus.reason when the venue refused the depth channel
KLINE_SETTLE_S = 1.0  # after a window's first push, wait this long before reading the closed one over REST
# REST interval name -> seconds (1M as 28 days: only sizes how many rows cover the windows still due)
KLINE_S = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "60m": 3600, "4h": 14400, "1d": 86400, "1W": 604800,
           "1M": 2419200}


class SymbolFeed:
    """Everything the hot path needs for one symbol, resolved once."""

    __slots__ = (
        "bbo_stale",
        "channels",
        "dirty",
        "info",
        "last_bbo_seq",
        "last_book_pub",
        "last_trade_ids",
        "last_trade_ms",
        "name",
        "next_snap_at",
        "published_state",
        "refused",
        "snap_failures",
        "stale_since",
        "subj",
        "sync",
        "ts_event",
        "ts_recv",
        "venue_symbol",
    )

    def __init__(self, info: SymbolInfo, subj: MdSubjects, channels: tuple[str, str, str]) -> None:
        self.info = info
        self.name = info.name
        self.venue_symbol = info.venue_symbol
        self.subj = subj
        self.sync = BookSync(MEXC_RULE, max_buffer=2000)
        self.dirty = False
        self.last_book_pub = 0
        self.last_bbo_seq = 0
        self.last_trade_ms = 0
        self.last_trade_ids: set[str] = set()
        self.ts_event = 0
        self.ts_recv = 0
        self.stale_since = time.monotonic()
        self.snap_failures = 0
        self.next_snap_at = 0.0
        self.channels = channels
        self.published_state: BookState | None = None
        self.refused = False  # the venue refused the depth channel: no diffs will come, never sync
        self.bbo_stale = False  # published stale (socket silent or lost): ok again with the next push


WsFactory = Callable[[MexcWsAdapter, list[str], Any, Any], WsManager]


class MexcPublicGateway:
    """``PublicGateway`` for MEXC spot. Construct with ``build_public``; tests may inject ``rest`` and ``ws_factory``."""

    venue = Venue.MEXC

    def __init__(self, rest: MexcPublicRest, ws_factory: WsFactory, market: Market, symbols: list[str], bus: Bus,
                 options: GatewayOptions, *, interval: str = "100ms", limit_depth: int | None = None) -> None:
        if market is not Market.SPOT:
            raise ConfigError(f"mexc: only the spot market is supported, not {market.value}")
        self.market = market
        self.rest = rest
        self.bus = bus
        self.options = options
        self.interval = interval
        # 5/10/20: books from the top-N limit depth channel (no REST snapshots, no diff sync); 0: aggre diffs
        self.limit_depth = getattr(options, "mexc_limit_depth", 0) if limit_depth is None else limit_depth
        if self.limit_depth and self.limit_depth not in parse.LIMIT_LEVELS:
            raise ConfigError(f"mexc: limit depth must be one of {parse.LIMIT_LEVELS}, got {self.limit_depth}")
        self.configured = list(dict.fromkeys(symbols))
        self.symbols = SymbolMap(Venue.MEXC, market, [])
        self.feeds: dict[str, SymbolFeed] = {}
        self._ws_factory = ws_factory
        self.ws: WsManager | None = None
        self.adapter = MexcWsAdapter(self.on_binary, on_refused=self._on_refused, on_ack=self._on_ack)
        self._by_symbol: dict[str, SymbolFeed] = {}  # venue symbol -> feed: the hot-path route
        self._by_channel: dict[str, SymbolFeed] = {}  # subscribed channel -> feed: which books a socket carries
        self._snap_wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._depth_n = options.depth
        self._book_interval_ns = options.book_interval_ms * _MS
        self.metrics = gm.bind(Venue.MEXC.value, market.value)
        self._rlog = RateLimitedLog(log, 10.0)
        self.pub = MdPublisher(_MEXC, market, bus, self.metrics, self._rlog)
        self._out = self.pub.out  # (subject, event, kind) waiting for the publishing task
        # plain counters, exported to Prometheus by the metrics loop
        self.frames = [0, 0, 0]  # depth, bbo, deals
        self.unrouted = 0
        self.parse_errors = 0
        self.snapshots = 0
        self._started = False
        self.refs: dict[str, SymbolRef] = {}  # configured symbol -> its rules as last read
        self.refpub = RefPublisher(getattr(bus, "js", None), options.subject_prefix)
        self.kline_intervals = tuple(options.kline_intervals)
        bad = [iv for iv in self.kline_intervals if iv not in parse.KLINE_INTERVALS]
        if bad:
            raise ConfigError(f"gateway.kline_intervals: mexc has no {', '.join(bad)}; it has "
                              f"{', '.join(parse.KLINE_INTERVALS)}")
        self.klines = KlineFeed(self.pub)  # kept across stop/start: what was published stays published
        self.kline_frames = 0
        self._kline_wake = asyncio.Event()  # the kline worker has work: a reconnect's backfill
        self._kline_full = False  # a reconnect: read the last ``kline_backfill`` candles again
        self.clock_ns = _now  # wall clock of the REST candle reads (a row is closed once its close time passed)
        self.settler = KlineSettler(self.klines, self._settle_read, KLINE_S, settle_s=KLINE_SETTLE_S,
                                    name="mexc spot")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load symbol rules (SymbolError for a bad configured symbol), subscribe, start the book loops."""
        await self._load_symbols(initial=True)
        infos = check_configured(self.symbols, self.configured)
        for info in infos:
            if info.status is not SymbolStatus.TRADING:
                log.warning("mexc spot md: %s is %s at the venue: its data is still published, REF says so",
                            info.name, info.status.value)
        subs = self.install_feeds(infos)
        await self.refpub.publish(self.refs.values())
        await self.backfill_klines()  # before the socket: backfilled candles go out before the live ones
        self.ws = self._ws_factory(self.adapter, subs, self._on_reconnect, self._on_disconnect)
        self.ws.on_silent = self._on_silent
        self.ws.on_resumed = self._on_resumed
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.pub.run(), name="mexc-md-publish"),
            loop.create_task(self._book_flusher(), name="mexc-md-books"),
            loop.create_task(self._metrics_loop(), name="mexc-md-metrics"),
            loop.create_task(self._symbol_refresher(), name="mexc-md-symbols"),
        ]
        if self.kline_intervals:
            self._tasks.append(loop.create_task(self._kline_worker(), name="mexc-md-klines"))
            self._tasks.append(loop.create_task(self.settler.run(), name="mexc-md-kline-settle"))
        if not self.limit_depth:  # limit depth pushes are whole books: nothing to snapshot
            self._tasks.append(loop.create_task(self._snapshotter(), name="mexc-md-snapshots"))
        self._started = True
        await self.ws.start()
        log.info("mexc spot md: %d symbols on %d connection(s), %s frame reader, books from %s", len(self.feeds),
                 len(self.ws.shards), wire.IMPL,
                 f"limit depth top {self.limit_depth}" if self.limit_depth else "aggre depth diffs")

    def install_feeds(self, infos: list[SymbolInfo]) -> list[str]:
        """Per-symbol state, subjects and routes (built once); returns the channels to subscribe."""
        subs: list[str] = []
        for info in infos:
            ch = parse.public_channels(info.venue_symbol, self.interval, self.limit_depth)
            f = SymbolFeed(info, MdSubjects.of(Venue.MEXC, self.market, info.name, self.options.subject_prefix), ch)
            self.feeds[info.name] = f
            self._by_symbol[info.venue_symbol] = f
            for c in ch:
                self._by_channel[c] = f
            subs.extend(ch)
            subs.extend(parse.kline_channels(info.venue_symbol, self.kline_intervals))
        return subs

    async def stop(self) -> None:
        self._started = False
        if self.ws is not None:
            await self.ws.stop()
        await cancel_tasks(self._tasks)
        self._tasks = []
        await self.pub.close(2.0)
        self._export_metrics()

    def ready(self) -> bool:
        """Connected on every shard and every book synced."""
        ws = self.ws
        return (self._started and ws is not None and ws.connected == len(ws.shards)
                and all(f.sync.state is _OK for f in self.feeds.values()))

    async def _load_symbols(self, initial: bool = False) -> None:
        """At start every symbol (an unknown configured one is answered with close matches); a refresh asks for the
        configured ones only (``symbols=``: ~2,500 entries decoded and mapped every minute stalled the loop for
        ~20 ms) and builds nothing for the others. A filtered read the venue refuses (a configured symbol it no
        longer lists: -1121) falls back to the whole list, so that symbol is marked delisted as before."""
        if initial:
            raws = (await self.rest.exchange_info()).symbols
        else:
            mine = [f.venue_symbol for f in self.feeds.values()]
            try:
                raws = (await self.rest.exchange_info(mine)).symbols
            except VenueClientError as e:
                self._rlog(("symbols-filtered",), "mexc spot: exchangeInfo for the configured symbols refused (%s); "
                           "reading every symbol", e)
                raws = (await self.rest.exchange_info()).symbols
            wanted_vs = set(mine)
            raws = [r for r in raws if r.symbol in wanted_vs]
        ts = _now()
        m = symbol_map(raws)
        if initial and not len(m):
            raise SymbolError("mexc spot: exchangeInfo returned no symbols")
        self.symbols = m
        wanted = {m.by_name[n] for n in self.configured if n in m.by_name}
        refs = [to_ref(raw, ts) for raw in raws if raw.symbol in wanted]
        refresh_refs(self.refs, [r for r in refs if r is not None], self.configured, ts)
        if not initial:
            for name, f in self.feeds.items():
                new = m.info_by_name.get(name)
                if new is None or new.status != f.info.status:
                    log.warning("mexc spot %s: symbol rules changed: status %s -> %s", name, f.info.status.value,
                                new.status.value if new else "unlisted")
                if new is not None:
                    f.info = new
            await self.refpub.publish(self.refs.values())

    # ------------------------------------------------------------------ hot path

    def on_binary(self, data: bytes) -> None:
        """One binary frame: decode, route on (symbol, body), normalize, queue for publishing."""
        ts_recv = _now()
        try:
            r = _decode(data) or _decode_py(data)
            f = self._by_symbol.get(r[1])
            kind = r[0]
            if f is None:
                self.unrouted += 1
            elif kind == _W_DEPTH:
                self._on_depth(f, r, ts_recv)
            elif kind == _W_BBO:
                self._on_bbo(f, r, ts_recv)
            elif kind == _W_DEALS:
                self._on_deals(f, r, ts_recv)
            elif kind == _W_LIMIT and self.limit_depth:
                self._on_limit(f, r, ts_recv)
            elif kind == _W_KLINE:
                self._on_kline(f, r, ts_recv)
            else:
                self.unrouted += 1
        except Exception as e:  # noqa: BLE001 -- malformed frame: counted, logged (rate-limited), never fatal
            self.parse_errors += 1
            self._rlog("malformed", "mexc spot: malformed frame skipped (%s: %.200s), %d bytes", type(e).__name__,
                       str(e), len(data))

    def _on_bbo(self, f: SymbolFeed, r: tuple, ts_recv: int) -> None:
        """``(315, symbol, ms, bid, bid_qty, ask, ask_qty, version)``; ``version`` (2026.6) is the seq when sent."""
        self.frames[_BBO] += 1
        seq = r[7]
        if seq:
            if seq <= f.last_bbo_seq:
                return  # the same push from both sockets during a rotation
            f.last_bbo_seq = seq
        if f.bbo_stale:
            self._feed_ok(f, ts_recv)
        self.pub.bbo(f.subj, f.name, r[3], r[4], r[5], r[6], seq, r[2] * _MS, ts_recv)

    def _on_deals(self, f: SymbolFeed, r: tuple, ts_recv: int) -> None:
        """``(314, symbol, ms, [(price, qty, tradeType, time_ms, tradeId), ...])``; tradeType 1 = taker buy."""
        self.frames[_DEALS] += 1
        subj = f.subj
        trade = self.pub.trade
        name = f.name
        # the same push arrives on both sockets during a rotation: skip deals at or before the last frame's
        # newest time that we already published (by tradeId when MEXC sends one)
        prev_ms = f.last_trade_ms
        prev_ids = f.last_trade_ids
        top_ms = prev_ms
        top_ids: set[str] = set()
        for px, qty, side, ms, tid in r[3]:
            if ms < prev_ms or (ms == prev_ms and tid and tid in prev_ids):
                continue
            trade(subj, name, px, qty, _BUY if side == 1 else _SELL, tid, ms * _MS, ts_recv)
            if ms > top_ms:
                top_ms = ms
                top_ids = {tid}
            elif ms == top_ms:
                top_ids.add(tid)
        if top_ms > prev_ms:
            f.last_trade_ms = top_ms
            f.last_trade_ids = top_ids
        elif top_ids:
            prev_ids |= top_ids

    def _on_depth(self, f: SymbolFeed, r: tuple, ts_recv: int) -> None:
        """``(313, symbol, ms, fromVersion, toVersion, bids, asks)``, sizes absolute (0 = remove)."""
        self.frames[_DEPTH] += 1
        sync = f.sync
        was_ok = sync.state is _OK
        if sync.on_diff(r[3], r[4], r[5], r[6]):
            f.ts_event = r[2] * _MS
            f.ts_recv = ts_recv
            f.dirty = True
            if ts_recv - f.last_book_pub >= self._book_interval_ns:
                self._publish_book(f)
            return
        if was_ok and sync.state is not _OK:
            self._publish_stale(f)
        if sync.needs_snapshot:
            self._snap_wake.set()

    def _on_limit(self, f: SymbolFeed, r: tuple, ts_recv: int) -> None:
        """``(303, symbol, ms, version, bids, asks)``: the venue's top N, replacing the book (module docstring)."""
        self.frames[_DEPTH] += 1
        sync = f.sync
        was_ok = sync.state is _OK
        seq = r[3] or sync.book.seq + 1
        if sync.on_full(seq, r[4], r[5]):
            f.ts_event = r[2] * _MS
            f.ts_recv = ts_recv
            f.dirty = True
            if not was_ok:
                self._publish_synced(f)
            elif ts_recv - f.last_book_pub >= self._book_interval_ns:
                self._publish_book(f)
        elif was_ok and sync.state is not _OK:
            self._publish_stale(f)  # crossed

    # ------------------------------------------------------------------ klines

    def _on_kline(self, f: SymbolFeed, r: tuple, ts_recv: int) -> None:
        """``(308, symbol, ms, interval, windowStart, open, close, high, low, volume, amount, windowEnd)``: times in
        unix s, ``volume`` base, ``amount`` quote; closed when the window ended at or before the push's time."""
        self.kline_frames += 1
        iv = parse.KLINE_REST_NAME.get(r[3])
        if iv is None or iv not in self.kline_intervals:
            self.unrouted += 1
            return
        ms = r[2]
        closed = bool(ms) and r[11] * 1000 <= ms
        self.settler.on_live(f.venue_symbol, iv, r[4])  # a new window: the previous one's final candle from REST
        self.klines.candle(f.subj, f.name, f.venue_symbol, iv, r[4], r[5], r[7], r[8], r[6], r[9], r[10], closed,
                           ms * _MS or ts_recv, ts_recv)

    def kline_rows(self, f: SymbolFeed, iv: str, rows: list, now_ms: int, ts_recv: int, closed_only: bool = False
                   ) -> None:
        """``GET /api/v3/klines`` rows [open ms, open, high, low, close, volume, close ms, quote volume], oldest
        first: each closed when its close time has passed; ``ts_event`` is the window's start. ``closed_only`` (a
        settle read): the open row is not published (it may be older than the last push: volume would go back)."""
        parsed = []
        for row in rows:
            try:
                t_ms = int(row[0])
                parsed.append((t_ms, float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]),
                               int(row[6]) <= now_ms, float(row[7]) if len(row) > 7 else 0.0))
            except (IndexError, TypeError, ValueError):
                self.parse_errors += 1
                self._rlog(("klines", f.name), "mexc spot %s: malformed klines row: %.200r", f.name, row)
        for t_ms, o, h, low, c, v, closed, q in sorted(parsed):
            if closed_only and not closed:
                continue
            self.klines.candle(f.subj, f.name, f.venue_symbol, iv, t_ms // 1000, o, h, low, c, v, q, closed,
                               t_ms * _MS, ts_recv)

    async def backfill_klines(self) -> None:
        """The newest ``options.kline_backfill`` candles of every symbol and interval over REST (what the socket cannot
        replay); a failure is logged and never blocks market data."""
        if self.options.kline_backfill <= 0:
            return
        for f in list(self.feeds.values()):
            for iv in self.kline_intervals:
                await self._read_klines(f, iv, self.options.kline_backfill)

    async def _read_klines(self, f: SymbolFeed, iv: str, limit: int) -> None:
        try:
            rows = await self.rest.klines(f.venue_symbol, iv, limit)
            ts_recv = self.clock_ns()
            self.kline_rows(f, iv, rows, ts_recv // _MS, ts_recv)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 -- history; never blocks market data
            self._rlog(("klines", f.name, iv), "mexc spot %s %s: klines failed: %r", f.name, iv, e)

    async def _settle_read(self, venue_symbol: str, iv: str, limit: int) -> None:
        """``KlineSettler``'s read: the newest ``limit`` rows, only the closed ones published; raises on failure (the
        settler keeps the window due and retries)."""
        f = self._by_symbol[venue_symbol]
        rows = await self.rest.klines(venue_symbol, iv, limit)
        ts_recv = self.clock_ns()
        self.kline_rows(f, iv, rows, ts_recv // _MS, ts_recv, closed_only=True)

    async def _kline_worker(self) -> None:
        """The backfill again after every reconnect (windows that closed while the socket was down); each window's
        closed candle is the settler's (``self.settler``)."""
        while True:
            await self._kline_wake.wait()
            self._kline_wake.clear()
            if self._kline_full:
                self._kline_full = False
                await self.backfill_klines()

    # ------------------------------------------------------------------ book publishing

    def _publish_book(self, f: SymbolFeed) -> None:
        book = f.sync.book
        bids, asks = book.top(self._depth_n)
        ts = _now()
        self.pub.book(f.subj, f.name, bids, asks, book.seq, _OK, f.ts_event or ts, f.ts_recv or ts)
        f.last_book_pub = ts
        f.dirty = False

    def _publish_stale(self, f: SymbolFeed) -> None:
        """The book cannot be trusted: an empty book marked stale and a status event, at once."""
        ts = _now()
        sync = f.sync
        if f.published_state is not _STALE:
            self.pub.status(f.subj, f.name, _STALE, sync.reason, ts)
        self.pub.book(f.subj, f.name, [], [], sync.book.seq, _STALE, ts, ts)
        f.published_state = _STALE
        f.dirty = False
        f.stale_since = time.monotonic()

    def _bbo_stale(self, f: SymbolFeed, reason: str) -> None:
        """The bbo feed cannot prove it is live: one stale status (``feed`` bbo) until its next push."""
        if f.bbo_stale:
            return
        f.bbo_stale = True
        self.pub.status(f.subj, f.name, _STALE, reason, _now(), "bbo")

    def _feed_ok(self, f: SymbolFeed, ts: int) -> None:
        f.bbo_stale = False
        self.pub.status(f.subj, f.name, _OK, R_FRESH, ts, "bbo")

    def _publish_synced(self, f: SymbolFeed) -> None:
        self.pub.status(f.subj, f.name, _OK, f.sync.reason, _now())
        f.published_state = _OK
        self._publish_book(f)

    async def _drain(self) -> None:
        await self.pub.drain()

    @property
    def published(self) -> int:
        return self.pub.published

    async def _book_flusher(self) -> None:
        """Publishes books that changed since their last publish (the rate limit holds the last diff back)."""
        interval = max(self.options.book_interval_ms, 10) / 1000.0
        while True:
            await asyncio.sleep(interval)
            now = _now()
            for f in self.feeds.values():
                if f.dirty and f.sync.state is _OK and now - f.last_book_pub >= self._book_interval_ns:
                    self._publish_book(f)

    # ------------------------------------------------------------------ snapshots and resync

    async def _snapshotter(self) -> None:
        while True:
            try:
                async with asyncio.timeout(0.25):  # not wait_for: on 3.11 it can lose the cancel of stop()
                    await self._snap_wake.wait()
            except TimeoutError:
                pass
            self._snap_wake.clear()
            now = time.monotonic()
            live = self._live_channels()
            due = []
            for f in self.feeds.values():
                s = f.sync
                if not s.needs_snapshot or now < f.next_snap_at:
                    continue
                if f.refused or f.channels[0] not in live:
                    continue  # no diffs can follow a snapshot while the depth channel's socket is down
                # subscribe first, snapshot second: wait for the first buffered diff (or 1 s for a quiet symbol)
                if s.buffered or now - f.stale_since >= 1.0:
                    due.append(f)
            if due:
                await asyncio.gather(*(self._snapshot(f) for f in due))

    async def _snapshot(self, f: SymbolFeed) -> None:
        sync = f.sync
        if f.published_state is not _STALE and sync.state is not _OK:
            self._publish_stale(f)
        sync.begin_snapshot()
        try:
            d = await self.rest.depth(f.venue_symbol, self.options.snapshot_limit)
            self.snapshots += 1
            if sync.state is not BookState.RESYNCING:
                return  # the socket went down during the fetch (mark_stale): resync after the reconnect
            synced = sync.on_snapshot(d.lastUpdateId, d.bids, d.asks)  # raises on a level that is not a number
        except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
            sync.snapshot_failed()
            f.snap_failures += 1
            f.next_snap_at = time.monotonic() + min(0.2 * 2 ** min(f.snap_failures, 6), 10.0)
            self._rlog(("snapshot", f.name), "mexc spot %s: depth snapshot failed: %s", f.name, e)
            return
        if synced:
            f.snap_failures = 0
            f.next_snap_at = 0.0
            self._publish_synced(f)
        else:
            # snapshot behind the buffered stream (or crossed): ask again shortly
            f.snap_failures += 1
            f.next_snap_at = time.monotonic() + min(0.1 * 2 ** min(f.snap_failures, 6), 5.0)
            if f.published_state is not _STALE:
                self._publish_stale(f)

    def _live_channels(self) -> set[str]:
        """Channels subscribed on a socket that is up and not silent now (a snapshot taken while the socket is
        silent would be published OK with nothing proving that diffs still follow it)."""
        ws = self.ws
        if ws is None:
            return set()
        return {ch for s in ws.shards if s.live for ch in s.subscriptions}

    def _feeds_of(self, conn: WsConnection) -> list[SymbolFeed]:
        seen: dict[str, SymbolFeed] = {}
        for ch in conn.subscriptions:
            f = self._by_channel.get(ch)
            if f is not None:
                seen[f.name] = f
        return list(seen.values())

    def _on_disconnect(self, conn: WsConnection) -> None:
        for f in self._feeds_of(conn):
            f.sync.mark_stale(R_DISCONNECTED)
            self._publish_stale(f)
            self._bbo_stale(f, R_DISCONNECTED)

    def _on_silent(self, conn: WsConnection) -> None:
        """No frame, not even a PONG, for ``stale_after_s``: every feed of the socket is stale at once. The books
        resync once frames are back (``_on_resumed``); the bbo is ok with its next push."""
        for f in self._feeds_of(conn):
            f.sync.mark_stale(R_SILENT)
            self._publish_stale(f)
            self._bbo_stale(f, R_SILENT)

    def _on_resumed(self, conn: WsConnection) -> None:
        """Frames flow again on a socket that was silent: resync its books (subscribe first, snapshot second)."""
        now = time.monotonic()
        for f in self._feeds_of(conn):
            f.stale_since = now
        self._snap_wake.set()

    def _on_reconnect(self, conn: WsConnection) -> None:
        self.metrics.reconnects.inc()
        if self.kline_intervals:
            self._kline_full = True
            self._kline_wake.set()
        for f in self._feeds_of(conn):
            if f.sync.state is _OK:  # a hole we did not see as a disconnect (rotation fallback)
                f.sync.mark_stale(R_DISCONNECTED)
                self._publish_stale(f)
            f.stale_since = time.monotonic()
        self._snap_wake.set()

    def _on_refused(self, msg: str) -> None:
        """A refused depth channel gets no diffs: its book is stale until an ack of that channel."""
        self._rlog(("refused",), "mexc spot: subscription refused: %.300s", msg)
        for ch in refused_channels(msg):
            f = self._by_channel.get(ch)
            if f is None or ch != f.channels[0]:
                continue
            f.refused = True
            f.sync.mark_stale(R_REFUSED)
            self._publish_stale(f)

    def _on_ack(self, msg: str) -> None:
        for ch in msg.split(","):
            f = self._by_channel.get(ch)
            if f is not None and f.refused and ch == f.channels[0]:
                f.refused = False  # subscribed again (reconnect or rotation): resync
                f.stale_since = time.monotonic()
                self._snap_wake.set()

    async def _symbol_refresher(self) -> None:
        while True:
            await asyncio.sleep(self.options.symbol_refresh_s)
            try:
                await self._load_symbols()
            except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
                self._rlog(("symbols",), "mexc spot: exchangeInfo refresh failed: %s", e)

    # ------------------------------------------------------------------ metrics

    async def _metrics_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._export_metrics()

    def _export_metrics(self) -> None:
        a = self.adapter
        feeds = self.feeds.values()
        self.metrics.export(
            {"book": self.frames[_DEPTH], "bbo": self.frames[_BBO], "trade": self.frames[_DEALS],
             "control": a.acks + a.pongs + a.refused + a.control_errors, "unknown": self.unrouted,
             "kline": self.kline_frames},
            self.parse_errors, sum(f.sync.gaps for f in feeds), sum(f.sync.resyncs for f in feeds))

    # ------------------------------------------------------------------ introspection (tests, ops)

    def counters(self) -> dict[str, int]:
        feeds = self.feeds.values()
        ws = self.ws
        return {
            "frames_depth": self.frames[_DEPTH], "frames_bbo": self.frames[_BBO], "frames_deals": self.frames[_DEALS],
            "parse_errors": self.parse_errors, "unrouted": self.unrouted, "published": self.published,
            "gaps": sum(f.sync.gaps for f in feeds), "resyncs": sum(f.sync.resyncs for f in feeds),
            "snapshots": self.snapshots, "reconnects": ws.reconnects if ws else 0,
            "rotations": ws.rotations if ws else 0, "stalls": ws.stalls if ws else 0,
            "silences": ws.silences if ws else 0,
            "connections": len(ws.shards) if ws else 0,
        }


def _rest_base(url: str) -> str:
    """Accept ``https://api.mexc.com`` and ``http://host:port/api/v3`` alike (paths are added as /api/v3/...)."""
    u = url.rstrip("/")
    return u.removesuffix("/api/v3")


def build_public(endpoints: VenueEndpoints, market: Market, symbols: list[str], bus: Bus,
                 session: aiohttp.ClientSession, options: GatewayOptions) -> MexcPublicGateway:
    """The factory's builder (specs/gateways.md): REST + WS clients injected into the composite."""
    rest = MexcPublicRest(session, _rest_base(endpoints.rest_url), timeout_s=options.request_timeout_s)
    cfg = ws_config(endpoints.ws_url, options, stale_after_s=options.stale_after_s)

    def ws_factory(adapter: MexcWsAdapter, subs: list[str], on_reconnect: Any, on_disconnect: Any) -> WsManager:
        return WsManager(session, cfg, adapter, subs, name="mexc-spot-public", on_reconnect=on_reconnect,
                         on_disconnect=on_disconnect)

    return MexcPublicGateway(rest, ws_factory, market, symbols, bus, options)


__all__ = ["MexcPublicGateway", "SymbolFeed", "build_public"]
