"""Commands sent to a trading gateway on ``ord.<venue>.<account>.cmd.<market>.<verb>`` (NATS request/reply) and their replies.

Quantities are base-asset Decimals. The gateway rounds to the venue's tick/step (never beyond what was
asked), checks min qty/notional, and is idempotent by ``client_order_id``: sending the same PlaceOrder
twice returns the same order, never a second one.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from .enums import Market, OrderType, Side, TimeInForce
from .execution import Balance, Order, Position
from .messages import message


@message
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


@message
class CancelOrder(msgspec.Struct, frozen=True, tag="cancel"):
    symbol: str
    market: Market
    client_order_id: str = ""
    venue_order_id: str = ""
    ts_pub: int = 0


@message
class CancelAll(msgspec.Struct, frozen=True, tag="cancel_all"):
    market: Market
    symbol: str = ""  # empty = every configured symbol
    ts_pub: int = 0


@message
class QueryOrder(msgspec.Struct, frozen=True, tag="query"):
    symbol: str
    market: Market
    client_order_id: str = ""
    venue_order_id: str = ""
    ts_pub: int = 0


@message
class SetLeverage(msgspec.Struct, frozen=True, tag="set_leverage"):
    symbol: str
    leverage: int  # 0 = cross margin
    market: Market = Market.FUTURES
    ts_pub: int = 0


@message
class QueryBalances(msgspec.Struct, frozen=True, tag="balances"):
    """Every balance of this account on ``market`` as the venue reports it now (reply: BalancesReply)."""

    market: Market
    ts_pub: int = 0


@message
class OrderReply(msgspec.Struct, frozen=True, tag="order_reply"):
    order: Order


@message
class OrdersReply(msgspec.Struct, frozen=True, tag="orders_reply"):
    orders: list[Order]


@message
class LeverageReply(msgspec.Struct, frozen=True, tag="leverage_reply"):
    position: Position


@message
class BalancesReply(msgspec.Struct, frozen=True, tag="balances_reply"):
    balances: list[Balance]


class ErrorKind(enum.StrEnum):
    """Why a command failed; the values are the wire strings (a ``str`` enum encodes as its value).

    A new kind is a wire change: subscribers decode ``kind`` strictly, so deploy them before a gateway sends it.
    """

    VENUE_CLIENT = "venue_client"  # the venue refused the request (4xx, a business error code)
    VENUE_SERVER = "venue_server"  # the venue failed or did not answer; a write's status may be unknown
    RATE_LIMITED = "rate_limited"  # the venue (or our own limiter) said slow down; retryable
    VALIDATION = "validation"  # the command is malformed, on the wrong subject, or breaks the symbol's rules
    SYMBOL = "symbol"  # the symbol is unknown or not trading here
    CONFLICT = "conflict"  # a client order id reused with other parameters
    UNAVAILABLE = "unavailable"  # this gateway cannot act now (not the writer, journal unreachable); retryable
    INTERNAL = "internal"  # a bug or an unforeseen failure in the gateway


@message
class ErrorReply(msgspec.Struct, frozen=True, tag="error"):
    """The command failed, for the reason ``kind`` (an ErrorKind).

    ``code``/``message`` are the venue's own when the venue refused (e.g. ``30002`` or ``BALANCE_NOT_ENOUGH``).
    ``status_unknown`` is true when a write may or may not have reached the venue.
    """

    kind: ErrorKind
    code: str
    message: str
    retryable: bool = False
    status_unknown: bool = False


Command = PlaceOrder | CancelOrder | CancelAll | QueryOrder | SetLeverage | QueryBalances
Reply = OrderReply | OrdersReply | LeverageReply | BalancesReply | ErrorReply

# A command's tag is its verb, the last token of its subject: the verb is named once, on the class.
COMMAND_VERBS: dict[type, str] = {t: t.__struct_config__.tag for t in Command.__args__}
