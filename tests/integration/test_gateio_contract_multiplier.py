"""A Gate perpetual's contract multiplier changed at the venue mid-run (the simulator's ``POST /admin/rules``), as
the futures trading gateway sees it (specs/gateways.md, "Symbol rules on the trading side", "Contract multiplier
changes"): the periodic refresh picks the new ``quanto_multiplier`` up, a new order is sized with it (base qty Q ->
Q / new multiplier contracts at the venue) and its fill and the position report Q in base, while an order placed
before the change keeps converting with the multiplier it was placed with, also when the gateway restarted in
between (the new process reads that multiplier back from the order's last event in ORD).

Real NATS (this test's own streams), the in-process simulator; every await is bounded.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import CancelOrder, OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, Venue
from arb.core.execution import Fill, OrderUpdate, Position
from arb.sim.server import SimServer
from arb.testing import StreamSet, bounded, eventually
from arb.venues.gateio.private import GatePrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "gateio-demo"
OLD, NEW = Decimal("0.0001"), Decimal("0.001")


class Events:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[1]].append(event)

    def fills(self, cid: str) -> list[Fill]:
        return [e for e in self.by_kind["fill"] if e.client_order_id == cid]

    def positions(self, symbol: str) -> list[Position]:
        return [e for e in self.by_kind["position"] if e.symbol == symbol]

    def orders(self, cid: str) -> list[OrderUpdate]:
        return [e for e in self.by_kind["order"] if e.order.client_order_id == cid]


@contextlib.asynccontextmanager
async def running_gateway(sim: SimServer, bus: Bus, session: aiohttp.ClientSession,
                          subject_prefix: str) -> AsyncIterator[GatePrivateGateway]:
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    creds = Credentials("main", acc.api_key, Secret(acc.api_secret))
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_futures_ws"])
    opts = GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.3,
                          symbol_refresh_s=0.2)
    gw = build_private(ep, Market.FUTURES, "main", creds, bus, session, opts)
    await bounded(gw.start(), 30, "trading gateway start")
    try:
        await eventually(gw.ready, timeout=10, what="user stream connected and reconciled")
        yield gw
    finally:
        await bounded(gw.stop(), 15, "trading gateway stop")


@pytest.fixture
async def events(bus: Bus, subject_prefix: str, js_streams: StreamSet) -> Events:
    ev = Events()
    await bounded(bus.subscribe(f"{subject_prefix}ord.gateio.main.evt.>", ev), 5, "subscribe")
    return ev


@pytest.fixture
async def gateway(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, subject_prefix: str,
                  events: Events) -> AsyncIterator[tuple[GatePrivateGateway, Events]]:
    async with running_gateway(sim, bus, session, subject_prefix) as gw:
        yield gw, events


async def request(bus: Bus, prefix: str, verb: str, cmd: Any) -> Any:
    return await bounded(bus.request(f"{prefix}ord.gateio.main.cmd.futures.{verb}", cmd), 15, f"{verb} request")


async def set_multiplier(session: aiohttp.ClientSession, sim: SimServer, m: Decimal) -> None:
    body = {"venue": "gateio", "market": "futures", "symbol": "BTC-USDT", "contract_multiplier": str(m)}
    async with session.post(sim.urls["admin"] + "/rules", json=body) as r:
        assert r.status == 200, await r.text()


async def test_after_a_multiplier_change_orders_are_sized_and_reported_with_the_multiplier_they_were_placed_with(
        sim: SimServer, gateway: tuple[GatePrivateGateway, Events], bus: Bus, session: aiohttp.ClientSession,
        subject_prefix: str) -> None:
    """0.0001 -> 0.001 BTC per contract: a 0.01 BTC market buy goes out as 10 contracts (not 100), its fill and the
    position say 0.01 BTC; a 0.001 BTC order resting from before (10 contracts of 0.0001) is still 0.001 BTC when
    cancelled."""
    # Arrange
    gw, ev = gateway
    assert gw.symbols.info("BTC-USDT").contract_multiplier == OLD
    ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    await eventually(lambda: ex.book("BTC_USDT").mid(), timeout=10, what="simulated book")
    low = (ex.book("BTC_USDT").mid() * Decimal("0.9")).quantize(Decimal("0.1"))
    resting = await request(bus, subject_prefix, "place", PlaceOrder("mult-rest", "BTC-USDT", Market.FUTURES,
                                                                     Side.BUY, Decimal("0.001"), price=low))
    assert isinstance(resting, OrderReply) and resting.order.contracts == 10, resting
    # Act
    await set_multiplier(session, sim, NEW)
    await eventually(lambda: gw.symbols.info("BTC-USDT").contract_multiplier == NEW, timeout=10,
                     what="the gateway's periodic rule refresh")
    placed = await request(bus, subject_prefix, "place", PlaceOrder("mult-new", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                                    Decimal("0.01"), order_type=OrderType.MARKET))
    cancelled = await request(bus, subject_prefix, "cancel", CancelOrder("BTC-USDT", Market.FUTURES,
                                                                        client_order_id="mult-rest"))
    # Assert
    assert isinstance(placed, OrderReply), placed
    venue_order = await bounded(gw.trader.fut.get_order(placed.order.venue_order_id), 10, "venue order")
    assert Decimal(str(venue_order.size)) == 10  # Q / new multiplier, at the venue
    assert (placed.order.qty, placed.order.contracts) == (Decimal("0.01"), 10)
    await eventually(lambda: sum(f.qty for f in ev.fills("mult-new")) == Decimal("0.01"), timeout=10,
                     what="fills of 0.01 BTC")
    await eventually(lambda: ev.positions("BTC-USDT") and ev.positions("BTC-USDT")[-1].size == Decimal("0.01"),
                     timeout=10, what="a position of 0.01 BTC")
    assert isinstance(cancelled, OrderReply) and cancelled.order.status is OrderStatus.CANCELED, cancelled
    assert (cancelled.order.qty, cancelled.order.contracts) == (Decimal("0.001"), 10)
    assert gw.rules.changes >= 1


async def test_an_order_resting_across_a_restart_and_a_multiplier_change_fills_in_its_own_terms(
        sim: SimServer, bus: Bus, session: aiohttp.ClientSession, subject_prefix: str, events: Events) -> None:
    """A 0.001 BTC buy rests as 10 contracts of 0.0001; the gateway stops, the contract becomes 0.001 BTC, a new
    gateway starts (it holds 0.001). When those 10 contracts fill, the fill says 0.001 BTC (not 0.01): the new
    process read the order's own multiplier back from its last event in ORD."""
    # Arrange
    ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    await eventually(lambda: ex.book("BTC_USDT").mid(), timeout=10, what="simulated book")
    low = (ex.book("BTC_USDT").mid() * Decimal("0.9")).quantize(Decimal("0.1"))
    async with running_gateway(sim, bus, session, subject_prefix):
        resting = await request(bus, subject_prefix, "place", PlaceOrder("mult-restart", "BTC-USDT", Market.FUTURES,
                                                                         Side.BUY, Decimal("0.001"), price=low))
        assert isinstance(resting, OrderReply) and resting.order.contracts == 10, resting
        await eventually(lambda: events.orders("mult-restart"), timeout=10, what="the order's event in ORD")
    await set_multiplier(session, sim, NEW)
    async with running_gateway(sim, bus, session, subject_prefix) as gw:
        assert gw.symbols.info("BTC-USDT").contract_multiplier == NEW
        # Act: the simulator's taker sells through every bid above ours, then our 10 contracts
        _, bids, _ = ex.book("BTC_USDT").depth(10_000)
        ahead = sum(q for p, q in bids if p > low)
        ex.place(sim.market.taker_account, "BTC_USDT", "sell", "limit", "ioc", qty=ahead + 10, price=low)
        # Assert
        await eventually(lambda: sum(f.qty for f in events.fills("mult-restart")) == Decimal("0.001"), timeout=10,
                         what="fills of 0.001 BTC")
        await eventually(lambda: any(u.order.status is OrderStatus.FILLED for u in events.orders("mult-restart")),
                         timeout=10, what="the order filled")
    assert all(f.qty <= Decimal("0.001") for f in events.fills("mult-restart"))  # never 0.01 BTC
    filled = [u.order for u in events.orders("mult-restart") if u.order.status is OrderStatus.FILLED]
    assert all((o.qty, o.filled_qty, o.contracts) == (Decimal("0.001"), Decimal("0.001"), 10) for o in filled)
