"""MEXC spot trading gateway against the in-process simulator and a real NATS (JetStream), including faults."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from arb.bus.connection import Bus
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, LogConfig, VenueEndpoints
from arb.core.commands import (
    CancelAll,
    CancelOrder,
    ErrorReply,
    OrderReply,
    OrdersReply,
    PlaceOrder,
    QueryOrder,
)
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce
from arb.core.errors import SymbolError, VenueServerError
from arb.obs import log as arblog
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import StreamSet
from arb.testing.poll import eventually
from arb.venues.mexc.private import MexcPrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "demo"
CREDS = Credentials(ACCOUNT, "mx0vglsimdemokey00000001", Secret("simdemosecret0000000000000000001"))


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulator on free ports."""
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as s:
        yield s


class Events:
    """Execution events of this test, by kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, ev: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[-1]].append(ev)


@pytest.fixture
async def gateway(sim: SimServer, bus: Bus, subject_prefix: str,
                  js_streams: StreamSet) -> AsyncIterator[tuple[MexcPrivateGateway, Events]]:
    """A started trading gateway for the sim's MEXC demo account and a collector of its events."""
    events = Events()
    await bus.subscribe(f"{subject_prefix}ord.mexc.{ACCOUNT}.evt.>", events)
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                           GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.2))
        gw.handler.UNKNOWN_RESOLVE_DELAYS = (0.05, 0.1, 0.2)
        await gw.start()
        try:
            await eventually(gw.ready, timeout=10, what="user stream connected and reconciled")
            yield gw, events
        finally:
            await gw.stop()


def _cmd(prefix: str, verb: str) -> str:
    return f"{prefix}ord.mexc.{ACCOUNT}.cmd.spot.{verb}"


def _limit(cid: str, qty: str = "0.0012345", price: str = "50000.129", side: Side = Side.BUY, **kw: Any) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, side, Decimal(qty), price=Decimal(price), **kw)


async def test_place_query_cancel_round_trip(gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                             subject_prefix: str) -> None:
    """A limit order is rounded (never beyond the ask), placed once for a retried command, queried and canceled."""
    gw, events = gateway
    first = await bus.request(_cmd(subject_prefix, "place"), _limit("rt-1"))
    again = await bus.request(_cmd(subject_prefix, "place"), _limit("rt-1"))
    assert isinstance(first, OrderReply) and isinstance(again, OrderReply)
    assert first.order.venue_order_id == again.order.venue_order_id
    assert (first.order.price, first.order.qty) == (Decimal("50000.12"), Decimal("0.001234"))
    q = await bus.request(_cmd(subject_prefix, "query"), QueryOrder("BTC-USDT", Market.SPOT, client_order_id="rt-1"))
    assert isinstance(q, OrderReply) and q.order.status is OrderStatus.NEW
    c = await bus.request(_cmd(subject_prefix, "cancel"), CancelOrder("BTC-USDT", Market.SPOT, client_order_id="rt-1"))
    assert isinstance(c, OrderReply) and c.order.status is OrderStatus.CANCELED
    await eventually(lambda: any(u.order.status is OrderStatus.CANCELED and u.order.client_order_id == "rt-1"
                                 for u in events.by_kind["order"]), timeout=5)
    opened = [o for o in await gw.trader.open_orders("BTC-USDT") if o.client_order_id == "rt-1"]
    assert opened == []


async def test_market_order_fills_and_publishes_fill(gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                                     subject_prefix: str) -> None:
    """A market order replies with its final state; its fill and balances arrive as events."""
    _, events = gateway
    r = await bus.request(_cmd(subject_prefix, "place"),
                          PlaceOrder("mk-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"),
                                     order_type=OrderType.MARKET))
    assert isinstance(r, OrderReply) and r.order.status is OrderStatus.FILLED
    await eventually(lambda: [f for f in events.by_kind["fill"] if f.client_order_id == "mk-1"], timeout=5)
    await eventually(lambda: [b for b in events.by_kind["balance"] if b.asset == "BTC" and not b.correction], timeout=5)


async def test_venue_error_is_typed(gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                    subject_prefix: str) -> None:
    """A post-only order that would take is refused with the venue's code and message."""
    r = await bus.request(_cmd(subject_prefix, "place"),
                          _limit("po-1", price="90000", tif=TimeInForce.POST_ONLY))
    assert isinstance(r, ErrorReply) and r.kind == "venue_client" and r.code and r.message


async def test_validation_before_sending(gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                         subject_prefix: str) -> None:
    """Below the minimum notional is refused locally with a validation error."""
    r = await bus.request(_cmd(subject_prefix, "place"), _limit("mn-1", qty="0.00001", price="10"))
    assert isinstance(r, ErrorReply) and r.kind == "validation"


async def test_5xx_on_place_is_resolved_by_query(sim: SimServer, gateway: tuple[MexcPrivateGateway, Events],
                                                 bus: Bus, subject_prefix: str) -> None:
    """A 5xx after the venue accepted the order: resolved by querying, exactly one order exists."""
    gw, _ = gateway
    sim.ctx.faults.arm("rest_5xx", "mexc", "spot", count=1, params={"after": True})
    r = await bus.request(_cmd(subject_prefix, "place"), _limit("u-1"), timeout=10)
    assert isinstance(r, OrderReply) and r.order.client_order_id == "u-1"
    mine = [o for o in await gw.trader.open_orders("BTC-USDT") if o.client_order_id == "u-1"]
    assert len(mine) == 1


async def test_5xx_before_the_venue_acted_is_not_placed(sim: SimServer, gateway: tuple[MexcPrivateGateway, Events],
                                                        bus: Bus, subject_prefix: str) -> None:
    """A 5xx that stopped the request: the query says unknown order after the request's recvWindow has passed
    (shortened here), so the reply says not placed (resendable)."""
    gw, _ = gateway
    gw.trader.request_expiry_s = 0.05
    gw.handler.EXPIRY_MARGIN_S = 0.05  # the fixture's resolve delays are short too (0.05 .. 0.2 s)
    sim.ctx.faults.arm("rest_5xx", "mexc", "spot", count=1)
    r = await bus.request(_cmd(subject_prefix, "place"), _limit("u-2"), timeout=10)
    assert isinstance(r, ErrorReply) and not r.status_unknown and r.retryable


async def test_429_is_a_rate_limited_reply(sim: SimServer, gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                           subject_prefix: str) -> None:
    """A 429 comes back as rate_limited; the limiter then holds requests for Retry-After."""
    gw, _ = gateway
    sim.ctx.faults.arm("rest_429", "mexc", "spot", count=1, params={"retry_after": 0.3})
    r = await bus.request(_cmd(subject_prefix, "place"), _limit("rl-1"))
    assert isinstance(r, ErrorReply) and r.kind == "rate_limited" and r.retryable
    assert gw.rest.limiter.blocked_until > 0
    r2 = await bus.request(_cmd(subject_prefix, "place"), _limit("rl-1"))
    assert isinstance(r2, OrderReply)


async def test_fill_before_ack(sim: SimServer, gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                               subject_prefix: str) -> None:
    """The fill is pushed before the REST ack: the reply still carries the latest state, the fill is published once."""
    _, events = gateway
    sim.ctx.faults.arm("fill_before_ack", "mexc", "spot", count=1)
    r = await bus.request(_cmd(subject_prefix, "place"), _limit("fb-1", price="90000", tif=TimeInForce.IOC))
    assert isinstance(r, OrderReply) and r.order.filled_qty > 0
    await eventually(lambda: len([f for f in events.by_kind["fill"] if f.client_order_id == "fb-1"]) >= 1, timeout=5)
    fills = [f.trade_id for f in events.by_kind["fill"] if f.client_order_id == "fb-1"]
    assert len(fills) == len(set(fills))


async def test_listen_key_expiry_recreates_key_and_reconciles(sim: SimServer,
                                                              gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                                              subject_prefix: str) -> None:
    """The venue expires the listenKey: a new key, a reconnect, a reconcile with corrections, and events flow again."""
    gw, events = gateway
    key, reconciles = gw.listen_key, gw.reconciles
    await bus.request(_cmd(subject_prefix, "place"), _limit("lk-1"))
    sim.ctx.faults.arm("listenkey_expire", "mexc", "spot", count=1)
    await eventually(lambda: gw.listen_key != key and gw.reconciles > reconciles, timeout=15)
    assert any(u.correction and u.order.client_order_id == "lk-1" for u in events.by_kind["order"])
    await bus.request(_cmd(subject_prefix, "cancel"), CancelOrder("BTC-USDT", Market.SPOT, client_order_id="lk-1"))
    await eventually(lambda: any(not u.correction and u.order.status is OrderStatus.CANCELED
                                 and u.order.client_order_id == "lk-1" for u in events.by_kind["order"]), timeout=10)


async def test_drop_reconciles_missed_fill(sim: SimServer, gateway: tuple[MexcPrivateGateway, Events], bus: Bus,
                                           subject_prefix: str) -> None:
    """A user-stream drop: after the reconnect open orders, fills and balances are republished as corrections."""
    gw, events = gateway
    await bus.request(_cmd(subject_prefix, "place"), _limit("dr-1"))
    reconciles = gw.reconciles
    sim.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
    await eventually(lambda: gw.reconciles > reconciles, timeout=15)
    assert any(b.correction for b in events.by_kind["balance"])
    assert any(u.correction and u.order.client_order_id == "dr-1" for u in events.by_kind["order"])


class _Records:
    """Every line the project's logger (arb.obs.log) writes."""

    name = "records"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, data: bytes) -> None:
        self.lines.extend(data.decode().splitlines())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_listen_key_never_reaches_the_log_when_the_ws_handshake_is_refused(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """A user-stream URL refused at the handshake (403: WAF, maintenance) is logged without its listenKey."""
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="Forbidden")

    app = web.Application()
    app.router.add_get("/ws", refuse)
    async with TestServer(app) as waf, aiohttp.ClientSession() as session:
        records = _Records()
        system = arblog.configure(LogConfig(console=False, level="debug"), "test", sinks=[records])
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=str(waf.make_url("/ws")).replace("http://", "ws://", 1))
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                           GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.1))
        try:
            await gw.start()
            assert gw.listen_key
            await eventually(lambda: gw.ws is not None and gw.ws.connect_failures >= 1, timeout=10)
            await eventually(lambda: any("connect failed" in line for line in records.lines), timeout=5)
            assert not [line for line in records.lines if gw.listen_key in line]
        finally:
            await gw.stop()
            system.shutdown(5.0)


async def test_dead_listen_key_refused_at_the_handshake_is_recreated(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """The venue forgot the key and refuses the user-stream handshake (HTTP, not an in-band close): the
    gateway checks the key after the refusal and creates a new one, instead of knocking with the dead key
    until the keeper's next turn (30 min)."""
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="Forbidden")

    app = web.Application()
    app.router.add_get("/ws", refuse)
    async with TestServer(app) as waf, aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=str(waf.make_url("/ws")).replace("http://", "ws://", 1))
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                           GatewayOptions(subject_prefix=subject_prefix, backoff_initial_s=0.05, backoff_max_s=0.1))
        try:
            await gw.start()
            dead = gw.listen_key
            await gw.rest.close_listen_key(dead)  # the venue no longer knows it
            await eventually(lambda: gw.listen_key != dead, timeout=10, what="a new listenKey after the refusal")
            assert gw.key_renewals >= 1 and gw.ws is not None and gw.ws.connect_failures >= 1
        finally:
            await gw.stop()


async def test_failed_keepalive_is_retried_soon_not_after_another_30_minutes(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """A keepalive refused with a 5xx is retried after KEEPALIVE_RETRY_S; waiting the full interval again
    would let the key expire 60 min after the last good extension."""
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session, GatewayOptions(subject_prefix=subject_prefix))
        gw.KEEPALIVE_S = 2.0
        gw.KEEPALIVE_RETRY_S = 0.05
        calls: list[float] = []
        real = gw.rest.keepalive_listen_key

        async def flaky(key: str) -> Any:
            calls.append(asyncio.get_running_loop().time())
            if len(calls) == 1:
                raise VenueServerError("mexc", "503", "Service Unavailable", 503)
            return await real(key)

        gw.rest.keepalive_listen_key = flaky  # type: ignore[method-assign]
        await gw.start()
        try:
            await eventually(lambda: len(calls) >= 1, timeout=10, what="the first keepalive")
            await eventually(lambda: len(calls) >= 2, timeout=1.0, what="the keepalive retried soon after a 5xx")
            await eventually(lambda: gw.keepalives >= 1, timeout=5)
        finally:
            await gw.stop()


async def test_rotation_overlap_publishes_each_order_event_once(sim: SimServer, bus: Bus, subject_prefix: str,
                                                               js_streams: StreamSet) -> None:
    """While a rotating user stream has both sockets subscribed, a push arriving on both is published once."""
    events = Events()
    await bus.subscribe(f"{subject_prefix}ord.mexc.{ACCOUNT}.evt.>", events)
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session,
                           GatewayOptions(subject_prefix=subject_prefix, max_connection_age_s=1.5))
        await gw.start()
        try:
            await eventually(gw.ready, timeout=10)
            shard = gw.ws.shards[0]  # type: ignore[union-attr]
            await eventually(lambda: len(shard._conns) == 2 and all(c.frames for c in shard._conns), timeout=10,
                             interval=0.005, what="both sockets of a rotation subscribed")
            r = await bus.request(_cmd(subject_prefix, "place"), _limit("ro-1"))
            assert isinstance(r, OrderReply)
            await eventually(lambda: any(not u.correction and u.order.client_order_id == "ro-1"
                                         for u in events.by_kind["order"]), timeout=5)
            await eventually(lambda: gw.ws.rotations >= 1, timeout=10)  # type: ignore[union-attr]
            live = [(u.order.status, u.order.filled_qty, u.order.ts_event) for u in events.by_kind["order"]
                    if not u.correction and u.order.client_order_id == "ro-1"]
            assert len(live) == len(set(live)), f"an order push was published twice: {live}"
        finally:
            await gw.stop()


async def test_reconcile_publishes_every_fill_missed_while_the_stream_was_down(
        sim: SimServer, gateway: tuple[MexcPrivateGateway, Events], bus: Bus, subject_prefix: str) -> None:
    """More than one myTrades page (100) of fills missed by the user stream: after the reconnect the reconcile
    pages through the window and publishes each of them exactly once."""
    gw, events = gateway
    account = sim.ctx.accounts.get("mexc", CREDS.api_key)
    venue = sim.ctx.exchange("mexc", "spot")
    before = {str(f.trade_id) for f in venue.my_trades(account, "BTCUSDT", limit=100_000)}
    stall = sim.ctx.faults.arm("ws_stall", "mexc", "spot", count=1, params={"seconds": 120})
    await eventually(lambda: stall.fired == 1, timeout=5, what="the user stream stalled (pushes lost)")
    for i in range(120):
        r = await bus.request(_cmd(subject_prefix, "place"),
                              PlaceOrder(f"bz-{i}", "BTC-USDT", Market.SPOT, Side.BUY if i % 2 else Side.SELL,
                                         Decimal("0.001"), order_type=OrderType.MARKET))
        assert isinstance(r, OrderReply) and r.order.status is OrderStatus.FILLED
    missed = {str(f.trade_id) for f in venue.my_trades(account, "BTCUSDT", limit=100_000)} - before
    assert len(missed) > 100
    assert not missed & {f.trade_id for f in events.by_kind["fill"]}, "the stall did not hide the fills"
    reconciles = gw.reconciles
    sim.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
    await eventually(lambda: gw.reconciles > reconciles, timeout=15, what="reconnect + reconcile")
    await eventually(lambda: missed <= {f.trade_id for f in events.by_kind["fill"]}, timeout=5,
                     what=f"all {len(missed)} missed fills published")
    published = [f.trade_id for f in events.by_kind["fill"] if f.trade_id in missed]
    assert len(published) == len(missed), "a fill was published twice"
    assert all(f.correction for f in events.by_kind["fill"] if f.trade_id in missed)


async def test_watched_symbols_cover_orders_placed_by_hand(sim: SimServer, bus: Bus, subject_prefix: str,
                                                           js_streams: StreamSet) -> None:
    """With ``trade_symbols``, a fresh gateway (no memory) reconciles and cancels-all an order it never saw:
    MEXC's openOrders needs a symbol, so without the list such an order is invisible to both."""
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        options = GatewayOptions(subject_prefix=subject_prefix, idempotency_window_s=0, trade_symbols=("BTC-USDT",))
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session, options)
        await gw.rest.sync_time()
        await gw.rest.place("BTCUSDT", "BUY", "LIMIT", Decimal("0.001"), Decimal(50000), "byhand-1")
        events = Events()
        await bus.subscribe(f"{subject_prefix}ord.mexc.{ACCOUNT}.evt.order", events)
        await gw.start()
        try:
            await eventually(gw.ready, timeout=10)
            await eventually(lambda: any(u.correction and u.order.client_order_id == "byhand-1"
                                         for u in events.by_kind["order"]), timeout=5,
                             what="the hand-placed order reconciled")
            r = await bus.request(_cmd(subject_prefix, "cancel_all"), CancelAll(Market.SPOT))
            assert isinstance(r, OrdersReply), r
            assert [o.client_order_id for o in r.orders] == ["byhand-1"]
            assert r.orders[0].status is OrderStatus.CANCELED
        finally:
            await gw.stop()


async def test_unknown_watched_symbol_fails_the_start(sim: SimServer, bus: Bus, subject_prefix: str,
                                                      js_streams: StreamSet) -> None:
    """A typo in ``trade_symbols`` is a clear SymbolError at start (with close matches), not a silent gap."""
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
        options = GatewayOptions(subject_prefix=subject_prefix, trade_symbols=("BTC-USDT", "BTCX-USDT"))
        gw = build_private(ep, Market.SPOT, ACCOUNT, CREDS, bus, session, options)
        try:
            with pytest.raises(SymbolError, match=r"unknown symbol 'BTCX-USDT'; close matches: BTC-USDT"):
                await gw.start()
            assert not gw.ready()
        finally:
            await gw.stop()

