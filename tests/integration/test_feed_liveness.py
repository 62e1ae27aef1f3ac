"""Feed liveness (issue 10, finding 8): a market-data feed that cannot prove it is live is published stale within
``stale_after_s``, and is ok again only after a resync (book) or a fresh message (bbo, funding).

One gateway per venue market (MEXC spot, Gate spot, Gate futures) against the in-process simulator and a real NATS.
The venue's application ping is what proves a quiet socket live; the simulator's ``ws_stall`` fault keeps a socket
open but silent (no data, no pong).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import BookState, Market, Venue
from arb.core.market_data import MarketStatus
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded, eventually
from arb.venues import factory

pytestmark = pytest.mark.integration

STALE_AFTER_S = 1.0  # the knob under test, short so the tests are quick
MARGIN_S = 0.5  # loop lag and the fault taking effect (MEXC: the sim's 50 ms housekeeping tick)
STALL_S = 3.0  # longer than the bound, far shorter than the watchdog (30 s): no reconnect may hide the result
SYMBOL = "BTC-USDT"

MARKETS = [
    pytest.param(Venue.MEXC, Market.SPOT, ("book", "bbo"), id="mexc-spot"),
    pytest.param(Venue.GATEIO, Market.SPOT, ("book", "bbo"), id="gateio-spot"),
    pytest.param(Venue.GATEIO, Market.FUTURES, ("book", "bbo", "funding"), id="gateio-futures"),
]


class Statuses:
    """Every ``status`` event of this test, with the loop time it arrived."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, MarketStatus]] = []

    async def __call__(self, event: Any, msg: Any) -> None:
        if isinstance(event, MarketStatus):
            self.seen.append((asyncio.get_running_loop().time(), event))

    def first(self, feed: str, state: BookState, after: float, reason: str = "") -> tuple[float, MarketStatus] | None:
        for t, s in self.seen:
            if t >= after and _feed(s) == feed and s.state is state and (not reason or s.reason == reason):
                return t, s
        return None

    def of(self, feed: str, after: float) -> list[tuple[float, MarketStatus]]:
        return [(t, s) for t, s in self.seen if t >= after and _feed(s) == feed]


def _feed(s: MarketStatus) -> str:
    return getattr(s, "feed", "book")  # a status without the field is about the book


async def _sim(run_market: bool) -> AsyncIterator[SimServer]:
    sim = SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0)), run_market=run_market)
    await bounded(sim.start(), 30, "simulator start")
    try:
        yield sim
    finally:
        await bounded(sim.stop(), 30, "simulator stop")


@pytest.fixture
async def live_sim() -> AsyncIterator[SimServer]:
    """A simulator whose market moves (books, trades, tickers)."""
    async for s in _sim(run_market=True):
        yield s


@pytest.fixture
async def quiet_sim() -> AsyncIterator[SimServer]:
    """A simulator whose market never moves: no book change, no trade; only pongs can prove a socket live."""
    async for s in _sim(run_market=False):
        yield s


def _endpoints(sim: SimServer, venue: Venue, market: Market) -> VenueEndpoints:
    if venue is Venue.MEXC:
        return VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
    ws = sim.urls["gateio_spot_ws"] if market is Market.SPOT else sim.urls["gateio_futures_ws"]
    return VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=ws)


async def _start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str, venue: Venue,
                 market: Market) -> tuple[Any, Statuses]:
    """The venue market's gateway, built by the factory as the service does, with ``stale_after_s`` 1 s and the
    default ping interval (15 s) and watchdog (30 s): liveness must not depend on tuning those."""
    statuses = Statuses()
    await bounded(bus.subscribe(f"{prefix}md.{venue.value}.{market.value}.*.status", statuses), 5, "subscribe")
    options = GatewayOptions(subject_prefix=prefix, stale_after_s=STALE_AFTER_S, backoff_initial_s=0.05,
                             backoff_max_s=0.2)
    gw = factory.builder(venue, market, "public")(_endpoints(sim, venue, market), market, [SYMBOL], bus, session,
                                                   options)
    await bounded(gw.start(), 30, "gateway start")
    return gw, statuses


def _pongs(gw: Any) -> int:
    """Pongs (MEXC); Gate: control frames, which after the subscription acks are its pongs."""
    return gw.adapter.pongs if hasattr(gw, "feeds") else gw.n["control"]


def _books_ok(gw: Any) -> bool:
    return gw.ready() if hasattr(gw, "feeds") else gw.ready() and gw.books_ok()


@pytest.mark.parametrize(("venue", "market", "feeds"), MARKETS)
async def test_quiet_market_stays_ok_because_pongs_prove_life(quiet_sim, bus, session, subject_prefix, venue, market,
                                                              feeds):
    """No book change and no trade for well over stale_after_s: the venue's pongs keep the socket live, nothing is
    published stale and the book stays ok."""
    gw, statuses = await _start(quiet_sim, bus, session, subject_prefix, venue, market)
    try:
        await eventually(lambda: _books_ok(gw), timeout=15, what="book synced on a quiet market")
        loop = asyncio.get_running_loop()
        t0, p0 = loop.time(), _pongs(gw)
        # pings go out every stale_after_s / 3: 8 more pongs span more than 2 x stale_after_s of a quiet market
        await eventually(lambda: _pongs(gw) >= p0 + 8, timeout=10 * STALE_AFTER_S, what="pongs on a quiet socket")
        assert loop.time() - t0 > 2 * STALE_AFTER_S
        assert gw.ws.silences == 0
        assert not [s for _, s in statuses.seen if s.state is not BookState.OK and s.reason == "silent"]
        assert _books_ok(gw)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


@pytest.mark.parametrize(("venue", "market", "feeds"), MARKETS)
async def test_stalled_socket_marks_every_feed_stale_within_the_bound_then_ok_after_resync(
        live_sim, bus, session, subject_prefix, venue, market, feeds):
    """ws_stall (socket open, no data, no pong): every feed of the socket (book, bbo, futures funding) is published
    stale within stale_after_s (+ margin) of the stall, without a reconnect; once frames are back the book is ok
    only after a new REST snapshot, bbo and funding with their next message."""
    gw, statuses = await _start(live_sim, bus, session, subject_prefix, venue, market)
    try:
        await eventually(lambda: _books_ok(gw), timeout=15, what="book synced")
        loop = asyncio.get_running_loop()
        await eventually(lambda: statuses.first("book", BookState.OK, 0.0), timeout=10, what="book ok on the bus")
        t0 = loop.time()
        stall = live_sim.ctx.faults.arm("ws_stall", venue, market, count=1, params={"seconds": STALL_S})

        def all_stale() -> dict[str, float]:
            found = {f: statuses.first(f, BookState.STALE, t0, reason="silent") for f in feeds}
            assert all(found.values()), {f: bool(v) for f, v in found.items()}
            return {f: v[0] - t0 for f, v in found.items() if v}

        took = await eventually(all_stale, timeout=STALE_AFTER_S + MARGIN_S + 2.0, what="every feed stale")
        assert stall.fired == 1
        print(f"\n{venue.value} {market.value}: stale after the stall in " +
              ", ".join(f"{f} {s:.3f}s" for f, s in took.items()))
        assert max(took.values()) <= STALE_AFTER_S + MARGIN_S, took
        assert all(len([s for _, s in statuses.of(f, t0) if s.state is BookState.STALE]) == 1 for f in feeds), (
            "one stale status per feed")
        snapshots = gw.snapshots
        assert not _books_ok(gw) and gw.ws.reconnects == 0 and gw.ws.silences == 1

        def all_ok() -> dict[str, float]:
            found = {f: statuses.first(f, BookState.OK, t0) for f in feeds}
            assert all(found.values()), {f: bool(v) for f, v in found.items()}
            return {f: v[0] - t0 for f, v in found.items() if v}

        back = await eventually(all_ok, timeout=STALL_S + 10.0, what="every feed ok again")
        print(f"{venue.value} {market.value}: ok again after " + ", ".join(f"{f} {s:.3f}s" for f, s in back.items()))
        assert min(back.values()) >= STALL_S * 0.95, f"ok while the socket was still silent: {back}"
        assert gw.snapshots > snapshots, "the book was published ok without a new snapshot"
        assert gw.ws.reconnects == 0
        await eventually(lambda: _books_ok(gw), timeout=5, what="book ok after the resync")
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
