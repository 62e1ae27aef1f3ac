"""Gate futures trading gateway: margin tracking, liquidation warnings and the venue's funding records, against the
in-process simulator and a real NATS with JetStream (specs/gateways.md, "Margin and liquidation warnings")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.bus.replay import replay
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import OrderReply, PlaceOrder
from arb.core.enums import Market, OrderType, Side, Venue
from arb.core.margin import LiquidationWarning, Margin, WarningLevel
from arb.core.strategy import FundingPaid
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually
from arb.venues.common.margin import FundingLedger
from arb.venues.gateio.private import GatePrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "gateio-demo"
FRACTION = 0.05


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    # settlements only when the test asks (/admin/funding): the next scheduled one is a day away
    async with bounded_context(SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0),
                                                   funding_interval_s=86400)), 30, "simulator") as server:
        yield server


class Events:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[1]].append(event)

    def margins(self) -> list[Margin]:
        return self.by_kind["margin"]

    def warnings(self) -> list[LiquidationWarning]:
        return self.by_kind["liq_warning"]

    def fundings(self) -> list[FundingPaid]:
        return self.by_kind["funding"]


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str, ev: Events | None = None
                ) -> tuple[GatePrivateGateway, Events]:
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    creds = Credentials("main", acc.api_key, Secret(acc.api_secret))
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_futures_ws"])
    opts = GatewayOptions(watchdog_s=3.0, ping_interval_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.3,
                          subject_prefix=prefix, liq_warning_fraction=FRACTION, margin_poll_s=0.2,
                          funding_poll_s=0.3, funding_lookback_s=3600.0)
    if ev is None:
        ev = Events()
        await bounded(bus.subscribe(f"{prefix}ord.gateio.main.evt.>", ev), 5, "subscribe")
    gw = build_private(ep, Market.FUTURES, "main", creds, bus, session, opts)
    await bounded(gw.start(), 30, "trading gateway start")
    await eventually(gw.ready, timeout=10, what="user stream connected and reconciled")
    return gw, ev


async def stop(gw: GatePrivateGateway) -> None:
    await bounded(gw.stop(), 15, "trading gateway stop")


async def place(bus: Bus, prefix: str, cmd: PlaceOrder) -> Any:
    return await bounded(bus.request(f"{prefix}ord.gateio.main.cmd.futures.place", cmd), 15, "place request")


async def admin(session: aiohttp.ClientSession, sim: SimServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the simulator's admin API (the session's ClientTimeout bounds it)."""
    async with session.post(sim.urls["admin"] + path, json=body) as r:
        out = await r.json()
        assert r.status == 200, out
        return out


async def reads(gw: GatePrivateGateway, n: int) -> None:
    """Wait until the gateway has read the account ``n`` more times (each read applies the rules once)."""
    target = gw.margin_reads + n
    await eventually(lambda: gw.margin_reads >= target, timeout=10, what=f"{n} more margin reads")


async def test_margin_follows_the_position_and_one_warning_per_crossing(sim, bus, session, subject_prefix,
                                                                        js_streams):
    """A position's Margin carries the venue's liquidation price; a mark moved within 5 % of it gives exactly one
    warning however many reads follow, and moving it back gives one 'cleared'."""
    gw, ev = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: any(m.correction for m in ev.margins()), timeout=10)  # the start's reconcile
        r = await place(bus, subject_prefix, PlaceOrder("m1-open", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                        Decimal("0.001"), order_type=OrderType.MARKET))
        assert isinstance(r, OrderReply), r
        await eventually(lambda: any(m.positions for m in ev.margins()), timeout=10)
        rows = (await bounded(gw.trader.fut.positions_all(), 10, "venue positions")).rows
        (venue_pos,) = [p for p in rows if p.contract == "BTC_USDT"]
        m = [m for m in ev.margins() if m.positions][-1]
        (p,) = m.positions
        assert (p.symbol, p.contracts, p.size, p.leverage) == ("BTC-USDT", 10, Decimal("0.001"), 10)
        assert p.liq_price == Decimal(venue_pos.liq_price) and p.margin == Decimal(venue_pos.margin)
        assert p.maintenance_rate == Decimal("0.005") and p.distance is not None and p.distance > Decimal(FRACTION)
        assert m.position_margin == p.margin and m.available > 0 and m.maintenance_margin > 0
        await reads(gw, 3)
        assert ev.warnings() == []

        # the mark 7 % lower: (0.93 - 0.905) / 0.93 = 2.7 % from the liquidation price, below 5 %
        await admin(session, sim, "/mark", {"symbol": "BTC-USDT", "venue": "gateio", "bps": -700, "seconds": 300})
        await eventually(lambda: ev.warnings(), timeout=10)
        await reads(gw, 5)
        (w,) = ev.warnings()
        assert (w.symbol, w.level, w.threshold) == ("BTC-USDT", WarningLevel.WARNING, Decimal(str(FRACTION)))
        assert w.liq_price == p.liq_price and Decimal(0) < w.distance < Decimal(FRACTION)

        await admin(session, sim, "/mark", {"symbol": "BTC-USDT", "venue": "gateio", "bps": 0, "seconds": 1})
        await eventually(lambda: len(ev.warnings()) == 2, timeout=10)
        await reads(gw, 3)
        assert [x.level for x in ev.warnings()] == [WarningLevel.WARNING, WarningLevel.CLEARED]
    finally:
        await stop(gw)


async def test_margin_is_published_on_change_only_and_after_every_reconcile(sim, bus, session, subject_prefix,
                                                                            js_streams):
    """Reads that find the same figures publish nothing; a reconcile publishes once more, marked correction."""
    gw, ev = await start(sim, bus, session, subject_prefix)
    try:
        await eventually(lambda: any(m.correction for m in ev.margins()), timeout=10)
        await reads(gw, 5)
        before = len(ev.margins())
        await reads(gw, 5)
        assert len(ev.margins()) == before  # flat account, nothing changed
        n = gw.reconciles
        gw._schedule_reconcile()
        await eventually(lambda: gw.reconciles > n, timeout=10, what="a reconcile")
        # the reconcile's Margin reaches this subscription after the publish is acked: wait for it, not for the count
        await eventually(lambda: len(ev.margins()) == before + 1, timeout=10, what="the reconcile's margin")
        await reads(gw, 3)
        assert len(ev.margins()) == before + 1 and ev.margins()[-1].correction
    finally:
        await stop(gw)


async def test_venue_funding_record_is_published_once_across_a_restart(sim, bus, session, subject_prefix,
                                                                       js_streams):
    """A settlement gives exactly one FundingPaid with the venue's amount; a restarted gateway repeats none and
    still publishes the next one."""
    gw, ev = await start(sim, bus, session, subject_prefix)
    account = sim.ctx.accounts.by_name(ACCOUNT)
    try:
        r = await place(bus, subject_prefix, PlaceOrder("m2-open", "BTC-USDT", Market.FUTURES, Side.SELL,
                                                        Decimal("0.002"), order_type=OrderType.MARKET))
        assert isinstance(r, OrderReply), r
        await eventually(lambda: any(m.positions for m in ev.margins()), timeout=10)
        await admin(session, sim, "/funding", {"symbol": "BTC-USDT", "rate": "0.0003", "settle": True})
        await eventually(lambda: ev.fundings(), timeout=10)
        entry = account.futures_book[-1]
        (f,) = ev.fundings()
        assert f.symbol == "BTC-USDT" and f.market is Market.FUTURES
        assert f.amount == round(entry.change, 8) and f.amount > 0  # a short receives a positive rate
        assert abs(f.ts - entry.ts_ns) < 1_000_000 and f.rate == pytest.approx(0.0003)  # the venue's time, ms
        polls = gw.funding_polls
        await eventually(lambda: gw.funding_polls >= polls + 3, timeout=10)
    finally:
        await stop(gw)
    assert len(ev.fundings()) == 1

    gw2, _ = await start(sim, bus, session, subject_prefix, ev)
    try:
        polls = gw2.funding_polls
        await eventually(lambda: gw2.funding_polls >= polls + 3 and gw2.reconciles >= 1, timeout=10)
        assert len(ev.fundings()) == 1
        await admin(session, sim, "/funding", {"symbol": "BTC-USDT", "rate": "-0.0002", "settle": True})
        await eventually(lambda: len(ev.fundings()) == 2, timeout=10)
        polls = gw2.funding_polls
        await eventually(lambda: gw2.funding_polls >= polls + 3, timeout=10)
        assert len(ev.fundings()) == 2
        assert ev.fundings()[1].amount == round(account.futures_book[-1].change, 8) < 0
        # a second holder of the account that did not read ORD back (a takeover's overlap) publishes both again:
        # JetStream keeps one copy of each (Nats-Msg-Id = the record's identity)
        gw2.funding = FundingLedger(0)
        assert await bounded(gw2.poll_funding(), 15, "funding poll") == 2

        async def stored_records() -> list[Any]:
            return [x async for x in replay(bus.js, f"{subject_prefix}ord.gateio.main.evt.funding", 1, timeout=10)]

        stored = await bounded(stored_records(), 20, "ORD funding replay")
        assert stored == ev.fundings()[:2]
    finally:
        await stop(gw2)


async def test_admin_mark_moves_only_the_mark_and_refuses_bad_requests_by_field(sim, session):
    """/admin/mark shifts the perpetual's mark (not its book) and names the bad field of a refused request."""
    ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    await eventually(lambda: ex.mark_price("BTC_USDT") > 0, timeout=5)
    mid = ex.book("BTC_USDT").mid()
    out = await admin(session, sim, "/mark", {"symbol": "BTC-USDT", "venue": "gateio", "bps": -1000, "seconds": 30})
    mark = Decimal(out["mark"])
    assert abs(mark / mid - Decimal("0.9")) < Decimal("0.002") and abs(ex.book("BTC_USDT").mid() / mid - 1) < Decimal("0.002")
    for body, field in (({"symbol": "BTC-USDT", "bps": 9000}, "bps:"), ({"symbol": "NOPE", "bps": 1}, "symbol:"),
                        ({"symbol": "BTC-USDT", "bps": 1, "seconds": 0}, "seconds:"),
                        ({"symbol": "BTC-USDT", "bps": "x"}, "bps:")):
        async with session.post(sim.urls["admin"] + "/mark", json=body) as r:
            assert r.status == 400 and (await r.json())["error"].startswith(field), (body, await r.text())
