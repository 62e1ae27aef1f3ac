"""The bus against a real NATS with JetStream: publish/subscribe, request/reply, streams."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from arb.bus import codec
from arb.bus.connection import Bus
from arb.bus.streams import StreamLimits, ensure_streams, stream_name_prefix
from arb.bus.subjects import MdSubjects, OrdSubjects, ord_cmd
from arb.core.commands import ErrorReply, OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.execution import Fill, Order
from arb.core.market_data import BookTicker
from arb.testing.poll import eventually

pytestmark = pytest.mark.integration


def _bbo(seq: int) -> BookTicker:
    return BookTicker(Venue.GATEIO, Market.FUTURES, "ETH-USDT", 1.0, 2.0, 1.1, 3.0, seq, 1, 2, 3)


async def test_wildcard_subscriber_decodes_any_event(bus: Bus, subject_prefix: str):
    """A subscriber on md.*.*.ETH-USDT.bbo gets typed events without knowing the type."""
    got: list = []

    async def on(event, msg):
        got.append((msg.subject, event))

    await bus.subscribe(f"{subject_prefix}md.*.*.ETH-USDT.bbo", on)
    subj = MdSubjects.of(Venue.GATEIO, Market.FUTURES, "ETH-USDT", subject_prefix)
    for i in range(5):
        await bus.publish(subj.bbo, _bbo(i))
    await bus.publish(subj.trade, _bbo(99))  # different kind: not matched
    await eventually(lambda: len(got) == 5, what="5 bbo events")
    assert [e.seq for _, e in got] == [0, 1, 2, 3, 4]
    assert all(isinstance(e, BookTicker) for _, e in got)


async def test_malformed_payload_is_counted_and_the_subscription_survives(bus: Bus, subject_prefix: str):
    """A foreign garbage payload is reported to the error hook; later good events still arrive."""
    errors: list[str] = []
    bus._on_decode_error = lambda subject, exc: errors.append(subject)
    got: list = []

    async def on(event, msg):
        got.append(event)

    subject = f"{subject_prefix}md.mexc.spot.BTC-USDT.bbo"
    await bus.subscribe(subject, on)
    await bus.nc.publish(subject, b"\x00not msgpack")
    await bus.publish(subject, _bbo(1))
    await eventually(lambda: errors == [subject] and len(got) == 1, what="error counted, event delivered")


async def test_command_request_reply_round_trip(bus: Bus, subject_prefix: str):
    """A PlaceOrder request gets a typed reply; Decimals survive exactly."""
    subject = ord_cmd(Venue.MEXC, "acct1", Market.SPOT, "place", subject_prefix)

    async def gateway(cmd, msg):
        assert isinstance(cmd, PlaceOrder)
        if cmd.qty <= 0:
            await bus.reply(msg, ErrorReply("validation", "qty", "quantity must be positive"))
            return
        order = Order(Venue.MEXC, Market.SPOT, "acct1", cmd.symbol, cmd.client_order_id, "C02__1", cmd.side,
                      cmd.order_type, cmd.tif, cmd.price, cmd.qty, Decimal(0), None, OrderStatus.NEW, False, 1, 2, 3)
        await bus.reply(msg, OrderReply(order))

    await bus.subscribe(subject, gateway)
    reply = await bus.request(subject, PlaceOrder("cid-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.000123"),
                                                  OrderType.LIMIT, TimeInForce.GTC, Decimal("65000.1")))
    assert isinstance(reply, OrderReply) and reply.order.qty == Decimal("0.000123")
    bad = await bus.request(subject, PlaceOrder("cid-2", "BTC-USDT", Market.SPOT, Side.BUY, Decimal(0)))
    assert isinstance(bad, ErrorReply) and bad.kind == "validation"


async def test_streams_are_idempotent_and_ord_stores_events_not_commands(bus: Bus, subject_prefix: str):
    """ensure_streams twice is harmless; ORD keeps evt.* and never captures cmd.* requests."""
    limits = StreamLimits(md_max_age_s=60, md_max_bytes=16 << 20)
    names = await ensure_streams(bus.js, limits, subject_prefix)
    try:
        assert names == await ensure_streams(bus.js, limits, subject_prefix)
        ord_name = stream_name_prefix(subject_prefix) + "ORD"
        subj = OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT, subject_prefix)
        fill = Fill(Venue.GATEIO, Market.SPOT, "main", "BTC-USDT", "c1", "1", "t1", Side.BUY, Decimal("1.5"),
                    Decimal("0.1"), Decimal("0.0001"), "BTC", True, 1, 2, 3)
        await bus.publish_acked(subj.fill, fill)
        await bus.nc.publish(ord_cmd(Venue.GATEIO, "main", Market.SPOT, "place", subject_prefix), b"x")
        await bus.nc.flush()
        info = await bus.js.stream_info(ord_name)
        assert info.state.messages == 1
        msg = await bus.js.get_msg(ord_name, seq=1)
        assert codec.decode(msg.data) == fill
        md_info = await bus.js.stream_info(stream_name_prefix(subject_prefix) + "MD")
        assert md_info.config.max_age == 60
    finally:
        for n in names:
            await bus.js.delete_stream(n)


async def test_reconnect_is_counted(nats_url: str):
    """Closing the socket under the client triggers a counted reconnect."""
    bus = await Bus.connect(nats_url, name="reconnect-test", reconnect_time_wait=0.05)
    try:
        bus.nc._transport.close()  # simulate a dropped TCP connection
        await eventually(lambda: bus.reconnects >= 1 and bus.connected, timeout=10, what="reconnected")
    finally:
        await bus.drain()
    await asyncio.sleep(0)
