"""`arb trade-gateway` as a real process against `arb sim` over real NATS, once per venue market the simulator
serves (MEXC spot, Gate.io spot, Gate.io USDT futures): orders by request/reply, idempotency by client order
id, execution events, balances, a bad symbol, SIGTERM, and the API secret never in its output."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.bus.subjects import ord_cmd
from arb.core.commands import (
    BalancesReply,
    CancelOrder,
    ErrorReply,
    LeverageReply,
    OrderReply,
    PlaceOrder,
    QueryBalances,
    QueryOrder,
    SetLeverage,
)
from arb.core.enums import Market, OrderStatus, OrderType, Side, Venue
from arb.sim.config import DEFAULT_ACCOUNTS
from arb.testing.collect import ExecutionEvents
from arb.testing.poll import eventually
from arb.testing.procs import Service, account_env, start_sim, venue_yaml

pytestmark = pytest.mark.e2e

SHUTDOWN_TIMEOUT_S = 5.0  # the gateway's shutdown_timeout_s: SIGTERM must end it well within this
DEMO = {a.name: a for a in DEFAULT_ACCOUNTS}  # the simulator's demo accounts and their keys


class Case(NamedTuple):
    venue: Venue
    market: Market
    account: str
    symbol: str = "BTC-USDT"
    qty: Decimal = Decimal("0.001")  # futures: 10 contracts of 0.0001 BTC

    @property
    def service(self) -> str:
        return f"trade-gateway-{self.venue.value}-{self.market.value}-{self.account}"

    def events(self, prefix: str) -> str:
        """``ord.<venue>.<account>.evt.>``: every execution event of the account."""
        return f"{prefix}ord.{self.venue.value}.{self.account}.evt.>"


MEXC_SPOT = Case(Venue.MEXC, Market.SPOT, "mexc-demo")
GATE_SPOT = Case(Venue.GATEIO, Market.SPOT, "gateio-demo")
GATE_FUTURES = Case(Venue.GATEIO, Market.FUTURES, "gateio-demo")


class Stack(NamedTuple):
    case: Case
    gateway: Service
    urls: dict[str, str]
    prefix: str

    def cmd(self, verb: str) -> str:
        return ord_cmd(self.case.venue, self.case.account, self.case.market, verb, self.prefix)

    async def sim_state(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.urls['admin']}/state") as r:
            assert r.status == 200
            return await r.json()

    async def best_bid(self) -> Decimal:
        state = await self.sim_state()
        venue = state["symbols"][self.case.symbol]["venues"][f"{self.case.venue.value}.{self.case.market.value}"]
        return Decimal(venue["bid"])

    async def venue_orders(self) -> tuple[int, int]:
        """(orders this account has open at the venue, client orders the venue market ever accepted)."""
        state = await self.sim_state()
        account = next(a for a in state["accounts"] if a["name"] == self.case.account)
        engine = state["engines"][f"{self.case.venue.value}.{self.case.market.value}"]
        return account["open_orders"], engine.get("orders", 0)


@contextlib.asynccontextmanager
async def trade_stack(case: Case, nats_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """`arb sim` and `arb trade-gateway` for ``case``; the account's keys reach the gateway through env only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=prefix)
    sim, urls = await start_sim(env, tmp_path / "sim.log", "--seed", "1")
    try:
        cfg = tmp_path / "gateway.yaml"
        cfg.write_text(f"http:\n  port: 0\nshutdown_timeout_s: {SHUTDOWN_TIMEOUT_S}\n"
                       + venue_yaml(case.venue.value, case.market.value, urls))
        acc = DEMO[case.account]
        gw_env = account_env(env, case.account, acc.api_key, acc.api_secret)
        gateway = Service(["trade-gateway", "--config", str(cfg), "--venue", case.venue.value,
                           "--market", case.market.value, "--account", case.account], gw_env, tmp_path / "gateway.log")
        try:
            yield Stack(case, gateway, urls, prefix)
        finally:
            gateway.stop()
    finally:
        sim.stop()


def assert_stopped_cleanly_without_leaking_the_secret(st: Stack) -> None:
    """SIGTERM ended the gateway with 0 inside its shutdown timeout; its log and stdout never hold the secret."""
    gw, secret = st.gateway, DEMO[st.case.account].api_secret
    rc = gw.stop(timeout=SHUTDOWN_TIMEOUT_S + 10)
    log = gw.log()
    assert rc == 0, log[-3000:]
    assert gw.exit_seconds is not None and gw.exit_seconds < SHUTDOWN_TIMEOUT_S, log[-3000:]
    assert f"stopped {st.case.service} rc=0" in log and "shutdown exceeded" not in log
    assert "audit:" in log  # the log really carries the commands and events that were signed with it
    assert secret not in log and secret not in gw.stdout


@pytest.mark.parametrize("case", [MEXC_SPOT, GATE_SPOT, GATE_FUTURES], ids=lambda c: f"{c.venue.value}-{c.market.value}")
async def test_trade_gateway_process_places_once_cancels_and_survives_a_bad_symbol(
        case: Case, nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """A resting order is placed once (twice sent), published, cancelled; balances answer; a bad symbol is a typed error."""
    events = ExecutionEvents()
    await bus.subscribe(case.events(subject_prefix), events)
    async with trade_stack(case, nats_url, subject_prefix, tmp_path) as st:
        ready = await st.gateway.wait_ready(timeout=30)
        assert ready["checks"] == {"nats": True, "lease": True, "venue": True}
        cid = f"e2e-{case.market.value}-1"
        place = PlaceOrder(cid, case.symbol, case.market, Side.BUY, case.qty, price=await st.best_bid() * Decimal("0.9"))

        first = await bus.request(st.cmd("place"), place, timeout=10)
        again = await bus.request(st.cmd("place"), place, timeout=10)

        assert isinstance(first, OrderReply), first
        assert first.order.client_order_id == cid and first.order.venue_order_id
        assert first.order.status is OrderStatus.NEW and first.order.qty == case.qty
        assert isinstance(again, OrderReply), again
        assert (again.order.client_order_id, again.order.venue_order_id) == (cid, first.order.venue_order_id)
        assert await st.venue_orders() == (1, 1)
        await eventually(lambda: events.orders(cid), timeout=10, what=f"order event for {cid}")
        assert all(u.order.venue_order_id == first.order.venue_order_id for u in events.orders(cid))

        canceled = await bus.request(st.cmd("cancel"), CancelOrder(case.symbol, case.market, client_order_id=cid),
                                     timeout=10)
        assert isinstance(canceled, OrderReply) and canceled.order.status is OrderStatus.CANCELED, canceled
        await eventually(lambda: any(u.order.status is OrderStatus.CANCELED for u in events.orders(cid)),
                         timeout=10, what=f"canceled event for {cid}")
        assert (await st.venue_orders())[0] == 0

        balances = await bus.request(st.cmd("balances"), QueryBalances(case.market), timeout=10)
        assert isinstance(balances, BalancesReply) and balances.balances, balances
        assert {(b.venue, b.market, b.account) for b in balances.balances} == {(case.venue, case.market, case.account)}
        assert any(b.asset == "USDT" and b.free > 0 for b in balances.balances)

        bad = await bus.request(st.cmd("place"), PlaceOrder(f"{cid}-bad", "NOPE-USDT", case.market, Side.BUY,
                                                            case.qty, price=Decimal(1)), timeout=10)
        assert isinstance(bad, ErrorReply) and bad.kind == "symbol" and "NOPE-USDT" in bad.message, bad
        assert st.gateway.alive()
        still = await bus.request(st.cmd("query"), QueryOrder(case.symbol, case.market, client_order_id=cid), timeout=10)
        assert isinstance(still, OrderReply) and still.order.status is OrderStatus.CANCELED, still

        assert_stopped_cleanly_without_leaking_the_secret(st)


async def test_futures_trade_gateway_process_sets_leverage_and_publishes_fill_and_position(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """Gate futures: SetLeverage answers with the position; a market buy fills and a Fill and a Position arrive."""
    case = GATE_FUTURES
    events = ExecutionEvents()
    await bus.subscribe(case.events(subject_prefix), events)
    async with trade_stack(case, nats_url, subject_prefix, tmp_path) as st:
        await st.gateway.wait_ready(timeout=30)

        lev = await bus.request(st.cmd("set_leverage"), SetLeverage(case.symbol, 5), timeout=10)
        buy = await bus.request(st.cmd("place"), PlaceOrder("e2e-fut-mkt", case.symbol, Market.FUTURES, Side.BUY,
                                                            Decimal("0.0005"), order_type=OrderType.MARKET), timeout=10)

        assert isinstance(lev, LeverageReply) and lev.position.leverage == 5, lev
        assert isinstance(buy, OrderReply) and buy.order.venue_order_id, buy
        fills = await eventually(lambda: sum(f.qty for f in events.fills("e2e-fut-mkt")) == Decimal("0.0005")
                                 and events.fills("e2e-fut-mkt"), timeout=10, what="fills of the market buy")
        assert all(f.side is Side.BUY and f.symbol == case.symbol and not f.is_maker for f in fills)
        position = await eventually(lambda: [p for p in events.positions(case.symbol) if p.size == Decimal("0.0005")],
                                    timeout=10, what="long 0.0005 BTC position")
        assert position[-1].contracts == 5 and position[-1].leverage == 5 and position[-1].entry_price > 0

        assert_stopped_cleanly_without_leaking_the_secret(st)
