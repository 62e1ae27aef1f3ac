"""Execution events from a venue's user stream to the bus, by one rule for every venue.

A user-stream callback must not wait for JetStream, so it hands the event to the outbox (``put``: an append,
no I/O) and one task publishes, in arrival order:

* each event is retried until JetStream acks it (backoff 0.1 s doubling to 2 s), never dropped while running:
  a venue's fill that never reaches ORD is money the strategy does not know about;
* ``ts_pub`` is stamped when the publish is attempted, so it means "bus publish" for every venue (``ts_event``
  is the venue's time, ``ts_recv`` the socket read; specs/gateways.md);
* memory is bounded (``max_events``): past it the oldest event is dropped, counted and logged, and
  ``on_overflow`` is called once so the gateway reconciles (republishes venue truth) when the bus is back;
* ``close()`` tries what is left a bounded number of times.

Counted in ``arb_trade_events_total{venue,market,outcome}`` (published / retried / dropped) and the queue
depth in ``arb_trade_events_queued``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ...obs.log import RateLimitedLog, get_logger
from ...obs.metrics import counter, gauge

log = get_logger(__name__)

EVENTS = counter("arb_trade_events_total", "Execution events from a user stream, by what became of them",
                 ["venue", "market", "outcome"])
QUEUED = gauge("arb_trade_events_queued", "Execution events waiting for a JetStream ack", ["venue", "market"])

Publish = Callable[[Any], Awaitable[None]]


class EventOutbox:
    BACKOFF_S = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0)
    CLOSE_ATTEMPTS = 6

    def __init__(self, venue: str, market: str, publishers: dict[str, Publish], max_events: int = 100_000,
                 on_overflow: Callable[[], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.name = f"{venue} {market}"
        self._publishers = publishers  # kind -> coroutine publishing one event of that kind (acked)
        self._q: deque[tuple[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._overflowed = False
        self.max_events = max_events
        self.on_overflow = on_overflow
        self._sleep = sleep
        self._rlog = RateLimitedLog(log, 10.0)
        self._published = EVENTS.labels(venue, market, "published")
        self._retried = EVENTS.labels(venue, market, "retried")
        self._dropped = EVENTS.labels(venue, market, "dropped")
        QUEUED.labels(venue, market).set_function(lambda: len(self._q))
        self.published = self.retries = self.dropped = 0

    def __len__(self) -> int:
        return len(self._q)

    def put(self, kind: str, event: Any) -> None:
        """Queue one event (called from a socket callback: no I/O here)."""
        q = self._q
        q.append((kind, event))
        if len(q) > self.max_events:
            dropped_kind, _ = q.popleft()
            self.dropped += 1
            self._dropped.inc()
            self._rlog(("overflow",), "%s: execution event outbox full (%d): oldest %s event dropped; the gateway "
                       "reconciles once the bus takes events again", self.name, self.max_events, dropped_kind)
            if not self._overflowed:
                self._overflowed = True
        self._wake.set()

    async def run(self) -> None:
        """Publish until closed (one task per gateway)."""
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._drain(attempts=None)

    async def flush(self) -> None:
        """Publish everything queued now, retrying each until acked (what ``run`` does on each wake-up)."""
        await self._drain(attempts=None)

    def pending(self) -> list[tuple[str, Any]]:
        """(kind, event) still waiting for an ack, oldest first."""
        return list(self._q)

    async def close(self) -> None:
        """Stop the loop and try what is left ``CLOSE_ATTEMPTS`` times each (bounded shutdown)."""
        self._closing = True
        self._wake.set()
        await self._drain(attempts=self.CLOSE_ATTEMPTS)

    async def _drain(self, attempts: int | None) -> None:
        q = self._q
        while q:
            kind, ev = q[0]
            tries = 0
            while True:
                try:
                    await self._publishers[kind](msgspec.structs.replace(ev, ts_pub=time.time_ns()))
                    break
                except Exception as e:  # noqa: BLE001 -- JetStream away: retry, an execution event matters
                    tries += 1
                    self.retries += 1
                    self._retried.inc()
                    self._rlog(("publish", kind), "%s: %s event publish failed (%s: %s); retrying", self.name, kind,
                               type(e).__name__, e)
                    if attempts is not None and tries >= attempts:
                        log.error("%s: %d execution events not published at shutdown (first: %s); the next "
                                  "start's reconcile republishes venue truth", self.name, len(q), kind)
                        return
                    await self._sleep(self.BACKOFF_S[min(tries - 1, len(self.BACKOFF_S) - 1)])
            if q and q[0][1] is ev:
                q.popleft()
            self.published += 1
            self._published.inc()
        if self._overflowed:
            self._overflowed = False
            if self.on_overflow is not None:
                self.on_overflow()


__all__ = ["EventOutbox"]
