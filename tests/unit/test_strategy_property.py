"""The strategy machine under random event sequences: invariants on orders, exposure and money after every step.

A venue model answers each PlaceOrder with a drawn outcome (refused, fate unknown, filled by a drawn fraction in one
to three fills, with or without an acknowledgement and a partial update); hypothesis then draws, step by step, which
pending venue event arrives next (so fills and updates come in any order), duplicates of fills already delivered,
repeats of old updates, book moves, stale and resynced books, funding, ticks that jump past timeouts, halt, flatten
and resume. After every step:

1. every PlaceOrder carries a client order id of this task; an id is sent again only as the very same PlaceOrder of
   a hedge, unwind or trim whose fate was unknown (the gateway's journal makes it one order; a retry after a refusal
   or a miss is a new id);
2. the task never holds two live orders on one market;
3. if the task holds no live order and knows every market's rules, ``|net base| <= tolerance`` unless it is in ERROR
   (whose reason names what could not be explained). This is the exposure invariant the machine can keep: while an order is live the net may be
   off by what that order is there to fix, and once nothing is live it must have nothing left to fix;
4. every CycleReport's realised PnL equals, computed here from the venue's fills, the cash of the fills of that
   cycle delivered before the report minus their fees plus the funding of it (reported by the shell, or estimated
   when a funding time passed while the perpetual was held, until the shell reports any); when the report
   says no fill is missing, that is every fill the venue made for the cycle;
5. whenever no cycle is open, the task's realised PnL equals every delivered fill's cash minus fees plus all funding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
import pytest
from arb.core.commands import PlaceOrder, QueryOrder
from arb.core.enums import BookState, Market, OrderStatus, Side, Venue
from arb.core.execution import Fill, OrderUpdate
from arb.core.market_data import BookSnapshot, FundingRate, MarketStatus
from arb.strategy import Strategy
from arb.strategy.events import (
    CommandFailed,
    CycleReport,
    Flatten,
    FundingPaid,
    Halt,
    OrderNotFound,
    Resume,
    SendCommand,
    Start,
    State,
    Tick,
)
from arb.strategy.ledger import TaskState
from arb.testing.strategy_kit import (
    GATE_PERP,
    GATE_SPOT,
    MEXC_SPOT,
    NS,
    T0,
    balances,
    book,
    fill_of,
    funding,
    params,
    refs,
    update_of,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

D = Decimal
SPECS = {"mexc.spot": MEXC_SPOT, "gateio.spot": GATE_SPOT, "gateio.futures": GATE_PERP}
GRID = {Market.SPOT: D("0.000001"), Market.FUTURES: D("0.0001")}  # the venues' base steps (kit's refs)
MIDS = {"mexc.spot": [59990.0, 60000.0, 60010.0, 60300.0], "gateio.spot": [59980.0, 60000.0, 60020.0, 59700.0],
        "gateio.futures": [59990.0, 60000.0, 60200.0, 60400.0, 59600.0]}
FRACTIONS = [D(0), D("0.25"), D("0.5"), D("0.77"), D(1), D(1), D(1)]


def _cycle_of(cid: str) -> int:
    return int(cid.split("-")[1])


def _cash(f: Fill) -> Decimal:
    """What the fill changed the quote balance by: fees in another asset are not quote."""
    return (f.price * f.qty if f.side is Side.SELL else -f.price * f.qty) - (f.fee if f.fee_asset == "USDT" else 0)


@dataclass
class World:
    """The machine, a venue model answering it, and everything needed to check it independently."""

    strat: Strategy
    now: int = T0
    pending: list = field(default_factory=list)  # venue events not delivered yet
    finals: dict[str, OrderUpdate] = field(default_factory=dict)  # cid -> the venue's last word on the order
    venue_fills: list[Fill] = field(default_factory=list)  # every fill the venue made
    delivered: list[Fill] = field(default_factory=list)  # fills stepped into the machine (duplicates excluded)
    updates: list[OrderUpdate] = field(default_factory=list)  # updates delivered (for late repeats)
    placed: dict[str, PlaceOrder] = field(default_factory=dict)
    funding: dict[int, Decimal] = field(default_factory=dict)  # cycle (0 = none open) -> funding paid
    perp_mid: float = 60000.0  # the perpetual's book mid as last sent
    rate: float = 0.0  # the perpetual's funding rate and next time as last sent
    next_ns: int = 0
    reported: bool = False  # the shell reported a FundingPaid: the machine stops estimating
    booked: dict[int, Decimal] = field(default_factory=dict)  # delivered fills' cash by cycle, before its report
    estimates: list[tuple[int, Decimal, int]] = field(default_factory=list)  # (funding time, amount, cycle)
    interval_s: int = 0  # the perpetual's funding interval as the machine's view knows it
    trade: int = 0


def _answer(w: World, sc: SendCommand, data) -> None:
    """The venue's outcome for one PlaceOrder, drawn; its events go to the pending pool."""
    cmd = sc.command
    cid = cmd.client_order_id
    fate = data.draw(st.sampled_from(["ok"] * 6 + ["refused", "unknown", "lost"]), label=f"fate {cid}")
    if fate == "refused":
        w.pending.append(CommandFailed(client_order_id=cid, kind="venue_client", message="refused"))
        return
    if fate == "lost":  # timed out and never reached the venue: a query finds nothing
        w.pending.append(CommandFailed(client_order_id=cid, kind="timeout", message="no reply", status_unknown=True))
        w.finals[cid] = OrderNotFound(client_order_id=cid)
        return
    if fate == "unknown":  # the request timed out, but the order reached the venue and traded
        w.pending.append(CommandFailed(client_order_id=cid, kind="timeout", message="no reply", status_unknown=True))
    frac = data.draw(st.sampled_from(FRACTIONS), label="fraction")
    step = GRID[cmd.market]
    total = (cmd.qty * frac // step) * step
    parts = data.draw(st.integers(1, 3), label="fills") if total > 0 else 0
    events: list = []
    if fate == "ok" and data.draw(st.booleans(), label="ack"):
        events.append(update_of(sc, D(0), OrderStatus.NEW, now=w.now))
    left = total
    for i in range(parts):
        q = left if i == parts - 1 else (total / parts // step) * step
        if q <= 0:
            continue
        left -= q
        w.trade += 1
        better = data.draw(st.sampled_from([D(0), D(0), D("0.1")]), label="improvement")
        f = fill_of(sc, q, f"tr{w.trade}", price=cmd.price - better if cmd.side is Side.BUY else cmd.price + better,
                    now=w.now)
        if sc.venue is Venue.GATEIO and cmd.market is Market.SPOT and cmd.side is Side.BUY:
            f = msgspec.structs.replace(f, fee=q * D("0.001"), fee_asset="BTC")  # Gate spot: fee in what is bought
        w.venue_fills.append(f)
        events.append(f)
    if parts > 1 and data.draw(st.booleans(), label="partial update"):
        events.append(update_of(sc, total - left if left else total / 2 // step * step,
                                OrderStatus.PARTIALLY_FILLED, now=w.now))
    final = update_of(sc, total, OrderStatus.FILLED if total == cmd.qty else OrderStatus.EXPIRED, now=w.now)
    w.finals[cid] = final
    if fate == "ok":  # an unknown fate is learnt by the QueryOrder the machine must send
        events.append(final)
    w.pending.extend(events)


def _step(w: World, ev, data) -> None:
    """Step one event, answer what the machine sent, and check every invariant."""
    s = w.strat
    if isinstance(ev, Fill) and not any(f.client_order_id == ev.client_order_id and f.trade_id == ev.trade_id
                                        for f in w.delivered):
        w.delivered.append(ev)
        n = _cycle_of(ev.client_order_id)
        if s.state.cur is not None and s.state.cur.n == n:
            w.booked[n] = w.booked.get(n, D(0)) + _cash(ev)
    if isinstance(ev, OrderUpdate):
        w.updates.append(ev)
    n = s.state.cur.n if s.state.cur is not None else 0
    if isinstance(ev, FundingPaid):
        w.reported = True
        half = max(w.interval_s, 60) * NS // 2  # the venue's record replaces the estimate of that settlement
        for est in list(w.estimates):
            if abs(est[0] - ev.ts) <= half:
                w.estimates.remove(est)
                w.funding[est[2]] = w.funding.get(est[2], D(0)) - est[1]
                break
        w.funding[n] = w.funding.get(n, D(0)) + ev.amount
    if isinstance(ev, FundingRate):  # a funding time passed with the perpetual held: -position x mark x rate
        pos = s.state.pos["gateio.futures"]
        if not w.reported and 0 < w.next_ns < ev.next_funding_ns and w.now >= w.next_ns and pos and w.rate:
            amount = -(pos * D(repr(w.perp_mid)) * D(repr(w.rate)))
            w.funding[n] = w.funding.get(n, D(0)) + amount
            w.estimates = [*w.estimates, (w.next_ns, amount, n)][-8:]
        w.rate, w.next_ns, w.interval_s = ev.rate, ev.next_funding_ns, ev.interval_s
    if isinstance(ev, BookSnapshot) and ev.market is Market.FUTURES:
        w.perp_mid = (ev.bids[0].price + ev.asks[0].price) / 2
    out = s.step(ev, w.now)
    for x in out:
        if isinstance(x, SendCommand) and isinstance(x.command, PlaceOrder):
            cid = x.command.client_order_id
            assert cid.startswith("t1-"), x
            if cid in w.placed:
                assert w.placed[cid] == x.command, f"client id {cid} sent again with other parameters"
                assert cid.split("-")[2][0] in "HUT", f"{cid}: only a hedge, unwind or trim is placed again"
                final = w.finals.get(cid)
                if isinstance(final, OrderNotFound):  # never reached the venue: the gateway places it now, once
                    del w.finals[cid]
                    _answer(w, x, data)
                elif final is not None:  # the gateway answers with the order it has
                    w.pending.append(final)
            else:
                w.placed[cid] = x.command
                _answer(w, x, data)
        elif isinstance(x, SendCommand) and isinstance(x.command, QueryOrder):
            final = w.finals.get(x.command.client_order_id)
            if final is not None:  # the venue's answer to a query: its last word on the order
                w.pending.append(final)
        elif isinstance(x, CycleReport):
            expected = w.booked.pop(x.cycle, D(0)) + w.funding.get(x.cycle, D(0))
            assert x.realised == expected, (x, expected)
            if not x.fills_missing:
                everything = sum((_cash(f) for f in w.venue_fills if _cycle_of(f.client_order_id) == x.cycle), D(0))
                assert x.realised == everything + w.funding.get(x.cycle, D(0)), x
    _check(w)


def _check(w: World) -> None:
    s = w.strat
    ts = s.state
    live = [o for o in ts.orders.values() if o.live]
    keys = [o.key for o in live]
    assert len(keys) == len(set(keys)), f"two live orders on one market: {live}"
    if not live and ts.state is not State.ERROR and len(s.rules) == len(SPECS):  # (tolerance needs every rule)
        # a refused hedge's next one waits its backoff; after a restart a hedge waits for a price to send it at
        waiting = ts.cur is not None and (ts.cur.retry_at_ns > w.now or not all(v.book.bids for v in s.views.values()))
        assert abs(s.net) <= s.tolerance() or waiting, f"net {s.net} left unhedged in {ts.state}: {ts.pos}"
    if ts.cur is None:
        total = sum((_cash(f) for f in w.delivered), D(0)) + sum(w.funding.values(), D(0))
        assert ts.realised == total, (ts.realised, total)


def _start(w: World) -> None:
    w.rate, w.next_ns = 0.0001, T0 + 3600 * NS
    for ev in [*refs(), *balances(), book(MEXC_SPOT, 60000), book(GATE_SPOT, 60000), book(GATE_PERP, 60400),
               funding(0.0001, T0 + 3600 * NS), Start(), Tick()]:
        w.strat.step(ev, w.now)


ACTIONS = (["deliver"] * 24 + ["book"] * 8 + ["tick"] * 6 + ["dup_fill", "old_update", "stale", "funding_rate"] * 2
           + ["funding_paid", "long_tick", "long_tick", "halt", "flatten", "resume", "resume", "restart"])


def _act(w: World, action: str, data) -> None:
    s = w.strat
    if action == "deliver" and w.pending:
        i = data.draw(st.integers(0, len(w.pending) - 1), label="which")
        _step(w, w.pending.pop(i), data)
    elif action == "deliver":  # the venue has nothing to say: time passes
        _step(w, Tick(), data)
    elif action == "dup_fill" and w.delivered:
        _step(w, data.draw(st.sampled_from(w.delivered), label="dup"), data)
    elif action == "old_update" and w.updates:
        _step(w, data.draw(st.sampled_from(w.updates), label="old"), data)
    elif action == "book":
        key = data.draw(st.sampled_from(sorted(MIDS)), label="market")
        _step(w, book(SPECS[key], data.draw(st.sampled_from(MIDS[key]), label="mid"), ts=w.now), data)
    elif action == "stale":
        spec = SPECS[data.draw(st.sampled_from(sorted(SPECS)), label="stale market")]
        _step(w, MarketStatus(spec.venue, spec.market, "BTC-USDT", BookState.STALE, "gap", w.now, w.now, w.now), data)
    elif action == "funding_rate":
        rate = data.draw(st.sampled_from([0.0001, 0.0, -0.0003]), label="rate")
        _step(w, funding(rate, w.now + 3600 * NS, ts=w.now), data)
    elif action == "funding_paid":
        amount = data.draw(st.sampled_from([D("0.06"), D("-0.12")]), label="amount")
        _step(w, FundingPaid(venue=Venue.GATEIO, market=Market.FUTURES, symbol="BTC-USDT", amount=amount,
                             rate=0.0001, ts=w.now), data)
    elif action == "tick":
        _step(w, Tick(), data)
    elif action == "long_tick":
        w.now += data.draw(st.sampled_from([11, 31, 3 * 3600]), label="jump") * NS
        for key, spec in SPECS.items():  # a long wait: the books were kept fresh meanwhile
            _step(w, book(spec, MIDS[key][1], ts=w.now), data)
        _step(w, Tick(), data)
    elif action == "halt":
        _step(w, Halt(), data)
    elif action == "flatten":
        _step(w, Flatten(), data)
    elif action == "resume" and s.state.state in (State.HALTED, State.ERROR):
        _step(w, Resume(), data)
    elif action == "restart":  # the coordinator restarts from its snapshot; market data and rules come again
        state = msgspec.json.decode(msgspec.json.encode(s.state), type=TaskState)
        w.strat = Strategy(s.p, state)
        w.next_ns = 0  # the new views know no funding time yet
        w.interval_s = 0
        for ev in [*refs(), *balances(ts=w.now)] + [book(spec, MIDS[k][1], ts=w.now) for k, spec in SPECS.items()]:
            _step(w, ev, data)
        _step(w, funding(0.0001, w.now + 3600 * NS, ts=w.now), data)
    w.now += data.draw(st.integers(0, 2_000), label="ms") * 1_000_000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_event_sequences_keep_the_invariants(data) -> None:
    """Random venue answers and market moves in any order never break the invariants of the module docstring."""
    # Arrange
    w = World(Strategy(params(hedge_attempts=2, unwind_attempts=3, exit_attempts=6, fill_wait_s=30.0,
                              max_book_age_s=5.0)))
    _start(w)
    # Act / Assert (every step is checked)
    for _ in range(data.draw(st.integers(5, 80), label="steps")):
        _act(w, data.draw(st.sampled_from(ACTIONS), label="action"), data)
    while w.pending:  # let the venue say everything it has to say
        _step(w, w.pending.pop(0), data)
    event(f"cycles {min(w.strat.state.cycle, 3)}, orders {min(len(w.placed) // 5 * 5, 20)}+")
    event(f"ends {w.strat.state.state.value} {w.strat.state.reason[:60]}")
