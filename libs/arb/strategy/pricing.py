"""Executable prices, fees, and quantities that are exact on both legs.

* ``walk``: the volume-weighted price a taker pays for a base quantity, walking the book's levels (VWAP), and the
  worst level touched (the limit price that lets an IOC order take exactly that depth).
* ``LegRules``: one market's rules from the reference data (``REF`` bucket), in base units: a futures step of
  1 contract with multiplier 0.0001 is a base step of 0.0001. Fees come from the same entry, never a constant.
* ``common_step``: the coarsest grid both legs can trade: the least common multiple of their base steps, so a
  quantity on it is a whole number of steps (and of contracts) on each leg and the legs carry equal base.

Evaluation runs in floats (a signal); whatever is sent is re-derived here as a ``Decimal`` on the venue's grid.
"""

from __future__ import annotations

from decimal import Decimal
from math import gcd

from ..core.enums import Market, Side
from ..core.numeric import round_price
from ..core.refdata import SymbolRef

_INF = float("inf")


def walk(levels: list[tuple[float, float]], qty: float) -> tuple[float, float, float]:
    """(vwap, worst price touched, base filled) for taking ``qty`` from ``levels`` (best first)."""
    left = qty
    cost = 0.0
    px = 0.0
    for px, sz in levels:
        if sz >= left:
            cost += px * left
            left = 0.0
            break
        cost += px * sz
        left -= sz
    filled = qty - left
    if filled <= 0:
        return 0.0, 0.0, 0.0
    return cost / filled, px, filled


def depth_within(levels: list[tuple[float, float]], limit: float, buy: bool) -> float:
    """Base available at prices no worse than ``limit``."""
    total = 0.0
    for px, sz in levels:
        if (px > limit) if buy else (px < limit):
            break
        total += sz
    return total


class LegRules:
    """One market's rules in base units, with float copies for evaluation and Decimals for orders."""

    __slots__ = (
        "base_min",
        "base_step",
        "f_base_min",
        "f_min_notional",
        "f_step",
        "maker_fee",
        "market",
        "min_notional",
        "multiplier",
        "perp",
        "ref",
        "taker_fee",
        "tick",
    )

    def __init__(self, ref: SymbolRef) -> None:
        self.ref = ref
        self.market = ref.market
        self.perp = ref.market is Market.FUTURES
        self.multiplier = ref.contract_multiplier
        self.base_step = ref.step * ref.contract_multiplier
        self.base_min = ref.min_qty * ref.contract_multiplier
        self.min_notional = ref.min_notional
        self.tick = ref.tick
        self.taker_fee = float(ref.taker_fee)
        self.maker_fee = float(ref.maker_fee)
        self.f_step = float(self.base_step)
        self.f_base_min = float(self.base_min)
        self.f_min_notional = float(ref.min_notional)

    def floor_base(self, base: Decimal) -> Decimal:
        """The largest base quantity <= ``base`` this market can trade (whole steps / contracts)."""
        if self.base_step <= 0:
            return base
        return (base // self.base_step) * self.base_step

    def venue_qty(self, base: Decimal) -> Decimal:
        """Base -> the venue's order unit (contracts on a perpetual), exact."""
        return base / self.multiplier if self.perp else base

    def limit_price(self, price: float, side: Side) -> Decimal:
        """A limit price on the tick grid, never more aggressive than ``price``."""
        return round_price(price, self.tick, side)

    def check(self, price: float | Decimal, base: Decimal, closing: bool = False) -> str:
        """Why ``base`` at ``price`` cannot be traded here ("" if it can): status, minimum quantity and notional.
        ``closing`` (hedge, unwind, trim, exit): the status is not checked; the venue's refusal is a failed attempt."""
        if base <= 0:
            return f"{self.ref.key}: quantity rounds to 0 on step {self.base_step}"
        venue_qty = self.venue_qty(base)
        px = price if isinstance(price, Decimal) else Decimal(repr(price))
        return self.ref.check(px, venue_qty, closing) or ""

    def fast_ok(self, price: float, base: float) -> bool:
        """Float pre-check of the minimums (the hot path); ``check`` is the exact one."""
        return base >= self.f_base_min and price * base >= self.f_min_notional


def common_step(a: Decimal, b: Decimal) -> Decimal:
    """Least common multiple of two positive decimal steps (0.001 and 0.0001 -> 0.001; 0.3 and 0.2 -> 0.6)."""
    if a <= 0:
        return b
    if b <= 0:
        return a
    exp = min(a.as_tuple().exponent, b.as_tuple().exponent, 0)
    scale = Decimal(10) ** -exp
    ia, ib = int(a * scale), int(b * scale)
    return Decimal(ia * ib // gcd(ia, ib)) / scale


def bps(x: float, ref: float) -> float:
    return x / ref * 1e4 if ref > 0 else 0.0


__all__ = ["LegRules", "bps", "common_step", "depth_within", "walk"]
