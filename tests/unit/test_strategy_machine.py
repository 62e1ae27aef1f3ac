"""The strategy's state machine on real-looking BTC-USDT books of MEXC spot, Gate spot and the Gate USDT perpetual."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.commands import CancelOrder, PlaceOrder, QueryOrder
from arb.core.enums import BookState, Market, OrderStatus, Side, Venue
from arb.core.execution import Fill
from arb.core.market_data import BookDelta, Level, MarketStatus
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
    Transition,
)
from arb.strategy.ledger import OrderTrack, TaskState
from arb.strategy.opportunity import Opportunity
from arb.strategy.table import TABLE, Ev
from arb.testing.strategy_kit import (
    GATE_PERP,
    GATE_SPOT,
    MEXC_SPOT,
    NS,
    T0,
    Venue3,
    balances,
    book,
    fill_of,
    funding,
    params,
    refs,
    run,
    update_of,
)

pytestmark = pytest.mark.unit

D = Decimal
MS = 1_000_000
PERP_RICH = 60400.0  # the perpetual 66 bps over both spots: buy MEXC spot, sell the perpetual


# ------------------------------------------------------------------ helpers


def market(now: int = T0, *, perp: float = PERP_RICH, rate: float = 0.0001) -> list:
    """Rules, balances, the three books and the perpetual's funding, all fresh at ``now``."""
    return [*refs(), *balances(ts=now), book(MEXC_SPOT, 60000, ts=now), book(GATE_SPOT, 60000, ts=now),
            book(GATE_PERP, perp, ts=now), funding(rate, now + 3600 * NS, ts=now)]


def analyzing(p=None, *, perp: float = PERP_RICH, rate: float = 0.0001, now: int = T0) -> Strategy:
    """A started task in ANALYZING with every market known and fresh."""
    st = Strategy(p or params())
    for ev in [*market(now, perp=perp, rate=rate), Start(), Tick()]:
        st.step(ev, now)
    assert st.state.state is State.ANALYZING
    return st


def steps(st: Strategy, events: list, now: int) -> list:
    out: list = []
    for ev in events:
        out += st.step(ev, now)
    return out


def sent(out: list, kind: type = PlaceOrder) -> list[SendCommand]:
    return [x for x in out if isinstance(x, SendCommand) and isinstance(x.command, kind)]


def news(out: list) -> list[State]:
    return [x.new for x in out if isinstance(x, Transition)]


def reports(out: list) -> list[CycleReport]:
    return [x for x in out if isinstance(x, CycleReport)]


def cash_of(fills: list[Fill]) -> Decimal:
    """Sells bring price x qty, buys cost it, fees (all in USDT here) are paid."""
    return sum(((f.price * f.qty if f.side is Side.SELL else -f.price * f.qty) - f.fee for f in fills), D(0))


def funding_paid(amount: str, now: int = T0) -> FundingPaid:
    return FundingPaid(venue=Venue.GATEIO, market=Market.FUTURES, symbol="BTC-USDT", amount=D(amount), rate=0.0001,
                       ts=now)


def enter(st: Strategy, now: int = T0 + MS) -> SendCommand:
    """Let the task take the perp-rich opportunity; return the lead's command."""
    out = st.step(Tick(), now)
    (lead,) = sent(out)
    assert st.state.state is State.MANAGING_ORDERS
    return lead


# ------------------------------------------------------------------ full cycle


def test_full_cycle_spot_long_perp_short_books_fills_and_funding_to_the_cent() -> None:
    """A cycle goes IDLE -> ... -> IDLE; its realised PnL is the fills' cash minus fees plus funding, exactly."""
    # Arrange
    st = Strategy(params())
    v = Venue3()
    # Act
    out = run(st, [*market(), Start(), Tick(), Tick()], T0, v)
    out += steps(st, [funding_paid("0.0604", T0 + 2 * NS)], T0 + 2 * NS)
    out += run(st, [book(GATE_PERP, 60000, ts=T0 + 3 * NS), Tick()], T0 + 3 * NS, v)
    # Assert
    assert news(out) == [State.SYNCING, State.ANALYZING, State.MANAGING_ORDERS, State.WAITING_ORDERS,
                         State.MONITORING, State.COMPLETING, State.FINALIZING, State.IDLE]
    placed = [(c.client_order_id, c.market, c.side, c.qty) for c in v.placed]
    assert placed == [("t1-1-L1", Market.SPOT, Side.BUY, D("0.01")), ("t1-1-H1", Market.FUTURES, Side.SELL, D("0.01")),
                      ("t1-1-X1", Market.SPOT, Side.SELL, D("0.01")), ("t1-1-H2", Market.FUTURES, Side.BUY, D("0.01"))]
    (rep,) = reports(out)
    expected = cash_of(v.fills) + D("0.0604")
    assert rep.realised == expected
    assert rep.cash - rep.fees_quote + rep.funding == expected
    assert rep.funding == D("0.0604")
    assert rep.qty == D("0.01")
    assert st.state.realised == expected
    assert all(q == 0 for q in st.state.pos.values())
    assert not any(o.live for o in st.state.orders.values()) and st.state.cur is None


# ------------------------------------------------------------------ execution rules


def test_partial_lead_fill_is_hedged_for_exactly_the_filled_base() -> None:
    """A lead filled 0.004 of 0.01 and expired: the hedge sells exactly 0.004 on the perpetual, then MONITORING."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    # Act
    out = steps(st, [fill_of(lead, D("0.004"), "a1"), update_of(lead, D("0.004"), OrderStatus.EXPIRED)], T0 + 2 * MS)
    (hedge,) = sent(out)
    out += steps(st, [fill_of(hedge, D("0.004"), "a2"), update_of(hedge, D("0.004"), OrderStatus.FILLED)], T0 + 3 * MS)
    # Assert
    assert hedge.command.market is Market.FUTURES and hedge.command.side is Side.SELL
    assert hedge.command.qty == D("0.004")
    assert st.state.state is State.MONITORING
    assert st.state.pos == {"mexc.spot": D("0.004"), "gateio.spot": D(0), "gateio.futures": D("-0.004")}


def test_each_partial_fill_is_hedged_as_it_arrives() -> None:
    """Two fills of a working lead: the first is hedged at once, the second once the first hedge is done."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    st.step(update_of(lead, D(0), OrderStatus.NEW), T0 + 2 * MS)
    # Act
    h1 = sent(st.step(fill_of(lead, D("0.003"), "a1"), T0 + 3 * MS))
    during = sent(st.step(fill_of(lead, D("0.002"), "a2"), T0 + 4 * MS))
    steps(st, [fill_of(h1[0], D("0.003"), "b1")], T0 + 5 * MS)
    h2 = sent(st.step(update_of(h1[0], D("0.003"), OrderStatus.FILLED), T0 + 6 * MS))
    # Assert
    assert [x.command.qty for x in h1] == [D("0.003")]
    assert during == []  # one working order per market
    assert [(x.command.client_order_id, x.command.qty) for x in h2] == [("t1-1-H2", D("0.002"))]


def test_hedge_refused_is_retried_then_the_lead_is_unwound_and_the_exposure_reported() -> None:
    """Hedges refused hedge_attempts times (new id each) unwind the lead; the report names the exposure and its time."""
    # Arrange
    st = analyzing(params(hedge_attempts=3))
    lead = enter(st)
    # Act: the lead fills at t=2 ms; each hedge is refused 1 ms after it is sent, and the next order waits its
    # backoff (0.2 s, 0.4 s, 0.8 s: the next tick after it sends it); the unwind fills 1 ms after it is sent
    out = steps(st, [fill_of(lead, D("0.01"), "a1"), update_of(lead, D("0.01"), OrderStatus.FILLED)], T0 + 2 * MS)
    hedges = []
    t = T0 + 2 * MS
    for i in range(3):
        (h,) = sent(out)
        hedges.append(h.command)
        t += MS
        early = st.step(CommandFailed(client_order_id=h.command.client_order_id, kind="venue_client",
                                      message="balance not enough"), t)
        assert sent(early) == [] and sent(st.step(Tick(), t + (200 << i) * MS - 1)) == []  # not before its backoff
        t += (200 << i) * MS
        out = st.step(Tick(), t)
    (unwind,) = sent(out)
    out = steps(st, [fill_of(unwind, D("0.01"), "a2"), update_of(unwind, D("0.01"), OrderStatus.FILLED)], t + MS)
    # Assert
    assert [h.client_order_id for h in hedges] == ["t1-1-H1", "t1-1-H2", "t1-1-H3"]
    assert all(h.market is Market.FUTURES and h.side is Side.SELL and h.qty == D("0.01") for h in hedges)
    assert unwind.command.client_order_id == "t1-1-U1"
    assert (unwind.command.market, unwind.command.side, unwind.command.qty) == (Market.SPOT, Side.SELL, D("0.01"))
    (rep,) = reports(out)
    assert rep.max_unhedged == D("0.01")
    assert rep.max_unhedged_ns == (1 + 200 + 1 + 400 + 1 + 800 + 1) * MS  # from the lead's fill to the unwind's
    assert st.state.state is State.IDLE
    assert all(q == 0 for q in st.state.pos.values())


def test_cancel_that_races_a_fill_is_resolved_by_the_fill() -> None:
    """Halt cancels the working lead; the lead's fill arriving after the cancel is hedged all the same."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    st.step(update_of(lead, D(0), OrderStatus.NEW), T0 + 2 * MS)
    cancel = sent(st.step(Halt(), T0 + 3 * MS), CancelOrder)
    # Act
    out = st.step(fill_of(lead, D("0.01"), "a1"), T0 + 4 * MS)
    out += st.step(update_of(lead, D("0.01"), OrderStatus.FILLED), T0 + 5 * MS)
    (hedge,) = sent(out)
    out += steps(st, [fill_of(hedge, D("0.01"), "a2"), update_of(hedge, D("0.01"), OrderStatus.FILLED)], T0 + 6 * MS)
    # Assert
    assert [c.command.client_order_id for c in cancel] == ["t1-1-L1"]
    assert (hedge.command.market, hedge.command.side, hedge.command.qty) == (Market.FUTURES, Side.SELL, D("0.01"))
    assert st.state.state is State.HALTED
    assert st.state.pos["mexc.spot"] + st.state.pos["gateio.futures"] == 0


def test_contract_multiplier_hedges_whole_contracts_and_leaves_the_residual_within_tolerance() -> None:
    """A lead fill of 0.00123 BTC is hedged with 12 contracts of 0.0001 (0.0012 BTC); the 0.00003 left is within
    tolerance and, being above MEXC's 1 USDT minimum, trimmed on the spot market."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    # Act
    out = steps(st, [fill_of(lead, D("0.00123"), "a1"), update_of(lead, D("0.00123"), OrderStatus.EXPIRED)],
                T0 + 2 * MS)
    (hedge,) = sent(out)
    out = steps(st, [fill_of(hedge, hedge.command.qty, "a2"), update_of(hedge, hedge.command.qty, OrderStatus.FILLED)],
                T0 + 3 * MS)
    residual = st.net
    (trim,) = sent(out)
    steps(st, [fill_of(trim, trim.command.qty, "a3"), update_of(trim, trim.command.qty, OrderStatus.FILLED)],
          T0 + 4 * MS)
    # Assert
    assert hedge.command.qty == D("0.0012")
    assert hedge.command.qty / D("0.0001") == 12
    assert residual == D("0.00003")
    assert abs(residual) <= st.tolerance() == D("0.0001")
    assert (trim.command.market, trim.venue, trim.command.side, trim.command.qty) == (
        Market.SPOT, Venue.MEXC, Side.SELL, D("0.00003"))
    assert st.net == 0
    assert st.state.state is State.MONITORING


def test_fill_for_an_unknown_client_id_of_this_task_is_an_error() -> None:
    """A fill naming an id of this task that it never sent cannot be explained: ERROR with the id in the reason."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    ghost = SendCommand(task="t1", cycle=1, venue=lead.venue, account=lead.account,
                        command=msgspec.structs.replace(lead.command, client_order_id="t1-1-L7"), ts=0)
    # Act
    out = st.step(fill_of(ghost, D("0.01"), "z1"), T0 + 2 * MS)
    # Assert
    assert news(out) == [State.ERROR]
    assert "t1-1-L7" in st.state.reason
    assert sent(out) == []


def test_fill_for_another_task_is_not_ours() -> None:
    """A fill whose id belongs to another task is ignored: no output, no state change."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    other = SendCommand(task="t2", cycle=1, venue=lead.venue, account=lead.account,
                        command=msgspec.structs.replace(lead.command, client_order_id="t2-1-L1"), ts=0)
    # Act
    out = st.step(fill_of(other, D("0.01"), "z1"), T0 + 2 * MS)
    # Assert
    assert out == []
    assert st.state.state is State.MANAGING_ORDERS


def test_status_unknown_failure_asks_the_venue_and_never_resends() -> None:
    """A lead PlaceOrder whose fate is unknown is queried by its id a second later; no PlaceOrder is sent again."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    # Act
    out = st.step(CommandFailed(client_order_id="t1-1-L1", kind="timeout", message="no reply", status_unknown=True),
                  T0 + 2 * MS)
    out += st.step(Tick(), T0 + 2 * MS + NS)
    # Assert
    assert [x.command.client_order_id for x in sent(out, QueryOrder)] == [lead.command.client_order_id]
    assert sent(out) == []


def test_no_answer_within_the_order_timeout_asks_the_venue() -> None:
    """A lead unanswered for order_timeout_s is queried once per timeout, never resent."""
    # Arrange
    st = analyzing(params(order_timeout_s=10.0))
    lead = enter(st, T0 + MS)
    # Act
    early = st.step(Tick(), T0 + MS + 9 * NS)
    late = st.step(Tick(), T0 + MS + 10 * NS)
    again = st.step(Tick(), T0 + MS + 11 * NS)
    later = st.step(Tick(), T0 + MS + 20 * NS)
    # Assert
    assert sent(early, QueryOrder) == []
    assert [x.command.client_order_id for x in sent(late, QueryOrder)] == [lead.command.client_order_id]
    assert sent(again, QueryOrder) == []
    assert len(sent(later, QueryOrder)) == 1
    assert sent(early + late + again + later) == []


# ------------------------------------------------------------------ entry guards


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda: book(GATE_PERP, PERP_RICH, ts=T0, state=BookState.STALE), id="stale"),
    pytest.param(lambda: book(GATE_PERP, PERP_RICH, ts=T0, state=BookState.RESYNCING), id="resyncing"),
    pytest.param(lambda: MarketStatus(Venue.MEXC, Market.SPOT, "BTC-USDT", BookState.STALE, "gap", T0, T0, T0),
                 id="status-stale"),
    pytest.param(lambda: BookDelta(Venue.MEXC, Market.SPOT, "BTC-USDT", [Level(59999.0, 1.0)], [], 7, 7, T0, T0, T0),
                 id="gapped"),
])
def test_an_untradable_book_blocks_entry(spoil) -> None:
    """A stale, resyncing or gapped book sends the task back to SYNCING and nothing is entered."""
    # Arrange
    st = analyzing()
    # Act
    out = st.step(spoil(), T0 + MS)
    out += st.step(Tick(), T0 + 2 * MS)
    # Assert
    assert news(out) == [State.SYNCING]
    assert sent(out) == []


def test_an_old_book_blocks_entry() -> None:
    """A book older than max_book_age_s is not traded on: SYNCING, no order."""
    # Arrange
    st = analyzing(params(max_book_age_s=5.0))
    # Act
    out = st.step(Tick(), T0 + 5 * NS + 1)
    # Assert
    assert news(out) == [State.SYNCING]
    assert sent(out) == []


def test_a_size_below_gate_spot_min_notional_is_never_proposed() -> None:
    """0.00004 BTC (2.4 USDT) is under Gate spot's 3 USDT minimum: no Gate spot direction, and no order there."""
    # Arrange: Gate spot far below MEXC, a huge spread that only a below-minimum size could take
    st = Strategy(params(size=D("0.00004")))
    evs = [*refs(), *balances(), book(MEXC_SPOT, 60000), book(GATE_SPOT, 59000), book(GATE_PERP, 60000),
           funding(0.0, T0 + 3600 * NS), Start(), Tick()]
    # Act
    out = steps(st, evs, T0) + steps(st, [Tick()] * 3, T0 + MS)
    # Assert
    opps = [x for x in out if isinstance(x, Opportunity)]
    assert all("gateio.spot" not in (o.buy, o.sell) or o.reason for o in opps)
    assert all(c.command.market is not Market.SPOT or c.venue is not Venue.GATEIO for c in sent(out))
    assert st.state.state is State.ANALYZING


def test_minimum_checked_on_the_hedge_leg_too() -> None:
    """0.00005 BTC fits MEXC's 1 USDT minimum but not a whole perpetual contract pair with Gate spot's 3 USDT: the
    only tradable direction at that size is MEXC spot / Gate perpetual, and both legs pass their minimums."""
    # Arrange
    st = Strategy(params(size=D("0.00005")))
    evs = [*refs(), *balances(), book(MEXC_SPOT, 60000), book(GATE_SPOT, 60000), book(GATE_PERP, 61000),
           funding(0.0, T0 + 3600 * NS), Start(), Tick()]
    # Act
    out = steps(st, evs, T0) + steps(st, [Tick()], T0 + MS)
    # Assert
    for c in sent(out):
        assert c.command.qty * c.command.price >= (D(3) if c.venue is Venue.GATEIO and c.command.market is Market.SPOT
                                                   else D(1))


# ------------------------------------------------------------------ exits


def _monitoring(p=None, rate: float = 0.0001) -> tuple[Strategy, Venue3]:
    st = analyzing(p, rate=rate)
    v = Venue3()
    run(st, [Tick()], T0 + MS, v)
    assert st.state.state is State.MONITORING
    return st, v


def test_funding_turning_against_the_short_perpetual_exits() -> None:
    """Holding short perpetual: a funding rate going negative (shorts pay) beyond funding_exit_bps exits the cycle."""
    # Arrange
    st, v = _monitoring(params(funding_exit_bps=1.0))
    # Act
    out = run(st, [funding(-0.0002, T0 + 3600 * NS, ts=T0 + NS), Tick()], T0 + NS, v)
    # Assert
    assert news(out)[:1] == [State.COMPLETING]
    assert "funding" in next(x.reason for x in out if isinstance(x, Transition))
    assert news(out)[-1] is State.IDLE


def test_max_hold_exits() -> None:
    """A cycle held max_hold_s exits even though the spread has not converged."""
    # Arrange
    st, v = _monitoring(params(max_hold_s=60.0, max_book_age_s=1e9))
    # Act
    before = run(st, [Tick()], T0 + MS + 59 * NS, v)
    out = run(st, [Tick()], T0 + MS + 60 * NS, v)
    # Assert
    assert news(before) == []
    assert news(out)[0] is State.COMPLETING and "max_hold_s" in reports(out)[0].reason
    assert news(out)[-1] is State.IDLE


# ------------------------------------------------------------------ kill states and risk


def test_halt_cancels_the_working_lead_and_neutralises_net_exposure() -> None:
    """Halt mid-entry: the lead is cancelled, its partial fill hedged, and the task stays HALTED with net flat."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    steps(st, [update_of(lead, D(0), OrderStatus.NEW)], T0 + 2 * MS)
    # Act
    out = st.step(Halt(reason="test"), T0 + 3 * MS)
    out += steps(st, [fill_of(lead, D("0.006"), "a1"), update_of(lead, D("0.006"), OrderStatus.CANCELED)], T0 + 4 * MS)
    (hedge,) = sent(out)
    out += steps(st, [fill_of(hedge, D("0.006"), "a2"), update_of(hedge, D("0.006"), OrderStatus.FILLED)], T0 + 5 * MS)
    out += st.step(Tick(), T0 + 6 * MS)
    # Assert
    assert [x.command.client_order_id for x in sent(out, CancelOrder)] == ["t1-1-L1"]
    assert hedge.command.qty == D("0.006")
    assert st.state.state is State.HALTED
    assert st.net == 0
    assert not any(o.live for o in st.state.orders.values())


def test_halt_with_nothing_filled_books_the_empty_cycle() -> None:
    """Halt while the lead is working and it then expires unfilled: the empty cycle is booked, HALTED."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    # Act
    out = st.step(Halt(), T0 + 2 * MS)
    out += st.step(update_of(lead, D(0), OrderStatus.CANCELED), T0 + 3 * MS)
    # Assert
    assert st.state.state is State.HALTED
    assert [r.realised for r in reports(out)] == [D(0)]
    assert st.state.cur is None


def test_flatten_closes_every_leg_then_halts() -> None:
    """Flatten while hedged: both legs are closed and the task ends HALTED, flat, its cycle booked."""
    # Arrange
    st, v = _monitoring()
    # Act
    out = run(st, [Flatten(reason="test")], T0 + 2 * MS, v)
    # Assert
    assert news(out)[0] is State.COMPLETING and news(out)[-1] is State.HALTED
    assert all(q == 0 for q in st.state.pos.values())
    (rep,) = reports(out)
    assert rep.realised == cash_of(v.fills)
    assert st.state.state is State.HALTED and not st.state.enabled


def test_daily_loss_halts() -> None:
    """A realised loss beyond max_daily_loss today stops entering: HALTED with the reason."""
    # Arrange
    st = analyzing(params(max_daily_loss=1.0))
    st.step(funding_paid("-1.5"), T0 + MS)  # funding outside a cycle: straight to the day's PnL
    # Act
    out = st.step(Tick(), T0 + 2 * MS)
    # Assert
    assert news(out) == [State.HALTED]
    assert "daily loss" in st.state.reason
    assert sent(out) == []


# ------------------------------------------------------------------ late events


def test_a_late_fill_after_the_cycle_closed_is_neutralised_by_rebalancing() -> None:
    """A fill beyond what the lead's update reported arrives after the cycle closed: REBALANCING trades the excess
    back at once, and the task's realised PnL is every fill's cash minus fees."""
    # Arrange: the lead reports 0.004 filled but its fill never comes; the cycle is booked after fill_wait_s
    st = analyzing(params(fill_wait_s=1.0))
    v = Venue3()
    lead = enter(st)
    (hedge,) = sent(st.step(update_of(lead, D("0.004"), OrderStatus.EXPIRED), T0 + 2 * MS))
    manual = [fill_of(hedge, D("0.004"), "h1")]
    run(st, [manual[0], update_of(hedge, D("0.004"), OrderStatus.FILLED)], T0 + 3 * MS, v)
    run(st, [book(GATE_PERP, 60000, ts=T0 + 4 * MS), Tick()], T0 + 4 * MS, v)
    closed = run(st, [*market(T0 + 3 * NS, perp=60000), Tick()], T0 + 3 * NS, v)
    assert [r.fills_missing for r in reports(closed)] == [True]
    assert st.state.state is State.ANALYZING
    # Act: the venue's fill says 0.006 were bought
    manual.append(fill_of(lead, D("0.006"), "a1"))
    out = run(st, [manual[1]], T0 + 4 * NS, v)
    # Assert
    assert news(out)[0] is State.REBALANCING
    (trim,) = sent(out)
    assert (trim.venue, trim.command.side, trim.command.qty) == (Venue.MEXC, Side.SELL, D("0.002"))
    assert all(q == 0 for q in st.state.pos.values())
    assert st.state.realised == cash_of(manual + v.fills)


def test_echoes_of_a_closed_cycle_are_not_errors() -> None:
    """A lead's acknowledgement and a repeated fill arriving after its cycle was booked change nothing: no ERROR."""
    # Arrange: a full cycle, its lead's NEW ack held back by the venue
    st = analyzing()
    v = Venue3()
    lead = enter(st)
    run(st, [fill_of(lead, D("0.01"), "a1"), update_of(lead, D("0.01"), OrderStatus.FILLED)], T0 + 2 * MS, v)
    run(st, [book(GATE_PERP, 60000, ts=T0 + 3 * MS), Tick()], T0 + 3 * MS, v)
    assert st.state.cur is None and st.state.state is not State.ERROR
    realised = st.state.realised
    # Act
    out = st.step(update_of(lead, D(0), OrderStatus.NEW), T0 + 4 * MS)
    out += st.step(fill_of(lead, D("0.01"), "a1"), T0 + 5 * MS)
    out += st.step(v.fills[-1], T0 + 6 * MS)
    # Assert
    assert State.ERROR not in news(out)
    assert sent(out) == []
    assert st.state.realised == realised
    assert all(q == 0 for q in st.state.pos.values())


# ------------------------------------------------------------------ restart and determinism


def test_restore_mid_cycle_from_encoded_state_finishes_without_reusing_an_id() -> None:
    """TaskState through msgspec JSON mid-hedge: a new Strategy on it hedges, exits and closes with fresh ids only."""
    # Arrange: lead filled, hedge sent and not answered when the process stops
    st = analyzing()
    lead = enter(st)
    (hedge,) = sent(steps(st, [fill_of(lead, D("0.01"), "a1"), update_of(lead, D("0.01"), OrderStatus.FILLED)],
                          T0 + 2 * MS))
    blob = msgspec.json.encode(st.state)
    ids_before = {"t1-1-L1", hedge.command.client_order_id}
    # Act
    st2 = Strategy(params(), msgspec.json.decode(blob, type=TaskState))
    v = Venue3()
    out = run(st2, [*market(T0 + NS), Tick()], T0 + NS, v)
    out += run(st2, [fill_of(hedge, D("0.01"), "a2"), update_of(hedge, D("0.01"), OrderStatus.FILLED)], T0 + NS, v)
    out += run(st2, [book(GATE_PERP, 60000, ts=T0 + 2 * NS), Tick()], T0 + 2 * NS, v)
    # Assert
    assert State.MONITORING in news(out) and news(out)[-1] is State.IDLE
    ids_after = [c.client_order_id for c in v.placed]
    assert ids_after and len(set(ids_after)) == len(ids_after)
    assert not ids_before & set(ids_after)
    assert all(q == 0 for q in st2.state.pos.values())
    (rep,) = reports(out)
    assert rep.realised == cash_of([fill_of(lead, D("0.01"), "a1"), fill_of(hedge, D("0.01"), "a2"), *v.fills])


def _session(policy) -> tuple[list, list]:
    st = Strategy(params(hedge_attempts=2))
    v = Venue3(policy)
    out = run(st, [*market(), Start(), Tick(), Tick()], T0, v, dt=MS)
    out += run(st, [book(GATE_PERP, 60000, ts=T0 + NS), Tick()], T0 + NS, v, dt=MS)
    out += run(st, [*market(T0 + 2 * NS), Tick(), Tick()], T0 + 2 * NS, v, dt=MS)
    return out, v.placed


def test_same_events_give_the_same_outputs_and_client_ids() -> None:
    """Two runs of one event sequence (partial fills, refusals) emit equal outputs with the same client order ids."""
    # Arrange
    def policy(x: SendCommand) -> tuple[Decimal, bool]:
        cid = x.command.client_order_id
        return (D("0.5"), False) if "-L" in cid else (D(0), True) if cid.endswith("H1") else (D(1), False)

    # Act
    out1, placed1 = _session(policy)
    out2, placed2 = _session(policy)
    # Assert
    assert len(placed1) >= 4
    assert [c.client_order_id for c in placed1] == [c.client_order_id for c in placed2]
    assert msgspec.json.encode(out1) == msgspec.json.encode(out2)


# ------------------------------------------------------------------ every (state, event kind) of the table

NOW = T0 + 5 * NS  # when the representative event is stepped


def _s_idle_disabled() -> Strategy:
    st = Strategy(params())
    steps(st, market(NOW), T0)
    return st


def _s_idle_after_cycle() -> Strategy:
    st, v = _monitoring(params(max_book_age_s=60.0, cooldown_s=60.0))
    run(st, [book(GATE_PERP, 60000, ts=T0 + 2 * MS), Tick()], T0 + 2 * MS, v)
    assert st.state.state is State.IDLE and st.state.enabled  # cooling down
    return st


def _s_syncing() -> Strategy:
    st = Strategy(params())
    st.step(Start(), T0)
    return st


def _s_analyzing() -> Strategy:
    return analyzing(params(max_book_age_s=60.0))


def _s_rebalancing() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    st.state.pos["mexc.spot"] = D("0.003")  # a position outside any cycle (a restart found it)
    out = st.step(Tick(), T0 + MS)
    assert st.state.state is State.REBALANCING and sent(out)
    return st


def _s_managing() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    enter(st)
    return st


def _s_waiting() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    lead = enter(st)
    st.step(update_of(lead, D(0), OrderStatus.NEW), T0 + 2 * MS)
    assert st.state.state is State.WAITING_ORDERS
    return st


def _s_waiting_hedging() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    lead = enter(st)
    steps(st, [update_of(lead, D(0), OrderStatus.NEW), fill_of(lead, D("0.004"), "a1")], T0 + 2 * MS)
    assert st.state.state is State.WAITING_ORDERS
    return st


def _s_monitoring() -> Strategy:
    return _monitoring(params(max_book_age_s=60.0))[0]


def _s_completing() -> Strategy:
    st = _monitoring(params(max_book_age_s=60.0))[0]
    steps(st, [book(GATE_PERP, 60000, ts=T0 + 2 * MS), Tick()], T0 + 2 * MS)
    assert st.state.state is State.COMPLETING
    return st


def _s_finalizing() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    v = Venue3()
    lead = enter(st)
    (hedge,) = sent(st.step(update_of(lead, D("0.004"), OrderStatus.EXPIRED), T0 + 2 * MS))  # its fill never comes
    run(st, [fill_of(hedge, D("0.004"), "h1"), update_of(hedge, D("0.004"), OrderStatus.FILLED)], T0 + 3 * MS, v)
    run(st, [book(GATE_PERP, 60000, ts=T0 + 4 * MS), Tick()], T0 + 4 * MS, v)
    assert st.state.state is State.FINALIZING
    return st


def _s_halted() -> Strategy:
    st = analyzing(params(max_book_age_s=60.0))
    st.step(Halt(), T0 + MS)
    return st


def _s_halted_holding() -> Strategy:
    st = _monitoring(params(max_book_age_s=60.0))[0]
    st.step(Halt(), T0 + 2 * MS)
    assert st.state.state is State.HALTED and st.state.cur is not None
    return st


def _s_error() -> Strategy:
    st = _s_waiting()
    ghost = update_of(SendCommand(task="t1", cycle=1, venue=Venue.MEXC, account="main", ts=0,
                                  command=PlaceOrder("t1-1-L9", "BTC-USDT", Market.SPOT, Side.BUY, D("0.01"))),
                      D(0), OrderStatus.NEW)
    st.step(ghost, T0 + 3 * MS)
    assert st.state.state is State.ERROR
    return st


BUILDERS = {
    State.IDLE: [_s_idle_disabled, _s_idle_after_cycle], State.SYNCING: [_s_syncing],
    State.ANALYZING: [_s_analyzing], State.REBALANCING: [_s_rebalancing], State.MANAGING_ORDERS: [_s_managing],
    State.WAITING_ORDERS: [_s_waiting, _s_waiting_hedging], State.MONITORING: [_s_monitoring],
    State.COMPLETING: [_s_completing], State.FINALIZING: [_s_finalizing],
    State.HALTED: [_s_halted, _s_halted_holding], State.ERROR: [_s_error],
}


def _an_order(st: Strategy) -> tuple[SendCommand, OrderTrack | None]:
    """A command standing for the task's newest live order (else its newest order, else one it never sent)."""
    orders = list(st.state.orders.values())
    live = [o for o in orders if o.live]
    o = (live or orders or [None])[-1]
    spec = {"mexc.spot": MEXC_SPOT, "gateio.spot": GATE_SPOT, "gateio.futures": GATE_PERP}[o.key if o else "mexc.spot"]
    cmd = PlaceOrder(o.cid if o else "t1-9-L1", "BTC-USDT", spec.market, o.side if o else Side.BUY,
                     o.qty if o else D("0.01"), price=o.price if o else D("60000"))
    return SendCommand(task="t1", cycle=1, venue=spec.venue, account="main", command=cmd, ts=0), o


def _event(kind: Ev, st: Strategy):
    sc, _ = _an_order(st)
    cid = sc.command.client_order_id
    return {
        Ev.MARKET: lambda: book(GATE_PERP, PERP_RICH, ts=NOW),
        Ev.REF: lambda: refs()[0],
        Ev.INVENTORY: lambda: balances(ts=NOW)[0],
        Ev.ORDER: lambda: update_of(sc, sc.command.qty, OrderStatus.FILLED, now=NOW),
        Ev.FILL: lambda: fill_of(sc, sc.command.qty, "rep1", now=NOW),
        Ev.FAILED: lambda: CommandFailed(client_order_id=cid, kind="venue_client", message="refused"),
        Ev.NOT_FOUND: lambda: OrderNotFound(client_order_id=cid),
        Ev.FUNDING_PAID: lambda: funding_paid("0.05", NOW),
        Ev.TICK: Tick, Ev.START: Start, Ev.HALT: Halt, Ev.RESUME: Resume, Ev.FLATTEN: Flatten,
    }[kind]()


def _reachable(state: State) -> frozenset[State]:
    return frozenset().union(*(r.to for r in TABLE[state].values()))


def assert_path_allowed(before: State, kind: Ev, out: list, after: State) -> None:
    """Every Transition goes along an edge of TABLE; the state reached is the last one; staying is allowed."""
    ts = [x for x in out if isinstance(x, Transition)]
    cur = before
    for i, t in enumerate(ts):
        assert t.old is cur, (before, kind, ts)
        allowed = TABLE[before][kind].to if i == 0 else _reachable(cur)
        assert t.new in allowed, f"{before.value} --{kind.value}--> ... {cur.value} -> {t.new.value} not in table"
        cur = t.new
    assert after is cur
    if not ts:
        assert before in TABLE[before][kind].to, f"{before.value} --{kind.value}--> stays, the table says it moves"


CASES = [pytest.param(b, k, id=f"{s.value}-{b.__name__[3:]}-{k.value}")
         for s, row in TABLE.items() for k in row for b in BUILDERS[s]]


def test_every_state_has_a_builder_and_every_row_is_complete() -> None:
    """The table has a rule for every (state, event kind) and the test below builds every state."""
    assert set(BUILDERS) == set(State) == set(TABLE)
    assert all(set(row) == set(Ev) for row in TABLE.values())


@pytest.mark.parametrize(("build", "kind"), CASES)
def test_every_state_and_event_kind_moves_along_the_table(build, kind: Ev) -> None:
    """Stepping any event kind in any state raises nothing and moves only along edges the table allows."""
    # Arrange
    st = build()
    before = st.state.state
    ev = _event(kind, st)
    # Act
    out = st.step(ev, NOW)
    # Assert
    assert_path_allowed(before, kind, out, st.state.state)
    assert all(x.command.client_order_id for x in sent(out))


def test_a_hedge_sent_while_monitoring_is_sent_again_under_its_id_when_unanswered() -> None:
    """A late lead fill hedged in MONITORING: no answer for that hedge within order_timeout_s sends the very same
    PlaceOrder again (same client id and parameters; the gateway's journal makes it one order), never a new id."""
    # Arrange: the lead reported 0.004 and was hedged; its fills then say 0.006
    st = analyzing(params(order_timeout_s=10.0, max_book_age_s=60.0))
    lead = enter(st)
    (h1,) = sent(st.step(update_of(lead, D("0.004"), OrderStatus.EXPIRED), T0 + 2 * MS))
    steps(st, [fill_of(h1, D("0.004"), "h1"), update_of(h1, D("0.004"), OrderStatus.FILLED)], T0 + 3 * MS)
    assert st.state.state is State.MONITORING
    (h2,) = sent(st.step(fill_of(lead, D("0.006"), "a1"), T0 + 4 * MS))
    # Act
    out = st.step(Tick(), T0 + 4 * MS + 10 * NS)
    # Assert
    assert h2.command.qty == D("0.002")
    assert [x.command for x in sent(out)] == [h2.command]
    assert sent(out, QueryOrder) == []


def test_a_hedge_whose_fate_is_unknown_is_placed_again_under_the_same_id_after_a_second() -> None:
    """A hedge whose PlaceOrder got no reply (status unknown) is sent again, identical, one second later; a lead in
    the same case is only asked about (a lead priced on an old book is never re-placed)."""
    # Arrange
    st = analyzing()
    lead = enter(st)
    (h1,) = sent(st.step(fill_of(lead, D("0.01"), "a1"), T0 + 2 * MS))
    # Act
    now = st.step(CommandFailed(client_order_id=h1.command.client_order_id, kind="unavailable", message="NO_REPLY",
                                status_unknown=True), T0 + 3 * MS)
    early = st.step(Tick(), T0 + 3 * MS + NS - 1)
    later = st.step(Tick(), T0 + 3 * MS + NS)
    # Assert
    assert sent(now) == [] and sent(early) == []
    assert [x.command for x in sent(later)] == [h1.command]


def test_funding_estimated_then_reported_for_the_same_settlement_is_booked_once() -> None:
    """A funding time passes (estimated from the rate), then the shell reports that settlement: booked once."""
    # Arrange
    st, _ = _monitoring()
    t1 = T0 + 3600 * NS
    steps(st, [book(GATE_PERP, PERP_RICH, ts=t1), funding(0.0001, t1 + 8 * 3600 * NS, ts=t1)], t1)
    # Act
    st.step(funding_paid("0.0604", t1), t1 + MS)
    # Assert
    assert st.state.cur.funding == D("0.0604")


def test_a_venue_funding_record_delivered_twice_is_booked_once() -> None:
    """The live feed and the replay of ORD after a restart overlap: the same record (market, settlement time)
    comes twice and is booked once; the next settlement is booked again."""
    # Arrange
    st = analyzing(params())
    before = st.state.realised
    # Act
    st.step(funding_paid("0.05", T0), T0 + MS)
    st.step(funding_paid("0.05", T0), T0 + 2 * MS)
    st.step(funding_paid("0.07", T0 + 8 * 3600 * NS), T0 + 8 * 3600 * NS + MS)
    # Assert
    assert st.state.realised - before == D("0.12")
