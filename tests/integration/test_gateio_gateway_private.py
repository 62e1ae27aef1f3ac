"""Gate.io trading gateways (spot and futures) against the in-process simulator and a real NATS (commands over the bus)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from arb.bus.codec import encode
from arb.bus.connection import Bus
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import (
    CancelOrder,
    ErrorReply,
    LeverageReply,
    OrderReply,
    PlaceOrder,
    QueryOrder,
    SetLeverage,
)
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.errors import ConfigError
from arb.core.execution import Balance, Fill, OrderUpdate, Position
from arb.sim.config import DEFAULT_SYMBOLS, PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import eventually
from arb.venues.gateio.private import GatePrivateGateway, build_private

pytestmark = pytest.mark.integration

ACCOUNT = "gateio-demo"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Events:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[1]].append(event)

    def orders(self, cid: str) -> list[OrderUpdate]:
        return [e for e in self.by_kind["order"] if e.order.client_order_id == cid]

    def fills(self, cid: str) -> list[Fill]:
        return [e for e in self.by_kind["fill"] if e.client_order_id == cid]


async def start(sim: SimServer, bus: Bus, session: aiohttp.ClientSession, prefix: str, market: Market
                ) -> tuple[GatePrivateGateway, Events, str]:
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    creds = Credentials("main", acc.api_key, Secret(acc.api_secret))
    ws = sim.urls["gateio_spot_ws"] if market is Market.SPOT else sim.urls["gateio_futures_ws"]
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=ws)
    opts = GatewayOptions(watchdog_s=3.0, ping_interval_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.3,
                          subject_prefix=prefix)
    ev = Events()
    await bus.subscribe(f"{prefix}ord.gateio.main.evt.>", ev)
    gw = build_private(ep, market, "main", creds, bus, session, opts)
    await gw.start()
    await eventually(gw.ready, timeout=10)
    return gw, ev, f"{prefix}ord.gateio.main.cmd.{market.value}."


def best(sim: SimServer, market: Market, inst: str) -> tuple[Decimal, Decimal]:
    bid, _, ask, _ = sim.ctx.exchanges[(Venue.GATEIO, market)].book(inst).best()
    return bid, ask


async def test_spot_limit_order_place_query_cancel_over_the_bus(sim, bus, session, subject_prefix, js_streams):
    """A resting spot limit order is placed, found by client id, cancelled; events are published."""
    gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    try:
        bid, _ = best(sim, Market.SPOT, "BTC_USDT")
        price = bid * Decimal("0.9")
        place = PlaceOrder("s1-limit", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), price=price)
        r = await bus.request(cmd + "place", place)
        assert isinstance(r, OrderReply), r
        assert r.order.status is OrderStatus.NEW and r.order.client_order_id == "s1-limit"
        assert r.order.price <= price and r.order.qty == Decimal("0.001")
        again = await bus.request(cmd + "place", place)
        assert isinstance(again, OrderReply) and again.order.venue_order_id == r.order.venue_order_id
        q = await bus.request(cmd + "query", QueryOrder("BTC-USDT", Market.SPOT, client_order_id="s1-limit"))
        assert isinstance(q, OrderReply) and q.order.venue_order_id == r.order.venue_order_id
        c = await bus.request(cmd + "cancel", CancelOrder("BTC-USDT", Market.SPOT, client_order_id="s1-limit"))
        assert isinstance(c, OrderReply) and c.order.status is OrderStatus.CANCELED
        await eventually(lambda: any(e.order.status is OrderStatus.CANCELED for e in ev.orders("s1-limit")), timeout=5)
        await eventually(lambda: any(isinstance(b, Balance) for b in ev.by_kind["balance"]), timeout=5)
        assert len([o for o in sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)].open_orders(
            sim.ctx.accounts.by_name(ACCOUNT))]) == 0
    finally:
        await gw.stop()


async def test_spot_ioc_fill_is_published_with_fee_and_client_id(sim, bus, session, subject_prefix, js_streams):
    """A marketable spot IOC buy fills; the fill carries our client id, base qty and the fee."""
    gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    try:
        _, ask = best(sim, Market.SPOT, "ETH_USDT")
        r = await bus.request(cmd + "place", PlaceOrder("s2-ioc", "ETH-USDT", Market.SPOT, Side.BUY, Decimal("0.01"),
                                                        tif=TimeInForce.IOC, price=ask * Decimal("1.01")))
        assert isinstance(r, OrderReply), r
        await eventually(lambda: ev.fills("s2-ioc"), timeout=5)
        f = ev.fills("s2-ioc")[0]
        assert f.side is Side.BUY and f.fee >= 0 and f.qty <= Decimal("0.01")
        assert sum(x.qty for x in ev.fills("s2-ioc")) == Decimal("0.01")
    finally:
        await gw.stop()


async def test_spot_market_buy_without_price_is_refused_before_sending(sim, bus, session, subject_prefix, js_streams):
    """Gate sizes market buys in quote; without a price limit the gateway refuses instead of guessing."""
    gw, _, cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    try:
        r = await bus.request(cmd + "place", PlaceOrder("s3", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"),
                                                        order_type=OrderType.MARKET))
        assert isinstance(r, ErrorReply) and "price" in r.message
    finally:
        await gw.stop()


async def test_futures_base_qty_becomes_contracts_and_position_is_published(sim, bus, session, subject_prefix, js_streams):
    """0.0005 BTC = 5 contracts of 0.0001 BTC: a market buy fills 5 contracts and the position reads 0.0005 BTC."""
    gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    try:
        r = await bus.request(cmd + "place", PlaceOrder("f1-mkt", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                        Decimal("0.0005"), order_type=OrderType.MARKET))
        assert isinstance(r, OrderReply), r
        assert r.order.contracts == 5 and r.order.qty == Decimal("0.0005")
        await eventually(lambda: ev.fills("f1-mkt"), timeout=5)
        await eventually(lambda: any(isinstance(p, Position) and p.symbol == "BTC-USDT" and p.contracts == 5
                                     and p.size == Decimal("0.0005") for p in ev.by_kind["position"]), timeout=5)
        await eventually(lambda: any(b.market is Market.FUTURES for b in ev.by_kind["balance"]), timeout=5)
        bad = await bus.request(cmd + "place", PlaceOrder("f1-bad", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                          Decimal("0.00015"), order_type=OrderType.MARKET))
        assert isinstance(bad, ErrorReply) and bad.kind == "validation" and "1.5 contracts" in bad.message
        close = await bus.request(cmd + "place", PlaceOrder("f1-close", "BTC-USDT", Market.FUTURES, Side.SELL,
                                                            Decimal("0.0005"), order_type=OrderType.MARKET,
                                                            reduce_only=True))
        assert isinstance(close, OrderReply), close
        await eventually(lambda: any(p.contracts == 0 for p in ev.by_kind["position"]), timeout=5)
    finally:
        await gw.stop()


async def test_futures_set_leverage(sim, bus, session, subject_prefix, js_streams):
    """set_leverage answers with the position at the new leverage."""
    gw, _, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    try:
        r = await bus.request(cmd + "set_leverage", SetLeverage("ETH-USDT", 7))
        assert isinstance(r, LeverageReply) and r.position.leverage == 7
    finally:
        await gw.stop()


def arm(sim: SimServer, name: str, market: Market, **params: Any) -> None:
    sim.ctx.faults.arm(name, Venue.GATEIO, market, count=1, params=params)


async def test_5xx_on_place_is_resolved_by_query_not_by_resending(sim, bus, session, subject_prefix, js_streams):
    """A 5xx on submit: the handler queries by client id; the reply is the real order or, once the request could
    no longer reach the venue (Gate: 60 s after its timestamp; shortened here), a definite 'not placed'."""
    gw, _, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    gw.trader.request_expiry_s = 0.5
    gw.handler.EXPIRY_MARGIN_S = 0.5
    try:
        arm(sim, "rest_5xx", Market.FUTURES)
        bid, _ = best(sim, Market.FUTURES, "BTC_USDT")
        r = await bus.request(cmd + "place", PlaceOrder("f5xx", "BTC-USDT", Market.FUTURES, Side.BUY, Decimal("0.0001"),
                                                        price=bid * Decimal("0.95")), timeout=10)
        assert (isinstance(r, ErrorReply) and not r.status_unknown and "not placed" in r.message) or (
            isinstance(r, OrderReply))
        ex = sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
        placed = [o for o in ex.open_orders(sim.ctx.accounts.by_name(ACCOUNT)) if o.client_id.endswith("f5xx")]
        assert len(placed) <= 1
    finally:
        await gw.stop()


async def test_429_on_place_is_a_rate_limited_reply(sim, bus, session, subject_prefix, js_streams):
    """A 429 on submit is a retryable rate_limited reply; nothing was placed."""
    gw, _, cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    try:
        arm(sim, "rest_429", Market.SPOT, retry_after=0.5)
        bid, _ = best(sim, Market.SPOT, "BTC_USDT")
        r = await bus.request(cmd + "place", PlaceOrder("s429", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"),
                                                        price=bid * Decimal("0.9")))
        assert isinstance(r, ErrorReply) and r.kind == "rate_limited" and r.retryable
    finally:
        await gw.stop()


async def test_fill_before_ack_still_publishes_the_fill_once(sim, bus, session, subject_prefix, js_streams):
    """The user stream delivers the fill before the order ack: the fill is published once, then the order."""
    gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    try:
        arm(sim, "fill_before_ack", Market.FUTURES)
        r = await bus.request(cmd + "place", PlaceOrder("fba", "ETH-USDT", Market.FUTURES, Side.BUY, Decimal("0.02"),
                                                        order_type=OrderType.MARKET))
        assert isinstance(r, OrderReply), r
        await eventually(lambda: ev.fills("fba") and any(e.order.status is OrderStatus.FILLED
                                                          for e in ev.orders("fba")), timeout=5)
        ids = [f.trade_id for f in ev.fills("fba")]
        assert len(ids) == len(set(ids))
    finally:
        await gw.stop()


async def test_reconnect_reconciles_orders_fills_balances_positions(sim, bus, session, subject_prefix, js_streams):
    """After the user stream drops, the gateway republishes venue truth marked correction."""
    gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    try:
        await eventually(lambda: gw.reconciles >= 1, timeout=5)
        bid, _ = best(sim, Market.FUTURES, "BTC_USDT")
        r = await bus.request(cmd + "place", PlaceOrder("rc1", "BTC-USDT", Market.FUTURES, Side.BUY, Decimal("0.0001"),
                                                        price=bid * Decimal("0.95")))
        assert isinstance(r, OrderReply), r
        before = gw.reconciles
        arm(sim, "ws_drop", Market.FUTURES)
        await eventually(lambda: gw.ws.reconnects >= 1 and gw.reconciles > before, timeout=10)
        assert any(e.correction and e.order.client_order_id == "rc1" for e in ev.by_kind["order"])
        assert any(b.correction for b in ev.by_kind["balance"])
        assert any(p.correction for p in ev.by_kind["position"])
    finally:
        await gw.stop()


async def test_spot_and_futures_gateways_of_one_account_each_answer_only_their_own_commands(
        sim, bus, session, subject_prefix, js_streams):
    """Both of one account's Gate gateways run at once: a futures order is answered by the futures gateway
    only (with a shared command subject the spot one answered first with a refusal while the order went
    through), and a futures-market command sent to the spot subject is refused, not placed."""
    spot, _, spot_cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    fut, ev, fut_cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
    try:
        replies: list[Any] = []

        async def on_reply(event: Any, msg: Any) -> None:
            replies.append(event)

        inbox = bus.nc.new_inbox()
        await bus.subscribe(inbox, on_reply)
        place = PlaceOrder("both-1", "BTC-USDT", Market.FUTURES, Side.BUY, Decimal("0.0005"),
                           order_type=OrderType.MARKET)
        await bus.nc.publish(fut_cmd + "place", encode(place), reply=inbox)
        await eventually(lambda: replies, timeout=5, what="a reply")
        await asyncio.sleep(0.3)  # room for a second (wrong) answer to arrive
        assert len(replies) == 1 and isinstance(replies[0], OrderReply), replies
        assert replies[0].order.market is Market.FUTURES and replies[0].order.contracts == 5
        wrong = await bus.request(spot_cmd + "place", PlaceOrder("both-2", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                                 Decimal("0.0005"), order_type=OrderType.MARKET))
        assert isinstance(wrong, ErrorReply) and wrong.kind == "validation" and "futures" in wrong.message
        await eventually(lambda: ev.fills("both-1"), timeout=5)
        assert not ev.orders("both-2")
    finally:
        await fut.stop()
        await spot.stop()


async def test_stop_during_a_reconcile_leaves_no_reconcile_running(sim, bus, session, subject_prefix, js_streams):
    """A reconnect while a reconcile runs queues one more; stop() then cancels it and nothing restarts it
    (a done-callback used to schedule a fresh reconcile from the cancelled one, which retried forever)."""
    gw, _, _ = await start(sim, bus, session, subject_prefix, Market.SPOT)

    async def slow_reconcile(lookback_s: float) -> dict[str, int]:
        await asyncio.sleep(30)  # a venue that answers slowly: the reconcile is still running at stop()
        return {}

    gw.handler.reconcile = slow_reconcile  # type: ignore[method-assign]
    gw._on_reconnect(None)
    gw._on_reconnect(None)  # arrives while the first one runs
    await asyncio.sleep(0.05)
    await gw.stop()
    await asyncio.sleep(0.05)
    left = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "GatePrivateGateway._reconcile"]
    assert left == [], left


async def test_decimal_size_contract_trades_fractional_contracts_exactly(bus, session, subject_prefix, js_streams):
    """A decimal-size contract (step 0.1): 0.00005 BTC = 0.5 contracts is accepted, and its fill and position come
    back as 0.5 contracts (X-Gate-Size-Decimal on REST and the user stream; without it Gate truncates to 0)."""
    symbols = []
    for s in DEFAULT_SYMBOLS:
        insts = [msgspec.structs.replace(i, step=Decimal("0.1"), min_qty=Decimal("0.1"))
                 if (i.venue, i.market) == ("gateio", "futures") else i for i in s.instruments]
        symbols.append(msgspec.structs.replace(s, instruments=insts))
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0), symbols=symbols)) as sim:
        gw, ev, cmd = await start(sim, bus, session, subject_prefix, Market.FUTURES)
        try:
            r = await bus.request(cmd + "place", PlaceOrder("fdec", "BTC-USDT", Market.FUTURES, Side.BUY,
                                                            Decimal("0.00005"), order_type=OrderType.MARKET))
            assert isinstance(r, OrderReply), r
            assert r.order.contracts == Decimal("0.5") and r.order.qty == Decimal("0.00005")
            await eventually(lambda: sum(f.qty for f in ev.fills("fdec")) == Decimal("0.00005"), timeout=5)
            assert all(f.side is Side.BUY for f in ev.fills("fdec"))
            await eventually(lambda: any(o.order.status is OrderStatus.FILLED for o in ev.orders("fdec")), timeout=5)
            assert all(o.order.side is Side.BUY and o.order.qty == Decimal("0.00005") for o in ev.orders("fdec"))
            await eventually(lambda: any(p.symbol == "BTC-USDT" and p.contracts == Decimal("0.5")
                                         and p.size == Decimal("0.00005") for p in ev.by_kind["position"]), timeout=5)
        finally:
            await gw.stop()


async def test_place_held_back_by_a_429_is_refused_not_sent_late(sim, bus, session, subject_prefix, js_streams):
    """After a 429 with a long reset, the next place is answered "rate limited, not sent" at once; it is never
    held locally past the caller's timeout and sent to the venue seconds later at a stale price."""
    gw, _, cmd = await start(sim, bus, session, subject_prefix, Market.SPOT)
    try:
        arm(sim, "rest_429", Market.SPOT, retry_after=8)
        bid, _ = best(sim, Market.SPOT, "BTC_USDT")
        first = await bus.request(cmd + "place", PlaceOrder("late-1", "BTC-USDT", Market.SPOT, Side.BUY,
                                                            Decimal("0.001"), price=bid * Decimal("0.9")))
        assert isinstance(first, ErrorReply) and first.kind == "rate_limited"
        second = await bus.request(cmd + "place", PlaceOrder("late-2", "BTC-USDT", Market.SPOT, Side.BUY,
                                                             Decimal("0.001"), price=bid * Decimal("0.9")),
                                   timeout=4)
        assert isinstance(second, ErrorReply) and second.kind == "rate_limited" and not second.status_unknown
        ex = sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)]
        await asyncio.sleep(0.2)
        assert not [o for o in ex.open_orders(sim.ctx.accounts.by_name(ACCOUNT)) if o.client_id.startswith("t-late")]
    finally:
        await gw.stop()


def blackout(sim: SimServer, market: Market, opens: int, fills: int) -> tuple[set[str], set[str]]:
    """Cut the user stream and, before it can deliver anything, rest ``opens`` orders and trade ``fills`` times
    on BTC_USDT: none of it reaches the gateway by push. Returns (client ids of the resting orders, trade ids)."""
    ex = sim.ctx.exchanges[(Venue.GATEIO, market)]
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    bid, _ = best(sim, market, "BTC_USDT")
    already = {f.trade_id for f in acc.fills}
    arm(sim, "ws_drop", market)  # fires on the next frame written: everything queued below is lost with it
    qty = Decimal("0.0001") if market is Market.SPOT else Decimal(1)
    rest_price = (bid * Decimal("0.8")).quantize(Decimal("0.1"))
    cids = set()
    for i in range(opens):
        cids.add(f"pg-o{i}")
        ex.place(acc, "BTC_USDT", "buy", "limit", "gtc", qty=qty, price=rest_price, client_id=f"t-pg-o{i}")
    for i in range(fills):  # alternate sides so the account stays flat and the book is not swept one way
        side = "buy" if i % 2 == 0 else "sell"
        ex.place(acc, "BTC_USDT", side, "market", "ioc", qty=qty, client_id=f"t-pg-f{i}")
    trades = {str(f.trade_id) for f in acc.fills if f.trade_id not in already and f.inst.market is market}
    return cids, trades


@pytest.mark.timeout(180)
@pytest.mark.parametrize("market", [Market.SPOT, Market.FUTURES])
async def test_reconcile_reads_every_page_of_open_orders_and_fills(market, sim, bus, session, subject_prefix,
                                                                   js_streams):
    """Orders and fills the stream missed span several REST pages (150 open orders > one page of 100, 1100 fills >
    one page of 1000): reconcile publishes every open order and every fill, each fill exactly once."""
    gw, ev, _ = await start(sim, bus, session, subject_prefix, market)
    try:
        await eventually(lambda: gw.reconciles >= 1, timeout=5)
        before = gw.reconciles
        cids, trades = blackout(sim, market, opens=150, fills=1100)
        assert len(trades) >= 1100

        def published() -> bool:
            seen = {e.trade_id for e in ev.by_kind["fill"]}
            got = {e.order.client_order_id for e in ev.by_kind["order"] if e.correction}
            return gw.reconciles > before and trades <= seen and cids <= got

        await eventually(published, timeout=30, what="every missed order and fill published")
        assert gw.ws.reconnects >= 1
        ids = [e.trade_id for e in ev.by_kind["fill"]]
        assert len(ids) == len(set(ids)), "a fill was published twice"
    finally:
        await gw.stop()


class _RefusingSigner:
    """The account's signer, except that the first ``bad`` WS subscriptions are signed wrongly (the venue
    answers them with auth error 4)."""

    def __init__(self, real: Any, bad: int) -> None:
        self.real = real
        self.bad = bad

    def ws_auth(self, channel: str, event: str, time_s: int) -> dict[str, str]:
        auth = self.real.ws_auth(channel, event, time_s)
        if self.bad > 0:
            self.bad -= 1
            auth = {**auth, "SIGN": "0" * len(auth["SIGN"])}
        return auth

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_refused_private_subscription_is_retried_and_fills_then_flow(sim, bus, session, subject_prefix,
                                                                           js_streams):
    """Gate refuses the user-stream subscriptions (auth error): the gateway is not ready, resubscribes on a
    fresh socket, and the account's fills then arrive live from the stream."""
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    creds = Credentials("main", acc.api_key, Secret(acc.api_secret))
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_spot_ws"])
    opts = GatewayOptions(watchdog_s=3.0, ping_interval_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.3,
                          subject_prefix=subject_prefix)
    ev = Events()
    await bus.subscribe(f"{subject_prefix}ord.gateio.main.evt.>", ev)
    gw = build_private(ep, Market.SPOT, "main", creds, bus, session, opts)
    gw.signer = _RefusingSigner(gw.signer, bad=3)  # the spot user stream's three channels, once
    await gw.start()
    try:
        await eventually(lambda: gw.subs_refused >= 1, timeout=10, what="a refused subscription")
        await eventually(gw.ready, timeout=10, what="ready after resubscribing")
        assert gw.ws is not None and gw.ws.shards[0].reconnects >= 1
        _, ask = best(sim, Market.SPOT, "BTC_USDT")
        place = PlaceOrder("refused-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), tif=TimeInForce.IOC,
                           price=ask * Decimal("1.01"))
        r = await bus.request(f"{subject_prefix}ord.gateio.main.cmd.spot.place", place)
        assert isinstance(r, OrderReply) and r.order.filled_qty > 0, r
        await eventually(lambda: any(not f.correction for f in ev.fills("refused-1")), timeout=5,
                         what="a live fill from the user stream")
    finally:
        await gw.stop()


async def test_futures_account_in_dual_mode_is_refused_at_start(sim, bus, session, subject_prefix, js_streams):
    """Dual (hedge) mode holds two positions per contract; the gateway keeps one net position, so it refuses
    to start on such an account instead of publishing positions that overwrite each other."""
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    creds = Credentials("main", acc.api_key, Secret(acc.api_secret))
    ep = VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=sim.urls["gateio_futures_ws"])
    gw = build_private(ep, Market.FUTURES, "main", creds, bus, session, GatewayOptions(subject_prefix=subject_prefix))
    assert gw.trader.fut is not None
    await gw.trader.fut.http.request("POST", "/futures/usdt/dual_mode", params=[("dual_mode", "true")], signed=True)
    try:
        with pytest.raises(ConfigError, match=r"account 'main' is in dual \(hedge\) position mode"):
            await gw.start()
        assert not gw.ready()
    finally:
        await gw.stop()
        await gw.trader.fut.http.request("POST", "/futures/usdt/dual_mode", params=[("dual_mode", "false")], signed=True)
