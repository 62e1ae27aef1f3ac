"""venues/common/klines.KlineFeed, the one candle rule of every md gateway: what goes out, what is dropped."""

from __future__ import annotations

import asyncio

import pytest
from arb.bus.subjects import MdSubjects
from arb.core.enums import Market, Venue
from arb.core.market_data import Kline
from arb.obs.log import RateLimitedLog, get_logger
from arb.testing import bounded, eventually
from arb.venues.common.klines import KlineFeed, KlineSettler
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


class _Read:
    """A venue's settle read: publishes the closed rows it is given for the windows asked, or raises."""

    def __init__(self, feed: KlineFeed, closed: list[int], fail: int = 0) -> None:
        self.feed = feed
        self.closed = closed
        self.fail = fail
        self.calls: list[tuple[str, str, int]] = []

    async def __call__(self, vs: str, iv: str, rows: int) -> None:
        self.calls.append((vs, iv, rows))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("down")
        for t in self.closed:
            _send(self.feed, t, True)


def test_a_window_already_closed_from_the_channel_is_never_due():
    """The next window's first push after the window went out closed: nothing to settle."""
    feed = _feed()
    st = KlineSettler(feed, _Read(feed, []), {"1m": 60})
    _send(feed, 60, False)
    _send(feed, 60, True)
    st.on_live("BTCUSDT", "1m", 120)
    assert not st.due


def test_windows_before_the_first_published_one_are_not_due_and_repeats_add_nothing():
    """The first live candle (nothing published before) makes nothing due; pushes of the same window add nothing."""
    feed = _feed()
    st = KlineSettler(feed, _Read(feed, []), {"1m": 60})
    st.on_live("BTCUSDT", "1m", 60)
    _send(feed, 60, False)
    st.on_live("BTCUSDT", "1m", 60)
    assert not st.due
    st.on_live("BTCUSDT", "1m", 120)
    _send(feed, 120, False)
    st.on_live("BTCUSDT", "1m", 120)
    assert list(st.due) == [("BTCUSDT", "1m")] and st.due["BTCUSDT", "1m"].first == 60


async def test_the_task_reads_settle_s_after_the_new_window_and_retries_a_failure():
    """``run`` wakes for a due window, reads it after ``settle_s``; a failed read is retried (``retry_s``) until the
    window went out closed."""
    feed = _feed()
    read = _Read(feed, [60], fail=1)
    st = KlineSettler(feed, read, {"1m": 60}, settle_s=0.01, retry_s=0.01)
    task = asyncio.get_running_loop().create_task(st.run())
    try:
        _send(feed, 60, False)
        st.on_live("BTCUSDT", "1m", 120)
        _send(feed, 120, False)
        await eventually(lambda: not st.due, timeout=5, what="settled")
    finally:
        task.cancel()
        await bounded(asyncio.gather(task, return_exceptions=True), 5, "task end")
    assert read.calls == [("BTCUSDT", "1m", 2)] * 2 and st.failures == 1 and st.settled == 1
    assert _out(feed) == [(60, False), (120, False), (60, True)]
