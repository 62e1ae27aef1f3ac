"""Idempotency across a trading-gateway restart: a retried PlaceOrder returns the same order, never a second one.

Each test places through one gateway, stops it, builds a fresh one (new process state: new handler, trader,
HTTP session) on the same simulator and NATS, retries the very same PlaceOrder over the bus and counts the
simulator's orders with that client id. Before the restart the test waits until the order's event is on the
bus, i.e. stored in this test's ORD stream, which is what the new gateway rebuilds its memory from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.bus.streams import journal_bucket
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, Side, TimeInForce, Venue
from arb.core.errors import StorageError
from arb.core.execution import OrderUpdate
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import StreamSet, eventually
from arb.venues.common.journal import OrderJournal
from arb.venues.gateio import private as gate_private
from arb.venues.mexc import private as mexc_private

pytestmark = pytest.mark.integration

MEXC_ACCOUNT = "demo"
MEXC_CREDS = Credentials(MEXC_ACCOUNT, "mx0vglsimdemokey00000001", Secret("simdemosecret0000000000000000001"))
GATE_ACCOUNT = "main"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulator on free ports."""
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as s:
        yield s


class OrderEvents:
    """Order events of this test's account as they arrive on the bus (hence stored in ORD)."""

    def __init__(self) -> None:
        self.updates: list[OrderUpdate] = []

    async def __call__(self, ev: Any, msg: Any) -> None:
        if isinstance(ev, OrderUpdate):
            self.updates.append(ev)

    def has(self, cid: str, final: bool = False) -> bool:
        return any(u.order.client_order_id == cid and (not final or not u.order.status.is_open) for u in self.updates)


def _options(prefix: str, window_s: float) -> GatewayOptions:
    return GatewayOptions(subject_prefix=prefix, idempotency_window_s=window_s, watchdog_s=3.0, ping_interval_s=1.0,
                          backoff_initial_s=0.05, backoff_max_s=0.3)


async def _start_mexc(sim: SimServer, bus: Bus, prefix: str, window_s: float = 3600.0
                      ) -> tuple[mexc_private.MexcPrivateGateway, aiohttp.ClientSession]:
    session = aiohttp.ClientSession()
    ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
    gw = mexc_private.build_private(ep, Market.SPOT, MEXC_ACCOUNT, MEXC_CREDS, bus, session, _options(prefix, window_s))
    await gw.start()
    await eventually(gw.ready, timeout=10, what="mexc trading gateway ready")
    return gw, session


async def _start_gate(sim: SimServer, bus: Bus, prefix: str, market: Market = Market.SPOT, window_s: float = 3600.0
                      ) -> tuple[gate_private.GatePrivateGateway, aiohttp.ClientSession]:
    acc = sim.ctx.accounts.by_name("gateio-demo")
    creds = Credentials(GATE_ACCOUNT, acc.api_key, Secret(acc.api_secret))
    ws = sim.urls["gateio_spot_ws"] if market is Market.SPOT else sim.urls["gateio_futures_ws"]
    session = aiohttp.ClientSession()
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=ws)
    gw = gate_private.build_private(ep, market, GATE_ACCOUNT, creds, bus, session, _options(prefix, window_s))
    await gw.start()
    await eventually(gw.ready, timeout=10, what="gate trading gateway ready")
    return gw, session


async def _stop(gw: Any, session: aiohttp.ClientSession) -> None:
    await gw.stop()
    await session.close()


def _sim_orders(sim: SimServer, venue: Venue, market: Market, account: str, client_id: str) -> list[Any]:
    """Every order (open or finished) the simulator holds for ``client_id`` on that venue market."""
    acc = sim.ctx.accounts.by_name(account)
    return [o for o in [*acc.open_orders.values(), *acc.finished.values()]
            if o.client_id == client_id and o.inst.market is market]


def _mexc_buy(cid: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.0012345"), price=Decimal(price), tif=tif)


Start = Callable[[], Awaitable[tuple[Any, aiohttp.ClientSession]]]


async def _place_restart_place(start: Start, bus: Bus, cmd: str, place: PlaceOrder,
                               settle: Callable[[OrderReply], Awaitable[None]] | None = None
                               ) -> tuple[OrderReply, OrderReply, Any]:
    """Place through one gateway, ``settle`` (checks + wait for ORD), stop it, retry through a fresh one.

    Returns both replies and the second gateway."""
    gw, session = await start()
    try:
        first = await bus.request(cmd, place)
        assert isinstance(first, OrderReply), first
        if settle is not None:
            await settle(first)
    finally:
        await _stop(gw, session)
    gw, session = await start()
    try:
        again = await bus.request(cmd, place, timeout=10)
    finally:
        await _stop(gw, session)
    assert isinstance(again, OrderReply), again
    return first, again, gw


def _gate_best(sim: SimServer, inst: str) -> tuple[Decimal, Decimal]:
    bid, _, ask, _ = sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)].book(inst).best()
    return bid, ask


async def test_mexc_retry_after_restart_returns_the_same_filled_order(sim: SimServer, bus: Bus, subject_prefix: str,
                                                                      js_streams: StreamSet) -> None:
    """A filled IOC retried after a restart comes back as that order; the venue never gets a second one."""
    events = OrderEvents()
    await bus.subscribe(f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.evt.order", events)
    place = _mexc_buy("rs-fill-1", "90000", TimeInForce.IOC)
    cmd = f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.cmd.spot.place"

    async def filled_and_stored(first: OrderReply) -> None:
        assert first.order.filled_qty > 0, first
        await eventually(lambda: events.has("rs-fill-1", final=True), timeout=5, what="final order event in ORD")

    first, again, gw = await _place_restart_place(lambda: _start_mexc(sim, bus, subject_prefix), bus, cmd, place,
                                                  filled_and_stored)
    assert again.order.venue_order_id == first.order.venue_order_id
    assert again.order.status is OrderStatus.FILLED or again.order.status is OrderStatus.EXPIRED
    assert len(_sim_orders(sim, Venue.MEXC, Market.SPOT, "mexc-demo", "rs-fill-1")) == 1
    assert gw.handler.resolved_from_journal == 1


async def test_mexc_retry_after_restart_returns_the_same_open_order(sim: SimServer, bus: Bus, subject_prefix: str,
                                                                    js_streams: StreamSet) -> None:
    """A resting order retried after a restart comes back as that same open order."""
    events = OrderEvents()
    await bus.subscribe(f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.evt.order", events)
    place = _mexc_buy("rs-open-1", "50000.129")
    cmd = f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.cmd.spot.place"

    async def open_and_stored(first: OrderReply) -> None:
        assert first.order.status is OrderStatus.NEW, first
        await eventually(lambda: events.has("rs-open-1"), timeout=5, what="order event in ORD")

    first, again, _ = await _place_restart_place(lambda: _start_mexc(sim, bus, subject_prefix), bus, cmd, place,
                                                 open_and_stored)
    assert again.order.venue_order_id == first.order.venue_order_id and again.order.status is OrderStatus.NEW
    assert len(_sim_orders(sim, Venue.MEXC, Market.SPOT, "mexc-demo", "rs-open-1")) == 1


async def _forget(bus: Bus, prefix: str, venue: Venue, account: str, market: Market, cid: str) -> None:
    """Drop a client id from the order journal, as its age limit eventually does."""
    kv = await bus.js.key_value(journal_bucket(prefix))
    await kv.purge(OrderJournal(kv, venue, account, market).key(cid))


async def test_mexc_duplicate_refused_by_venue_is_answered_with_the_existing_order(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """With no memory at all (no ORD hints, the journal entry gone), the venue's duplicate-id refusal is resolved
    by query to the same order."""
    place = _mexc_buy("rs-dup-1", "50000.129")
    cmd = f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.cmd.spot.place"

    async def forget(first: OrderReply) -> None:
        await _forget(bus, subject_prefix, Venue.MEXC, MEXC_ACCOUNT, Market.SPOT, "rs-dup-1")

    first, again, gw = await _place_restart_place(lambda: _start_mexc(sim, bus, subject_prefix, window_s=0), bus,
                                                  cmd, place, forget)
    assert again.order.venue_order_id == first.order.venue_order_id
    assert len(_sim_orders(sim, Venue.MEXC, Market.SPOT, "mexc-demo", "rs-dup-1")) == 1
    assert gw.handler.restored == 0 and gw.handler.duplicates_resolved == 1


async def test_gate_spot_retry_after_restart_returns_the_same_filled_order(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """Gate texts are not unique: a filled IOC retried after a restart must still come back as that order."""
    events = OrderEvents()
    await bus.subscribe(f"{subject_prefix}ord.gateio.{GATE_ACCOUNT}.evt.order", events)
    _, ask = _gate_best(sim, "ETH_USDT")
    place = PlaceOrder("rs-gfill-1", "ETH-USDT", Market.SPOT, Side.BUY, Decimal("0.01"), tif=TimeInForce.IOC,
                       price=ask * Decimal("1.01"))
    cmd = f"{subject_prefix}ord.gateio.{GATE_ACCOUNT}.cmd.spot.place"

    async def stored(first: OrderReply) -> None:
        await eventually(lambda: events.has("rs-gfill-1", final=True), timeout=5, what="final order event in ORD")

    first, again, gw = await _place_restart_place(lambda: _start_gate(sim, bus, subject_prefix), bus, cmd, place,
                                                  stored)
    assert again.order.venue_order_id == first.order.venue_order_id and not again.order.status.is_open
    assert len(_sim_orders(sim, Venue.GATEIO, Market.SPOT, "gateio-demo", "t-rs-gfill-1")) == 1
    assert gw.handler.resolved_from_journal == 1


async def test_gate_spot_duplicate_refused_by_venue_is_answered_with_the_existing_order(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """A fresh handler that knows nothing (window 0, before any reconcile): Gate's REPEATED_CREATION for the
    open text is resolved by query to that same order."""
    bid, _ = _gate_best(sim, "BTC_USDT")
    place = PlaceOrder("rs-gdup-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), price=bid * Decimal("0.9"))
    gw, session = await _start_gate(sim, bus, subject_prefix, window_s=0)
    try:
        first = await bus.request(f"{subject_prefix}ord.gateio.{GATE_ACCOUNT}.cmd.spot.place", place)
        assert isinstance(first, OrderReply) and first.order.status is OrderStatus.NEW, first
    finally:
        await _stop(gw, session)
    await _forget(bus, subject_prefix, Venue.GATEIO, GATE_ACCOUNT, Market.SPOT, "rs-gdup-1")

    # the next process, caught before its first reconcile would have republished the open order
    acc = sim.ctx.accounts.by_name("gateio-demo")
    creds = Credentials(GATE_ACCOUNT, acc.api_key, Secret(acc.api_secret))
    async with aiohttp.ClientSession() as session:
        ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_spot_ws"])
        fresh = gate_private.build_private(ep, Market.SPOT, GATE_ACCOUNT, creds, bus, session,
                                           _options(subject_prefix, 0))
        await fresh.trader.load_symbols()
        again = await fresh.handler.handle(place)
    assert isinstance(again, OrderReply), again
    assert again.order.venue_order_id == first.order.venue_order_id
    assert len(_sim_orders(sim, Venue.GATEIO, Market.SPOT, "gateio-demo", "t-rs-gdup-1")) == 1
    assert fresh.handler.duplicates_resolved == 1


async def test_gate_futures_gateway_does_not_take_the_spot_order_ids_of_the_same_account(
        sim: SimServer, bus: Bus, subject_prefix: str, js_streams: StreamSet) -> None:
    """Spot and futures of one Gate account share ``ord.gateio.<account>.evt.order``: each restores only its market."""
    events = OrderEvents()
    await bus.subscribe(f"{subject_prefix}ord.gateio.{GATE_ACCOUNT}.evt.order", events)
    bid, _ = _gate_best(sim, "BTC_USDT")
    place = PlaceOrder("rs-gmk-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), price=bid * Decimal("0.9"))
    gw, session = await _start_gate(sim, bus, subject_prefix)
    try:
        first = await bus.request(f"{subject_prefix}ord.gateio.{GATE_ACCOUNT}.cmd.spot.place", place)
        assert isinstance(first, OrderReply), first
        await eventually(lambda: events.has("rs-gmk-1"), timeout=5, what="order event in ORD")
    finally:
        await _stop(gw, session)

    fut, session = await _start_gate(sim, bus, subject_prefix, Market.FUTURES)
    try:
        assert fut.handler.restored == 0
    finally:
        await _stop(fut, session)
    spot, session = await _start_gate(sim, bus, subject_prefix)
    try:
        assert spot.handler.restored >= 1
    finally:
        await _stop(spot, session)


async def test_no_ord_stream_fails_the_start_before_commands_are_served(sim: SimServer, bus: Bus,
                                                                        subject_prefix: str) -> None:
    """Without a stream to restore from, the gateway does not start (and so never answers a PlaceOrder)."""
    session = aiohttp.ClientSession()
    ep = VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"])
    gw = mexc_private.build_private(ep, Market.SPOT, MEXC_ACCOUNT, MEXC_CREDS, bus, session,
                                    _options(subject_prefix, 3600.0))
    try:
        with pytest.raises(StorageError, match="no JetStream stream|KV bucket .*ORDJ is not available"):
            await gw.start()
        assert not gw.ready()
        r = await _request_or_none(bus, f"{subject_prefix}ord.mexc.{MEXC_ACCOUNT}.cmd.spot.place",
                                   _mexc_buy("rs-none-1", "50000.129"))
        assert r is None
    finally:
        await _stop(gw, session)


async def _request_or_none(bus: Bus, subject: str, cmd: Any) -> Any:
    try:
        return await bus.request(subject, cmd, timeout=0.5)
    except Exception:  # noqa: BLE001 -- no responder / timeout: nobody served the command
        return None

