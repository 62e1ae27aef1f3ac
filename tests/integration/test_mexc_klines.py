"""MEXC spot candles: the md gateway against the in-process simulator (``GET /api/v3/klines`` backfill, then
``spot@public.kline.v3.api.pb@BTCUSDT@Min1`` pushes, the closed window read over REST once the next begins) and a
real NATS. One-minute windows (MEXC's shortest), so the test waits for a minute boundary. Every await is bounded."""

from __future__ import annotations

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.sim.server import SimServer
from arb.testing import bounded, eventually
from arb.testing.klines import Klines, assert_window_rules, traded
from arb.venues.mexc.public import MexcPublicGateway, build_public

pytestmark = pytest.mark.integration

STEP = 60


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
            want = traded(sim, (Venue.MEXC, Market.SPOT), "BTCUSDT", k.open_ns // 10**9, STEP)
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
