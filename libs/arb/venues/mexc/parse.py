"""MEXC wire -> domain events. Binary pushes are protobuf ``PushDataV3ApiWrapper`` (exchange-facts 1.4).

Public pushes (depth, bookTicker, deals) are the hot path and are read by ``wire.decode_public``; this module
holds the channels, the control replies and the private pushes and REST orders, which are decoded with upb
(``Message.FromString``, never ``ParseFromString`` into a reused message: upb grows it without bound).
Unknown protobuf fields (MEXC adds fields, e.g. the 2026.6 ``version``/``lastOrderCreateTime``/``tradeId``)
are skipped by both decoders.

Captured aggre depth push (MessageToDict of a live frame, ccxt source)::

    {"channel":"spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT","symbol":"BTCUSDT","sendTime":"1754741322152",
     "publicAggreDepths":{"asks":[{"price":"117145.49","quantity":"0"}],"bids":[{"price":"117053.41","quantity":"1.86837271"}],
       "eventType":"spot@public.aggre.depth.v3.api.pb@100ms","fromVersion":"43296363236","toVersion":"43296363255"}}

Book ticker (docs; names are the docs' lower-cased dump, the wire carries field numbers)::

    {"channel":"spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
     "publicbookticker":{"bidprice":"93387.28","bidquantity":"3.73485","askprice":"93387.29","askquantity":"7.669875"},
     "symbol":"BTCUSDT","sendtime":1736412092433}

Deals (docs)::

    {"channel":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
     "publicdeals":{"dealsList":[{"price":"93220.00","quantity":"0.04438243","tradetype":2,"time":1736409765051}],
                    "eventtype":"spot@public.aggre.deals.v3.api.pb@100ms"},"symbol":"BTCUSDT","sendtime":1736409765052}

Private pushes (docs, protobuf text format)::

    privateOrders { id: "C02__505979017439002624115", price: "3.5121", quantity: "1", amount: "0", avgPrice: "3.6962",
      orderType: 5, tradeType: 2, remainAmount: "0", remainQuantity: "0", lastDealQuantity: "1",
      cumulativeQuantity: "1", cumulativeAmount: "3.6962", status: 2, createTime: 1736417034259 }
    privateDeals { price: "3.6962", quantity: "1", amount: "3.6962", tradeType: 2, tradeId: "505979017439002624X1",
      orderId: "C02__505979017439002624115", feeAmount: "0.0003998377369698171", feeCurrency: "MX", time: 1736417034280 }
    privateAccount { vcoinName: "USDT", coinId: "128f589271cb4951b03e71e6323eb7be", balanceAmount: "21.94210356004384",
      balanceAmountChange: "10", frozenAmount: "0", frozenAmountChange: "0", type: "CONTRACT_TRANSFER", time: 1736416910000 }
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

from ...core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from ...core.errors import ProtocolError
from ...core.execution import Balance, Fill, Order
from ...core.numeric import ZERO, fmt
from .schemas import Control, OrderRaw, TradeRaw

MEXC = Venue.MEXC
SPOT = Market.SPOT
BUY = Side.BUY
SELL = Side.SELL
NS_PER_MS = 1_000_000

# channels (exchange-facts 1.3); the pushed ``channel`` equals the subscribed string
CH_DEPTH = "spot@public.aggre.depth.v3.api.pb@{interval}@{symbol}"
CH_BBO = "spot@public.aggre.bookTicker.v3.api.pb@{interval}@{symbol}"
CH_DEALS = "spot@public.aggre.deals.v3.api.pb@{interval}@{symbol}"
CH_LIMIT = "spot@public.limit.depth.v3.api.pb@{symbol}@{level}"  # symbol BEFORE level; level 5, 10 or 20
LIMIT_LEVELS = (5, 10, 20)
CH_KLINE = "spot@public.kline.v3.api.pb@{symbol}@{interval}"  # symbol BEFORE interval (docs, "K-line Streams")
# K-line intervals: the REST name (GET /api/v3/klines, docs "ENUM definitions": 1m 5m 15m 30m 60m 4h 1d 1W 1M) -> the
# WS name (docs, "K-line Streams": Min1 ... Month1). The WS's Hour8 has no REST name (no backfill): not offered.
KLINE_INTERVALS = {"1m": "Min1", "5m": "Min5", "15m": "Min15", "30m": "Min30", "60m": "Min60", "4h": "Hour4",
                   "1d": "Day1", "1W": "Week1", "1M": "Month1"}
KLINE_REST_NAME = {ws: rest for rest, ws in KLINE_INTERVALS.items()}
CH_ORDERS = "spot@private.orders.v3.api.pb"
CH_MYDEALS = "spot@private.deals.v3.api.pb"
CH_ACCOUNT = "spot@private.account.v3.api.pb"
PRIVATE_CHANNELS = (CH_ORDERS, CH_MYDEALS, CH_ACCOUNT)

# wrapper oneof names of the private pushes (field numbers 304/306/307); public pushes are read by wire.py
B_ORDERS = "privateOrders"
B_MYDEALS = "privateDeals"
B_ACCOUNT = "privateAccount"

decode_wrapper = PushDataV3ApiWrapper.FromString
_control = msgspec.json.Decoder(Control).decode


def public_channels(venue_symbol: str, interval: str = "100ms", limit: int = 0) -> tuple[str, str, str]:
    """(depth, bookTicker, deals) subscription strings of one symbol; symbols are UPPERCASE on MEXC.

    ``limit`` 5, 10 or 20: the depth channel is the top-N limit depth (body 303) instead of the aggre diffs."""
    s = venue_symbol.upper()
    if limit and limit not in LIMIT_LEVELS:
        raise ValueError(f"mexc limit depth: level must be one of {LIMIT_LEVELS}, got {limit}")
    return (
        CH_LIMIT.format(symbol=s, level=limit) if limit else CH_DEPTH.format(interval=interval, symbol=s),
        CH_BBO.format(interval=interval, symbol=s),
        CH_DEALS.format(interval=interval, symbol=s),
    )


def kline_channels(venue_symbol: str, intervals: tuple[str, ...]) -> list[str]:
    """The kline subscription of one symbol per configured interval (REST names, see ``KLINE_INTERVALS``)."""
    s = venue_symbol.upper()
    return [CH_KLINE.format(symbol=s, interval=KLINE_INTERVALS[iv]) for iv in intervals]


def control(text: str | bytes) -> Control:
    """A JSON control reply (subscribe ack, PONG, refusal). Raises ProtocolError when it is not one."""
    try:
        return _control(text)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ProtocolError(f"mexc: not a control reply: {e}") from None


def event_ms(w: PushDataV3ApiWrapper) -> int:
    """The venue time of a push in ms: ``sendTime`` (6), else ``createTime`` (5), else 0."""
    t = w.sendTime
    return t if t else w.createTime


# ---------------------------------------------------------------- private bodies and REST orders

_PB_STATUS = {1: OrderStatus.NEW, 2: OrderStatus.FILLED, 3: OrderStatus.PARTIALLY_FILLED,
              4: OrderStatus.CANCELED, 5: OrderStatus.CANCELED}
_REST_STATUS = {"NEW": OrderStatus.NEW, "FILLED": OrderStatus.FILLED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
                "CANCELED": OrderStatus.CANCELED, "PARTIALLY_CANCELED": OrderStatus.CANCELED}
# pb orderType: 1 LIMIT_ORDER, 2 POST_ONLY, 3 IMMEDIATE_OR_CANCEL, 4 FILL_OR_KILL, 5 MARKET_ORDER
_PB_TYPE = {1: (OrderType.LIMIT, TimeInForce.GTC), 2: (OrderType.LIMIT, TimeInForce.POST_ONLY),
            3: (OrderType.LIMIT, TimeInForce.IOC), 4: (OrderType.LIMIT, TimeInForce.FOK),
            5: (OrderType.MARKET, TimeInForce.IOC)}
_REST_TYPE = {"LIMIT": (OrderType.LIMIT, TimeInForce.GTC), "LIMIT_MAKER": (OrderType.LIMIT, TimeInForce.POST_ONLY),
              "IMMEDIATE_OR_CANCEL": (OrderType.LIMIT, TimeInForce.IOC), "FILL_OR_KILL": (OrderType.LIMIT, TimeInForce.FOK),
              "MARKET": (OrderType.MARKET, TimeInForce.IOC)}
_TYPE_OUT = {(OrderType.LIMIT, TimeInForce.GTC): "LIMIT", (OrderType.LIMIT, TimeInForce.POST_ONLY): "LIMIT_MAKER",
             (OrderType.LIMIT, TimeInForce.IOC): "IMMEDIATE_OR_CANCEL", (OrderType.LIMIT, TimeInForce.FOK): "FILL_OR_KILL"}


def order_type_out(order_type: OrderType, tif: TimeInForce) -> str:
    """Our (order type, tif) -> MEXC ``type``: LIMIT, LIMIT_MAKER, IMMEDIATE_OR_CANCEL, FILL_OR_KILL, MARKET."""
    if order_type is OrderType.MARKET:
        return "MARKET"
    return _TYPE_OUT[(order_type, tif)]


def dec(text: str | None) -> Decimal:
    if not text:
        return ZERO
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ProtocolError(f"mexc: not a decimal: {text!r}") from None


def _closed_status(status: OrderStatus, tif: TimeInForce) -> OrderStatus:
    # an IOC/FOK/market order "canceled" by the venue had its remainder killed: EXPIRED, not canceled by us
    if status is OrderStatus.CANCELED and tif in (TimeInForce.IOC, TimeInForce.FOK):
        return OrderStatus.EXPIRED
    return status


def pb_order(body, symbol: str, account: str, ts_event: int, ts_recv: int, client_order_id: str = "") -> Order:
    """``PrivateOrdersV3Api`` (304) -> Order. ``clientId`` may be empty (the docs' sample has none): the caller
    supplies the id it placed the order with, found by order id."""
    ot, tif = _PB_TYPE.get(body.orderType, (OrderType.LIMIT, TimeInForce.GTC))
    status = _closed_status(_PB_STATUS.get(body.status, OrderStatus.NEW), tif)
    filled = dec(body.cumulativeQuantity)
    avg = body.avgPrice
    price = body.price
    created = body.createTime
    return Order(
        venue=MEXC, market=SPOT, account=account, symbol=symbol, client_order_id=body.clientId or client_order_id,
        venue_order_id=body.id, side=BUY if body.tradeType == 1 else SELL, order_type=ot, tif=tif,
        price=dec(price) if price and ot is OrderType.LIMIT else None, qty=dec(body.quantity), filled_qty=filled,
        avg_price=dec(avg) if avg and filled > 0 else None, status=status, reduce_only=False,
        ts_event=ts_event or created * NS_PER_MS, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def pb_fill(body, symbol: str, account: str, client_order_id: str, ts_recv: int) -> Fill:
    """``PrivateDealsV3Api`` (306) -> Fill. ``clientOrderId`` may be empty: the caller supplies it from the order id."""
    return Fill(
        venue=MEXC, market=SPOT, account=account, symbol=symbol,
        client_order_id=body.clientOrderId or client_order_id, venue_order_id=body.orderId, trade_id=body.tradeId,
        side=BUY if body.tradeType == 1 else SELL, price=dec(body.price), qty=dec(body.quantity),
        fee=dec(body.feeAmount), fee_asset=body.feeCurrency, is_maker=body.isMaker,
        ts_event=body.time * NS_PER_MS, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def pb_balance(body, account: str, ts_recv: int) -> Balance:
    """``PrivateAccountV3Api`` (307) -> Balance (``balanceAmount`` free, ``frozenAmount`` locked)."""
    return Balance(
        venue=MEXC, market=SPOT, account=account, asset=body.vcoinName, free=dec(body.balanceAmount),
        locked=dec(body.frozenAmount), ts_event=body.time * NS_PER_MS, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def rest_order(raw: OrderRaw, symbol: str, account: str, ts_recv: int, *, client_order_id: str = "",
               fallback_type: tuple[OrderType, TimeInForce] | None = None) -> Order:
    """A REST order object (place / query / cancel / openOrders) -> Order.

    The place reply carries no status: it is the venue's acknowledgement, so NEW with nothing filled.
    """
    ot, tif = _REST_TYPE.get(raw.type or "", fallback_type or (OrderType.LIMIT, TimeInForce.GTC))
    status = _closed_status(_REST_STATUS.get(raw.status or "NEW", OrderStatus.NEW), tif)
    filled = dec(raw.executedQty)
    quote = dec(raw.cummulativeQuoteQty)
    qty = raw.origQty if raw.origQty is not None else raw.Qty
    ts = raw.updateTime or raw.transactTime or raw.time or 0
    # a cancel reply's clientOrderId names the cancel request (docs: "cancelMyOrder1"); origClientOrderId the order
    cid = raw.origClientOrderId or raw.clientOrderId or client_order_id
    return Order(
        venue=MEXC, market=SPOT, account=account, symbol=symbol, client_order_id=cid,
        venue_order_id=str(raw.orderId), side=BUY if raw.side.upper() == "BUY" else SELL, order_type=ot, tif=tif,
        price=dec(raw.price) if raw.price and ot is OrderType.LIMIT else None, qty=dec(qty), filled_qty=filled,
        avg_price=Decimal(fmt(quote / filled)) if filled > 0 and quote > 0 else None, status=status,
        reduce_only=False, ts_event=ts * NS_PER_MS if ts else ts_recv, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def rest_fill(raw: TradeRaw, symbol: str, account: str, client_order_id: str, ts_recv: int) -> Fill:
    """``GET /api/v3/myTrades`` item -> Fill."""
    return Fill(
        venue=MEXC, market=SPOT, account=account, symbol=symbol,
        client_order_id=raw.clientOrderId or client_order_id, venue_order_id=str(raw.orderId), trade_id=str(raw.id),
        side=BUY if raw.isBuyer else SELL, price=dec(raw.price), qty=dec(raw.qty), fee=dec(raw.commission),
        fee_asset=raw.commissionAsset, is_maker=raw.isMaker, ts_event=raw.time * NS_PER_MS, ts_recv=ts_recv,
        ts_pub=ts_recv,
    )


__all__ = [
    "KLINE_INTERVALS",
    "KLINE_REST_NAME",
    "PRIVATE_CHANNELS",
    "control",
    "decode_wrapper",
    "event_ms",
    "kline_channels",
    "order_type_out",
    "pb_balance",
    "pb_fill",
    "pb_order",
    "public_channels",
    "rest_fill",
    "rest_order",
]
