"""MEXC spot candles: the md gateway against the in-process simulator (``GET /api/v3/klines`` backfill, then
``spot@public.kline.v3.api.pb@BTCUSDT@Min1`` pushes, the closed window read over REST once the next begins) and a
real NATS. One-minute windows (MEXC's shortest), so the test waits for a minute boundary. Every await is bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.core.market_data import Kline
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually
from arb.venues.mexc.public import MexcPublicGateway, build_public

pytestmark = pytest.mark.integration

STEP = 60


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with bounded_context(SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))), 30,
                               "simulator") as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10,
                               "http session") as s:
        yield s


class Klines:
    def __init__(self) -> None:
        self.got: list[Kline] = []

    async def __call__(self, event: Any, msg: Any) -> None:
        if isinstance(event, Kline):
            self.got.append(event)

    def closed(self) -> list[Kline]:
        return [k for k in self.got if k.closed]


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str) -> tuple[MexcPublicGateway,
                                                                                                  Klines]:
    rec = Klines()
    await bounded(bus.subscribe(f"{prefix}md.mexc.spot.*.kline", rec), 5, "subscribe")
    opts = GatewayOptions(watchdog_s=2.0, ping_interval_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.3,
                          subject_prefix=prefix, kline_intervals=("1m",), kline_backfill=100)
    ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
    gw = build_public(ep, Market.SPOT, ["BTC-USDT"], bus, session, opts)
    await bounded(gw.start(), 30, "gateway start")
    return gw, rec


def traded(sim: SimServer, open_s: int) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal] | None:
    """(volume, open, high, low, close) of the simulator's BTCUSDT trades in the window; None when it may hold
    trades the simulator no longer keeps."""
    kept = sim.ctx.exchanges[(Venue.MEXC, Market.SPOT)].trades["BTCUSDT"]
    trades = list(kept)
    if not trades or (len(trades) == kept.maxlen and trades[0].ts_ns // 1_000_000_000 >= open_s):
        return None
    win = [t for t in trades if open_s <= t.ts_ns // 1_000_000_000 < open_s + STEP]
    if not win:
        return None
    prices = [t.price for t in win]
    return sum((t.qty for t in win), Decimal(0)), prices[0], max(prices), min(prices), prices[-1]


def assert_window_rules(ks: list[Kline]) -> None:
    """Open windows never go back, a window closed once, nothing about a window after its closed candle."""
    opens = [k.open_ns for k in ks if not k.closed]
    assert opens == sorted(opens)
    closed = [k.open_ns for k in ks if k.closed]
    assert len(closed) == len(set(closed))
    for i, k in enumerate(ks):
        if k.closed:
            assert all(x.open_ns != k.open_ns for x in ks[i + 1:])


@pytest.mark.timeout(200)
async def test_mexc_klines_backfill_live_closed_from_rest_and_no_closed_twice_across_a_reconnect(sim, bus, session,
                                                                                                subject_prefix):
    """REST backfill first (ts_event = window start), then the pushes (ts_event = createTime); when a new minute
    begins the previous one goes out closed with the simulator's trades (volume = their sum, OHLC from them); a
    dropped socket's REST re-read repeats no closed window."""
    ex = sim.ctx.exchanges[(Venue.MEXC, Market.SPOT)]
    await eventually(lambda: ex.stats["trades"] > 0, timeout=10)
    gw, rec = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: rec.got, timeout=10, what="backfill")
        backfill = [k for k in rec.got if k.ts_event == k.open_ns]
        assert backfill and rec.got[:len(backfill)] == backfill
        await eventually(lambda: any(k.ts_event > k.open_ns for k in rec.got), timeout=15, what="a live push")
        first = max(k.open_ns for k in rec.got)
        await eventually(lambda: any(k.closed and k.open_ns >= first for k in rec.got), timeout=90,
                         what="the window open at start, closed over REST after the next began")
        sim.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
        await eventually(lambda: gw.ws.reconnects >= 1, timeout=15, what="reconnect")
        n = len(rec.got)
        await eventually(lambda: len(rec.got) > n + 2, timeout=20, what="pushes after the reconnect")
        await bounded(gw.backfill_klines(), 10, "one more REST read")
        await bounded(gw.pub.drain(), 5, "drain")
        await bounded(bus.nc.flush(), 5, "flush")
        ks = rec.got
        assert all(k.interval == "1m" and k.symbol == "BTC-USDT" and k.open_ns % (STEP * 10**9) == 0 for k in ks)
        assert_window_rules(ks)
        checked = 0
        for k in rec.closed():
            want = traded(sim, k.open_ns // 10**9)
            if want is None:
                continue
            vol, o, h, low, c = want
            assert k.volume == pytest.approx(float(vol)) and (k.open, k.high, k.low, k.close) == pytest.approx(
                (float(o), float(h), float(low), float(c)))
            assert k.quote_volume > 0 and k.ts_recv >= k.ts_event and k.ts_pub >= k.ts_recv
            checked += 1
        assert checked >= 1
        live = [k for k in ks if not k.closed and k.ts_event > k.open_ns]
        assert live and all(k.volume > 0 for k in live)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
