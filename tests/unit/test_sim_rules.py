"""The simulator's rule changes (``POST /admin/rules``, sim/rules.py): validation, what the engine enforces after a
change (grids, minimums, a halt or a delisting refused with each venue's error), and the per-contract funding
interval."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from arb.core.enums import Market
from arb.sim.context import build_context
from arb.sim.engine import Account, Instrument, SimReject, VenueExchange
from arb.sim.gateio.errors import from_reject as gate_reject
from arb.sim.mexc.errors import from_reject as mexc_reject
from arb.sim.rules import RuleRequest, change

pytestmark = pytest.mark.unit


def spot() -> tuple[VenueExchange, Instrument, Account]:
    inst = Instrument("mexc", "spot", "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.000001"), D("0.000001"),
                      min_notional=D(1))
    ex = VenueExchange("mexc", "spot", [inst], clock_ns=lambda: 1_000)
    a = Account("a", "mexc", "ka", "sa", balances={"USDT": D(100000), "BTC": D(2)})
    return ex, inst, a


def futures() -> tuple[VenueExchange, Instrument, Account]:
    inst = Instrument("gateio", "futures", "BTC_USDT", "BTC", "USDT", D("0.1"), D(1), D(1), multiplier=D("0.0001"))
    ex = VenueExchange("gateio", "futures", [inst], clock_ns=lambda: 1_000, default_leverage=10)
    a = Account("a", "gateio", "ka", "sa", futures_balances={"USDT": D(10000)})
    return ex, inst, a


def reason(fn) -> str:
    with pytest.raises(SimReject) as e:
        fn()
    return e.value.reason


def test_set_rules_returns_what_moved_and_refuses_bad_values_whole():
    """set_rules reports (old, new) of each changed rule only; an invalid value changes nothing at all."""
    # Arrange
    _, inst, _ = spot()
    # Act
    moved = inst.set_rules({"tick": "0.1", "step": D("0.000001"), "status": "halted"}, ts_ns=5)
    # Assert
    assert moved == {"tick": (D("0.01"), D("0.1")), "status": ("trading", "halted")}
    assert inst.price_decimals == 1 and inst.status_ns == 5
    for bad in ({"tick": "0"}, {"status": "paused"}, {"funding_interval_s": 0}, {"taker_fee": "2"},
                {"min_qty": "-1"}, {"min_qty": "1", "nope": 1}, {"step": "abc"}):
        with pytest.raises(ValueError):
            inst.set_rules(bad)
    assert (inst.tick, inst.min_qty, inst.status) == (D("0.1"), D("0.000001"), "halted")
    with pytest.raises(AttributeError):
        inst.tick = D(1)


def test_changed_grid_and_minimum_apply_to_the_next_order():
    """After a tick, step and min notional change, an order on the old grid or below the new minimum is refused."""
    # Arrange
    ex, inst, a = spot()
    inst.set_rules({"tick": "0.1", "step": "0.001", "min_notional": "10"})
    # Act / Assert
    assert reason(lambda: ex.place(a, inst, "buy", qty=D("0.001"), price=D("60000.01"))) == "INVALID_PRECISION"
    assert reason(lambda: ex.place(a, inst, "buy", qty=D("0.0015"), price=D("60000.1"))) == "INVALID_PRECISION"
    assert reason(lambda: ex.place(a, inst, "buy", qty=D("0.001"), price=D(5000))) == "BELOW_MIN_NOTIONAL"
    o = ex.place(a, inst, "buy", qty=D("0.001"), price=D("60000.1"))
    assert o.is_open


def test_halted_spot_refuses_every_new_order_but_cancels_work():
    """A halted spot symbol refuses new orders (MEXC 30000), cancels go through; trading again takes orders."""
    # Arrange
    ex, inst, a = spot()
    resting = ex.place(a, inst, "buy", qty=D("0.001"), price=D(50000), client_id="c1")
    inst.set_rules({"status": "halted"})
    # Act
    r = reason(lambda: ex.place(a, inst, "sell", qty=D("0.001"), price=D(70000)))
    cancelled = ex.cancel(a, inst, client_id="c1")
    # Assert
    assert r == "SYMBOL_HALTED"
    assert mexc_reject(r, "").code == 30000
    assert cancelled is resting and not cancelled.is_open
    inst.set_rules({"status": "trading"})
    assert ex.place(a, inst, "buy", qty=D("0.001"), price=D(50000)).is_open


def test_halted_contract_takes_only_reducing_orders_and_delisted_takes_none():
    """A halted (in delisting) contract refuses an opening order with CONTRACT_IN_DELISTING but takes a reduce-only
    one; delisted, it refuses both."""
    # Arrange
    ex, inst, a = futures()
    inst.set_rules({"status": "halted"})
    # Act
    opening = reason(lambda: ex.place(a, inst, "buy", qty=D(1), price=D(60000)))
    reducing = reason(lambda: ex.place(a, inst, "sell", kind="market", qty=D(1), reduce_only=True))
    inst.set_rules({"status": "delisted"})
    delisted = reason(lambda: ex.place(a, inst, "sell", kind="market", qty=D(1), reduce_only=True))
    # Assert
    assert opening == "SYMBOL_HALTED" and delisted == "SYMBOL_HALTED"
    assert reducing != "SYMBOL_HALTED"  # refused for having no position to reduce, not for the halt
    err = gate_reject(Market.FUTURES, opening, "BTC_USDT is halted: new orders refused")
    assert (err.status, err.label) == (400, "CONTRACT_IN_DELISTING") and "BTC_USDT" in err.message
    assert gate_reject(Market.SPOT, opening, "x").label == "INVALID_CURRENCY_PAIR"


def test_change_validates_per_venue_market():
    """The admin's change: unified or venue symbol; spot tick/step powers of ten; no multiplier on spot."""
    # Arrange
    ctx = build_context()
    # Act
    inst, changed = change(ctx, RuleRequest(venue="gateio", market="futures", symbol="BTC-USDT",
                                            contract_multiplier=D("0.001"), funding_interval_s=3600))
    # Assert
    assert changed == {"contract_multiplier": (D("0.0001"), D("0.001")), "funding_interval_s": (0, 3600)}
    assert inst.multiplier == D("0.001") and inst.funding_interval_s == 3600
    cases = [(RuleRequest(venue="mexc", market="spot", symbol="BTCUSDT", tick=D("0.05")), "power of ten"),
             (RuleRequest(venue="gateio", market="spot", symbol="BTC_USDT", contract_multiplier=D(2)), "perpetual"),
             (RuleRequest(venue="gateio", market="spot", symbol="DOGE-USDT", tick=D("0.1")), "not listed"),
             (RuleRequest(venue="kraken", market="spot", symbol="BTC-USDT", tick=D("0.1")), "venue"),
             (RuleRequest(venue="mexc", market="spot", symbol="BTC-USDT"), "at least one")]
    for req, words in cases:
        with pytest.raises(ValueError, match=words):
            change(ctx, req)
