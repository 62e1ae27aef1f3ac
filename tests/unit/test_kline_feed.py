"""venues/common/klines.KlineFeed, the one candle rule of every md gateway: what goes out, what is dropped."""

from __future__ import annotations

import pytest
from arb.bus.subjects import MdSubjects
from arb.core.enums import Market, Venue
from arb.core.market_data import Kline
from arb.obs.log import RateLimitedLog, get_logger
from arb.venues.common.klines import KlineFeed
from arb.venues.common.mdpub import MdPublisher

pytestmark = pytest.mark.unit

SUBJ = MdSubjects.of(Venue.MEXC, Market.SPOT, "BTC-USDT")


def _feed() -> KlineFeed:
    pub = MdPublisher(Venue.MEXC, Market.SPOT, None, None, RateLimitedLog(get_logger("test"), 10.0))  # type: ignore[arg-type]
    return KlineFeed(pub)


def _send(feed: KlineFeed, t: int, closed: bool, iv: str = "1m", close: float = 1.0) -> bool:
    return feed.candle(SUBJ, "BTC-USDT", "BTCUSDT", iv, t, 1.0, 2.0, 0.5, close, 3.0, 4.5, closed, t * 10**9, 1)


def _out(feed: KlineFeed) -> list[tuple[int, bool]]:
    return [(e.open_ns // 10**9, e.closed) for _, e, _ in feed.pub.out if isinstance(e, Kline)]


def test_open_updates_go_out_and_a_closed_window_never_again():
    """The same open window again and again; once closed, neither open nor closed for it goes out."""
    feed = _feed()
    assert _send(feed, 60, False) and _send(feed, 60, False, close=1.5) and _send(feed, 60, True)
    assert not _send(feed, 60, True) and not _send(feed, 60, False)
    assert _out(feed) == [(60, False), (60, False), (60, True)] and feed.dropped == 2


def test_an_older_open_window_is_dropped_an_older_closed_one_completes_it_once():
    """After window 120 opened: 60 open is dropped, 60 closed goes out once (its final values), and nothing at or
    before the newest closed window goes out after."""
    feed = _feed()
    _send(feed, 60, False)
    _send(feed, 120, False)
    assert not _send(feed, 60, False)
    assert _send(feed, 60, True) and not _send(feed, 60, True)
    assert _send(feed, 120, False)
    assert _send(feed, 120, True) and not _send(feed, 0, True) and not _send(feed, 60, True)
    assert _out(feed) == [(60, False), (120, False), (60, True), (120, False), (120, True)]


def test_intervals_and_symbols_are_kept_apart():
    """A closed 1m window says nothing about the 5m window with the same start."""
    feed = _feed()
    _send(feed, 300, True, iv="1m")
    assert _send(feed, 300, False, iv="5m")
    assert [e.interval for _, e, _ in feed.pub.out] == ["1m", "5m"]
    assert feed.pub.out[0][0] == "md.mexc.spot.BTC-USDT.kline"
