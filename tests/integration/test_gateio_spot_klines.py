"""Gate spot candles: the md gateway against the in-process simulator (``GET /spot/candlesticks`` backfill, then the
``spot.candlesticks`` channel) and a real NATS. Every await is bounded."""

from __future__ import annotations

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.sim.server import SimServer
from arb.testing import bounded, eventually
from arb.testing.klines import Klines, assert_window_rules, traded
from arb.venues.gateio.public import GatePublicGateway, build_public

pytestmark = pytest.mark.integration

STEP = 10  # seconds: Gate's shortest candle interval, so windows close within the test


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str) -> tuple[GatePublicGateway,
                                                                                                  Klines]:
    rec = Klines()
    await bounded(bus.subscribe(f"{prefix}md.gateio.spot.*.kline", rec), 5, "subscribe")
    opts = GatewayOptions(watchdog_s=2.0, ping_interval_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.3,
                          subject_prefix=prefix, kline_intervals=("10s",), kline_backfill=100)
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_spot_ws"])
    gw = build_public(ep, Market.SPOT, ["BTC-USDT"], bus, session, opts)
    await bounded(gw.start(), 30, "gateway start")
    return gw, rec


@pytest.mark.timeout(150)
async def test_spot_klines_backfill_then_live_and_a_reconnect_repeats_no_closed_candle(sim, bus, session,
                                                                                      subject_prefix):
    """REST backfill first (ts_event = window start), then the channel; a closed candle's volume and prices are the
    simulator's trades in its window; after a dropped socket the REST re-read and the channel publish no closed
    window twice and no window older than one already out."""
    ex = sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)]
    await eventually(lambda: ex.stats["trades"] > 0, timeout=10)
    await eventually(lambda: len({t.ts_ns // 10**9 // STEP for t in ex.trades["BTC_USDT"]}) >= 2, timeout=30,
                     what="trades in two windows, so the backfill holds a closed one")
    gw, rec = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: any(k.closed for k in rec.got), timeout=10, what="backfill")
        backfill = [k for k in rec.got if k.ts_event == k.open_ns]
        assert backfill and rec.got[:len(backfill)] == backfill  # backfilled ones first
        await eventually(lambda: any(k.closed and k.ts_event > k.open_ns for k in rec.got), timeout=30,
                         what="a window closed live (w true)")
        sim.ctx.faults.arm("ws_drop", Venue.GATEIO, Market.SPOT, count=1)
        await eventually(lambda: gw.ws.reconnects >= 1 and gw.ready(), timeout=15, what="reconnect")
        n_closed = len(rec.closed())
        await eventually(lambda: len(rec.closed()) > n_closed, timeout=30, what="a closed window after it")
        await bounded(gw._catch_up(), 10, "one more REST read")
        await bounded(gw.pub.drain(), 5, "drain")
        await bounded(bus.nc.flush(), 5, "flush")
        ks = rec.got
        assert all(k.interval == "10s" and k.symbol == "BTC-USDT" and k.open_ns % (STEP * 10**9) == 0 for k in ks)
        assert_window_rules(ks)
        assert len(rec.closed()) >= 2
        checked = 0
        for k in rec.closed():
            want = traded(sim, (Venue.GATEIO, Market.SPOT), "BTC_USDT", k.open_ns // 10**9, STEP)
            if want is None:
                continue
            vol, o, h, low, c = want
            assert k.volume == pytest.approx(float(vol)) and (k.open, k.high, k.low, k.close) == pytest.approx(
                (float(o), float(h), float(low), float(c)))
            assert k.quote_volume > 0 and k.ts_recv >= k.ts_event and k.ts_pub >= k.ts_recv
            checked += 1
        assert checked >= 1
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
