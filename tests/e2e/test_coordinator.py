"""The coordinator with real processes (`arb sim`, two md-gateways, two trade-gateways, `arb coordinator`) over real
NATS: a dislocation traded through every state back to IDLE with its PnL equal to the simulator's balance changes;
kill -9 of the coordinator while it holds a position, with a second coordinator standing by; flatten (issue 13)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import msgspec
import pytest
from arb.bus import codec
from arb.bus.connection import Bus
from arb.coordinator.control import CtlReply, CtlRequest
from arb.core.commands import PlaceOrder
from arb.core.enums import Side
from arb.core.execution import Fill
from arb.sim.config import DEFAULT_ACCOUNTS
from arb.strategy.events import CycleReport, SendCommand, Transition
from arb.testing.poll import bounded, eventually
from arb.testing.procs import SIM_ENDPOINTS, Service, account_env, start_sim

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DEMO = {a.name: a for a in DEFAULT_ACCOUNTS}
TASK = "btc"
MARKETS = (("mexc", "spot", "mexc-demo"), ("gateio", "futures", "gateio-demo"))


def _config(urls: dict[str, str], cooldown_s: float = 3600.0, size: str = "0.01", entry_slippage_bps: float = 2.0) -> str:
    """The stack's config. The simulator settles funding every 60 s (a demo's pace), so ``expected_hold_s`` of 30 s
    counts at most one funding in an entry's edge: the cycles here are the dislocation's, not funding's."""
    venues = {"mexc": {}, "gateio": {}}
    for venue, market, _ in MARKETS:
        rest, ws = SIM_ENDPOINTS[(venue, market)]
        venues[venue][market] = (urls[rest], urls[ws])
    lines = ["http:\n  port: 0", "shutdown_timeout_s: 5", "gateway:\n  lease_ttl_s: 4\n  request_timeout_s: 15\n  stale_after_s: 1",
             "venues:"]
    for venue, markets in venues.items():
        lines.append(f"  {venue}:")
        for market, (rest, ws) in markets.items():
            lines.append(f"    {market}:\n      rest_url: {rest}\n      ws_url: {ws}")
    lines.append(f"""coordinator:
  tick_s: 0.2
  reconcile_s: 5
  lease_ttl_s: 4
  not_found_after_s: 70
  tasks:
    - task: {TASK}
      symbol: BTC-USDT
      size: "{size}"
      entry_slippage_bps: {entry_slippage_bps}
      max_notional: 100000
      entry_bps: 8
      exit_bps: 4
      slippage_bps: 1
      funding_exit_bps: 100
      expected_hold_s: 30
      cooldown_s: {cooldown_s}
      max_book_age_s: 30
      order_timeout_s: 5
      markets:
        - {{venue: mexc, market: spot, account: mexc-demo}}
        - {{venue: gateio, market: futures, account: gateio-demo}}""")
    return "\n".join(lines) + "\n"


class Stack(NamedTuple):
    urls: dict[str, str]
    env: dict[str, str]
    config: Path
    tmp: Path
    prefix: str
    bus: Bus
    log: list[Any]  # every strat.<task>.* event, in order
    watched: list[Service]  # processes whose exit fails the test at once
    procs: list[Service]  # every process of the stack (stopped at the end)

    def coordinator(self, name: str = "coordinator") -> Service:
        p = Service(["coordinator", "--config", str(self.config), "--paper"], self.env, self.tmp / f"{name}.log")
        self.watched.append(p)
        return p

    async def admin(self, path: str, body: dict | None = None) -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            if body is None:
                async with http.get(self.urls["admin"] + path) as r:
                    assert r.status == 200, await r.text()
                    return await r.json()
            async with http.post(self.urls["admin"] + path, json=body) as r:
                assert r.status == 200, await r.text()
                return await r.json()

    async def ctl(self, verb: str, task: str = "") -> CtlReply:
        msg = await self.bus.nc.request(f"{self.prefix}ctl.coordinator.{verb}", codec.encode(CtlRequest(task=task)),
                                        timeout=10)
        reply = codec.decode(msg.data)
        assert isinstance(reply, CtlReply), reply
        return reply

    async def state(self) -> str:
        for p in self.watched:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited: {p.log()[-3000:]}")
        try:
            reply = await self.ctl("status")
        except Exception:  # noqa: BLE001 -- no coordinator answering yet
            return ""
        return reply.tasks[0].state if reply.tasks else ""

    async def state_is(self, want: str) -> bool:
        return await self.state() == want

    async def holdings(self) -> dict[str, Decimal]:
        """USDT and BTC of the demo accounts where the task trades: MEXC spot wallet, Gate futures wallet and
        position (available + locked)."""
        st = await self.admin("/state")
        acc = {a["name"]: a for a in st["accounts"]}
        out: dict[str, Decimal] = {}
        for asset, b in acc["mexc-demo"]["wallets"]["spot"].items():
            out[f"mexc.{asset}"] = Decimal(b["available"]) + Decimal(b["locked"])
        for asset, b in acc["gateio-demo"]["wallets"]["futures"].items():
            out[f"gateio.futures.{asset}"] = Decimal(b["available"]) + Decimal(b["locked"])
        pos = [p for p in acc["gateio-demo"]["positions"] if p["symbol"] == "BTC_USDT"]
        out["gateio.futures.position"] = Decimal(pos[0]["size"]) if pos else Decimal(0)
        return out

    async def booked(self, timeout: float = 90, what: str = "a cycle booked") -> CycleReport:
        """The first CycleReport on strat.<task>.cycle (on failure: the transitions and commands seen, for the log)."""
        try:
            return await eventually(lambda: next((e for e in self.log if isinstance(e, CycleReport)), None),
                                    timeout=timeout, what=what)
        except AssertionError as e:
            seen = [(type(x).__name__, getattr(x, "new", None) or getattr(x, "command", None)) for x in self.log
                    if isinstance(x, (Transition, SendCommand))]
            raise AssertionError(f"{e}; strat log: {seen}; status: {await self.ctl('status')}") from None

    async def kill9(self, p: Service) -> None:
        """kill -9 (its exit no longer fails the test)."""
        if p in self.watched:
            self.watched.remove(p)
        p.proc.kill()
        p.proc.wait(timeout=10)

    def transitions(self) -> list[str]:
        return [e.new.value for e in self.log if isinstance(e, Transition)]

    def placed(self) -> list[PlaceOrder]:
        return [e.command for e in self.log if isinstance(e, SendCommand) and isinstance(e.command, PlaceOrder)]


@contextlib.asynccontextmanager
async def stack(nats_url: str, prefix: str, bus: Bus, tmp: Path, cooldown_s: float = 3600.0,
                size: str = "0.01", entry_slippage_bps: float = 2.0) -> AsyncIterator[Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=prefix)
    sim_cfg = tmp / "sim.yaml"  # no random dislocations: every cycle here is the one a test makes
    sim_cfg.write_text("sim:\n  dislocations:\n    enabled: false\n")
    sim, urls = await start_sim(env, tmp / "sim.log", "--seed", "3", "--config", str(sim_cfg))
    procs = [sim]
    log: list[Any] = []

    async def on(ev: Any, msg: Any) -> None:
        log.append(ev)

    try:
        cfg = tmp / "stack.yaml"
        cfg.write_text(_config(urls, cooldown_s, size, entry_slippage_bps))
        await bounded(bus.subscribe(f"{prefix}strat.{TASK}.>", on), 5, "subscribe strat")
        for venue, market, account in MARKETS:
            procs.append(Service(["md-gateway", "--config", str(cfg), "--venue", venue, "--market", market,
                                  "--symbols", "BTC-USDT"], env, tmp / f"md-{venue}-{market}.log"))
            a = DEMO[account]
            procs.append(Service(["trade-gateway", "--config", str(cfg), "--venue", venue, "--market", market,
                                  "--account", account, "--symbols", "BTC-USDT"],
                                 account_env(env, account, a.api_key, a.api_secret),
                                 tmp / f"trade-{venue}-{market}.log"))
        for p in procs[1:]:
            await p.wait_ready(60)
        yield Stack(urls, env, cfg, tmp, prefix, bus, log, [], procs)
    finally:
        for p in reversed(procs):
            p.stop(timeout=20)


async def _dislocate(s: Stack, bps: float, seconds: float) -> None:
    await s.admin("/dislocate", {"symbol": "BTC-USDT", "venue": "gateio", "market": "futures", "bps": bps,
                                 "seconds": seconds})


def gw_env(s: Stack, account: str) -> dict[str, str]:
    a = DEMO[account]
    return account_env(s.env, account, a.api_key, a.api_secret)


def _quote_change(before: dict[str, Decimal], after: dict[str, Decimal]) -> Decimal:
    return (after["mexc.USDT"] - before["mexc.USDT"]) + (after["gateio.futures.USDT"] - before["gateio.futures.USDT"])


def _role(cid: str) -> str:
    """The role letter of ``<task>-<cycle>-<role><n>`` (L lead, H hedge, U unwind, X exit, T trim)."""
    return cid.rpartition("-")[2][:1]


def _same_to_the_cent(realised: Decimal, change: Decimal) -> bool:
    """Equal within half a cent: fills and fees are exact; a funding settled while held is booked by the task at
    the mark it last saw, the venue's at its own (0.01 BTC x a few USD x 1e-4: millionths of a USDT)."""
    return abs(realised - change) < Decimal("0.005")


async def test_a_dislocation_is_traded_through_every_state_and_its_pnl_is_the_balance_change_to_the_cent(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """A rich perpetual is entered (buy MEXC spot, short Gate perp), held, exited when the dislocation ends, and
    the cycle's realised PnL equals the change of the demo accounts' USDT to the cent; net exposure ends at 0."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            before = await s.holdings()
            await _dislocate(s, 60, 12)
            report = await s.booked(90, "a cycle booked")
            after = await s.holdings()
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    seen = s.transitions()
    for state in ("syncing", "analyzing", "managing_orders", "waiting_orders", "monitoring", "completing",
                  "finalizing", "idle"):
        assert state in seen, (state, seen)
    assert report.qty == Decimal("0.01") and not report.fills_missing
    assert _same_to_the_cent(report.realised, _quote_change(before, after)), (report, before, after)
    assert after["gateio.futures.position"] == 0
    assert abs(after["mexc.BTC"] - before["mexc.BTC"]) < Decimal("0.0001")  # dust of base fees at most
    assert len({c.client_order_id for c in s.placed()}) == len(s.placed())


async def _engine_orders(s: Stack) -> int:
    st = await s.admin("/state")
    return sum(st["engines"][k].get("orders", 0) for k in ("mexc.spot", "gateio.futures"))


async def test_kill9_while_holding_a_position_a_standby_coordinator_takes_over_and_completes_the_cycle(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """Two coordinators for one task: one trades, the other stands by. kill -9 of the first in MONITORING: the
    second restores the task from its snapshot, adopts the position, never re-sends an order, and closes the cycle
    when the dislocation ends; every order the venue saw was sent once, and net exposure ends at 0."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        first = s.coordinator("coordinator-1")
        await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
        second = s.coordinator("coordinator-2")
        try:
            await eventually(lambda: "standby: task btc" in second.log(), timeout=30, what="second stands by")
            before = await s.holdings()
            venue_before = await _engine_orders(s)
            await _dislocate(s, 60, 20)
            await eventually(lambda: s.state_is("monitoring"), timeout=60, what="cycle entered")
            held = await s.holdings()
            await s.kill9(first)
            await eventually(lambda: "restored in monitoring" in second.log(), timeout=30, what="takeover")
            report = await s.booked(90, "the cycle booked by the second coordinator")
            after = await s.holdings()
            venue_after = await _engine_orders(s)
        finally:
            first.stop()
            assert second.stop() == 0, second.log()[-3000:]
    assert held["gateio.futures.position"] < 0 < held["mexc.BTC"] - before["mexc.BTC"]  # a position was held
    placed = s.placed()
    ids = [c.client_order_id for c in placed]
    # A hedge the venue had not acknowledged when the coordinator died may be asked about by its very PlaceOrder
    # again (same id and parameters: the gateway's journal answers with that order, never a second one); a lead or an
    # exit is never repeated. What counts is the venue: one order per distinct id.
    for cid in set(ids):
        same = [msgspec.structs.replace(c, ts_pub=0) for c in placed if c.client_order_id == cid]
        assert len(same) == 1 or (_role(cid) in "HUT" and all(c == same[0] for c in same)), (cid, same)
    assert venue_after - venue_before == len(set(ids)), (venue_after - venue_before, ids)
    assert after["gateio.futures.position"] == 0
    assert abs(after["mexc.BTC"] - before["mexc.BTC"]) < Decimal("0.0001")
    assert _same_to_the_cent(report.realised, _quote_change(before, after)), (report, before, after)


async def test_flatten_while_holding_closes_every_leg_and_halts(nats_url: str, subject_prefix: str, bus: Bus,
                                                                js_streams, tmp_path: Path):
    """`flatten` in MONITORING closes both legs at once (the dislocation still on), books the cycle and halts:
    no open order, zero position, and the task enters nothing more while halted."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            before = await s.holdings()
            await _dislocate(s, 60, 60)
            await eventually(lambda: s.state_is("monitoring"), timeout=60, what="cycle entered")
            reply = await s.ctl("flatten", TASK)
            assert reply.tasks and reply.tasks[0].task == TASK
            await eventually(lambda: s.state_is("halted"), timeout=60, what="halted after flatten")
            status = (await s.ctl("status", TASK)).tasks[0]
            after = await s.holdings()
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    assert status.open_orders == [] and abs(status.net) < Decimal("0.0001")
    assert all(v == 0 for v in status.positions.values()) or status.positions == {}
    assert after["gateio.futures.position"] == 0
    report = next(e for e in s.log if isinstance(e, CycleReport))
    assert report.reason.startswith("flatten")
    assert _same_to_the_cent(report.realised, _quote_change(before, after)), (report, before, after)
    assert s.transitions()[-1] == "halted"


async def _arm(s: Stack, name: str, venue: str, market: str, count: int = 1, **params: Any) -> None:
    await s.admin("/faults", {"name": name, "venue": venue, "market": market, "count": count, "params": params})


async def test_a_refused_hedge_is_retried_then_the_lead_is_unwound_with_the_exposure_reported(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """Gate refuses the perpetual hedge three times (hedge_attempts): each retry is a new client id, then the MEXC
    lead is sold back; the task ends flat, and the cycle reports the unhedged 0.01 BTC and how long it lasted."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            before = await s.holdings()
            await _arm(s, "order_reject", "gateio", "futures", count=3)
            await _dislocate(s, 60, 10)
            report = await s.booked(90, "the cycle booked")
            after = await s.holdings()
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    ids = [c.client_order_id for c in s.placed()]
    assert ids[:5] == ["btc-1-L1", "btc-1-H1", "btc-1-H2", "btc-1-H3", "btc-1-U1"], ids
    assert report.reason.startswith("hedge failed 3 times"), report.reason
    # 0.01 bought, less MEXC's fee taken in BTC; unhedged from the lead's fill until the unwind's
    assert Decimal("0.0099") < report.max_unhedged <= Decimal("0.01") and 0 < report.max_unhedged_ns < 30 * 10**9
    assert after["gateio.futures.position"] == 0
    assert abs(after["mexc.BTC"] - before["mexc.BTC"]) < Decimal("0.0001")
    assert _same_to_the_cent(report.realised, _quote_change(before, after)), (report, before, after)


async def test_a_gapped_book_blocks_entry_until_it_is_in_sync_again(nats_url: str, subject_prefix: str, bus: Bus,
                                                                    js_streams, tmp_path: Path):
    """MEXC skips a depth update: the gateway publishes the book resyncing, the task leaves ANALYZING for SYNCING
    naming the book and sends nothing until the book is in sync again; then it analyses again."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            await _arm(s, "book_skip", "mexc", "spot", count=3)
            stale = await eventually(lambda: next((e for e in s.log if isinstance(e, Transition)
                                                   and e.new.value == "syncing" and "mexc.spot" in e.reason), None),
                                     timeout=30, what="syncing on a gapped MEXC book")
            back = await eventually(lambda: next((e for e in s.log if isinstance(e, Transition)
                                                  and e.new.value == "analyzing" and e.ts > stale.ts), None),
                                    timeout=60, what="analyzing again")
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    assert "stale" in stale.reason or "resyncing" in stale.reason or "old" in stale.reason, stale.reason
    sent = [e for e in s.log if isinstance(e, SendCommand) and stale.ts <= e.ts < back.ts]
    assert sent == []


async def test_funding_turning_against_the_position_closes_the_cycle(nats_url: str, subject_prefix: str, bus: Bus,
                                                                     js_streams, tmp_path: Path):
    """Holding short perpetual / long MEXC while the perpetual stays rich, the funding rate turns to -2 %: shorts
    pay, so the cycle is closed at once (before the dislocation ends) and booked with that reason."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            await _dislocate(s, 60, 120)
            await eventually(lambda: s.state_is("monitoring"), timeout=60, what="cycle entered")
            await s.admin("/funding", {"symbol": "BTC-USDT", "rate": "-0.02"})
            report = await s.booked(60, "the cycle booked")
            after = await s.holdings()
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    assert report.reason.startswith("funding turned against the position"), report.reason
    assert after["gateio.futures.position"] == 0


@pytest.mark.parametrize(("state", "slow"), [("managing_orders", ("mexc", "spot")),
                                             ("waiting_orders", ("gateio", "futures"))],
                         ids=["managing_orders", "waiting_orders"])
async def test_kill9_with_an_order_in_flight_the_restarted_coordinator_adopts_it_and_sends_nothing_twice(
        state: str, slow: tuple[str, str], nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """The venue holds the lead (MANAGING_ORDERS) or the hedge (WAITING_ORDERS) for 8 s before acting; the
    coordinator is killed meanwhile and started again: it asks about the order in flight, adopts it when the venue
    acts, hedges what is owed once, and closes the cycle; every order the venue saw was sent once."""
    # the held order acts 8 s after it was priced: a wide dislocation and allowance so the market's drift meanwhile
    # cannot make the IOC miss (the test is about adoption, not about the entry price)
    async with stack(nats_url, subject_prefix, bus, tmp_path, entry_slippage_bps=50.0) as s:
        first = s.coordinator("coordinator-1")
        await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
        before = await s.holdings()
        venue_before = await _engine_orders(s)
        await _arm(s, "rest_slow", *slow, ms=8000)
        await _dislocate(s, 150, 25)
        await eventually(lambda: s.state_is(state), timeout=30, interval=0.01, what=state)
        # the scenario is an order the venue holds: kill only once its gateway has the PlaceOrder (a kill between the
        # STRAT log and the send is another case: nothing reached the venue, and the lead is declared absent)
        venue, _ = slow
        cid = "btc-1-L1" if state == "managing_orders" else "btc-1-H1"
        gw = next(p for p in s.procs if "trade-gateway" in p.args and f"{venue}-demo" in p.args)
        await eventually(lambda: f'"type":"place","client_order_id":"{cid}"' in gw.log(), timeout=15, interval=0.01,
                         what=f"{cid} at its trading gateway")
        await s.kill9(first)
        second = s.coordinator("coordinator-2")
        try:
            await eventually(lambda: f"restored in {state}" in second.log(), timeout=30, what="restored")
            report = await s.booked(120, "the cycle booked after the restart")
            after = await s.holdings()
            venue_after = await _engine_orders(s)
        finally:
            first.stop()
            assert second.stop() == 0, second.log()[-3000:]
    placed = s.placed()
    ids = [c.client_order_id for c in placed]
    # A hedge the venue had not acknowledged when the coordinator died may be asked about by its very PlaceOrder
    # again (same id and parameters: the gateway's journal answers with that order, never a second one); a lead or an
    # exit is never repeated. What counts is the venue: one order per distinct id.
    for cid in set(ids):
        same = [msgspec.structs.replace(c, ts_pub=0) for c in placed if c.client_order_id == cid]
        assert len(same) == 1 or (_role(cid) in "HUT" and all(c == same[0] for c in same)), (cid, same)
    assert venue_after - venue_before == len(set(ids)), (venue_after - venue_before, ids)
    assert report.qty == Decimal("0.01")
    assert after["gateio.futures.position"] == 0
    assert abs(after["mexc.BTC"] - before["mexc.BTC"]) < Decimal("0.0001")
    assert _same_to_the_cent(report.realised, _quote_change(before, after)), (report, before, after)


async def test_kill9_of_a_trading_gateway_while_holding_the_cycle_still_closes(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """The Gate futures trading gateway is killed while the task holds its position and started again; the task
    keeps the position (a missing report is not flat), and when the dislocation ends it closes both legs."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            before = await s.holdings()
            await _dislocate(s, 60, 20)
            await eventually(lambda: s.state_is("monitoring"), timeout=60, what="cycle entered")
            gw = next(p for p in s.procs if "trade-gateway" in p.args and "gateio-demo" in p.args)
            await s.kill9(gw)
            status = (await s.ctl("status", TASK)).tasks[0]
            assert status.state == "monitoring" and status.positions["gateio.futures"] < 0
            again = Service(gw.args[3:], gw_env(s, "gateio-demo"), tmp_path / "trade-gateio-futures-2.log")
            s.procs.append(again)
            await again.wait_ready(60)
            report = await s.booked(90, "the cycle booked")
            after = await s.holdings()
            task = (await s.ctl("status", TASK)).tasks[0]
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    assert report.qty == Decimal("0.01") and after["gateio.futures.position"] == 0
    # the task's realised PnL (its cycle, plus a funding the venue settled just after the cycle was booked, which the
    # task books outside the cycle) is what the balances changed by
    assert _same_to_the_cent(task.realised, _quote_change(before, after)), (report, task, before, after)


async def test_halt_keeps_the_hedged_position_with_nothing_working_and_resume_carries_on(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """`halt` while holding: no open order, net exposure zero, both legs kept; nothing is entered or closed while
    halted; `resume` returns to MONITORING and the cycle closes when the dislocation ends."""
    async with stack(nats_url, subject_prefix, bus, tmp_path) as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            await _dislocate(s, 60, 15)
            await eventually(lambda: s.state_is("monitoring"), timeout=60, what="cycle entered")
            halted = (await s.ctl("halt", TASK)).tasks[0]
            sent = len(s.placed())
            resumed = (await s.ctl("resume", TASK)).tasks[0]
            report = await s.booked(90, "the cycle booked after resume")
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    # net zero to within the tolerance (one contract): what is left is MEXC's fee taken in BTC
    assert halted.state == "halted" and halted.open_orders == [] and abs(halted.net) < Decimal("0.0001")
    assert halted.positions["gateio.futures"] < 0 < halted.positions["mexc.spot"]
    assert resumed.state == "monitoring" and len(s.placed()) > sent
    assert report.qty == Decimal("0.01")


async def test_a_lead_filled_in_parts_is_hedged_for_exactly_each_filled_quantity(
        nats_url: str, subject_prefix: str, bus: Bus, js_streams, tmp_path: Path):
    """A 0.2 BTC lead takes several levels of MEXC's book, so it fills in parts: the first hedge is sent for exactly
    the first part, the rest follows when it is done (one working order per market), and the hedges add up to what
    the lead filled (within one contract of MEXC's fee taken in BTC)."""
    async with stack(nats_url, subject_prefix, bus, tmp_path, size="0.2") as s:
        coord = s.coordinator()
        try:
            await eventually(lambda: s.state_is("analyzing"), timeout=60, what="task analyzing")
            await _dislocate(s, 80, 10)
            report = await s.booked(90)
        finally:
            assert coord.stop() == 0, coord.log()[-3000:]
    lead_fills = [e for e in s.log if isinstance(e, Fill) and e.client_order_id == "btc-1-L1"]
    hedges = [c for c in s.placed() if c.client_order_id.startswith("btc-1-H") and c.side is Side.SELL]  # entry
    assert len(lead_fills) >= 2, lead_fills  # the lead did fill in parts
    first = lead_fills[0].qty - (lead_fills[0].fee if lead_fills[0].fee_asset == "BTC" else 0)
    assert abs(hedges[0].qty - first) < Decimal("0.0001"), (hedges[0], lead_fills[0])
    filled = sum(f.qty for f in lead_fills)
    assert abs(sum(h.qty for h in hedges) - filled) < Decimal("0.0002"), (hedges, filled)
    assert report.qty == filled
