"""Gate perpetual open interest, public liquidations and candles: the md gateway against the in-process simulator
(its admin knobs raise open interest and trigger liquidations) and a real NATS. Every await is bounded."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Side, Venue
from arb.core.market_data import Kline, Liquidation, OpenInterest
from arb.sim.server import SimServer
from arb.testing import bounded, eventually
from arb.venues.gateio.public import GatePublicGateway, build_public

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[1]].append(event)


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str,
                **kw: Any) -> tuple[GatePublicGateway, Recorder]:
    rec = Recorder()
    await bounded(bus.subscribe(f"{prefix}md.gateio.futures.>", rec), 5, "subscribe")
    opts: dict[str, Any] = {"watchdog_s": 2.0, "ping_interval_s": 1.0, "backoff_initial_s": 0.05,
                            "backoff_max_s": 0.3, "subject_prefix": prefix}
    opts.update(kw)
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_futures_ws"])
    gw = build_public(ep, Market.FUTURES, ["BTC-USDT"], bus, session, GatewayOptions(**opts))
    await bounded(gw.start(), 30, "gateway start")
    return gw, rec


async def admin(session: aiohttp.ClientSession, sim: SimServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(f"{sim.urls['admin']}/{path}", json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def mult(sim: SimServer) -> float:
    return float(sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)].inst("BTC_USDT").multiplier)


async def test_open_interest_is_polled_and_follows_the_admin_knob(sim, bus, session, subject_prefix):
    """contract_stats is polled on the configured interval; raising open interest by 5000 contracts shows on the bus
    as 5000 x multiplier more in base, with the bucket time as ts_event."""
    gw, rec = await start(sim, bus, session, subject_prefix, open_interest_poll_s=0.2)
    try:
        await eventually(lambda: rec.by_kind["oi"], timeout=10)
        before = rec.by_kind["oi"][-1]
        assert isinstance(before, OpenInterest) and before.symbol == "BTC-USDT" and before.ts_event % 300e9 == 0
        await bounded(admin(session, sim, "open_interest", {"symbol": "BTC-USDT", "add": 5000}), 5, "admin")
        await eventually(lambda: rec.by_kind["oi"][-1].size > before.size, timeout=10)
        after = rec.by_kind["oi"][-1]
        assert after.size == pytest.approx(before.size + 5000 * mult(sim)) and after.notional > before.notional
        assert after.ts_recv >= after.ts_event and after.ts_pub >= after.ts_recv
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_a_triggered_liquidation_is_published_once_from_the_public_channel(sim, bus, session, subject_prefix):
    """An admin liquidation (a long, 30 contracts) arrives on futures.public_liquidates and is published once."""
    gw, rec = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: gw.ready(), timeout=10)
        body = await bounded(admin(session, sim, "liquidate", {"symbol": "BTC-USDT", "side": "sell", "size": 30}),
                             5, "admin")
        await eventually(lambda: rec.by_kind["liquidation"], timeout=10)
        (liq,) = rec.by_kind["liquidation"]
        assert isinstance(liq, Liquidation) and liq.source == "ws" and liq.side is Side.SELL
        assert liq.size == pytest.approx(30 * mult(sim)) and liq.price == float(body["price"])
        assert liq.ts_event == body["ts_ns"] // 1_000_000 * 1_000_000
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_liquidation_cursor_fills_gaps_over_rest_and_never_repeats(sim, bus, session, subject_prefix):
    """A liquidation while the gateway is stopped is published from liq_orders at the next start; the REST re-reads
    after that start and after a dropped socket repeat none of those already published."""
    gw, rec = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: gw.ready(), timeout=10)
        await bounded(admin(session, sim, "liquidate", {"symbol": "BTC-USDT", "side": "sell", "size": 7}), 5, "a")
        await eventually(lambda: len(rec.by_kind["liquidation"]) == 1, timeout=10)
        await bounded(gw.stop(), 15, "gateway stop")
        await bounded(admin(session, sim, "liquidate", {"symbol": "BTC-USDT", "side": "buy", "size": 11}), 5, "b")
        await bounded(gw.start(), 30, "gateway restart")
        await eventually(lambda: len(rec.by_kind["liquidation"]) == 2, timeout=10)
        assert [(x.side, x.source) for x in rec.by_kind["liquidation"]] == [(Side.SELL, "ws"), (Side.BUY, "rest")]
        sim.ctx.faults.arm("ws_drop", Venue.GATEIO, Market.FUTURES, count=1)
        await eventually(lambda: gw.ws.reconnects >= 1 and gw.ready(), timeout=10)
        await bounded(admin(session, sim, "liquidate", {"symbol": "BTC-USDT", "side": "sell", "size": 3}), 5, "c")
        await eventually(lambda: len(rec.by_kind["liquidation"]) == 3, timeout=10)
        await bounded(gw._catch_up(), 10, "one more REST read")
        await bounded(gw.pub.drain(), 5, "drain")
        await bounded(bus.nc.flush(), 5, "flush")
        sizes = [round(x.size / mult(sim)) for x in rec.by_kind["liquidation"]]
        assert sizes == [7, 11, 3] and gw.liq["BTC_USDT"].dropped >= 2
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_klines_are_backfilled_then_follow_the_candlestick_channel(sim, bus, session, subject_prefix):
    """With 10s candles configured: the REST backfill comes first, live updates follow, windows never go back, a
    closed window is marked closed, volume is in base."""
    await eventually(lambda: sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)].stats["trades"] > 0, timeout=10)
    gw, rec = await start(sim, bus, session, subject_prefix, kline_intervals=("10s",))
    try:
        await eventually(lambda: any(k.closed for k in rec.by_kind["kline"][1:]), timeout=25)
        ks = rec.by_kind["kline"]
        assert all(isinstance(k, Kline) and k.interval == "10s" and k.open_ns % 10_000_000_000 == 0 for k in ks)
        opens = [k.open_ns for k in ks]
        assert opens == sorted(opens)
        assert all(k.low <= min(k.open, k.close) and k.high >= max(k.open, k.close) and k.volume >= 0 for k in ks)
        assert any(k.volume > 0 for k in ks)
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_a_window_closed_without_w_is_settled_over_rest_after_a_failed_read(sim, bus, session, subject_prefix):
    """The simulator drops ``w`` from every closing push (kline_no_w): each window still goes out closed, from the
    REST candles read after the next window's first push, with the venue's values; while every REST call fails (503)
    the window stays due, and it is settled by a read after that."""
    await eventually(lambda: sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)].stats["trades"] > 0, timeout=10)
    sim.ctx.faults.arm("kline_no_w", Venue.GATEIO, Market.FUTURES, count=-1)
    gw, rec = await start(sim, bus, session, subject_prefix, kline_intervals=("10s",), open_interest_poll_s=0.0)
    try:
        await eventually(lambda: gw.settler.due, timeout=25, what="a window over without w")
        sim.ctx.faults.arm("rest_5xx", Venue.GATEIO, Market.FUTURES, count=-1)  # every REST call: 503
        (due,) = gw.settler.due.values()
        window_ns = due.first * 1_000_000_000

        def settled() -> list[Kline]:
            return [k for k in rec.by_kind["kline"] if k.closed and k.open_ns == window_ns]

        await eventually(lambda: gw.settler.failures >= 1, timeout=10, what="the failed read")
        assert gw.settler.due and not settled()
        sim.ctx.faults.clear("rest_5xx")
        await eventually(settled, timeout=15, what="the window settled")
        assert gw.settler.settled >= 1
        (closed,) = settled()
        rows = await bounded(gw.rest.futures_candles("BTC_USDT", "10s", 10), 5, "candles")
        (row,) = [r for r in rows if int(r.t) * 1_000_000_000 == closed.open_ns]
        assert (closed.close, closed.volume) == (float(row.c), pytest.approx(float(row.v) * mult(sim)))
        assert closed.ts_event == closed.open_ns  # from a REST row, not a push
    finally:
        await bounded(gw.stop(), 15, "gateway stop")
