"""The strategy under changing reference data: a halted or delisted market is not entered (with the reason), entry
resumes when it trades again, a venue's refusal of a closing order on a halted market is a failed attempt, and new
tick / step / multiplier rules shape the next order."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, OrderStatus, Side, SymbolStatus
from arb.core.refdata import SymbolRef
from arb.strategy import Strategy
from arb.strategy.events import CommandFailed, SendCommand, Start, State, Tick, Transition
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

pytestmark = pytest.mark.unit

D = Decimal
MS = 1_000_000
PERP_RICH = 60400.0  # the perpetual 66 bps over both spots: buy MEXC spot (the lead), sell the perpetual


def market(now: int) -> list:
    return [*refs(), *balances(ts=now), book(MEXC_SPOT, 60000, ts=now), book(GATE_SPOT, 60000, ts=now),
            book(GATE_PERP, PERP_RICH, ts=now), funding(0.0001, now + 3600 * NS, ts=now)]


def books(now: int) -> list:
    return [book(MEXC_SPOT, 60000, ts=now), book(GATE_SPOT, 60000, ts=now), book(GATE_PERP, PERP_RICH, ts=now)]


def analyzing(p=None) -> Strategy:
    st = Strategy(p or params())
    for ev in [*market(T0), Start(), Tick()]:
        st.step(ev, T0)
    assert st.state.state is State.ANALYZING
    return st


def ref(market: Market, **changes) -> SymbolRef:
    (r,) = [r for r in refs() if r.market is market and (market is Market.FUTURES or r.venue.value == "mexc")]
    return msgspec.structs.replace(r, **changes)


def sent(out: list) -> list[SendCommand]:
    return [x for x in out if isinstance(x, SendCommand) and isinstance(x.command, PlaceOrder)]


def steps(st: Strategy, events: list, now: int) -> list:
    out: list = []
    for ev in events:
        out += st.step(ev, now)
    return out


@pytest.mark.parametrize("status", [SymbolStatus.HALTED, SymbolStatus.DELISTED])
def test_a_market_not_trading_is_not_entered_and_the_reason_names_it(status: SymbolStatus) -> None:
    """Rules with status halted / delisted on the perpetual: the task leaves ANALYZING for SYNCING with the market
    and status as its reason, and fresh books with the same edge send nothing."""
    # Arrange
    st = analyzing()
    # Act
    out = st.step(ref(Market.FUTURES, status=status), T0 + MS)
    later = steps(st, [*books(T0 + 2 * MS), Tick()], T0 + 2 * MS)
    # Assert
    (tr,) = [x for x in out if isinstance(x, Transition)]
    assert (tr.old, tr.new) == (State.ANALYZING, State.SYNCING)
    assert tr.reason == f"gateio.futures: BTC-USDT {status.value} at the venue: no entry"
    assert st.state.state is State.SYNCING and st.state.reason == tr.reason
    assert sent(out + later) == []


def test_entry_resumes_when_the_status_is_trading_again() -> None:
    """A halt seen while already syncing becomes the reason; rules back to trading: analysed again and entered."""
    # Arrange
    st = analyzing()
    st.step(book(GATE_SPOT, 60000, ts=T0 - 10 * NS), T0 + MS)  # an old Gate spot book: SYNCING for another reason
    st.step(Tick(), T0 + MS)
    assert st.state.state is State.SYNCING and "book" in st.state.reason
    st.step(ref(Market.SPOT, status=SymbolStatus.HALTED), T0 + 2 * MS)
    halted_reason = st.state.reason
    steps(st, [*books(T0 + 3 * MS), Tick()], T0 + 3 * MS)
    assert st.state.state is State.SYNCING
    # Act
    out = steps(st, [ref(Market.SPOT), *books(T0 + 4 * MS), Tick()], T0 + 4 * MS)
    # Assert
    assert halted_reason == "mexc.spot: BTC-USDT halted at the venue: no entry"
    assert [x.new for x in out if isinstance(x, Transition)] == [State.ANALYZING, State.MANAGING_ORDERS]
    (lead,) = sent(out)
    assert (lead.command.market, lead.command.side, lead.command.qty) == (Market.SPOT, Side.BUY, D("0.01"))


def test_new_tick_step_and_multiplier_shape_the_next_order() -> None:
    """MEXC's tick 0.01 -> 1 and the perpetual's multiplier 0.0001 -> 0.001 arrive before the next entry: the lead
    is priced on the whole-dollar grid and sized in whole contracts of 0.001 (0.0125 -> 0.012)."""
    # Arrange
    st = analyzing(params(size=D("0.0125")))
    # Act
    steps(st, [ref(Market.SPOT, tick=D(1), step=D("0.0001")), ref(Market.FUTURES, contract_multiplier=D("0.001"))],
          T0 + MS)
    out = steps(st, [*books(T0 + 2 * MS), Tick()], T0 + 2 * MS)
    (lead,) = sent(out)
    hedge_out = steps(st, [fill_of(lead, D("0.012"), "a1"), update_of(lead, D("0.012"), OrderStatus.FILLED)],
                      T0 + 3 * MS)
    (hedge,) = sent(hedge_out)
    # Assert
    cmd = lead.command
    assert cmd.market is Market.SPOT and cmd.qty == D("0.012")
    assert cmd.price == cmd.price.to_integral_value() and cmd.price > 60000
    assert (hedge.command.market, hedge.command.qty) == (Market.FUTURES, D("0.012"))  # 12 contracts of 0.001
    assert hedge.command.price % D("0.1") == 0


def test_a_halted_hedge_market_is_still_tried_and_its_refusals_unwind_the_lead() -> None:
    """The perpetual halts after the lead was sent: the hedge is sent all the same, each refusal (the venue's answer
    to a halt) counts a failed attempt, and after hedge_attempts the lead is unwound on its own market."""
    # Arrange
    st = analyzing(params(hedge_attempts=2))
    (lead,) = sent(st.step(Tick(), T0 + MS))
    st.step(ref(Market.FUTURES, status=SymbolStatus.HALTED), T0 + 2 * MS)
    # Act
    out = steps(st, [fill_of(lead, D("0.01"), "a1"), update_of(lead, D("0.01"), OrderStatus.FILLED)], T0 + 3 * MS)
    hedges = []
    t = T0 + 3 * MS
    for i in range(2):
        (h,) = sent(out)
        hedges.append(h.command)
        t += MS
        st.step(CommandFailed(client_order_id=h.command.client_order_id, kind="venue_client",
                              message="CONTRACT_IN_DELISTING: BTC_USDT is halted: new orders refused"), t)
        t += (200 << i) * MS
        out = st.step(Tick(), t)
    (unwind,) = sent(out)
    # Assert
    assert [(h.market, h.side, h.qty) for h in hedges] == [(Market.FUTURES, Side.SELL, D("0.01"))] * 2
    assert (unwind.command.market, unwind.command.side, unwind.command.qty) == (Market.SPOT, Side.SELL, D("0.01"))
    assert unwind.command.client_order_id == "t1-1-U1"
    assert st.state.cur is not None and "hedge failed 2 times on gateio.futures" in st.state.cur.exit_reason


def test_trading_again_while_a_book_is_still_old_the_reason_names_the_book() -> None:
    """Halted, then trading again while the MEXC book is still too old: the task stays in SYNCING and its reason
    moves from the halt to the book it now waits for (it kept saying "halted" after the venue resumed)."""
    # Arrange
    st = analyzing()
    st.step(ref(Market.SPOT, status=SymbolStatus.HALTED), T0 + MS)
    st.step(Tick(), T0 + MS)
    assert st.state.state is State.SYNCING and st.state.reason.endswith("no entry")
    st.step(book(MEXC_SPOT, 60000, ts=T0 - 60 * NS), T0 + 2 * MS)  # older than max_book_age_s
    # Act
    steps(st, [ref(Market.SPOT), Tick()], T0 + 3 * MS)
    # Assert
    assert st.state.state is State.SYNCING
    assert "mexc.spot" in st.state.reason and "no entry" not in st.state.reason, st.state.reason
