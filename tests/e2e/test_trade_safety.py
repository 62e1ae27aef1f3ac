"""The trading path's promises, tried as an adversary would, with real processes (`arb sim`, `arb trade-gateway`)
over real NATS: one order per client id through kill -9, one writer per account, ORD never shrunk and never
believed over the venue, commands refused at intake (wrong verb, undecodable, non-finite numbers, a reused id
with other parameters), and /readyz meaning "can serve commands" from its first answer (issue 10)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import msgspec
import pytest
from arb.bus import codec
from arb.bus.connection import Bus
from arb.bus.subjects import ord_cmd, ord_evt
from arb.core.commands import CancelAll, ErrorReply, OrderReply, OrdersReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.execution import Order, OrderUpdate
from arb.sim.config import DEFAULT_ACCOUNTS
from arb.testing.poll import eventually
from arb.testing.procs import ARB, Service, account_env, start_sim, venue_yaml

pytestmark = pytest.mark.e2e

DEMO = {a.name: a for a in DEFAULT_ACCOUNTS}
LEASE_TTL_S = 4.0  # short, so a takeover after kill -9 is quick to watch (fencing at ttl/2 must not trip on a loaded host)


class Case(NamedTuple):
    venue: Venue
    market: Market
    account: str
    market_side: Side  # a market order the demo account can afford
    market_qty: Decimal

    @property
    def key(self) -> str:
        return f"{self.venue.value}.{self.market.value}"


MEXC_SPOT = Case(Venue.MEXC, Market.SPOT, "mexc-demo", Side.BUY, Decimal("0.001"))
GATE_SPOT = Case(Venue.GATEIO, Market.SPOT, "gateio-demo", Side.SELL, Decimal("0.001"))
GATE_FUTURES = Case(Venue.GATEIO, Market.FUTURES, "gateio-demo", Side.BUY, Decimal("0.0005"))
CASES = [MEXC_SPOT, GATE_SPOT, GATE_FUTURES]


def _ids(c: Case) -> str:
    return f"{c.venue.value}-{c.market.value}"


class Stack(NamedTuple):
    case: Case
    urls: dict[str, str]
    prefix: str
    env: dict[str, str]
    config: Path
    tmp: Path

    def cmd(self, verb: str) -> str:
        return ord_cmd(self.case.venue, self.case.account, self.case.market, verb, self.prefix)

    def gateway(self, name: str) -> Service:
        c = self.case
        return Service(["trade-gateway", "--config", str(self.config), "--venue", c.venue.value, "--market",
                        c.market.value, "--account", c.account], self.env, self.tmp / f"{name}.log")

    async def state(self) -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                http.get(f"{self.urls['admin']}/state") as r:
            assert r.status == 200
            return await r.json()

    async def venue_orders(self) -> int:
        """Orders the venue market ever accepted (from any account)."""
        return (await self.state())["engines"][self.case.key].get("orders", 0)

    async def best(self) -> tuple[Decimal, Decimal]:
        venue = (await self.state())["symbols"]["BTC-USDT"]["venues"][self.case.key]
        return Decimal(venue["bid"]), Decimal(venue["ask"])

    async def arm(self, name: str, count: int = 1, **params: Any) -> None:
        body = {"name": name, "venue": self.case.venue.value, "market": self.case.market.value, "count": count,
                "params": params}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                http.post(f"{self.urls['admin']}/faults", json=body) as r:
            assert r.status == 200, await r.text()


@contextlib.asynccontextmanager
async def sim_stack(case: Case, nats_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=prefix)
    sim, urls = await start_sim(env, tmp_path / "sim.log", "--seed", "1")
    try:
        cfg = tmp_path / "gateway.yaml"
        cfg.write_text(f"http:\n  port: 0\nshutdown_timeout_s: 5\ngateway:\n  lease_ttl_s: {LEASE_TTL_S}\n"
                       "  request_timeout_s: 15\n" + venue_yaml(case.venue.value, case.market.value, urls))
        acc = DEMO[case.account]
        gw_env = account_env(env, case.account, acc.api_key, acc.api_secret)
        yield Stack(case, urls, prefix, gw_env, cfg, tmp_path)
    finally:
        sim.stop()


def _kill9(gw: Service) -> None:
    gw.proc.kill()
    gw.proc.wait(timeout=10)


def _market(case: Case, cid: str) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", case.market, case.market_side, case.market_qty, order_type=OrderType.MARKET,
                      tif=TimeInForce.IOC)


async def _resting(st: Stack, cid: str, qty: Decimal | None = None) -> PlaceOrder:
    bid, _ = await st.best()
    return PlaceOrder(cid, "BTC-USDT", st.case.market, Side.BUY, qty or st.case.market_qty,
                      price=(bid * Decimal("0.9")).quantize(Decimal("0.1")))


async def _all_replies(bus: Bus, subject: str, payload: bytes, first_within: float = 10.0,
                       more_within: float = 1.0) -> list[Any]:
    """Every reply to one request: the first within ``first_within`` s, then any other within ``more_within`` s
    (the window only bounds a negative check: a second responder answers within milliseconds)."""
    inbox = bus.nc.new_inbox()
    got: asyncio.Queue = asyncio.Queue()

    async def cb(msg: Any) -> None:
        await got.put(codec.decode(msg.data))

    sub = await bus.nc.subscribe(inbox, cb=cb)
    try:
        await bus.nc.publish(subject, payload, reply=inbox)
        replies = [await asyncio.wait_for(got.get(), first_within)]
        with contextlib.suppress(TimeoutError):
            while True:
                replies.append(await asyncio.wait_for(got.get(), more_within))
    finally:
        await sub.unsubscribe()
    return replies


# -- 1. kill -9 while a market order is in flight ----------------------------------------------------------------

@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", CASES, ids=_ids)
async def test_kill9_while_a_market_order_is_in_flight_never_sends_it_twice(
        case: Case, nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    """The venue executes the order, the gateway dies before it hears back (and before the user stream told it):
    the restarted gateway asks the venue about the id it had recorded and publishes the order unasked; the same
    PlaceOrder is answered with that order, and the venue never gets a second one."""
    updates: list[OrderUpdate] = []

    async def on_order(ev: Any, msg: Any) -> None:
        if isinstance(ev, OrderUpdate):
            updates.append(ev)

    await bus.subscribe(ord_evt(case.venue, case.account, "order", subject_prefix), on_order)
    async with sim_stack(case, nats_url, subject_prefix, tmp_path) as st:
        first = st.gateway("first")
        try:
            await first.wait_ready(timeout=30)
            before = await st.venue_orders()
            await st.arm("ws_stall", seconds=30)  # the user stream goes quiet: no event reaches ORD
            if case.venue is Venue.MEXC:  # MEXC's stall starts on the simulator's next tick, Gate's on the next frame
                await eventually(lambda: _fired(st, "ws_stall"), timeout=10, what="user stream stalled")
            await st.arm("rest_slow", ms=30_000, after=True)  # the venue acts, its answer is held back
            place = _market(case, f"k9-{case.market.value}")
            await bus.nc.publish(st.cmd("place"), codec.encode(place))  # nobody waits for this reply
            await eventually(lambda: _more(st, before), timeout=15, what="the venue executed the order")
            _kill9(first)
        finally:
            first.stop()

        assert not [u for u in updates if u.order.client_order_id == place.client_order_id]  # ORD never heard of it
        second = st.gateway("second")
        try:
            await second.wait_ready(timeout=30)
            await eventually(lambda: [u for u in updates if u.order.client_order_id == place.client_order_id
                                      and u.correction and u.order.filled_qty > 0], timeout=15,
                             what="the recorded id resolved with the venue and published after the restart")
            again = await bus.request(st.cmd("place"), place, timeout=15)
            assert isinstance(again, OrderReply), again
            assert again.order.client_order_id == place.client_order_id and again.order.filled_qty > 0, again
            assert await st.venue_orders() == before + 1  # one order at the venue for the id, never two
        finally:
            second.stop()


async def _fired(st: Stack, name: str) -> bool:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
            http.get(f"{st.urls['admin']}/faults") as r:
        return (await r.json())["fired_total"].get(name, 0) > 0


async def _more(st: Stack, before: int) -> bool:
    return await st.venue_orders() > before


# -- 2. one writer per (venue, account, market) --------------------------------------------------------------------

@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", [MEXC_SPOT, GATE_FUTURES], ids=_ids)
async def test_a_second_gateway_stands_by_and_takes_over_after_kill9_of_the_first(
        case: Case, nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    """Two gateways for one account: one answers and publishes, the other waits (not ready, silent); kill -9
    of the first and the second takes over within the lease TTL and serves the same ids without resending."""
    events: list[Any] = []

    async def on_event(ev: Any, msg: Any) -> None:
        events.append(ev)

    await bus.subscribe(ord_evt(case.venue, case.account, "order", subject_prefix), on_event)
    async with sim_stack(case, nats_url, subject_prefix, tmp_path) as st:
        first, second = st.gateway("first"), None
        try:
            await first.wait_ready(timeout=30)
            second = st.gateway("second")
            await eventually(lambda: "standby:" in second.log(), timeout=20, what="second gateway standing by")
            assert "standby:" not in first.log()
            base = await second.http_base()
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                    http.get(f"{base}/readyz") as r:
                body = await r.json()
                assert r.status == 503 and body["checks"]["lease"] is False, body

            before = await st.venue_orders()
            place = _market(case, f"lw-{case.market.value}")
            replies = await _all_replies(bus, st.cmd("place"), codec.encode(place))
            assert len(replies) == 1 and isinstance(replies[0], OrderReply), replies
            assert await st.venue_orders() == before + 1
            await eventually(lambda: [e for e in events if isinstance(e, OrderUpdate)
                                      and e.order.client_order_id == place.client_order_id], timeout=10,
                             what="order event of the first gateway")
            assert "audit:" not in second.log()  # the standby neither served nor published anything

            _kill9(first)
            await second.wait_ready(timeout=LEASE_TTL_S + 20)
            assert "lease" in second.log() and "held" in second.log()
            again = await bus.request(st.cmd("place"), place, timeout=15)
            assert isinstance(again, OrderReply), again
            assert again.order.venue_order_id == replies[0].order.venue_order_id
            assert await st.venue_orders() == before + 1
            assert second.stop() == 0
        finally:
            first.stop()
            if second is not None:
                second.stop()


# -- 3. ORD: never shrunk by a start, never believed over the venue -----------------------------------------------

@pytest.mark.timeout(90)
async def test_a_start_never_shrinks_ord_and_a_forged_order_event_is_not_believed(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    case = GATE_SPOT
    forged_cid = "forged-1"
    fake = Order(Venue.GATEIO, Market.SPOT, case.account, "BTC-USDT", forged_cid, "999", Side.BUY, OrderType.LIMIT,
                 TimeInForce.GTC, Decimal(1), Decimal("0.001"), Decimal("0.001"), Decimal(1), OrderStatus.FILLED,
                 False, 1, 1, 1)
    await bus.publish_acked(ord_evt(Venue.GATEIO, case.account, "order", subject_prefix), OrderUpdate(fake))
    ord_before = await bus.js.stream_info(js_streams.ord)

    # a config that asks for a short ORD (above the floor, below what the stream has) and an env override below
    # the floor: the first is started with and leaves ORD as it is, the second is refused by name
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    bad = await asyncio.to_thread(subprocess.run, [*ARB, "config", "check"], check=False, capture_output=True,
                                  text=True, timeout=60, env=dict(env, ARB_STREAMS__ORD_MAX_AGE_S="1"))
    assert bad.returncode == 2 and "ord_max_age_s" in bad.stderr, bad.stderr

    async with sim_stack(case, nats_url, subject_prefix, tmp_path) as st:
        st.config.write_text(st.config.read_text() + "streams:\n  ord_max_age_s: 604800\n  md_max_age_s: 60\n")
        gw = st.gateway("gw")
        try:
            await gw.wait_ready(timeout=30)
            ord_after = await bus.js.stream_info(js_streams.ord)
            assert ord_after.config.max_age == ord_before.config.max_age == 30 * 86400
            assert ord_after.state.messages >= ord_before.state.messages >= 1
            assert "kept its limits" in gw.log()

            before = await st.venue_orders()
            place = await _resting(st, forged_cid)
            r = await bus.request(st.cmd("place"), place, timeout=15)
            assert isinstance(r, OrderReply), r
            assert r.order.status is OrderStatus.NEW and r.order.filled_qty == 0 and r.order.price == place.price, r
            assert r.order.venue_order_id != "999"
            assert await st.venue_orders() == before + 1  # asked the venue, which did not know it: placed
        finally:
            gw.stop()


# -- 4-6. intake: verb, undecodable, numbers, conflicts ------------------------------------------------------------

@pytest.mark.timeout(90)
async def test_bad_commands_are_refused_at_once_by_name_and_counted(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    case = MEXC_SPOT
    async with sim_stack(case, nats_url, subject_prefix, tmp_path) as st:
        gw = st.gateway("gw")
        try:
            await gw.wait_ready(timeout=30)
            before = await st.venue_orders()
            place = await _resting(st, "in-1")

            wrong = await bus.request(st.cmd("cancel"), place, timeout=5)  # a PlaceOrder on the cancel verb
            assert isinstance(wrong, ErrorReply) and wrong.kind == "validation" and wrong.code == "WRONG_VERB", wrong
            assert "'place'" in wrong.message

            raw = dict(msgspec.to_builtins(codec.decode(codec.encode(place))))
            garbage = [b"\xc1garbage", msgspec.msgpack.encode({}), msgspec.msgpack.encode({"type": "nope"}),
                       msgspec.msgpack.encode({**raw, "side": "sideways"})]
            for payload in garbage:
                msg = await bus.nc.request(st.cmd("place"), payload, timeout=5)
                r = codec.decode(msg.data)
                assert isinstance(r, ErrorReply) and r.kind == "validation" and r.code == "UNDECODABLE", r
            assert "side" in r.message

            for field in ("qty", "price"):
                for bad in ("NaN", "sNaN", "Infinity", "-Infinity", "1E+30"):
                    cmd = msgspec.structs.replace(place, client_order_id=f"num-{field}", **{field: Decimal(bad)})
                    r = await bus.request(st.cmd("place"), cmd, timeout=5)
                    assert isinstance(r, ErrorReply) and r.kind == "validation" and r.message.startswith(
                        f"PlaceOrder {field}:"), (field, bad, r)

            thirty = Decimal(f"{place.price:f}".split(".")[0] + "." + f"{place.price:f}".split(".")[1].ljust(29, "0") + "7")
            assert -thirty.as_tuple().exponent == 30 and thirty > place.price
            fine = msgspec.structs.replace(place, price=thirty)
            first = await bus.request(st.cmd("place"), fine, timeout=10)  # 30 decimals: rounded to the tick, placed
            assert isinstance(first, OrderReply) and first.order.price == place.price, first
            for diff in ({"side": Side.SELL}, {"qty": place.qty * 2}, {"symbol": "ETH-USDT"}):
                r = await bus.request(st.cmd("place"), msgspec.structs.replace(fine, **diff), timeout=10)
                assert isinstance(r, ErrorReply) and r.kind == "conflict" and r.code == "CLIENT_ID_REUSED", (diff, r)
                assert next(iter(diff)) in r.message
            same = await bus.request(st.cmd("place"), fine, timeout=10)
            assert isinstance(same, OrderReply) and same.order.venue_order_id == first.order.venue_order_id
            assert await st.venue_orders() == before + 1
            assert gw.alive()

            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                    http.get(f"{await gw.http_base()}/metrics") as resp:
                metrics = await resp.text()
            assert 'arb_trade_commands_refused_total{market="spot",reason="undecodable",venue="mexc"} 4.0' in metrics
            assert 'reason="wrong_verb"' in metrics and 'reason="invalid"' in metrics
            log = gw.log()
            assert "command refused (wrong_verb)" in log and "command refused (undecodable)" in log
        finally:
            gw.stop()


# -- 12. readiness from the first answer on ------------------------------------------------------------------------

@pytest.mark.timeout(90)
async def test_readyz_never_says_ready_for_a_gateway_that_cannot_reach_its_venue(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    """Every /readyz answer, from the first on, carries every check (nats, lease, venue) and none is 200 while
    the venue does not answer (a black hole: connections are taken, nothing is ever said); the gateway then
    exits non-zero."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # the kernel completes the handshakes; nobody ever reads or answers
    dead = hole.getsockname()[1]
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"http:\n  port: 0\nshutdown_timeout_s: 5\ngateway:\n  request_timeout_s: 2\nvenues:\n  mexc:\n"
                   f"    spot:\n      rest_url: http://127.0.0.1:{dead}\n      ws_url: ws://127.0.0.1:{dead}/ws\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=subject_prefix)
    acc = DEMO["mexc-demo"]
    env = account_env(env, "mexc-demo", acc.api_key, acc.api_secret)
    gw = Service(["trade-gateway", "--config", str(cfg), "--venue", "mexc", "--account", "mexc-demo"], env,
                 tmp_path / "gw.log")
    answers: list[tuple[int, dict]] = []
    try:
        base = await gw.http_base(timeout=30)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:

            async def exited() -> bool:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{base}/readyz") as r:
                        answers.append((r.status, await r.json()))
                return not gw.alive()

            await eventually(exited, timeout=60, interval=0.01, what="gateway gave up on its venue")
    finally:
        rc = gw.stop()
        hole.close()
    assert len(answers) >= 5, gw.log()[-2000:]
    assert all(set(body["checks"]) == {"nats", "lease", "venue"} for _, body in answers), answers[:3]
    assert all(status == 503 for status, _ in answers), [a for a in answers if a[0] != 503][:3]
    assert rc != 0



# -- 7. MEXC cancel-all over several symbols (the comma in the signed query) ---------------------------------------

@pytest.mark.timeout(90)
async def test_mexc_cancel_all_without_a_symbol_cancels_on_every_configured_symbol(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path) -> None:
    """`--symbols BTC-USDT,ETH-USDT`: a CancelAll with no symbol signs `symbol=BTCUSDT%2CETHUSDT` as sent and the
    venue (which verifies the raw query) cancels the resting orders on both."""
    case = MEXC_SPOT
    async with sim_stack(case, nats_url, subject_prefix, tmp_path) as st:
        gw = Service(["trade-gateway", "--config", str(st.config), "--venue", "mexc", "--account", case.account,
                      "--symbols", "BTC-USDT,ETH-USDT"], st.env, tmp_path / "gw.log")
        try:
            await gw.wait_ready(timeout=30)
            state = await st.state()
            for sym, qty in (("BTC-USDT", Decimal("0.001")), ("ETH-USDT", Decimal("0.01"))):
                bid = Decimal(state["symbols"][sym]["venues"][case.key]["bid"])
                r = await bus.request(st.cmd("place"), PlaceOrder(f"ca-{sym}", sym, Market.SPOT, Side.BUY, qty,
                                                                  price=(bid * Decimal("0.9")).quantize(Decimal("0.01"))),
                                      timeout=10)
                assert isinstance(r, OrderReply) and r.order.status is OrderStatus.NEW, r
            account = next(a for a in (await st.state())["accounts"] if a["name"] == case.account)
            assert account["open_orders"] == 2
            r = await bus.request(st.cmd("cancel_all"), CancelAll(Market.SPOT), timeout=10)
            assert isinstance(r, OrdersReply), r
            assert {o.symbol for o in r.orders} == {"BTC-USDT", "ETH-USDT"}
            assert all(o.status is OrderStatus.CANCELED for o in r.orders)
            account = next(a for a in (await st.state())["accounts"] if a["name"] == case.account)
            assert account["open_orders"] == 0
        finally:
            gw.stop()
