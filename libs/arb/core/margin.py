"""Margin and liquidation risk of one futures account, as published by the trading gateways.

``Margin`` on ``ord.<venue>.<account>.evt.margin``: the account's margin figures with one ``PositionMargin`` per open
position, published when they change and after every reconcile (``correction: true``). ``LiquidationWarning`` on
``ord.<venue>.<account>.evt.liq_warning``: a position's distance to liquidation fell below the configured fraction,
fell much further, or recovered (the rule: ``arb.venues.common.margin.LiqWatch`` and specs/gateways.md, "Margin and
liquidation warnings").

These describe money, so every figure is an exact ``Decimal`` as the venue sent it (decimal strings on the wire),
except ``distance``, a quotient, rounded half-even to ``DISTANCE_PLACES`` decimals. Sizes are in the base asset,
``contracts`` in the venue's contracts. New fields are only appended with defaults.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import msgspec

from .enums import Market, Venue
from .messages import message
from .numeric import ZERO

DISTANCE_PLACES = 8


class PositionMargin(msgspec.Struct, frozen=True, kw_only=True):
    """One open position's margin: what it locks, what it must keep, where the venue liquidates it."""

    symbol: str
    size: Decimal  # signed base quantity: > 0 long, < 0 short
    contracts: Decimal  # signed venue contracts
    leverage: int  # 0 = cross
    entry_price: Decimal
    mark_price: Decimal
    liq_price: Decimal  # 0 = the venue names none (no liquidation risk, e.g. fully collateralised)
    margin: Decimal  # position margin, quote
    maintenance_rate: Decimal
    maintenance_margin: Decimal  # quote; the venue's figure, else |value at mark| x maintenance_rate
    unrealised_pnl: Decimal
    distance: Decimal | None = None  # (mark - liq) / mark for a long, (liq - mark) / mark for a short, >= 0; None: no liq


@message
class Margin(msgspec.Struct, frozen=True, kw_only=True, tag="margin"):
    """A futures account's margin: available, position and order margin, maintenance margin, and each position."""

    venue: Venue
    market: Market
    account: str
    asset: str  # the settle currency, e.g. USDT
    total: Decimal  # wallet balance (Gate: position_margin + order_margin + available; unrealised PnL excluded)
    available: Decimal  # available margin (to open positions or transfer out)
    position_margin: Decimal
    order_margin: Decimal
    maintenance_margin: Decimal  # the venue's account figure, else the sum of the positions'
    unrealised_pnl: Decimal
    positions: tuple[PositionMargin, ...] = ()  # open positions only, sorted by symbol
    ts_event: int = 0
    ts_recv: int = 0
    ts_pub: int = 0
    correction: bool = False  # published by a reconcile (venue truth re-read), not because something changed


class WarningLevel(str, Enum):
    WARNING = "warning"  # the distance fell below the fraction
    WORSE = "worse"  # already warned, and the distance halved again since the last warning
    CLEARED = "cleared"  # back above the fraction (with hysteresis), or the position is gone


@message
class LiquidationWarning(msgspec.Struct, frozen=True, kw_only=True, tag="liq_warning"):
    """A position's distance to liquidation crossed ``threshold`` (see ``level``); the coordinator acts on it."""

    venue: Venue
    market: Market
    account: str
    symbol: str
    level: WarningLevel
    size: Decimal  # signed base quantity (0 when the position is gone)
    mark_price: Decimal
    liq_price: Decimal
    distance: Decimal  # as PositionMargin.distance (0 when the position is gone)
    threshold: Decimal  # the configured fraction
    ts_event: int = 0
    ts_recv: int = 0
    ts_pub: int = 0


def liq_distance(size: Decimal, mark: Decimal, liq: Decimal) -> Decimal | None:
    """How far the mark is from the liquidation price, as a fraction of the mark, >= 0 (0: at or past it);
    None when there is no position, no mark or no liquidation price (``liq <= 0``)."""
    if not size or mark <= 0 or liq <= 0:
        return None
    d = (mark - liq) / mark if size > 0 else (liq - mark) / mark
    return max(ZERO, d).quantize(Decimal(1).scaleb(-DISTANCE_PLACES))


__all__ = ["DISTANCE_PLACES", "LiquidationWarning", "Margin", "PositionMargin", "WarningLevel", "liq_distance"]
