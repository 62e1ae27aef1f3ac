"""Test support for the kline (candle) gateways against the in-process simulator: ``Klines``, a bus handler that
keeps every candle a subscriber receives; ``traded()``, what the simulator itself traded in one window (the candle
a closed window should carry); ``assert_window_rules()``, KlineFeed's rules over the candles received.

One venue/market and window length per call: Gate spot with 10 s windows (``BTC_USDT``), MEXC spot with 1 m
windows (``BTCUSDT``), e.g. ``traded(sim, (Venue.MEXC, Market.SPOT), "BTCUSDT", k.open_ns // 10**9, 60)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.enums import Market, Venue
from ..core.market_data import Kline

if TYPE_CHECKING:
    from ..sim.server import SimServer

NS = 1_000_000_000


class Klines:
    """Every ``Kline`` delivered to this handler, in arrival order (other events on the subject are ignored)."""

    def __init__(self) -> None:
        self.got: list[Kline] = []

    async def __call__(self, event: Any, msg: Any) -> None:
        if isinstance(event, Kline):
            self.got.append(event)

    def closed(self) -> list[Kline]:
        return [k for k in self.got if k.closed]


def traded(sim: SimServer, key: tuple[Venue, Market], venue_symbol: str, open_s: int, step_s: int
           ) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal] | None:
    """(volume, open, high, low, close) of the simulator's ``venue_symbol`` trades on ``key`` in the window
    [``open_s``, ``open_s + step_s``); None when the window has no trade or may hold trades the simulator no
    longer keeps."""
    kept = sim.ctx.exchanges[key].trades[venue_symbol]
    trades = list(kept)
    if not trades or (len(trades) == kept.maxlen and trades[0].ts_ns // NS >= open_s):
        return None
    win = [t for t in trades if open_s <= t.ts_ns // NS < open_s + step_s]
    if not win:
        return None
    prices = [t.price for t in win]
    return sum((t.qty for t in win), Decimal(0)), prices[0], max(prices), min(prices), prices[-1]


def assert_window_rules(ks: list[Kline]) -> None:
    """KlineFeed's rules as a subscriber sees them: open windows never go back, a window closed once, nothing
    about a window after its closed candle (a closed candle may complete an older window, once)."""
    opens = [k.open_ns for k in ks if not k.closed]
    assert opens == sorted(opens)
    closed = [k.open_ns for k in ks if k.closed]
    assert len(closed) == len(set(closed))
    for i, k in enumerate(ks):
        if k.closed:
            assert all(x.open_ns != k.open_ns for x in ks[i + 1:])


__all__ = ["Klines", "assert_window_rules", "traded"]
