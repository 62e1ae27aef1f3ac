"""Exact price/size arithmetic at the venue edge.

Strategy code may compute in floats; anything sent to a venue goes through these functions, which
round with Decimal to the venue's tick/step and never *beyond* what was asked: a buy price rounds
down, a sell price rounds up (never more aggressive), a quantity rounds down (never larger).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .enums import Side

ZERO = Decimal(0)


def to_decimal(x: Decimal | float | str) -> Decimal:
    """Floats go through repr (shortest round-trip string), so 0.1 becomes Decimal('0.1'), not 0.1000000000000000055."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(x)


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return x
    return (x / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to(x: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return x
    return (x / step).to_integral_value(rounding=ROUND_CEILING) * step


def round_price(price: Decimal | float | str, tick: Decimal, side: Side) -> Decimal:
    p = to_decimal(price)
    r = floor_to(p, tick) if side is Side.BUY else ceil_to(p, tick)
    return r.quantize(tick) if tick > 0 else r


def round_qty(qty: Decimal | float | str, step: Decimal) -> Decimal:
    q = floor_to(to_decimal(qty), step)
    return q.quantize(step) if step > 0 else q


def is_multiple(x: Decimal, step: Decimal) -> bool:
    return step <= 0 or (x % step) == 0


def fmt(x: Decimal) -> str:
    """Plain decimal string without exponent or trailing zeros, as venues expect ('0.0001', '65000')."""
    s = format(x, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"
