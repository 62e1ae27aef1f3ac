"""Candles (``kline``), written once for every venue: which candle may be published, and publishing it.

A venue's md gateway reads its candle channel and REST history (their shapes are the venue's), turns each candle
into floats (volume in the base asset) and hands it to :class:`KlineFeed`. The feed keeps, per (venue symbol,
interval), the newest window published and the newest window published closed, and applies the one rule every
venue follows (specs/gateways.md, "Klines"):

* a window already published closed is never published again, open or closed (so a REST re-read after a
  reconnect, or a rotation's second socket, repeats no closed candle);
* an open candle older than the newest window published is dropped: open windows never go back;
* a closed candle older than the newest window is published once, if no newer window went out closed: the final
  values of a window that the channel left open (MEXC's push has no closed flag; Gate's ``w`` "may be missing")
  and that a REST read then gives closed. It is the only candle that comes after a newer window;
* otherwise it is published: an open window again on every update, the same ``open_ns`` with newer values.

Klines are low-rate (a push per interval per second at most): the per-candle dict lookup is fine here; the book
and trade hot paths never come through this module.

A window's final candle (:class:`KlineSettler`): a channel need not say when a window closed (MEXC's push has no
flag; Gate's ``w`` "may be missing"), so once the first push of the next window shows that a window is over, and
unless it already went out closed from the channel, it is *due*: ``settle_s`` later the venue's REST candles are
read (as many rows as cover every due window, at least 2) and only their closed rows go out. A failed read, or one
whose row is not closed yet, keeps the window due and is tried again with backoff (``retry_s`` doubling to
``retry_max_s``, at most ``max_tries`` reads); a newer window becoming due meanwhile joins the same read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from ...bus.subjects import MdSubjects
from ...obs.log import RateLimitedLog, get_logger
from .mdpub import MdPublisher

log = get_logger(__name__)


class _Newest:
    """The newest window published, and the newest published closed, for one (symbol, interval)."""

    __slots__ = ("closed_s", "open_s")

    def __init__(self) -> None:
        self.open_s = 0
        self.closed_s = -1


class KlineFeed:
    """Publishes candles through ``pub`` once each (see the module docstring). Kept across a gateway's stop/start:
    what was published stays published."""

    __slots__ = ("dropped", "newest", "pub")

    def __init__(self, pub: MdPublisher) -> None:
        self.pub = pub
        self.newest: dict[tuple[str, str], _Newest] = {}
        self.dropped = 0  # candles not published: a closed window again, an older open window

    def admit(self, venue_symbol: str, interval: str, open_s: int, closed: bool) -> bool:
        """Whether the candle of ``interval`` opening at ``open_s`` (unix s) may go out; if so it is recorded."""
        key = (venue_symbol, interval)
        st = self.newest.get(key)
        if st is None:
            st = self.newest[key] = _Newest()
        if open_s <= st.closed_s or (open_s < st.open_s and not closed):
            self.dropped += 1
            return False
        st.open_s = max(st.open_s, open_s)
        if closed:
            st.closed_s = open_s
        return True

    def closed_s(self, venue_symbol: str, interval: str) -> int:
        """The newest window published closed (unix s), -1 when none."""
        st = self.newest.get((venue_symbol, interval))
        return -1 if st is None else st.closed_s

    def open_s(self, venue_symbol: str, interval: str) -> int:
        """The newest window published, open or closed (unix s), 0 when none."""
        st = self.newest.get((venue_symbol, interval))
        return 0 if st is None else st.open_s

    def candle(self, subj: MdSubjects, symbol: str, venue_symbol: str, interval: str, open_s: int, o: float,
               h: float, low: float, c: float, volume: float, quote_volume: float, closed: bool, ts_event: int,
               ts_recv: int) -> bool:
        """Publish one candle unless ``admit`` refuses it; True when it went out."""
        if not self.admit(venue_symbol, interval, open_s, closed):
            return False
        self.pub.kline(subj, symbol, interval, open_s * 1_000_000_000, o, h, low, c, volume, quote_volume, closed,
                       ts_event, ts_recv)
        return True


class _Due:
    """The windows of one (symbol, interval) waiting for their closed candle from REST: ``first``..``last``."""

    __slots__ = ("at", "first", "last", "tries")

    def __init__(self, window_s: int, at: float) -> None:
        self.first = window_s
        self.last = window_s
        self.at = at  # when to read (``clock``)
        self.tries = 0


# how a venue reads its REST candles for settling: (venue symbol, interval, rows) -> publishes the closed rows only
SettleRead = Callable[[str, str, int], Awaitable[None]]


class KlineSettler:
    """Each window's final candle from REST when the channel did not send it closed (module docstring). The gateway
    calls ``on_live`` for every channel candle *before* handing it to the feed, and runs ``run`` as a task."""

    def __init__(self, feed: KlineFeed, read: SettleRead, interval_s: Mapping[str, int], *, settle_s: float = 1.0,
                 retry_s: float = 1.0, retry_max_s: float = 30.0, max_tries: int = 8, max_rows: int = 1000,
                 clock: Callable[[], float] = time.monotonic, name: str = "") -> None:
        self.feed = feed
        self.read = read
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self.max_tries = max_tries
        self.max_rows = max_rows
        self.clock = clock
        self.name = name
        self.due: dict[tuple[str, str], _Due] = {}
        self.reads = 0  # REST reads made
        self.failures = 0  # reads that raised
        self.settled = 0  # (symbol, interval) whose due windows all went out closed
        self.lost = 0  # given up after max_tries
        self._wake = asyncio.Event()
        self._rlog = RateLimitedLog(log, 10.0)

    def on_live(self, venue_symbol: str, interval: str, open_s: int) -> None:
        """A channel candle of window ``open_s``: if it starts a newer window than the newest published, that one is
        over; it is due unless it already went out closed."""
        feed = self.feed
        prev = feed.open_s(venue_symbol, interval)
        if open_s <= prev or prev <= 0 or prev <= feed.closed_s(venue_symbol, interval):
            return
        key = (venue_symbol, interval)
        d = self.due.get(key)
        if d is None:
            self.due[key] = _Due(prev, self.clock() + self.settle_s)
            self._wake.set()
        elif prev > d.last:
            d.last = prev

    async def settle(self) -> None:
        """Read every due (symbol, interval) whose time came; keep what is still not closed due, with backoff."""
        now = self.clock()
        for key in sorted(k for k, d in self.due.items() if d.at <= now):
            d = self.due.get(key)
            if d is None:
                continue
            vs, iv = key
            if self.feed.closed_s(vs, iv) >= d.last:  # went out closed from the channel meanwhile
                del self.due[key]
                continue
            step = self.interval_s[iv]
            rows = min(self.max_rows, max(2, (self.feed.open_s(vs, iv) - d.first) // step + 1))
            self.reads += 1
            d.tries += 1
            try:
                await self.read(vs, iv, rows)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 -- a failed read keeps the window due; never stops market data
                self.failures += 1
                self._rlog(("settle", vs, iv), "%s %s %s: reading the closed candle failed (try %d of %d): %r",
                           self.name, vs, iv, d.tries, self.max_tries, e)
            if self.feed.closed_s(vs, iv) >= d.last:
                del self.due[key]
                self.settled += 1
            elif d.tries >= self.max_tries:
                del self.due[key]
                self.lost += 1
                log.warning("%s %s %s: no closed candle for windows %d..%d after %d reads; given up", self.name, vs,
                            iv, d.first, d.last, d.tries)
            else:
                d.at = self.clock() + min(self.retry_max_s, self.retry_s * 2 ** (d.tries - 1))

    async def run(self) -> None:
        """The settling task: sleeps until the next due read (or a new due window), then ``settle``."""
        while True:
            nxt = min((d.at for d in self.due.values()), default=None)
            wait = 3600.0 if nxt is None else max(0.0, nxt - self.clock())
            try:
                async with asyncio.timeout(wait):  # not wait_for: on 3.11 it can lose the cancel of stop()
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.settle()


__all__ = ["KlineFeed", "KlineSettler", "SettleRead"]
