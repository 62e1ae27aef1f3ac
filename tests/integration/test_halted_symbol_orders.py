"""A symbol halted at the venue mid-run (the simulator's ``POST /admin/rules``) as the trading side sees it: the MEXC
trading gateway's new order is refused with the venue's code, as a client error that is neither retryable nor of
unknown outcome (the strategy counts it a failed attempt), a resting order can still be cancelled, and orders are
taken again once the symbol trades.

Real NATS (this test's own streams), the in-process simulator; every await is bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import CancelOrder, ErrorReply, OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, Side
from arb.sim.server import SimServer
from arb.testing import StreamSet, bounded, eventually
from arb.venues.mexc.private import MexcPrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "demo"
CREDS = Credentials(ACCOUNT, "mx0vglsimdemokey00000001", Secret("simdemosecret0000000000000000001"))


@pytest.fixture
async def gateway(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, subject_prefix: str,
                  js_streams: StreamSet) -> AsyncIterator[MexcPrivateGateway]:
    ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
    gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                       GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.2))
    await bounded(gw.start(), 30, "trading gateway start")
    try:
        await eventually(gw.ready, timeout=10, what="user stream connected and reconciled")
        yield gw
    finally:
        await bounded(gw.stop(), 15, "trading gateway stop")


async def set_status(session: aiohttp.ClientSession, sim: SimServer, status: str) -> None:
    body = {"venue": "mexc", "market": "spot", "symbol": "BTC-USDT", "status": status}
    async with session.post(sim.urls["admin"] + "/rules", json=body) as r:
        assert r.status == 200, await r.text()


async def request(bus: Bus, prefix: str, verb: str, cmd: Any) -> Any:
    return await bounded(bus.request(f"{prefix}ord.mexc.{ACCOUNT}.cmd.spot.{verb}", cmd), 15, f"{verb} request")


def limit(cid: str, price: str) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), price=Decimal(price))


async def test_a_halted_symbol_refuses_new_orders_as_a_client_error_and_cancels_still_work(
        sim: SimServer, gateway: MexcPrivateGateway, bus: Bus, session: aiohttp.ClientSession,
        subject_prefix: str) -> None:
    """Halted: a new order is an ErrorReply venue_client 30000 (not retryable, outcome known), a resting order is
    cancelled; trading again: the same order is taken."""
    # Arrange
    resting = await request(bus, subject_prefix, "place", limit("h-rest", "50000"))
    assert isinstance(resting, OrderReply) and resting.order.status is OrderStatus.NEW
    await set_status(session, sim, "halted")
    # Act
    refused = await request(bus, subject_prefix, "place", limit("h-new", "50000"))
    cancelled = await request(bus, subject_prefix, "cancel", CancelOrder("BTC-USDT", Market.SPOT,
                                                                        client_order_id="h-rest"))
    await set_status(session, sim, "trading")
    taken = await request(bus, subject_prefix, "place", limit("h-again", "50000"))
    # Assert
    assert isinstance(refused, ErrorReply), refused
    assert (refused.kind, refused.code) == ("venue_client", "30000")
    assert not refused.retryable and not refused.status_unknown
    assert isinstance(cancelled, OrderReply) and cancelled.order.status is OrderStatus.CANCELED
    assert isinstance(taken, OrderReply) and taken.order.status is OrderStatus.NEW
