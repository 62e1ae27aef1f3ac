"""MEXC spot market-data gateway against the in-process simulator and a real NATS, including the venue's faults.

Every await is bounded (``bounded``, ``eventually`` or a client timeout): a gateway whose ``stop()`` never returned
once hung ``test_rotation_leaves_no_hole`` for the whole 120 s test timeout on a loaded machine.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any

import aiohttp
import msgspec
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import BookState, Market
from arb.core.errors import RateLimited, SymbolError
from arb.core.market_data import BookSnapshot, BookTicker, MarketStatus, Trade
from arb.sim.mexc.app import ws_limits
from arb.sim.server import SimServer
from arb.testing.poll import bounded, eventually
from arb.venues.common.ws import WsManager
from arb.venues.mexc.public import MexcPublicGateway, build_public
from arb.venues.mexc.rest import MexcPublicRest
from arb.venues.mexc.schemas import Depth
from arb.venues.mexc.ws import ws_config

pytestmark = pytest.mark.integration

SYMBOLS = ["BTC-USDT", "NEIRO-ETH"]


class Sink:
    """Collects every md event of this test by subject kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, ev: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[-1]].append(ev)


async def _sink(bus: Bus, prefix: str) -> Sink:
    sink = Sink()
    await bounded(bus.subscribe(f"{prefix}md.mexc.spot.>", sink), 5, "subscribe")
    return sink


def _endpoints(sim: SimServer) -> VenueEndpoints:
    return VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])


def _custom(sim: SimServer, session: aiohttp.ClientSession, bus: Bus, options: GatewayOptions, symbols: list[str],
            **ws_overrides: Any) -> MexcPublicGateway:
    """The gateway with a WS config changed for the test (shard size, rotation age)."""
    cfg = msgspec.structs.replace(ws_config(sim.urls["mexc_ws"], options, stale_after_s=options.stale_after_s),
                                  **ws_overrides)

    def factory(adapter: Any, subs: list[str], on_reconnect: Any, on_disconnect: Any) -> WsManager:
        return WsManager(session, cfg, adapter, subs, on_reconnect=on_reconnect, on_disconnect=on_disconnect)

    rest = MexcPublicRest(session, sim.urls["mexc_rest"].removesuffix("/api/v3"))
    return MexcPublicGateway(rest, factory, Market.SPOT, symbols, bus, options)


async def test_publishes_bbo_book_and_trades(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                             subject_prefix: str) -> None:
    """From protobuf frames to bbo, a synced top-N book and trades on md.mexc.spot.<symbol>.*."""
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, SYMBOLS, bus, session,
                      GatewayOptions(subject_prefix=subject_prefix, depth=5))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10, what="books synced")
        await eventually(lambda: sink.by_kind["trade"] and sink.by_kind["bbo"] and sink.by_kind["book"], timeout=10)
        books = [b for b in sink.by_kind["book"] if b.state is BookState.OK]
        assert books and all(isinstance(b, BookSnapshot) and len(b.bids) <= 5 and len(b.asks) <= 5 for b in books)
        assert all(b.bids[0].price < b.asks[0].price for b in books if b.bids and b.asks)
        assert {b.symbol for b in sink.by_kind["bbo"]} <= set(SYMBOLS)
        assert isinstance(sink.by_kind["bbo"][0], BookTicker) and isinstance(sink.by_kind["trade"][0], Trade)
        assert gw.counters()["parse_errors"] == 0 and gw.counters()["gaps"] == 0
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_unknown_symbol_is_a_clear_error(sim: SimServer, session: aiohttp.ClientSession, bus: Bus) -> None:
    """A misspelt symbol fails start-up with a SymbolError naming it and the close match."""
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USTD"], bus, session, GatewayOptions())
    with pytest.raises(SymbolError, match="BTC-USTD.*BTC-USDT"):
        await bounded(gw.start(), 30, "gateway start")
    await bounded(gw.stop(), 15, "gateway stop")


async def test_shards_subscriptions_over_connections(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                                     subject_prefix: str) -> None:
    """With a 3-subscription cap every symbol gets its own connection and every book syncs."""
    gw = _custom(sim, session, bus, GatewayOptions(subject_prefix=subject_prefix),
                 ["BTC-USDT", "ETH-USDT", "NEIRO-ETH"], max_subs_per_conn=3)
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        assert gw.counters()["connections"] == 3
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


@pytest.mark.parametrize("fault", ["book_skip", "book_reorder"])
async def test_sequence_fault_goes_stale_and_resyncs(fault: str, sim: SimServer, session: aiohttp.ClientSession,
                                                     bus: Bus, subject_prefix: str) -> None:
    """A lost or reordered diff: the book is published stale, counted, resynced from REST, then OK again."""
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        applied = gw.feeds["BTC-USDT"].sync.applied
        await eventually(lambda: gw.feeds["BTC-USDT"].sync.applied >= applied + 2, timeout=10,
                         what="live diffs continue the snapshot (a skipped diff older than it would be harmless)")
        sim.ctx.faults.arm(fault, "mexc", "spot", count=1)
        await eventually(lambda: gw.counters()["gaps"] >= 1 and gw.counters()["resyncs"] >= 1, timeout=10,
                         what="gap counted and book rebuilt")
        await eventually(gw.ready, timeout=10, what="resynced")

        def published() -> bool:  # the bus delivers after the gateway's state flips: poll, same assertions
            states = [(s.state, s.reason) for s in sink.by_kind["status"] if isinstance(s, MarketStatus)]
            assert (BookState.STALE, "sequence_gap") in states
            assert states[-1][0] is BookState.OK
            assert any(b.state is BookState.STALE and not b.bids for b in sink.by_kind["book"])
            return True

        await eventually(published, timeout=10, what="stale status with the gap, then OK, on the bus")
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_duplicate_diff_is_dropped_without_gap(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                                     subject_prefix: str) -> None:
    """A diff delivered twice is recognised by its versions and dropped; the book stays OK."""
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        sim.ctx.faults.arm("book_duplicate", "mexc", "spot", count=1)
        feed = gw.feeds["BTC-USDT"]
        await eventually(lambda: feed.sync.dropped >= 1, timeout=10)
        assert gw.counters()["gaps"] == 0 and feed.sync.state is BookState.OK
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_malformed_frame_is_counted_and_the_loop_goes_on(sim: SimServer, session: aiohttp.ClientSession,
                                                               bus: Bus, subject_prefix: str) -> None:
    """A frame that does not parse is counted; frames after it are still handled."""
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        sim.ctx.faults.arm("malformed_frame", "mexc", "spot", count=1)
        await eventually(lambda: gw.counters()["parse_errors"] == 1, timeout=10)
        before = gw.counters()["frames_bbo"]
        await eventually(lambda: gw.counters()["frames_bbo"] > before, timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


@pytest.mark.parametrize("fault", ["ws_drop", "ws_stall"])
async def test_connection_loss_reconnects_and_resyncs(fault: str, sim: SimServer, session: aiohttp.ClientSession,
                                                      bus: Bus, subject_prefix: str) -> None:
    """A dropped or silent connection: stale book, reconnect (watchdog for a stall), resubscribe, resync."""
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix, watchdog_s=1.0, ping_interval_s=5.0,
                                     backoff_initial_s=0.05, backoff_max_s=0.2))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        sim.ctx.faults.arm(fault, "mexc", "spot", count=1, params={"seconds": 3})
        await eventually(lambda: gw.counters()["reconnects"] >= 1, timeout=15)
        await eventually(gw.ready, timeout=10, what="resynced after reconnect")
        await eventually(lambda: any(s.state is BookState.STALE and s.reason == "disconnected"
                                     for s in sink.by_kind["status"]), timeout=10, what="disconnected status on the bus")
        if fault == "ws_stall":
            assert gw.counters()["stalls"] >= 1
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_snapshot_429_is_retried(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                       subject_prefix: str) -> None:
    """A 429 on the depth snapshot honours Retry-After and the book still syncs."""
    sim.ctx.faults.arm("rest_429", "mexc", "spot", count=1, params={"retry_after": 0.2})
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    with pytest.raises(RateLimited):
        await bounded(gw.start(), 30, "gateway start")  # exchangeInfo itself met the 429: start-up fails loudly
    await bounded(gw.stop(), 15, "gateway stop")
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    await bounded(gw.start(), 30, "gateway start")
    try:
        sim.ctx.faults.arm("rest_429", "mexc", "spot", count=1, params={"retry_after": 0.2})
        gw.feeds["BTC-USDT"].sync.mark_stale()
        await eventually(gw.ready, timeout=10)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_rotation_leaves_no_hole(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                       subject_prefix: str) -> None:
    """A planned rotation opens the new socket before closing the old: no gap, no stale book, no reconnect."""
    sink = await _sink(bus, subject_prefix)
    gw = _custom(sim, session, bus, GatewayOptions(subject_prefix=subject_prefix), ["BTC-USDT"],
                 max_age_s=2.0, rotate_before_s=0.5, rotation_overlap_s=0.3)
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        await eventually(lambda: any(s.state is BookState.OK for s in sink.by_kind["status"]), timeout=10,
                         what="initial OK status delivered before counting")
        n_status = len(sink.by_kind["status"])
        await eventually(lambda: gw.counters()["rotations"] >= 2, timeout=15)
        c = gw.counters()
        assert c["gaps"] == 0 and c["resyncs"] == 0 and c["reconnects"] == 0
        assert len(sink.by_kind["status"]) == n_status
        trades = [(t.ts_event, t.trade_id) for t in sink.by_kind["trade"]]
        assert len(trades) == len(set(trades)), "a trade was published twice across the rotation"
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


class _SlowestBackoff(random.Random):
    """Every backoff draw is its cap, so a reconnect takes exactly ``backoff_initial_s``."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def test_book_is_not_published_ok_while_its_connection_is_down(sim: SimServer, session: aiohttp.ClientSession,
                                                                     bus: Bus, subject_prefix: str) -> None:
    """After a drop the book stays stale until the socket is back: a REST snapshot alone is never published OK."""
    sink = await _sink(bus, subject_prefix)
    options = GatewayOptions(subject_prefix=subject_prefix)
    cfg = msgspec.structs.replace(ws_config(sim.urls["mexc_ws"], options, stale_after_s=options.stale_after_s),
                                  backoff_initial_s=3.0, backoff_max_s=3.0)

    def factory(adapter: Any, subs: list[str], on_reconnect: Any, on_disconnect: Any) -> WsManager:
        return WsManager(session, cfg, adapter, subs, on_reconnect=on_reconnect, on_disconnect=on_disconnect,
                         rng=_SlowestBackoff())

    rest = MexcPublicRest(session, sim.urls["mexc_rest"].removesuffix("/api/v3"))
    gw = MexcPublicGateway(rest, factory, Market.SPOT, ["BTC-USDT"], bus, options)
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        sim.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
        await eventually(lambda: any(s.state is BookState.STALE and s.reason == "disconnected"
                                     for s in sink.by_kind["status"]), timeout=10, what="disconnected status")
        n_status, n_book = len(sink.by_kind["status"]), len(sink.by_kind["book"])
        await asyncio.sleep(2.0)  # the socket is down for 3 s; the snapshotter is free to run meanwhile
        assert gw.counters()["reconnects"] == 0
        assert gw.feeds["BTC-USDT"].sync.state is not BookState.OK
        assert all(s.state is not BookState.OK for s in sink.by_kind["status"][n_status:])
        assert all(b.state is not BookState.OK for b in sink.by_kind["book"][n_book:])
        await eventually(gw.ready, timeout=10, what="resynced after the reconnect")
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_refused_depth_channel_leaves_the_book_stale(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                                           subject_prefix: str) -> None:
    """A depth channel the venue refuses never yields an OK book (a snapshot nothing updates); the others sync."""
    ws_limits(sim.ctx).max_subscriptions = 3  # BTC-USDT's 3 channels pass, NEIRO-ETH's are "Blocked"
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, SYMBOLS, bus, session,
                      GatewayOptions(subject_prefix=subject_prefix))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(lambda: gw.feeds["BTC-USDT"].sync.state is BookState.OK, timeout=10)
        await eventually(lambda: gw.adapter.refused >= 1, timeout=10, what="the refusal read")
        await eventually(lambda: any(s.symbol == "NEIRO-ETH" and s.state is BookState.STALE
                                     and s.reason == "subscription_refused" for s in sink.by_kind["status"]),
                         timeout=10, what="stale status naming the refusal")
        await asyncio.sleep(1.5)  # past the snapshotter's 1 s wait for a quiet symbol
        assert gw.feeds["NEIRO-ETH"].sync.state is not BookState.OK and not gw.ready()
        assert not [s for s in sink.by_kind["status"] if s.symbol == "NEIRO-ETH" and s.state is BookState.OK]
        assert not [b for b in sink.by_kind["book"] if b.symbol == "NEIRO-ETH" and b.state is BookState.OK]
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


class _OneBadSnapshot(MexcPublicRest):
    """The venue's REST, except that the first depth snapshot carries a level that is not a number."""

    bad = 1

    async def depth(self, venue_symbol: str, limit: int = 1000) -> Depth:
        d = await super().depth(venue_symbol, limit)
        if self.bad:
            self.bad -= 1
            return msgspec.structs.replace(d, bids=[("", "1")] + list(d.bids))
        return d


async def test_unreadable_snapshot_is_retried_and_the_snapshot_loop_survives(
        sim: SimServer, session: aiohttp.ClientSession, bus: Bus, subject_prefix: str) -> None:
    """A snapshot with an unreadable level counts as a failed fetch: retried, and the book still syncs."""
    options = GatewayOptions(subject_prefix=subject_prefix)
    cfg = ws_config(sim.urls["mexc_ws"], options, stale_after_s=options.stale_after_s)

    def factory(adapter: Any, subs: list[str], on_reconnect: Any, on_disconnect: Any) -> WsManager:
        return WsManager(session, cfg, adapter, subs, on_reconnect=on_reconnect, on_disconnect=on_disconnect)

    rest = _OneBadSnapshot(session, sim.urls["mexc_rest"].removesuffix("/api/v3"))
    gw = MexcPublicGateway(rest, factory, Market.SPOT, ["BTC-USDT"], bus, options)
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10, what="synced from the next snapshot")
        assert rest.bad == 0 and all(not t.done() for t in gw._tasks)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_limit_depth_books_from_the_simulator(sim: SimServer, session: aiohttp.ClientSession, bus: Bus,
                                                    subject_prefix: str) -> None:
    """mexc_limit_depth=5: books come from the limit depth pushes (303), ok without any REST snapshot, seq = the
    venue's version, and the book at a version equals the venue's REST top 5 at that version."""
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix, mexc_limit_depth=5, book_interval_ms=0))
    await bounded(gw.start(), 30, "gateway start")
    try:
        assert gw.feeds["BTC-USDT"].channels[0] == "spot@public.limit.depth.v3.api.pb@BTCUSDT@5"
        await eventually(gw.ready, timeout=10, what="book ok from the first limit depth push")
        await eventually(lambda: len([b for b in sink.by_kind["book"] if b.state is BookState.OK]) >= 3, timeout=10)
        books = [b for b in sink.by_kind["book"] if b.state is BookState.OK]
        assert all(len(b.bids) <= 5 and len(b.asks) <= 5 for b in books)
        assert all(b.bids[0].price < b.asks[0].price for b in books if b.bids and b.asks)
        seqs = [b.seq for b in books]
        assert seqs == sorted(seqs), "versions never go back"
        rest = MexcPublicRest(session, sim.urls["mexc_rest"].removesuffix("/api/v3"))
        matched = False

        async def same_as_rest() -> bool:
            """Read the venue's top 5; once a book at or past its version is published, compare at that version."""
            nonlocal matched
            d = await rest.depth("BTCUSDT", 5)
            await eventually(lambda: any(b.seq >= d.lastUpdateId for b in sink.by_kind["book"]), timeout=5,
                             what="a push at or past the REST version")
            got = [b for b in sink.by_kind["book"] if b.state is BookState.OK and b.seq == d.lastUpdateId]
            if got:  # the book may have moved twice within one 100 ms push: then try again
                assert [(x.price, x.size) for x in got[-1].bids] == [(float(p), float(q)) for p, q in d.bids]
                assert [(x.price, x.size) for x in got[-1].asks] == [(float(p), float(q)) for p, q in d.asks]
                matched = True
            return matched

        deadline = asyncio.get_running_loop().time() + 20
        while not await bounded(same_as_rest(), 10, "depth") and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert matched, "no published limit depth book had the version of a REST read"
        c = gw.counters()
        assert c["snapshots"] == 0 and c["parse_errors"] == 0 and c["gaps"] == 0 and c["frames_depth"] >= 3
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_limit_depth_book_stale_on_drop_then_ok_without_snapshot(
        sim: SimServer, session: aiohttp.ClientSession, bus: Bus, subject_prefix: str) -> None:
    """A dropped socket: the limit depth book is published stale (disconnected), then ok again from the first
    push on the new socket, still without a REST snapshot."""
    sink = await _sink(bus, subject_prefix)
    gw = build_public(_endpoints(sim), Market.SPOT, ["BTC-USDT"], bus, session,
                      GatewayOptions(subject_prefix=subject_prefix, mexc_limit_depth=10, backoff_initial_s=0.05,
                                     backoff_max_s=0.2))
    await bounded(gw.start(), 30, "gateway start")
    try:
        await eventually(gw.ready, timeout=10)
        sim.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
        await eventually(lambda: any(s.state is BookState.STALE and s.reason == "disconnected"
                                     for s in sink.by_kind["status"]), timeout=10, what="disconnected status")
        await eventually(lambda: gw.counters()["reconnects"] >= 1, timeout=15)
        await eventually(gw.ready, timeout=10, what="ok again after the reconnect")
        stale_at = max(i for i, b in enumerate(sink.by_kind["book"]) if b.state is BookState.STALE)
        await eventually(lambda: any(b.state is BookState.OK for b in sink.by_kind["book"][stale_at:]), timeout=10)
        assert gw.counters()["snapshots"] == 0
        assert all(len(b.bids) <= 10 for b in sink.by_kind["book"])
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
