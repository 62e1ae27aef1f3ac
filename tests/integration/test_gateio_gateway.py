"""Gate.io market-data gateways (spot and futures) against the in-process simulator and a real NATS.

Every await is bounded (``bounded``, ``eventually`` or a client timeout)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import BookState, Market, Venue
from arb.core.errors import SymbolError
from arb.core.market_data import (
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    MarketStatus,
    MarkPrice,
    Trade,
)
from arb.sim.config import DEFAULT_SYMBOLS, PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually
from arb.venues import factory
from arb.venues.gateio.public import GatePublicGateway, build_public

pytestmark = pytest.mark.integration


def endpoints(sim: SimServer, market: Market) -> VenueEndpoints:
    ws = sim.urls["gateio_spot_ws"] if market is Market.SPOT else sim.urls["gateio_futures_ws"]
    return VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=ws)


def options(prefix: str, **kw: Any) -> GatewayOptions:
    base: dict[str, Any] = {"depth": 10, "book_interval_ms": 50, "watchdog_s": 2.0, "ping_interval_s": 1.0,
                            "backoff_initial_s": 0.05, "backoff_max_s": 0.3, "subject_prefix": prefix}
    base.update(kw)
    return GatewayOptions(**base)


class Recorder:
    """Every md event this test's prefix receives, by subject kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[1]].append(event)

    def last(self, kind: str, symbol: str) -> Any:
        for e in reversed(self.by_kind[kind]):
            if e.symbol == symbol:
                return e
        return None


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str, market: Market,
                symbols: list[str], **kw: Any) -> tuple[GatePublicGateway, Recorder]:
    rec = Recorder()
    await bounded(bus.subscribe(f"{prefix}md.gateio.{market.value}.>", rec), 5, "subscribe")
    gw = build_public(endpoints(sim, market), market, symbols, bus, session, options(prefix, **kw))
    await bounded(gw.start(), 30, "gateway start")
    return gw, rec


def book_matches_venue(sim: SimServer, gw: GatePublicGateway, market: Market, symbol: str, depth: int = 5) -> bool:
    """Our synchronised top of book equals the engine's (sizes in base)."""
    inst = symbol.replace("-", "_")
    ex = sim.ctx.exchanges[(Venue.GATEIO, market)]
    uid, bids, asks = ex.book(inst).depth(depth)
    b = gw.books[inst]
    if not b.sync.ok or b.sync.book.seq != uid:
        return False
    mult = float(ex.inst(inst).multiplier) if market is Market.FUTURES else 1.0
    ours_b, ours_a = b.sync.book.top(depth)
    return ([(lv.price, round(lv.size, 9)) for lv in ours_b] == [(float(p), round(float(q) * mult, 9)) for p, q in bids]
            and [(lv.price, round(lv.size, 9)) for lv in ours_a] == [(float(p), round(float(q) * mult, 9))
                                                                     for p, q in asks])


async def test_spot_publishes_bbo_book_trades_and_matches_venue_book(sim, bus, session, subject_prefix):
    """Spot: bbo, synced top-N book and trades are published; the local book equals the venue's."""
    gw, rec = await start(sim, bus, session, subject_prefix, Market.SPOT, ["BTC-USDT", "ETH-USDT"])
    try:
        await eventually(lambda: rec.last("bbo", "BTC-USDT") and rec.last("trade", "ETH-USDT"), timeout=10)
        await eventually(lambda: (b := rec.last("book", "BTC-USDT")) is not None and b.state is BookState.OK
                         and len(b.bids) == 10, timeout=10)
        bbo = rec.last("bbo", "BTC-USDT")
        assert isinstance(bbo, BookTicker) and bbo.bid_px < bbo.ask_px and bbo.venue is Venue.GATEIO
        assert isinstance(rec.last("trade", "ETH-USDT"), Trade)
        await eventually(lambda: book_matches_venue(sim, gw, Market.SPOT, "BTC-USDT"), timeout=10)
        assert gw.ready()
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_futures_publishes_base_sizes_mark_index_and_current_funding(sim, bus, session, subject_prefix):
    """Futures: sizes in base (contracts x multiplier), mark/index/funding published, book equals the venue's."""
    gw, rec = await start(sim, bus, session, subject_prefix, Market.FUTURES, ["BTC-USDT"])
    try:
        await eventually(lambda: rec.last("mark", "BTC-USDT") and rec.last("index", "BTC-USDT")
                         and rec.last("funding", "BTC-USDT") and rec.last("bbo", "BTC-USDT"), timeout=10)
        await eventually(lambda: book_matches_venue(sim, gw, Market.FUTURES, "BTC-USDT"), timeout=10)
        ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
        inst = ex.inst("BTC_USDT")
        f = rec.last("funding", "BTC-USDT")
        assert isinstance(f, FundingRate)
        assert f.rate == pytest.approx(float(ex.funding_rate(inst)), abs=1e-4)
        assert f.next_funding_ns > f.ts_recv - 1_000_000_000
        assert isinstance(rec.last("mark", "BTC-USDT"), MarkPrice)
        assert isinstance(rec.last("index", "BTC-USDT"), IndexPrice)
        bbo = rec.last("bbo", "BTC-USDT")
        assert bbo.bid_sz < 50  # base BTC, not contracts
        assert gw.funding_history("BTC-USDT") is not None
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_unknown_symbol_is_a_clear_error_with_close_matches(sim, bus, session, subject_prefix):
    """A configured symbol the venue does not list fails start with its name and close matches."""
    gw = build_public(endpoints(sim, Market.SPOT), Market.SPOT, ["BTC-USDTT"], bus, session, options(subject_prefix))
    with pytest.raises(SymbolError, match=r"BTC-USDTT.*close matches: BTC-USDT"):
        await bounded(gw.start(), 30, "gateway start")
    await bounded(gw.stop(), 15, "gateway stop")


def test_factory_maps_gate_markets_to_the_builders():
    """The factory resolves both Gate markets to this package's builders."""
    assert factory.builder(Venue.GATEIO, Market.SPOT, "public") is build_public
    assert factory.builder(Venue.GATEIO, Market.FUTURES, "public") is build_public


# -- faults ----------------------------------------------------------------------------------------------


def arm(sim: SimServer, name: str, market: Market, count: int = 1, **params: Any) -> None:
    sim.ctx.faults.arm(name, Venue.GATEIO, market, count=count, params=params)


def states(rec: Recorder, symbol: str) -> list[BookState]:
    return [e.state for e in rec.by_kind["status"] if isinstance(e, MarketStatus) and e.symbol == symbol]


@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES])
async def test_book_gap_makes_that_book_stale_then_resyncs(sim, bus, session, subject_prefix, market):
    """A skipped U/u push: only that book goes stale, publishes it, resyncs and equals the venue's again."""
    gw, rec = await start(sim, bus, session, subject_prefix, market, ["BTC-USDT", "ETH-USDT"])
    try:
        await eventually(lambda: gw.books_ok(), timeout=10)
        arm(sim, "book_skip", market)
        await eventually(lambda: gw.gaps >= 1, timeout=10)
        await eventually(lambda: BookState.STALE in states(rec, "BTC-USDT") or BookState.STALE in states(rec, "ETH-USDT"),
                         timeout=5)
        await eventually(lambda: gw.books_ok() and gw.resyncs >= 1, timeout=10)
        await eventually(lambda: book_matches_venue(sim, gw, market, "BTC-USDT")
                         and book_matches_venue(sim, gw, market, "ETH-USDT"), timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


@pytest.mark.parametrize("fault", ["book_duplicate", "book_reorder"])
async def test_duplicate_or_reordered_push_never_corrupts_the_book(sim, bus, session, subject_prefix, fault):
    """A duplicated push is dropped; a reordered one is a gap that resyncs; the book ends equal to the venue's."""
    gw, _ = await start(sim, bus, session, subject_prefix, Market.FUTURES, ["BTC-USDT"])
    try:
        await eventually(lambda: gw.books_ok(), timeout=10)
        before = gw.books["BTC_USDT"].sync.dropped + gw.gaps
        arm(sim, fault, Market.FUTURES)
        await eventually(lambda: gw.books["BTC_USDT"].sync.dropped + gw.gaps > before, timeout=10)
        await eventually(lambda: book_matches_venue(sim, gw, Market.FUTURES, "BTC-USDT"), timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_malformed_frame_is_counted_and_the_loop_survives(sim, bus, session, subject_prefix):
    """A truncated JSON frame is counted as a parse error; data keeps flowing on the same connection."""
    gw, rec = await start(sim, bus, session, subject_prefix, Market.SPOT, ["BTC-USDT"])
    try:
        await eventually(lambda: rec.last("bbo", "BTC-USDT"), timeout=10)
        arm(sim, "malformed_frame", Market.SPOT)
        await eventually(lambda: gw.parse_errors >= 1, timeout=10)
        n = len(rec.by_kind["bbo"])
        await eventually(lambda: len(rec.by_kind["bbo"]) > n + 3, timeout=10)
        assert gw.ws.reconnects == 0
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_dropped_connection_reconnects_and_resyncs(sim, bus, session, subject_prefix):
    """A cut TCP connection: books go stale, the gateway reconnects with backoff and resyncs every book."""
    gw, rec = await start(sim, bus, session, subject_prefix, Market.FUTURES, ["BTC-USDT", "ETH-USDT"])
    try:
        await eventually(lambda: gw.books_ok(), timeout=10)
        arm(sim, "ws_drop", Market.FUTURES)
        await eventually(lambda: gw.ws.reconnects >= 1, timeout=10)
        assert BookState.STALE in states(rec, "BTC-USDT")
        await eventually(lambda: gw.books_ok(), timeout=10)
        await eventually(lambda: book_matches_venue(sim, gw, Market.FUTURES, "ETH-USDT"), timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_stalled_connection_is_detected_by_the_watchdog(sim, bus, session, subject_prefix):
    """A socket that goes silent is closed by the watchdog and replaced; books resync."""
    gw, _ = await start(sim, bus, session, subject_prefix, Market.SPOT, ["BTC-USDT"], watchdog_s=1.0)
    try:
        await eventually(lambda: gw.books_ok(), timeout=10)
        arm(sim, "ws_stall", Market.SPOT, seconds=4)
        await eventually(lambda: gw.ws.stalls >= 1 and gw.ws.reconnects >= 1, timeout=10)
        await eventually(lambda: gw.books_ok() and book_matches_venue(sim, gw, Market.SPOT, "BTC-USDT"), timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_snapshot_429_and_5xx_are_retried_until_the_book_syncs(sim, bus, session, subject_prefix):
    """A 429 and a 5xx on the snapshot request delay the sync but never leave the book stuck."""
    arm(sim, "rest_5xx", Market.FUTURES, count=1)
    gw = build_public(endpoints(sim, Market.FUTURES), Market.FUTURES, ["BTC-USDT"], bus, session,
                      options(subject_prefix))
    try:
        await bounded(gw.start(), 30, "gateway start")
        arm(sim, "rest_429", Market.FUTURES, count=1, retry_after=0.2)
        gw.books["BTC_USDT"].sync.mark_stale()
        gw._snap_event.set()
        await eventually(lambda: gw.books_ok(), timeout=10)
        assert gw.rest.http.rate_limited + gw.rest.http.errors >= 1
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


def test_book_snapshot_type_is_published():
    """BookSnapshot is the type carried on the book subject (guards the import)."""
    assert BookSnapshot.__struct_config__.tag == "book"


def decimal_futures_config() -> SimConfig:
    """The default universe with Gate's USDT perps as decimal-size contracts (step and minimum 0.1 contract)."""
    symbols = []
    for s in DEFAULT_SYMBOLS:
        insts = [msgspec.structs.replace(i, step=Decimal("0.1"), min_qty=Decimal("0.1"))
                 if (i.venue, i.market) == ("gateio", "futures") else i for i in s.instruments]
        symbols.append(msgspec.structs.replace(s, instruments=insts))
    return SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0), symbols=symbols)


async def test_decimal_size_contract_book_keeps_fractional_contracts(bus, session, subject_prefix):
    """A decimal-size contract: snapshot and pushes carry fractional contracts (X-Gate-Size-Decimal on REST and
    WS); without the header Gate truncates them to integers and the book holds wrong sizes."""
    async with bounded_context(SimServer(decimal_futures_config()), 30, "simulator") as sim:
        gw, _ = await start(sim, bus, session, subject_prefix, Market.FUTURES, ["BTC-USDT"])
        try:
            await eventually(lambda: gw.books_ok(), timeout=10)
            await eventually(lambda: book_matches_venue(sim, gw, Market.FUTURES, "BTC-USDT", depth=20), timeout=10)
        finally:
            await bounded(gw.stop(), 15, "gateway stop")


@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES])
async def test_rotation_leaves_no_hole(sim, bus, session, subject_prefix, market):
    """Planned rotations (new socket first, old one closed after the overlap): no gap, no resync, no stale
    status, and the book still equals the venue's. The new socket's first push (spot: a full book) may be
    older than what the old socket already delivered."""
    gw, rec = await start(sim, bus, session, subject_prefix, market, ["BTC-USDT", "ETH-USDT"],
                          max_connection_age_s=1.5)
    try:
        await eventually(gw.ready, timeout=10)
        await eventually(lambda: all(b.sync.ok for b in gw.books.values()), timeout=10)
        await eventually(lambda: sum(1 for s in rec.by_kind["status"] if s.state is BookState.OK) >= 2, timeout=10,
                         what="initial OK statuses delivered before counting")
        n_status = len(rec.by_kind["status"])
        assert gw.ws is not None
        await eventually(lambda: sum(s.rotations for s in gw.ws.shards) >= 3, timeout=20, what="three rotations")
        assert gw.gaps == 0 and gw.resyncs == 0
        assert len(rec.by_kind["status"]) == n_status, rec.by_kind["status"][n_status:]
        await eventually(lambda: book_matches_venue(sim, gw, market, "BTC-USDT"), timeout=5)
        trades = [(t.symbol, t.trade_id) for t in rec.by_kind["trade"]]
        assert trades and len(trades) == len(set(trades)), "a trade was published twice across a rotation"
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


# -- a rule change mid-run ----------------------------------------------------------------------------------


def published_book_matches_venue(sim: SimServer, rec: Recorder, symbol: str, depth: int = 5) -> bool:
    """The last published book is OK, at the venue's update id, and its sizes in base equal the venue's contracts x
    the venue's current multiplier."""
    ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    inst = symbol.replace("-", "_")
    uid, bids, asks = ex.book(inst).depth(depth)
    b = rec.last("book", symbol)
    if b is None or b.state is not BookState.OK or b.seq != uid:
        return False
    m = ex.inst(inst).multiplier
    return ([(lv.price, round(lv.size, 9)) for lv in b.bids[:depth]] == [(float(p), float(q * m)) for p, q in bids]
            and [(lv.price, round(lv.size, 9)) for lv in b.asks[:depth]] == [(float(p), float(q * m))
                                                                            for p, q in asks])


async def test_contract_multiplier_change_rescales_book_and_trades(sim, bus, session, subject_prefix):
    """POST /admin/rules contract_multiplier: after the next rules refresh the book goes stale (rules_changed),
    resyncs from a fresh snapshot, and the published book and trades are in base with the new multiplier."""
    gw, rec = await start(sim, bus, session, subject_prefix, Market.FUTURES, ["BTC-USDT"], symbol_refresh_s=1.0)
    try:
        await eventually(lambda: published_book_matches_venue(sim, rec, "BTC-USDT"), timeout=10, what="book before")
        ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
        old = ex.inst("BTC_USDT").multiplier
        async with session.post(f"{sim.urls['admin']}/rules",
                                json={"venue": "gateio", "market": "futures", "symbol": "BTC-USDT",
                                      "contract_multiplier": str(old * 10)}) as r:
            assert r.status == 200, await r.text()
        n_trades = len(rec.by_kind["trade"])

        await eventually(lambda: published_book_matches_venue(sim, rec, "BTC-USDT"), timeout=15, what="book after")
        await eventually(lambda: book_matches_venue(sim, gw, Market.FUTURES, "BTC-USDT"), timeout=10)
        assert gw.books["BTC_USDT"].mult == float(1 / (old * 10))
        assert any(isinstance(e, MarketStatus) and e.reason == "rules_changed" for e in rec.by_kind["status"])

        venue_trades = {t.trade_id: t for t in ex.recent_trades("BTC_USDT", 1000)}
        await eventually(lambda: any(t.ts_recv > 0 and int(t.trade_id) > max(venue_trades, default=0)
                                     for t in rec.by_kind["trade"][n_trades:]), timeout=20, what="a new trade")
        new = {t.trade_id: t for t in ex.recent_trades("BTC_USDT", 1000)}
        after = [t for t in rec.by_kind["trade"][n_trades:] if int(t.trade_id) > max(venue_trades, default=0)]
        for t in after:
            assert t.size == pytest.approx(float(new[int(t.trade_id)].qty * old * 10), rel=1e-12), t
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
