"""EventOutbox: one delivery rule for every venue's execution events (retry until acked, ts_pub at publish,
bounded memory that asks for a reconcile, bounded close)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.config.credentials import Credentials, Secret
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.core.execution import Balance
from arb.venues.common.outbox import EventOutbox
from arb.venues.gateio.private import build_private

pytestmark = pytest.mark.unit


def _balance(free: int, ts_pub: int = 7) -> Balance:
    return Balance(Venue.GATEIO, Market.SPOT, "a", "USDT", Decimal(free), Decimal(0), 1, 2, ts_pub)


class Sink:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.got: list[Any] = []

    async def __call__(self, ev: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("nats: timeout")
        self.got.append(ev)


async def _no_wait(s: float) -> None:
    await asyncio.sleep(0)


async def test_events_are_retried_until_acked_in_order_with_ts_pub_stamped_at_publish():
    sink = Sink(failures=9)
    box = EventOutbox("gateio", "spot", {"balance": sink}, sleep=_no_wait)
    for i in range(3):
        box.put("balance", _balance(i))
    await box.flush()
    assert [b.free for b in sink.got] == [0, 1, 2]
    assert all(b.ts_pub > 10**18 for b in sink.got)  # stamped now (unix ns), not the 7 it was queued with
    assert (box.published, box.retries, len(box)) == (3, 9, 0)


async def test_a_full_outbox_drops_the_oldest_and_asks_for_one_reconcile_once_publishing_resumes():
    asked: list[int] = []
    sink = Sink()
    box = EventOutbox("gateio", "spot", {"balance": sink}, max_events=3, on_overflow=lambda: asked.append(1),
                      sleep=_no_wait)
    for i in range(5):
        box.put("balance", _balance(i))
    assert box.dropped == 2 and [e.free for _, e in box.pending()] == [2, 3, 4]
    assert asked == []  # not while the events are still waiting
    await box.flush()
    assert [b.free for b in sink.got] == [2, 3, 4] and asked == [1]
    await box.flush()
    assert asked == [1]


async def test_close_gives_up_after_bounded_attempts():
    sink = Sink(failures=10**6)
    box = EventOutbox("mexc", "spot", {"balance": sink}, sleep=_no_wait)
    box.put("balance", _balance(1))
    await asyncio.wait_for(box.close(), 5.0)
    assert box.retries == EventOutbox.CLOSE_ATTEMPTS and len(box) == 1


async def test_gate_events_go_through_the_outbox_and_survive_a_failed_publish():
    """Gate used to drop an event whose publish failed (MEXC retried): both now deliver by the same rule."""

    class FlakyBus:
        def __init__(self) -> None:
            self.failures = 2
            self.published: list[Any] = []
            self.js = None

        async def publish_acked(self, subject: str, ev: Any, timeout: float = 2.0) -> None:
            if self.failures:
                self.failures -= 1
                raise TimeoutError("nats: timeout")
            self.published.append(ev)

    bus = FlakyBus()
    async with aiohttp.ClientSession() as session:  # never used: nothing is sent to the venue here
        gw = build_private(VenueEndpoints(rest_url="http://127.0.0.1:9/api/v4", ws_url="ws://127.0.0.1:9/ws/v4/"),
                           Market.SPOT, "a", Credentials("a", "k", Secret("s")), bus, session,  # type: ignore[arg-type]
                           GatewayOptions())
        gw.outbox._sleep = _no_wait
        gw._emit("balance", _balance(5))
        await asyncio.wait_for(gw.outbox.flush(), 5.0)
    assert [b.free for b in bus.published] == [5] and gw.outbox.retries == 2
