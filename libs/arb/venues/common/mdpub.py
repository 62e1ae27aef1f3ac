"""Market-data publishing, written once for every venue: domain event -> queue -> one task -> NATS core publish.

A venue's public gateway parses and routes its frames, then hands each normalised value to :class:`MdPublisher`
(``bbo``, ``book``, ``trade``, ``funding``, ``mark``, ``index``, ``status``, on a perpetual ``oi`` and
``liquidation``, and ``kline`` (through ``klines.KlineFeed``) for one instrument, named by its
``MdSubjects`` and unified symbol). The handler only builds the event and appends it to a deque: the WS read loop
never waits on the bus. One task (``run``) drains the deque into core publishes.

The three timestamps mean the same for every venue (specs/gateways.md, "Timestamps"):

* ``ts_event``: the venue's time for the event (converted to ns once, at the parser boundary);
* ``ts_recv``: when the gateway read the frame from the socket (the frame's read, not a later step); an event the
  gateway makes without a frame (a status, a stale book, a book flushed by the rate limit without a new frame)
  carries the time it was made, or the read time of the frame its content came from;
* ``ts_pub``: stamped here, right before the event is encoded and handed to the NATS client.

Hot path: no dict built, no f-string, no logging per message; the publish is ``Bus.publish``'s two steps (encode
with the one codec, ``nc.publish``) bound once per drain, which saves a coroutine frame per message. The
exchange-to-publish latency (``arb_gateway_exchange_to_publish_seconds``) is observed on 1 in
``LATENCY_SAMPLE`` published events (not statuses); a Prometheus observe costs more than the rest of a publish.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from msgspec.structs import force_setattr

from ...bus import codec
from ...bus.subjects import MdSubjects
from ...core.enums import BookState, Market, Side, Venue
from ...core.market_data import (
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    Kline,
    Level,
    Liquidation,
    MarketStatus,
    MarkPrice,
    OpenInterest,
    Trade,
)
from ...obs.log import RateLimitedLog
from .metrics import GatewayMetrics

LATENCY_SAMPLE = 16  # observe exchange->publish latency on 1 of N published events
YIELD_EVERY = 512  # let the WS readers run under a burst
_now = time.time_ns


class MdPublisher:
    """The queue and publishing task of one md gateway (one venue, one market).

    ``out`` holds ``(subject, event, kind)``; ``kind`` names the latency histogram (None: a status, not observed).
    The bus is read when publishing starts, so handlers can be fed (and ``out`` inspected) without one.
    """

    __slots__ = ("_append", "_lat", "_rlog", "bus", "market", "metrics", "out", "published", "venue", "wake")

    def __init__(self, venue: Venue, market: Market, bus: Any, metrics: GatewayMetrics, rlog: RateLimitedLog) -> None:
        self.venue = venue
        self.market = market
        self.bus = bus
        self.metrics = metrics
        self._rlog = rlog
        self.out: deque[tuple[str, Any, str | None]] = deque()
        self._append = self.out.append
        self.wake = asyncio.Event()
        self.published = 0
        self._lat: dict[str, Any] = {}

    # ------------------------------------------------------------------ events (hot path: build, append)

    def bbo(self, subj: MdSubjects, symbol: str, bid: float, bid_sz: float, ask: float, ask_sz: float, seq: int,
            ts_event: int, ts_recv: int) -> None:
        self._append((subj.bbo, BookTicker(self.venue, self.market, symbol, bid, bid_sz, ask, ask_sz, seq, ts_event,
                                           ts_recv, 0), "bbo"))
        self.wake.set()

    def trade(self, subj: MdSubjects, symbol: str, price: float, size: float, side: Side, trade_id: str,
              ts_event: int, ts_recv: int) -> None:
        self._append((subj.trade, Trade(self.venue, self.market, symbol, price, size, side, trade_id, ts_event,
                                        ts_recv, 0), "trade"))
        self.wake.set()

    def book(self, subj: MdSubjects, symbol: str, bids: list[Level], asks: list[Level], seq: int, state: BookState,
             ts_event: int, ts_recv: int) -> None:
        self._append((subj.book, BookSnapshot(self.venue, self.market, symbol, bids, asks, seq, state, ts_event,
                                              ts_recv, 0), "book"))
        self.wake.set()

    def funding(self, subj: MdSubjects, symbol: str, rate: float, next_funding_ns: int, interval_s: int,
                ts_event: int, ts_recv: int) -> None:
        self._append((subj.funding, FundingRate(self.venue, self.market, symbol, rate, next_funding_ns, interval_s,
                                                ts_event, ts_recv, 0), "funding"))
        self.wake.set()

    def mark(self, subj: MdSubjects, symbol: str, price: float, ts_event: int, ts_recv: int) -> None:
        self._append((subj.mark, MarkPrice(self.venue, self.market, symbol, price, ts_event, ts_recv, 0), "mark"))
        self.wake.set()

    def index(self, subj: MdSubjects, symbol: str, price: float, ts_event: int, ts_recv: int) -> None:
        self._append((subj.index, IndexPrice(self.venue, self.market, symbol, price, ts_event, ts_recv, 0), "index"))
        self.wake.set()

    def open_interest(self, subj: MdSubjects, symbol: str, size: float, notional: float, ts_event: int,
                      ts_recv: int) -> None:
        self._append((subj.oi, OpenInterest(self.venue, self.market, symbol, size, notional, ts_event, ts_recv, 0),
                      "oi"))
        self.wake.set()

    def liquidation(self, subj: MdSubjects, symbol: str, price: float, size: float, side: Side, ts_event: int,
                    ts_recv: int, source: str) -> None:
        self._append((subj.liquidation, Liquidation(self.venue, self.market, symbol, price, size, side, ts_event,
                                                    ts_recv, 0, source), "liquidation"))
        self.wake.set()

    def kline(self, subj: MdSubjects, symbol: str, interval: str, open_ns: int, o: float, h: float, low: float,
              c: float, volume: float, quote_volume: float, closed: bool, ts_event: int, ts_recv: int) -> None:
        self._append((subj.kline, Kline(self.venue, self.market, symbol, interval, open_ns, o, h, low, c, volume,
                                        quote_volume, closed, ts_event, ts_recv, 0), "kline"))
        self.wake.set()

    def status(self, subj: MdSubjects, symbol: str, state: BookState, reason: str, ts: int,
               feed: str = "book") -> None:
        """``state`` of one feed (``book``, ``bbo``, ``funding``) with a constant ``reason``, decided at ``ts``."""
        self._append((subj.status, MarketStatus(self.venue, self.market, symbol, state, reason, ts, ts, 0, feed), None))
        self.wake.set()

    # ------------------------------------------------------------------ publishing task

    async def run(self) -> None:
        """Publish whatever is queued, for ever (cancel to stop; ``drain`` what is left after)."""
        wake = self.wake
        while True:
            await wake.wait()
            wake.clear()
            await self.drain()

    async def drain(self) -> None:
        """Publish the queue in order, stamping ``ts_pub``; a failed publish (NATS reconnecting with a full buffer)
        drops that event, counted in the rate-limited log, and the rest go on."""
        out = self.out
        publish = self.bus.nc.publish
        encode = codec.encode
        n = self.published
        try:
            while out:
                subject, ev, kind = out.popleft()
                force_setattr(ev, "ts_pub", _now())
                try:
                    await publish(subject, encode(ev))
                except Exception as e:  # noqa: BLE001 -- market data is dropped, never kills the task
                    self._rlog("publish", "%s %s: publish failed (%s), market data dropped", self.venue.value,
                               self.market.value, type(e).__name__)
                    continue
                n += 1
                if n % LATENCY_SAMPLE == 0 and kind is not None:
                    self._observe(kind, ev)
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            self.published = n

    def _observe(self, kind: str, ev: Any) -> None:
        te = ev.ts_event
        if not te:
            return
        h = self._lat.get(kind)
        if h is None:
            h = self._lat[kind] = self.metrics.exchange_to_publish(kind)
        h.observe(max(0.0, (ev.ts_pub - te) / 1e9))

    async def close(self, timeout: float = 2.0) -> None:
        """What is still queued, within ``timeout`` (NATS reconnecting with a full buffer must not hang a stop)."""
        if not self.out or self.bus is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self.drain()
        except TimeoutError:
            pass


__all__ = ["LATENCY_SAMPLE", "MdPublisher"]
