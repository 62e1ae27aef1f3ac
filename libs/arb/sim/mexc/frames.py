"""Build MEXC Spot v3 protobuf push frames (``PushDataV3ApiWrapper``) from engine events.

Every data push on ``/ws`` is one BINARY frame holding a serialized wrapper (exchange-facts §1.2-§1.5):
``channel`` (1) = the subscribed string, ``symbol`` (3), ``sendTime`` (6, ms), and the body in the oneof
(313 aggre depth, 303 limit depth, 315 aggre bookTicker, 314 aggre deals, 304/306/307 private).
``eventType`` inside public bodies is the channel without the symbol. A frame is built once per channel
per flush and the same ``bytes`` object is sent to every subscriber.

Captured push (ccxt source comment, MessageToDict of a live frame)::

    {"channel":"spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT","symbol":"BTCUSDT","sendTime":"1754741322152",
     "publicAggreDepths":{"asks":[{"price":"117145.49","quantity":"0"}],
       "bids":[{"price":"117053.41","quantity":"1.86837271"}],
       "eventType":"spot@public.aggre.depth.v3.api.pb@100ms","fromVersion":"43296363236","toVersion":"43296363255"}}
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from proto.gen.mexc.PrivateAccountV3Api_pb2 import PrivateAccountV3Api
from proto.gen.mexc.PrivateDealsV3Api_pb2 import PrivateDealsV3Api
from proto.gen.mexc.PrivateOrdersV3Api_pb2 import PrivateOrdersV3Api
from proto.gen.mexc.PublicAggreDealsV3Api_pb2 import PublicAggreDealsV3ApiItem
from proto.gen.mexc.PublicAggreDepthsV3Api_pb2 import PublicAggreDepthV3ApiItem
from proto.gen.mexc.PublicLimitDepthsV3Api_pb2 import PublicLimitDepthV3ApiItem
from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

CH_DEPTH = "spot@public.aggre.depth.v3.api.pb"
CH_LIMIT = "spot@public.limit.depth.v3.api.pb"
CH_BBO = "spot@public.aggre.bookTicker.v3.api.pb"
CH_DEALS = "spot@public.aggre.deals.v3.api.pb"
CH_KLINE = "spot@public.kline.v3.api.pb"  # @<SYMBOL>@<interval>: symbol BEFORE interval
CH_ORDERS = "spot@private.orders.v3.api.pb"
CH_MYDEALS = "spot@private.deals.v3.api.pb"
CH_ACCOUNT = "spot@private.account.v3.api.pb"
PRIVATE_CHANNELS = frozenset({CH_ORDERS, CH_MYDEALS, CH_ACCOUNT})
INTERVALS = ("100ms", "10ms")
LIMIT_LEVELS = ("5", "10", "20")
# K-line intervals (docs, "K-line Streams": Min1 Min5 Min15 Min30 Min60 Hour4 Hour8 Day1 Week1 Month1) -> seconds;
# Month1 (a calendar month) is not served. REST GET /api/v3/klines names them 1m 5m 15m 30m 60m 4h 1d 1W 1M (no 8h).
KLINE_INTERVALS = {"Min1": 60, "Min5": 300, "Min15": 900, "Min30": 1800, "Min60": 3600, "Hour4": 14400,
                   "Hour8": 28800, "Day1": 86400, "Week1": 604800}
REST_KLINE_INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "60m": 3600, "4h": 14400, "1d": 86400,
                        "1W": 604800}

# PrivateOrdersV3Api.orderType / REST type
ORDER_TYPE_CODE = {"LIMIT": 1, "LIMIT_MAKER": 2, "IMMEDIATE_OR_CANCEL": 3, "FILL_OR_KILL": 4, "MARKET": 5}
# PrivateOrdersV3Api.status
STATUS_CODE = {"NEW": 1, "FILLED": 2, "PARTIALLY_FILLED": 3, "CANCELED": 4, "PARTIALLY_CANCELED": 5}


def fmt(d: Decimal | int | str | None) -> str:
    """A venue decimal string without exponent or trailing zeros (``0``, ``1.86837271``)."""
    if d is None:
        return "0"
    if not isinstance(d, Decimal):
        d = Decimal(d)
    if not d:
        return "0"
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _wrap(channel: str, symbol: str | None, send_ms: int, create_ms: int | None = None) -> PushDataV3ApiWrapper:
    w = PushDataV3ApiWrapper(channel=channel, sendTime=send_ms)
    if symbol is not None:
        w.symbol = symbol
    if create_ms is not None:
        w.createTime = create_ms
    return w


def aggre_depth(
    channel: str,
    event_type: str,
    symbol: str,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    from_version: int,
    to_version: int,
    send_ms: int,
) -> bytes:
    """Body 313: changed levels with ABSOLUTE quantities (0 = level removed) over [from, to] versions."""
    w = _wrap(channel, symbol, send_ms)
    b = w.publicAggreDepths
    b.asks.extend(PublicAggreDepthV3ApiItem(price=fmt(p), quantity=fmt(q)) for p, q in asks)
    b.bids.extend(PublicAggreDepthV3ApiItem(price=fmt(p), quantity=fmt(q)) for p, q in bids)
    b.eventType = event_type
    b.fromVersion = str(from_version)
    b.toVersion = str(to_version)
    return w.SerializeToString()


def limit_depth(
    channel: str,
    symbol: str,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    version: int,
    send_ms: int,
) -> bytes:
    """Body 303: top-N snapshot; eventType is ``spot@public.limit.depth.v3.api.pb`` (docs example)."""
    w = _wrap(channel, symbol, send_ms)
    b = w.publicLimitDepths
    b.asks.extend(PublicLimitDepthV3ApiItem(price=fmt(p), quantity=fmt(q)) for p, q in asks)
    b.bids.extend(PublicLimitDepthV3ApiItem(price=fmt(p), quantity=fmt(q)) for p, q in bids)
    b.eventType = CH_LIMIT
    b.version = str(version)
    return w.SerializeToString()


def kline(channel: str, symbol: str, interval: str, step: int, k: object, create_ms: int) -> bytes:
    """Body 308 ``PublicSpotKlineV3Api`` from a ``sim.derivs.SimCandle``: ``windowStart`` / ``windowEnd`` unix s,
    ``volume`` base, ``amount`` quote. The docs' sample carries ``createtime`` (not ``sendtime``)::

        {"channel":"spot@public.kline.v3.api.pb@BTCUSDT@Min15","publicspotkline":{"interval":"Min15",
         "windowstart":1736410500,"openingprice":"92925","closingprice":"93158.47","highestprice":"93158.47",
         "lowestprice":"92800","volume":"36.83803224","amount":"3424811.05","windowend":1736411400},
         "symbol":"BTCUSDT","symbolid":"2fb942154ef44a4ab2ef98c8afb6a4a7","createtime":1736410707571}
    """
    w = _wrap(channel, symbol, 0, create_ms)  # sendTime 0: not on the wire
    b = w.publicSpotKline
    b.interval = interval
    b.windowStart = k.t  # type: ignore[attr-defined]
    b.openingPrice = fmt(k.o)  # type: ignore[attr-defined]
    b.closingPrice = fmt(k.c)  # type: ignore[attr-defined]
    b.highestPrice = fmt(k.h)  # type: ignore[attr-defined]
    b.lowestPrice = fmt(k.l)  # type: ignore[attr-defined]
    b.volume = fmt(k.v)  # type: ignore[attr-defined]
    b.amount = fmt(round(k.quote, 8))  # type: ignore[attr-defined]
    b.windowEnd = k.t + step  # type: ignore[attr-defined]
    return w.SerializeToString()


def aggre_book_ticker(
    channel: str, symbol: str, bid_p: Decimal, bid_q: Decimal, ask_p: Decimal, ask_q: Decimal, version: int, send_ms: int
) -> bytes:
    """Body 315: best bid/ask; ``version`` (5, added 2026.6) = the book's update id."""
    w = _wrap(channel, symbol, send_ms)
    b = w.publicAggreBookTicker
    b.bidPrice = fmt(bid_p)
    b.bidQuantity = fmt(bid_q)
    b.askPrice = fmt(ask_p)
    b.askQuantity = fmt(ask_q)
    b.version = str(version)
    return w.SerializeToString()


def aggre_deals(channel: str, event_type: str, symbol: str, trades: Iterable, send_ms: int) -> bytes:
    """Body 314: public trades since the last push; tradeType 1 = taker buy, 2 = taker sell."""
    w = _wrap(channel, symbol, send_ms)
    b = w.publicAggreDeals
    b.deals.extend(
        PublicAggreDealsV3ApiItem(
            price=fmt(t.price),
            quantity=fmt(t.qty),
            tradeType=1 if t.taker_side == "buy" else 2,
            time=t.ts_ns // 1_000_000,
            tradeId=str(t.trade_id),
        )
        for t in trades
    )
    b.eventType = event_type
    return w.SerializeToString()


def private_order(body: PrivateOrdersV3Api, symbol: str, send_ms: int) -> bytes:
    w = _wrap(CH_ORDERS, symbol, send_ms)
    w.privateOrders.CopyFrom(body)
    return w.SerializeToString()


def private_deal(body: PrivateDealsV3Api, symbol: str, send_ms: int) -> bytes:
    w = _wrap(CH_MYDEALS, symbol, send_ms)
    w.privateDeals.CopyFrom(body)
    return w.SerializeToString()


def private_account(body: PrivateAccountV3Api, create_ms: int, send_ms: int) -> bytes:
    """Docs example carries no ``symbol`` on account pushes, but ``createTime`` and ``sendTime``."""
    w = _wrap(CH_ACCOUNT, None, send_ms, create_ms)
    w.privateAccount.CopyFrom(body)
    return w.SerializeToString()


__all__ = [
    "CH_ACCOUNT",
    "CH_BBO",
    "CH_DEALS",
    "CH_DEPTH",
    "CH_LIMIT",
    "CH_MYDEALS",
    "CH_ORDERS",
    "INTERVALS",
    "LIMIT_LEVELS",
    "ORDER_TYPE_CODE",
    "PRIVATE_CHANNELS",
    "STATUS_CODE",
    "aggre_book_ticker",
    "aggre_deals",
    "aggre_depth",
    "fmt",
    "limit_depth",
    "private_account",
    "private_deal",
    "private_order",
]
