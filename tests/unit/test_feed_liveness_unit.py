"""Liveness edge cases of the md gateways, fed directly (no I/O): what a silent socket does to a resync in flight,
to the bbo feed, and to a book another socket already feeds."""

from __future__ import annotations

import asyncio
import random

import pytest
from arb.bus.subjects import MdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import BookState, Market, Venue
from arb.core.market_data import BookTicker, MarketStatus
from arb.testing import bounded
from arb.venues.gateio.public import GatePublicGateway, _Book
from arb.venues.gateio.schemas import SpotOrderBook
from arb.venues.gateio.ws import PublicWs

pytestmark = pytest.mark.unit


class _HeldRest:
    """A spot REST whose order book answer waits until the test releases it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def spot_order_book(self, pair: str, limit: int) -> SpotOrderBook:
        self.entered.set()
        await self.release.wait()
        return SpotOrderBook(id=100, bids=[(100.0, 1.0)], asks=[(101.0, 1.0)])


class _Conn:
    """A WsConnection stand-in."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.closed = False
        self.subscriptions = ("BTC_USDT",)


def _gateway(rest: object = None) -> GatePublicGateway:
    gw = GatePublicGateway(Market.SPOT, ["BTC-USDT"], None, rest, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"), GatewayOptions())
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, Market.SPOT, "BTC-USDT"), 1.0)
    gw.feed = PublicWs(Market.SPOT, gw).on_text  # type: ignore[attr-defined]
    return gw


def _statuses(gw: GatePublicGateway) -> list[MarketStatus]:
    return [e for _, e, _ in gw._out if isinstance(e, MarketStatus)]


BBO = ('{"time":1,"channel":"spot.book_ticker","event":"update","result":{"t":1,"u":%d,"s":"BTC_USDT",'
       '"b":"100.1","B":"1","a":"100.2","A":"1"}}')


async def test_a_snapshot_in_flight_when_the_socket_goes_silent_is_not_installed():
    """The socket went silent while the REST snapshot was being fetched: the book stays stale (it resyncs once
    frames are back) instead of being published ok with nothing proving that diffs still follow it."""
    rest = _HeldRest()
    gw = _gateway(rest)
    b = gw.books["BTC_USDT"]
    task = asyncio.create_task(gw._snapshot(b, b.sync, random.Random(1)))
    await bounded(rest.entered.wait(), 5, "snapshot requested")
    gw._on_silent(_Conn(1))
    rest.release.set()
    await bounded(task, 5, "snapshot done")
    assert not b.sync.ok and b.sync.needs_snapshot and b.sync.reason == "silent"
    assert all(s.state is not BookState.OK for s in _statuses(gw))


def test_silence_marks_bbo_stale_once_and_the_next_push_makes_it_ok():
    """One stale bbo status per silence (a second silence report changes nothing); the next book ticker publishes
    an ok status before the bbo itself."""
    gw = _gateway()
    gw._on_silent(_Conn(1))
    gw._on_silent(_Conn(1))
    bbo = [s for s in _statuses(gw) if s.feed == "bbo"]
    assert [(s.state, s.reason) for s in bbo] == [(BookState.STALE, "silent")]
    gw._out.clear()
    gw.feed(BBO % 5)  # type: ignore[attr-defined]
    kinds = [type(e).__name__ for _, e, _ in gw._out]
    assert kinds == ["MarketStatus", "BookTicker"]
    status, ticker = gw._out[0][1], gw._out[1][1]
    assert (status.feed, status.state, status.reason) == ("bbo", BookState.OK, "fresh") and isinstance(ticker, BookTicker)
    gw._out.clear()
    gw.feed(BBO % 6)  # type: ignore[attr-defined]
    assert not _statuses(gw)


def test_a_book_another_socket_feeds_is_left_alone():
    """After a rotation moved the book to the new socket, silence of the old one does not make the book stale."""
    gw = _gateway()
    b = gw.books["BTC_USDT"]
    old, new = _Conn(1), _Conn(2)
    b.sync.on_full(10, [(100.0, 1.0)], [(101.0, 1.0)])
    b.src = new
    gw._on_silent(old)
    assert b.sync.ok
    assert not [s for s in _statuses(gw) if s.feed == "book"]
