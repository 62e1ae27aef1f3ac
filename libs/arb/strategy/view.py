"""What the strategy knows about one venue market: its book, the book's health and age, mark/index and funding.

Built only from the market-data events of the bus (``book`` snapshots and ``delta``s, ``bbo``, ``status``,
``funding``, ``mark``, ``index``), so a live run and a replay of recorded events see the same thing. Nothing here
reads a clock: every question about age takes ``now`` (ns) from the caller.

A book is tradable only when its gateway says it is in sync (state ``ok``), no gap was seen since the last snapshot,
and its newest update is younger than the task's ``max_book_age_s``. A ``bbo`` newer than the book trims the book's
top: the bbo's level is the best one, and levels at or better than it in the older book are gone.
"""

from __future__ import annotations

from ..core.enums import BookState
from ..core.market_data import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    MarketStatus,
    MarkPrice,
)

_INF = float("inf")


class BookView:
    """Top-N of one market: bids high to low, asks low to high, as ``[price, size]`` float pairs (base sizes)."""

    __slots__ = ("_asks", "_bids", "ask_px", "ask_sz", "asks", "bbo_ts", "bid_px", "bid_sz", "bids", "gapped", "seq",
                 "state", "ts", "ts_recv")

    def __init__(self) -> None:
        self.bids: list[tuple[float, float]] = []
        self.asks: list[tuple[float, float]] = []
        self.seq = 0
        self.state = BookState.RESYNCING  # nothing seen yet
        self.gapped = False
        self.ts = 0  # venue time of the newest book data (snapshot, delta)
        self.ts_recv = 0
        self.bbo_ts = 0
        self.bid_px = 0.0
        self.bid_sz = 0.0
        self.ask_px = _INF
        self.ask_sz = 0.0
        self._bids: list[tuple[float, float]] | None = None  # side(False), cached until the next update
        self._asks: list[tuple[float, float]] | None = None

    def on_snapshot(self, ev: BookSnapshot) -> None:
        self.bids = [(lv.price, lv.size) for lv in ev.bids]
        self.asks = [(lv.price, lv.size) for lv in ev.asks]
        self.seq = ev.seq
        self.state = ev.state
        self.gapped = False
        self.ts = ev.ts_event or ev.ts_recv
        self.ts_recv = ev.ts_recv
        self._bids = self._asks = None

    def on_delta(self, ev: BookDelta) -> None:
        """Absolute sizes at changed levels; a delta that does not follow the book marks it gapped until a snapshot."""
        if self.seq and ev.first_seq != self.seq + 1:
            self.gapped = True
            return
        self.bids = _merge(self.bids, ev.bids, True)
        self.asks = _merge(self.asks, ev.asks, False)
        self.seq = ev.last_seq
        self.ts = ev.ts_event or ev.ts_recv
        self.ts_recv = ev.ts_recv
        self._bids = self._asks = None

    def on_bbo(self, ev: BookTicker) -> None:
        self.bid_px, self.bid_sz, self.ask_px, self.ask_sz = ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz
        self.bbo_ts = ev.ts_event or ev.ts_recv
        self._bids = self._asks = None

    def on_status(self, ev: MarketStatus) -> None:
        if ev.feed == "book":
            self.state = ev.state

    def age_ns(self, now: int) -> int:
        return now - max(self.ts, self.bbo_ts)

    def tradable(self, now: int, max_age_ns: int) -> bool:
        return (self.state is BookState.OK and not self.gapped and bool(self.bids) and bool(self.asks)
                and now - self.ts <= max_age_ns)

    def why_not(self, now: int, max_age_ns: int) -> str:
        """Why the book is not tradable ("" when it is): for logs and the status report."""
        if self.state is not BookState.OK:
            return f"book {self.state.value}"
        if self.gapped:
            return "book gapped (delta out of sequence)"
        if not self.bids or not self.asks:
            return "book empty"
        if now - self.ts > max_age_ns:
            return f"book {(now - self.ts) / 1e9:.1f}s old"
        return ""

    def side(self, buy: bool) -> list[tuple[float, float]]:
        """Levels a taker walks: asks to buy, bids to sell, best first; with a fresher bbo its level replaces every
        level at or better than it (see module doc). Computed once per update."""
        if buy:
            if self._asks is None:
                self._asks = self._fresh(self.asks, self.ask_px, self.ask_sz, True)
            return self._asks
        if self._bids is None:
            self._bids = self._fresh(self.bids, self.bid_px, self.bid_sz, False)
        return self._bids

    def _fresh(self, levels: list[tuple[float, float]], px: float, sz: float, asks: bool) -> list[tuple[float, float]]:
        if self.bbo_ts <= self.ts or sz <= 0 or not (0 < px < _INF):
            return levels
        if levels and levels[0][0] == px:
            return [(px, sz), *levels[1:]]
        if asks:
            return [(px, sz), *(lv for lv in levels if lv[0] > px)]
        return [(px, sz), *(lv for lv in levels if lv[0] < px)]

    def best(self, buy: bool) -> float:
        levels = self.side(buy)
        return levels[0][0] if levels else (_INF if buy else 0.0)

    def mid(self) -> float:
        b, a = self.best(False), self.best(True)
        return (a + b) / 2 if b > 0 and a < _INF else 0.0


def _merge(levels: list[tuple[float, float]], changes, descending: bool) -> list[tuple[float, float]]:
    book = dict(levels)
    for lv in changes:
        if lv.size > 0:
            book[lv.price] = lv.size
        else:
            book.pop(lv.price, None)
    return sorted(book.items(), reverse=descending)


class MarketView:
    """One venue market of a task: its book and, for a perpetual, mark, index and funding."""

    __slots__ = ("book", "funding_interval_s", "funding_rate", "funding_ts", "index", "key", "mark",
                 "next_funding_ns", "perp")

    def __init__(self, key: str, perp: bool) -> None:
        self.key = key
        self.perp = perp
        self.book = BookView()
        self.mark = 0.0
        self.index = 0.0
        self.funding_rate = 0.0  # applies at next_funding_ns: > 0 longs pay shorts
        self.next_funding_ns = 0
        self.funding_interval_s = 0  # as the venue states it for this contract (8 h, 4 h, 1 h ...)
        self.funding_ts = 0

    def on_event(self, ev: object) -> bool:
        """Apply one market-data event; True when it can change a price the strategy acts on."""
        t = type(ev)
        if t is BookSnapshot:
            self.book.on_snapshot(ev)
        elif t is BookTicker:
            self.book.on_bbo(ev)
        elif t is BookDelta:
            self.book.on_delta(ev)
        elif t is MarketStatus:
            self.book.on_status(ev)
        elif t is FundingRate:
            self.funding_rate = ev.rate
            self.next_funding_ns = ev.next_funding_ns
            self.funding_interval_s = ev.interval_s
            self.funding_ts = ev.ts_event or ev.ts_recv
        elif t is MarkPrice:
            self.mark = ev.price
            return False
        elif t is IndexPrice:
            self.index = ev.price
            return False
        else:
            return False
        return True

    def funding_known(self) -> bool:
        return not self.perp or (self.funding_interval_s > 0 and self.next_funding_ns > 0)

    def fundings_within(self, now: int, horizon_s: float) -> int:
        """How many funding times fall in ``(now, now + horizon]``, from the contract's own next time and interval."""
        if not self.perp or self.funding_interval_s <= 0 or self.next_funding_ns <= 0:
            return 0
        end = now + int(horizon_s * 1e9)
        step = self.funding_interval_s * 1_000_000_000
        t = self.next_funding_ns
        while t <= now:  # a stale next time: roll forward on the stated interval
            t += step
        return 0 if t > end else 1 + (end - t) // step


__all__ = ["BookView", "MarketView"]
