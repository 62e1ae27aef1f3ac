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
"""

from __future__ import annotations

from ...bus.subjects import MdSubjects
from .mdpub import MdPublisher


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

    def candle(self, subj: MdSubjects, symbol: str, venue_symbol: str, interval: str, open_s: int, o: float,
               h: float, low: float, c: float, volume: float, quote_volume: float, closed: bool, ts_event: int,
               ts_recv: int) -> bool:
        """Publish one candle unless ``admit`` refuses it; True when it went out."""
        if not self.admit(venue_symbol, interval, open_s, closed):
            return False
        self.pub.kline(subj, symbol, interval, open_s * 1_000_000_000, o, h, low, c, volume, quote_volume, closed,
                       ts_event, ts_recv)
        return True


__all__ = ["KlineFeed"]
