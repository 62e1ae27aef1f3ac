"""Public push frames -> plain tuples the gateway routes and normalizes: the compiled reader, else upb.

``decode_public(frame)`` returns ``(body field, venue symbol, venue ms, *body)`` for every public body of the
official schema (see ``_wire.pyx`` for each body's tuple) or None
when the compiled reader leaves the frame to upb; the gateway calls ``decode_public(f) or decode_public_py(f)``.
``IMPL`` says which one runs: "compiled" when the extension was built at install (a C compiler and Cython),
else "upb", which is the same contract at about half the speed (``make bench`` prints both).
"""

from __future__ import annotations

from math import isfinite

from google.protobuf.message import DecodeError

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

from ...core.errors import ProtocolError

DEPTH = 313
DEALS = 314
BBO = 315
# the other public bodies of the official schema (exchange-facts 1.3-1.4; specs/gateways.md, MEXC bodies)
DEALS_V3 = 301
INC_DEPTH = 302
LIMIT_DEPTH = 303
TICKER = 305
KLINE = 308
MINI_TICKER = 309
MINI_TICKERS = 310
TICKER_BATCH = 311
INC_DEPTH_BATCH = 312
PUBLIC_BODIES = (DEALS_V3, INC_DEPTH, LIMIT_DEPTH, TICKER, KLINE, MINI_TICKER, MINI_TICKERS, TICKER_BATCH,
                 INC_DEPTH_BATCH, DEPTH, DEALS, BBO)

_FIELD = {"publicAggreDepths": DEPTH, "publicAggreDeals": DEALS, "publicAggreBookTicker": BBO}
_NUMBER = {f.name: f.number for f in PushDataV3ApiWrapper.DESCRIPTOR.oneofs_by_name["body"].fields}
_decode = PushDataV3ApiWrapper.FromString


def _num(text: str) -> float:
    try:
        v = float(text)
        if text.strip() != text or "_" in text:  # float() allows them; venues never send them; nor does _wire
            raise ValueError
    except ValueError:
        raise ProtocolError(f"mexc push: not a decimal number: {text!r}") from None
    if not isfinite(v):
        raise ProtocolError(f"mexc push: not a finite number: {text!r}")
    return v


def _version(text: str, required: bool) -> int:
    if not text:
        if required:
            raise ProtocolError("mexc push: version missing")
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ProtocolError(f"mexc push: not a version number: {text!r}")
    return int(text)


def _levels(items) -> list[tuple[float, float]]:
    return [(_num(x.price), _num(x.quantity)) for x in items]


def _book(b) -> tuple:
    """Limit depth 303 / increase depth 302: ``(version or 0, bids, asks)``."""
    return (_version(b.version, False), _levels(b.bids), _levels(b.asks))


def _ticker(t) -> tuple:
    return (_num(t.bidPrice), _num(t.bidQuantity), _num(t.askPrice), _num(t.askQuantity))


def _mini(t) -> tuple:
    return (t.symbol, _num(t.price), _num(t.rate), _num(t.zonedRate), _num(t.high), _num(t.low), _num(t.volume),
            _num(t.quantity), _num(t.lastCloseRate), _num(t.lastCloseZonedRate), _num(t.lastCloseHigh),
            _num(t.lastCloseLow))


def _other(num: int, w) -> tuple:
    """The bodies off the hot path, as ``_wire._other`` reads them; () for a private body."""
    if num == LIMIT_DEPTH:
        return _book(w.publicLimitDepths)
    if num == INC_DEPTH:
        return _book(w.publicIncreaseDepths)
    if num == DEALS_V3:
        return ([(_num(d.price), _num(d.quantity), d.tradeType, d.time) for d in w.publicDeals.deals],)
    if num == TICKER:
        return _ticker(w.publicBookTicker)
    if num == TICKER_BATCH:
        b = w.publicBookTickerBatch
        return ([_ticker(t) for t in b.items], _version(b.version, False))
    if num == INC_DEPTH_BATCH:
        return ([_book(b) for b in w.publicIncreaseDepthsBatch.items],)
    if num == KLINE:
        k = w.publicSpotKline
        return (k.interval, k.windowStart, _num(k.openingPrice), _num(k.closingPrice), _num(k.highestPrice),
                _num(k.lowestPrice), _num(k.volume), _num(k.amount), k.windowEnd)
    if num == MINI_TICKER:
        return _mini(w.publicMiniTicker)
    if num == MINI_TICKERS:
        return ([_mini(t) for t in w.publicMiniTickers.items],)
    return ()


def decode_public_py(data: bytes) -> tuple:
    """The same contract as the compiled ``decode_public``, through upb; never returns None."""
    try:
        w = _decode(data)
    except DecodeError as e:
        raise ProtocolError(f"mexc push: not a PushDataV3ApiWrapper: {e}") from None
    kind = w.WhichOneof("body")
    symbol = w.symbol
    if not symbol:
        symbol = w.channel.rpartition("@")[2]
    ms = w.sendTime or w.createTime
    num = _FIELD.get(kind) if kind else 0
    if num == DEPTH:
        b = w.publicAggreDepths
        return (num, symbol, ms, _version(b.fromVersion, True), _version(b.toVersion, True),
                [(_num(x.price), _num(x.quantity)) for x in b.bids],
                [(_num(x.price), _num(x.quantity)) for x in b.asks])
    if num == BBO:
        b = w.publicAggreBookTicker
        return (num, symbol, ms, _num(b.bidPrice), _num(b.bidQuantity), _num(b.askPrice), _num(b.askQuantity),
                _version(b.version, False))
    if num == DEALS:
        return (num, symbol, ms, [(_num(d.price), _num(d.quantity), d.tradeType, d.time, d.tradeId)
                                  for d in w.publicAggreDeals.deals])
    if not kind:
        return (0, symbol, ms)
    num = _NUMBER[kind]
    return (num, symbol, ms, *_other(num, w))


try:
    from ._wire import decode_public  # type: ignore[import-not-found]

    IMPL = "compiled"
except ImportError:  # built without a C compiler: same results, slower
    decode_public = decode_public_py
    IMPL = "upb"

__all__ = ["BBO", "DEALS", "DEALS_V3", "DEPTH", "IMPL", "INC_DEPTH", "INC_DEPTH_BATCH", "KLINE", "LIMIT_DEPTH",
           "MINI_TICKER", "MINI_TICKERS", "PUBLIC_BODIES", "TICKER", "TICKER_BATCH", "decode_public",
           "decode_public_py"]
