"""Commands sent to a trading gateway on ``ord.<venue>.<account>.cmd.<market>.<verb>`` (NATS request/reply) and their replies.

Quantities are base-asset Decimals. The gateway rounds to the venue's tick/step (never beyond what was
asked), checks min qty/notional, and is idempotent by ``client_order_id``: sending the same PlaceOrder
twice returns the same order, never a second one.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import Market, OrderType, Side, TimeInForce
from .execution import Balance, Order, Position


class PlaceOrder(msgspec.Struct, frozen=True, tag="place"):
    client_order_id: str
    symbol: str
    market: Market
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    price: Decimal | None = None
    reduce_only: bool = False
    ts_pub: int = 0


class CancelOrder(msgspec.Struct, frozen=True, tag="cancel"):
    symbol: str
    market: Market
    client_order_id: str = ""
    venue_order_id: str = ""
    ts_pub: int = 0


class CancelAll(msgspec.Struct, frozen=True, tag="cancel_all"):
    market: Market
    symbol: str = ""  # empty = every configured symbol
    ts_pub: int = 0


class QueryOrder(msgspec.Struct, frozen=True, tag="query"):
    symbol: str
    market: Market
    client_order_id: str = ""
    venue_order_id: str = ""
    ts_pub: int = 0


class SetLeverage(msgspec.Struct, frozen=True, tag="set_leverage"):
    symbol: str
    leverage: int  # 0 = cross margin
    market: Market = Market.FUTURES
    ts_pub: int = 0


class QueryBalances(msgspec.Struct, frozen=True, tag="balances"):
    """Every balance of this account on ``market`` as the venue reports it now (reply: BalancesReply)."""

    market: Market
    ts_pub: int = 0


class OrderReply(msgspec.Struct, frozen=True, tag="order_reply"):
    order: Order


class OrdersReply(msgspec.Struct, frozen=True, tag="orders_reply"):
    orders: list[Order]


class LeverageReply(msgspec.Struct, frozen=True, tag="leverage_reply"):
    position: Position


class BalancesReply(msgspec.Struct, frozen=True, tag="balances_reply"):
    balances: list[Balance]


class ErrorReply(msgspec.Struct, frozen=True, tag="error"):
    """The command failed. ``kind``: venue_client | venue_server | rate_limited | validation | symbol | internal.

    ``code``/``message`` are the venue's own when the venue refused (e.g. ``30002`` or ``BALANCE_NOT_ENOUGH``).
    ``status_unknown`` is true when a write may or may not have reached the venue.
    """

    kind: str
    code: str
    message: str
    retryable: bool = False
    status_unknown: bool = False


Command = PlaceOrder | CancelOrder | CancelAll | QueryOrder | SetLeverage | QueryBalances
Reply = OrderReply | OrdersReply | LeverageReply | BalancesReply | ErrorReply

COMMAND_VERBS: dict[type, str] = {
    PlaceOrder: "place",
    CancelOrder: "cancel",
    CancelAll: "cancel_all",
    QueryOrder: "query",
    SetLeverage: "set_leverage",
    QueryBalances: "balances",
}
