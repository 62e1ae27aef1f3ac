"""Public push frames -> plain tuples the gateway routes and normalizes: the compiled reader, else upb.

``decode_public(frame)`` returns ``(body field, venue symbol, venue ms, *body)`` (see ``_wire.pyx``) or None
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
    return (_NUMBER[kind] if kind else 0, symbol, ms)


try:
    from ._wire import decode_public  # type: ignore[import-not-found]

    IMPL = "compiled"
except ImportError:  # built without a C compiler: same results, slower
    decode_public = decode_public_py
    IMPL = "upb"

__all__ = ["BBO", "DEALS", "DEPTH", "IMPL", "decode_public", "decode_public_py"]
