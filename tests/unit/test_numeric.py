"""Exact rounding to venue tick/step: never beyond what was asked."""

from decimal import Decimal

import pytest
from arb.core.enums import Side
from arb.core.numeric import fmt, is_multiple, round_price, round_qty, to_decimal

pytestmark = pytest.mark.unit


def test_float_converts_through_shortest_repr():
    """0.1 becomes Decimal('0.1'), not the binary expansion."""
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(0.1 + 0.2) == Decimal("0.30000000000000004")


def test_buy_price_rounds_down_sell_rounds_up():
    """Rounding never makes a price more aggressive than asked."""
    tick = Decimal("0.1")
    assert round_price(65000.17, tick, Side.BUY) == Decimal("65000.1")
    assert round_price(65000.11, tick, Side.SELL) == Decimal("65000.2")
    assert round_price("65000.1", tick, Side.SELL) == Decimal("65000.1")


def test_qty_rounds_down_to_step_and_is_exact():
    """A quantity is floored to the lot step and keeps the step's exponent."""
    assert round_qty(0.123456789, Decimal("0.0001")) == Decimal("0.1234")
    assert str(round_qty(3, Decimal("0.001"))) == "3.000"
    assert round_qty(0.3, Decimal("0.1")) == Decimal("0.3")  # no 0.2999999 drift


def test_tiny_prices_keep_precision():
    """NEIRO/ETH-sized prices survive rounding exactly."""
    assert round_price(0.000000451, Decimal("0.0000000001"), Side.BUY) == Decimal("0.0000004510")


def test_fmt_plain_decimal_strings():
    """Venue strings carry no exponent and no trailing zeros."""
    assert fmt(Decimal("1E-7")) == "0.0000001"
    assert fmt(Decimal("65000.000")) == "65000"
    assert fmt(Decimal(0)) == "0"
    assert is_multiple(Decimal("0.0003"), Decimal("0.0001")) and not is_multiple(Decimal("0.00035"), Decimal("0.0001"))
