"""The one bus codec: msgpack of a tagged union, so any subscriber decodes any subject without knowing its type.

Encoder and decoder are built once. Schema evolution follows msgspec's rules: fields are only appended,
with defaults, so an old subscriber decodes a newer publisher's message.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..core.commands import Command, Reply
from ..core.execution import Balance, Fill, OrderUpdate, Position
from ..core.market_data import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    MarketStatus,
    MarkPrice,
    Trade,
)

MarketData = BookTicker | BookSnapshot | BookDelta | Trade | FundingRate | MarkPrice | IndexPrice | MarketStatus
Execution = OrderUpdate | Fill | Balance | Position

# Later issues append their message types here (strategy, control); order within the union is irrelevant.
Event = MarketData | Execution | Command | Reply

_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_decoder = msgspec.msgpack.Decoder(Event)

encode = _encoder.encode
decode = _decoder.decode


def typed_decoder(t: Any) -> msgspec.msgpack.Decoder:
    """A decoder for a narrower type (e.g. only Command), built once by the subscriber."""
    return msgspec.msgpack.Decoder(t)


def to_json(event: Any) -> bytes:
    """Readable JSON for `arb tap` and logs (not for the hot path)."""
    return msgspec.json.encode(_with_type(event))


def _with_type(event: Any) -> Any:
    out = {"type": type(event).__struct_config__.tag}
    for f in event.__struct_fields__:
        v = getattr(event, f)
        if isinstance(v, msgspec.Struct):
            v = _with_type(v)
        out[f] = v
    return out
