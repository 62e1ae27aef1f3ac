"""TradingClient against a real MEXC spot trading gateway on the in-process simulator and a real NATS.

Typed replies for every command, one timeout/retry policy (reads retried, writes never), no responder and no
reply as typed ErrorReplies rather than exceptions; and the typed subscribe helper.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.bus.trading_client import RequestPolicy, TradingClient
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import (
    BalancesReply,
    ErrorKind,
    ErrorReply,
    LeverageReply,
    OrderReply,
    OrdersReply,
    PlaceOrder,
)
from arb.core.enums import Market, OrderStatus, OrderType, Side, Venue
from arb.core.execution import Fill
from arb.core.market_data import BookTicker
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import StreamSet
from arb.testing.poll import eventually
from arb.venues.mexc.private import MexcPrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "demo"
CREDS = Credentials(ACCOUNT, "mx0vglsimdemokey00000001", Secret("simdemosecret0000000000000000001"))
FAST = RequestPolicy(timeout_s=0.3, read_attempts=3, read_backoff_s=0.02)


@pytest.fixture
async def gateway(bus: Bus, subject_prefix: str, js_streams: StreamSet) -> AsyncIterator[MexcPrivateGateway]:
    """A simulator on free ports and a started trading gateway for its MEXC demo account."""
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as sim, \
            aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                           GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.2))
        await gw.start()
        try:
            await eventually(gw.ready, timeout=10, what="user stream connected and reconciled")
            yield gw
        finally:
            await gw.stop()


def _limit(cid: str, **kw: Any) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.0012345"), price=Decimal("50000.129"), **kw)


async def test_every_command_returns_its_typed_reply(gateway: MexcPrivateGateway, bus: Bus,
                                                     subject_prefix: str) -> None:
    """place, a repeated place, query, cancel, cancel_all, balances and set_leverage return their catalogued types."""
    client = TradingClient(bus, Venue.MEXC, ACCOUNT, Market.SPOT, prefix=subject_prefix)

    placed = await client.place(_limit("tc-1"))
    again = await client.place(_limit("tc-1"))
    queried = await client.query("BTC-USDT", client_order_id="tc-1")
    canceled = await client.cancel("BTC-USDT", client_order_id="tc-1")
    await client.place(_limit("tc-2"))
    all_canceled = await client.cancel_all("BTC-USDT")
    balances = await client.balances()
    missing = await client.query("BTC-USDT", client_order_id="tc-none")
    leverage = await client.set_leverage("BTC-USDT", 3)

    assert isinstance(placed, OrderReply) and isinstance(again, OrderReply)
    assert placed.order.venue_order_id == again.order.venue_order_id
    assert (placed.order.price, placed.order.qty) == (Decimal("50000.12"), Decimal("0.001234"))
    assert isinstance(queried, OrderReply) and queried.order.status is OrderStatus.NEW
    assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED
    assert isinstance(all_canceled, OrdersReply) and [o.client_order_id for o in all_canceled.orders] == ["tc-2"]
    assert isinstance(balances, BalancesReply) and {b.asset for b in balances.balances} >= {"USDT"}
    assert isinstance(missing, ErrorReply) and missing.kind is ErrorKind.VENUE_CLIENT
    assert missing.code == "ORDER_NOT_FOUND"
    assert isinstance(leverage, ErrorReply) and leverage.kind is ErrorKind.VALIDATION  # spot has no leverage
    assert not isinstance(leverage, LeverageReply)
    assert (client.retries, client.no_reply, client.no_responders) == (0, 0, 0)


async def test_no_responder_is_a_quick_typed_reply(bus: Bus, subject_prefix: str) -> None:
    """With no gateway listening, a write answers NO_RESPONDERS at once (nothing received, not unknown); a read is
    asked read_attempts times, then answers the same way. No exception, and well within the timeout."""
    client = TradingClient(bus, Venue.MEXC, "nobody", Market.SPOT, prefix=subject_prefix,
                           policy=RequestPolicy(timeout_s=5.0, read_attempts=3, read_backoff_s=0.02))
    t0 = time.monotonic()

    place = await client.place(_limit("nr-1"))
    sent_for_place = client.sent
    query = await client.query("BTC-USDT", client_order_id="nr-1")
    elapsed = time.monotonic() - t0

    assert isinstance(place, ErrorReply) and place.kind is ErrorKind.UNAVAILABLE and place.code == "NO_RESPONDERS"
    assert place.retryable and not place.status_unknown and sent_for_place == 1
    assert isinstance(query, ErrorReply) and query.code == "NO_RESPONDERS" and client.sent == 1 + 3
    assert elapsed < 2.0, elapsed


async def test_a_silent_gateway_leaves_a_write_unknown_and_retries_only_reads(bus: Bus, subject_prefix: str) -> None:
    """A responder that never answers: the place is sent once and comes back status_unknown (repeat with the same
    client id); a query is sent read_attempts times."""
    client = TradingClient(bus, Venue.MEXC, ACCOUNT, Market.SPOT, prefix=subject_prefix, policy=FAST)
    heard: list[str] = []

    async def silent(msg: Any) -> None:
        heard.append(msg.subject.rpartition(".")[2])

    sub = await bus.nc.subscribe(f"{subject_prefix}ord.mexc.{ACCOUNT}.cmd.spot.*", cb=silent)
    await bus.nc.flush()
    try:
        place = await client.place(_limit("sl-1", order_type=OrderType.LIMIT))
        query = await client.query("BTC-USDT", client_order_id="sl-1")
        await eventually(lambda: len(heard) == 4, timeout=2, what="every request seen by the responder")
    finally:
        await sub.unsubscribe()

    assert isinstance(place, ErrorReply) and place.code == "NO_REPLY" and place.status_unknown and place.retryable
    assert "same client order id" in place.message
    assert isinstance(query, ErrorReply) and query.code == "NO_REPLY" and not query.status_unknown
    assert heard == ["place", "query", "query", "query"] and client.retries == 2


async def test_a_reply_of_the_wrong_type_is_a_typed_error(bus: Bus, subject_prefix: str) -> None:
    """A responder answering with a message that is not the command's reply type gives BAD_REPLY, not a crash."""
    client = TradingClient(bus, Venue.MEXC, ACCOUNT, Market.SPOT, prefix=subject_prefix, policy=FAST)

    async def wrong(msg: Any) -> None:
        await bus.reply(msg, BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 1, 1, 2, 1, 0, 0, 0, 0))

    sub = await bus.nc.subscribe(f"{subject_prefix}ord.mexc.{ACCOUNT}.cmd.spot.place", cb=wrong)
    await bus.nc.flush()
    try:
        r = await client.place(_limit("wr-1"))
    finally:
        await sub.unsubscribe()

    assert isinstance(r, ErrorReply) and r.kind is ErrorKind.INTERNAL and r.code == "BAD_REPLY" and r.status_unknown


async def test_subscribe_typed_delivers_one_type_and_counts_the_rest(bus: Bus, subject_prefix: str) -> None:
    """Only messages of the asked type reach the handler; other bus messages and garbage are counted, not passed."""
    subject = f"{subject_prefix}ord.mexc.{ACCOUNT}.evt.fill"
    got: list[Fill] = []

    async def on_fill(fill: Fill, msg: Any) -> None:
        got.append(fill)

    fill = Fill(Venue.MEXC, Market.SPOT, ACCOUNT, "BTC-USDT", "c1", "v1", "t1", Side.BUY, Decimal(1),
                Decimal("0.1"), Decimal(0), "USDT", True, 1, 2, 3)
    ts = await bus.subscribe_typed(subject, Fill, on_fill)
    await bus.nc.flush()

    await bus.publish(subject, BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 1, 1, 2, 1, 0, 0, 0, 0))
    await bus.nc.publish(subject, b"\xc1not msgpack")
    await bus.publish(subject, fill)
    await eventually(lambda: got, timeout=2, what="the fill")
    await ts.unsubscribe()

    assert got == [fill] and (ts.delivered, ts.dropped, ts.undecodable) == (1, 1, 1)

