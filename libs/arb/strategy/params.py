"""What one strategy task trades and within which limits (a section of the coordinator's config).

A task names one unified symbol and the venue markets it may use (two or three of MEXC spot, Gate.io spot and the
Gate.io USDT perpetual), the base quantity of a cycle, its entry and exit thresholds and its risk limits. Every value
is validated here with a message naming the field, so a bad config fails at start-up, never mid-cycle.

Sizes are base-asset ``Decimal``s (exact); thresholds are basis points of notional (floats: they are compared with
a price ratio, never sent to a venue).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import msgspec

from ..core.enums import Market, Venue

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}
_TASK_RE = re.compile(r"^[A-Za-z0-9_]{1,12}$")
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class MarketSpec(msgspec.Struct, **_STRICT):
    """One venue market of a task and the account that trades it there."""

    venue: Venue
    market: Market
    account: str

    def __post_init__(self) -> None:
        if not _ACCOUNT_RE.match(self.account):
            raise ValueError(f"account: expected 1-32 of [A-Za-z0-9_-], got {self.account!r}")

    @property
    def key(self) -> str:
        """``gateio.futures``: how the strategy names a market in its state, outputs and logs."""
        return f"{self.venue.value}.{self.market.value}"


class TaskParams(msgspec.Struct, **_STRICT):
    """One task. Defaults are conservative; every limit applies per task."""

    task: str  # short id, part of every client order id: [A-Za-z0-9_]{1,12}
    symbol: str  # unified BASE-QUOTE, e.g. BTC-USDT
    markets: tuple[MarketSpec, ...]
    size: Decimal  # base quantity of one cycle (both legs carry it, rounded to the common grid)
    entry_bps: float = 20.0  # net edge (after fees, exit cost, slippage and funding) needed to enter
    exit_bps: float = 2.0  # exit when the spread that opened the cycle has converged below this (gross, bps)
    slippage_bps: float = 2.0  # allowance for the exit's slippage in the entry edge
    entry_slippage_bps: float = 2.0  # the lead's IOC may pay this beyond the worst level walked (counted in the edge)
    hedge_slippage_bps: float = 10.0  # a hedge may pay up to this much beyond the current best price
    funding_exit_bps: float = 5.0  # exit when the next funding costs the position at least this (bps of notional);
    # an entry whose position would already pay this much is refused (entry and exit read one rule)
    max_unhedged_s: float = 10.0  # a leg left unhedged longer than this (gateway unavailable, rate limited) is unwound
    max_hold_s: float = 8 * 3600.0  # exit a cycle held longer than this
    expected_hold_s: float = 3600.0  # horizon of the funding carry counted in the entry edge
    max_book_age_s: float = 5.0  # a book older than this is not tradable
    order_timeout_s: float = 10.0  # no answer for a sent order by then: ask the venue (QueryOrder)
    hedge_attempts: int = 3  # a rejected / expired hedge is re-sent this many times, then the lead is unwound
    unwind_attempts: int = 5  # unwinding that keeps failing leaves the task in ERROR with the exposure named
    exit_attempts: int = 20  # exit lead orders per cycle before the task halts with the position still open
    fill_wait_s: float = 30.0  # FINALIZING waits this long for fills that orders reported but the stream lacks
    exposure_tolerance: Decimal = Decimal(0)  # net base left unhedged; 0 = the coarsest base step of the markets
    max_notional: float = 10_000.0  # quote value of one cycle's entry
    max_position: Decimal = Decimal(0)  # |base| on any market; 0 = 2 x size
    max_daily_loss: float = 100.0  # quote; realised PnL today below -this halts the task
    max_open_cycles: int = 1  # cycles open at once; one task holds one (see specs/strategy.md, "Risk")
    max_cycles_per_day: int = 200  # against open/close churn that only pays fees
    cooldown_s: float = 5.0  # after a cycle closes, wait this long before the next entry
    perp_leverage: int = 3  # margin needed for a perpetual leg = notional / leverage
    inventory_band: float = 0.25  # inventory more than this fraction below what a cycle needs: propose a rebalance
    sample_every: int = 100  # report one in N opportunities seen (all taken ones are reported)

    def __post_init__(self) -> None:
        if not _TASK_RE.match(self.task):
            raise ValueError(f"task: expected 1-12 of [A-Za-z0-9_] (it is part of client order ids), got {self.task!r}")
        base, _, quote = self.symbol.partition("-")
        if not base or not quote:
            raise ValueError(f"symbol: expected unified BASE-QUOTE, got {self.symbol!r}")
        keys = [m.key for m in self.markets]
        if not 2 <= len(keys) <= 3 or len(set(keys)) != len(keys):
            raise ValueError(f"markets: expected two or three distinct venue markets, got {keys}")
        if self.size <= 0:
            raise ValueError(f"size: must be positive, got {self.size}")
        for name in ("entry_bps", "slippage_bps", "entry_slippage_bps", "hedge_slippage_bps", "funding_exit_bps",
                     "max_unhedged_s", "max_hold_s", "expected_hold_s",
                     "max_book_age_s", "order_timeout_s", "fill_wait_s", "max_notional", "max_daily_loss"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {v}")
        if self.exit_bps >= self.entry_bps:
            raise ValueError(f"exit_bps: must be below entry_bps ({self.entry_bps}), got {self.exit_bps}")
        for name in ("hedge_attempts", "unwind_attempts", "exit_attempts", "max_cycles_per_day", "perp_leverage",
                     "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_open_cycles != 1:
            raise ValueError(f"max_open_cycles: a task holds one cycle at a time; run another task for more, "
                             f"got {self.max_open_cycles}")
        if self.exposure_tolerance < 0 or self.max_position < 0:
            raise ValueError("exposure_tolerance, max_position: must be >= 0")
        if not 0 < self.inventory_band < 1:
            raise ValueError(f"inventory_band: must be in (0, 1), got {self.inventory_band}")

    @property
    def base(self) -> str:
        return self.symbol.partition("-")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("-")[2]

    @property
    def position_limit(self) -> Decimal:
        return self.max_position if self.max_position > 0 else 2 * self.size

    def spec(self, key: str) -> MarketSpec:
        for m in self.markets:
            if m.key == key:
                return m
        raise KeyError(f"{self.task}: no market {key!r} (has {[m.key for m in self.markets]})")


__all__ = ["MarketSpec", "TaskParams"]
