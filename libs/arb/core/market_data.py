"""Normalized market-data events published by the public gateways on ``md.<venue>.<market>.<symbol>.<kind>``.

Market data is an observation, not an instruction, so prices and sizes are floats (fast to decode,
fine for analytics and signals). Sizes are always in the BASE asset: futures gateways multiply
contracts by the contract multiplier. Anything sent back to a venue is re-derived as an exact Decimal
from the symbol rules (see specs/numbers.md).

Every event carries ts_event (venue clock), ts_recv (gateway read the frame) and ts_pub (handed to the
bus), integer ns since the epoch. New fields are only ever appended with defaults.
"""

from __future__ import annotations

import msgspec

from .enums import BookState, Market, Side, Venue
from .messages import message


class Level(msgspec.Struct, frozen=True, array_like=True, gc=False):
    price: float
    size: float


@message
class BookTicker(msgspec.Struct, frozen=True, gc=False, tag="bbo"):
    venue: Venue
    market: Market
    symbol: str
    bid_px: float
    bid_sz: float
    ask_px: float
    ask_sz: float
    seq: int  # venue update id / version, 0 when the venue sends none
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class BookSnapshot(msgspec.Struct, frozen=True, gc=False, tag="book"):
    """Top-N of the gateway's synchronized local book. ``state`` other than OK means do not trade on it."""

    venue: Venue
    market: Market
    symbol: str
    bids: list[Level]
    asks: list[Level]
    seq: int
    state: BookState
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class BookDelta(msgspec.Struct, frozen=True, gc=False, tag="delta"):
    """Absolute sizes at changed levels (size 0 = removed), covering venue updates first_seq..last_seq."""

    venue: Venue
    market: Market
    symbol: str
    bids: list[Level]
    asks: list[Level]
    first_seq: int
    last_seq: int
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class Trade(msgspec.Struct, frozen=True, gc=False, tag="trade"):
    venue: Venue
    market: Market
    symbol: str
    price: float
    size: float
    side: Side  # taker side
    trade_id: str
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class FundingRate(msgspec.Struct, frozen=True, gc=False, tag="funding"):
    """The rate that applies at ``next_funding_ns`` (the current one, never the indicative estimate)."""

    venue: Venue
    market: Market
    symbol: str
    rate: float
    next_funding_ns: int
    interval_s: int
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class MarkPrice(msgspec.Struct, frozen=True, gc=False, tag="mark"):
    venue: Venue
    market: Market
    symbol: str
    price: float
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class IndexPrice(msgspec.Struct, frozen=True, gc=False, tag="index"):
    venue: Venue
    market: Market
    symbol: str
    price: float
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class MarketStatus(msgspec.Struct, frozen=True, gc=False, tag="status"):
    """A book or feed changed state (stale on a gap, disconnect or silent socket; ok after resync / fresh data).

    ``feed`` names which of the symbol's feeds: ``book`` (the default, and what a status without the field meant),
    ``bbo``, or ``funding`` (futures tickers: funding, mark and index arrive together). A ``book`` is ok only
    after a resync; a ``bbo`` / ``funding`` feed is ok again with its first message after it went stale.
    """

    venue: Venue
    market: Market
    symbol: str
    state: BookState
    reason: str
    ts_event: int
    ts_recv: int
    ts_pub: int
    feed: str = "book"


@message
class OpenInterest(msgspec.Struct, frozen=True, gc=False, tag="open_interest"):
    """The venue's open interest of a perpetual: ``size`` in the base asset (futures: contracts x multiplier) and
    ``notional`` in the quote asset as the venue states it (0 when it states none). ``ts_event`` is the venue's
    time of the statistic (Gate: the ``contract_stats`` bucket time), not when it was read."""

    venue: Venue
    market: Market
    symbol: str
    size: float
    notional: float
    ts_event: int
    ts_recv: int
    ts_pub: int


@message
class Liquidation(msgspec.Struct, frozen=True, gc=False, tag="liquidation"):
    """One public liquidation order. ``side`` is the liquidation order's side: ``sell`` closes a liquidated long,
    ``buy`` a liquidated short. ``size`` in the base asset; ``price`` the venue's price for it (Gate: the order's
    fill price when it states one, else its order price). ``source`` says where it came from: ``ws`` or ``rest``."""

    venue: Venue
    market: Market
    symbol: str
    price: float
    size: float
    side: Side
    ts_event: int
    ts_recv: int
    ts_pub: int
    source: str = "ws"


@message
class Kline(msgspec.Struct, frozen=True, gc=False, tag="kline"):
    """One candle of ``interval`` (the venue's spelling: ``1m``, ``5m``, ``1h``...), opening at ``open_ns``.
    ``volume`` in the base asset, ``quote_volume`` in the quote asset (0 when the venue states none). ``closed``:
    the venue said the window is over (or, for a candle read over REST, its window ended before it was read); an
    open candle is published again on every update, the same ``open_ns`` with the newer values. A window goes out
    closed at most once, and nothing about it after that; a closed candle may follow a newer window's open one (its
    final values read over REST when the channel never said closed: MEXC; specs/gateways.md, "Klines")."""

    venue: Venue
    market: Market
    symbol: str
    interval: str
    open_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    closed: bool
    ts_event: int
    ts_recv: int
    ts_pub: int
