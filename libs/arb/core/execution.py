"""Orders, fills, balances and positions as published by the trading gateways on ``ord.<venue>.<account>.evt.<kind>``.

These describe money, so prices and quantities are exact ``Decimal`` (encoded as decimal strings on the
wire). Quantities are in the BASE asset for spot and futures alike; a futures gateway converts to and
from contracts with the contract multiplier and also reports ``contracts``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from .messages import message
from .numeric import ZERO


class Order(msgspec.Struct, frozen=True, tag="order"):
    venue: Venue
    market: Market
    account: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: Decimal | None
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    status: OrderStatus
    reduce_only: bool
    ts_event: int
    ts_recv: int
    ts_pub: int
    contracts: Decimal | None = None


@message
class OrderUpdate(msgspec.Struct, frozen=True, tag="order_update"):
    """An order changed. ``correction`` marks state learned by reconciliation rather than the live stream."""

    order: Order
    correction: bool = False


@message
class Fill(msgspec.Struct, frozen=True, tag="fill"):
    venue: Venue
    market: Market
    account: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_event: int
    ts_recv: int
    ts_pub: int
    correction: bool = False


@message
class Balance(msgspec.Struct, frozen=True, tag="balance"):
    venue: Venue
    market: Market
    account: str
    asset: str
    free: Decimal
    locked: Decimal
    ts_event: int
    ts_recv: int
    ts_pub: int
    correction: bool = False


@message
class Position(msgspec.Struct, frozen=True, tag="position"):
    venue: Venue
    market: Market
    account: str
    symbol: str
    size: Decimal  # signed base quantity: > 0 long, < 0 short
    contracts: Decimal  # signed venue contracts
    entry_price: Decimal
    mark_price: Decimal
    leverage: int  # 0 = cross
    margin: Decimal
    unrealised_pnl: Decimal
    liq_price: Decimal
    ts_event: int
    ts_recv: int
    ts_pub: int
    correction: bool = False


__all__ = ["ZERO", "Balance", "Fill", "Order", "OrderUpdate", "Position"]
