"""What the analytics queries return: frozen msgspec Structs (``msgspec.json.encode`` gives the CLI's ``--json``).

Prices, spreads and latencies are floats (analytics may use floats); money booked by the strategy (cash, fees,
funding, PnL) stays ``Decimal`` as recorded, encoded as decimal strings. Times are timezone-aware UTC datetimes.
Definitions of every figure: specs/analytics.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of one series of 1-minute values (bps). Percentiles interpolate linearly between order statistics
    (PostgreSQL's percentile_cont, numpy's default). ``above_s``: seconds (whole minutes) whose |value| >= the
    threshold; ``above_frac`` = above_s / (n * 60)."""

    n: int
    mean: float | None
    p5: float | None
    p50: float | None
    p95: float | None
    min: float | None
    max: float | None
    above_s: int
    above_frac: float


class Point(msgspec.Struct, frozen=True, array_like=True, gc=False):
    t: datetime
    v: float


class MarketQuotes(msgspec.Struct, frozen=True, kw_only=True):
    """One venue market of the symbol over the window: book tickers seen, mean mid, mean quoted bid-ask spread."""

    market: str  # "<venue>.<market>", e.g. "mexc.spot"
    ticks: int
    minutes: int
    mean_mid: float | None
    mean_quoted_bps: float | None


class SpreadPair(msgspec.Struct, frozen=True, kw_only=True):
    """``value = (mid_b - mid_a) / mid_a * 1e4`` per minute; ``kind`` "basis" when a is spot and b futures, else
    "spread" (two venues, the same market type)."""

    kind: str
    a: str
    b: str
    stats: Stats
    series: list[Point]


class SpreadReport(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    start: datetime
    end: datetime
    bucket_s: int
    threshold_bps: float
    markets: list[MarketQuotes]
    pairs: list[SpreadPair]


class OpportunityRow(msgspec.Struct, frozen=True, kw_only=True):
    time: datetime
    task: str
    buy: str
    sell: str
    qty: Decimal
    buy_vwap: float
    sell_vwap: float
    spread_bps: float
    fees_bps: float
    funding_bps: float
    net_bps: float  # the edge: spread - fees + funding, as the strategy priced it
    net_quote: float
    taken: bool
    reason: str


class OpportunityGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Per task and direction: rows seen with spread >= min, how many were taken, and their edge."""

    task: str
    buy: str
    sell: str
    seen: int
    taken: int
    mean_spread_bps: float
    max_spread_bps: float
    mean_net_bps: float
    taken_mean_net_bps: float | None
    taken_net_quote: float  # sum of net_quote over the taken rows: the edge the strategy expected to book


class OpportunityReport(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str | None
    tasks: list[str]
    start: datetime
    end: datetime
    min_spread_bps: float
    seen: int
    taken: int
    groups: list[OpportunityGroup]
    rows: list[OpportunityRow]  # most recent first, at most `limit`


class CycleRow(msgspec.Struct, frozen=True, kw_only=True):
    task: str
    cycle: int
    opened: datetime
    closed: datetime
    buy: str
    sell: str
    qty: Decimal
    entry_spread_bps: float
    expected_net_bps: float
    cash: Decimal
    fees_quote: Decimal
    fees: dict[str, Decimal]
    funding: Decimal
    residual_value: Decimal
    pnl: Decimal
    cum_pnl: Decimal
    max_unhedged: Decimal
    max_unhedged_ns: int
    reason: str


class PerformanceReport(msgspec.Struct, frozen=True, kw_only=True):
    """Closed cycles in the window. pnl = cash - fees_quote + funding + residual_value (as the strategy booked it);
    fees in other assets are listed by asset and not valued."""

    symbol: str | None
    tasks: list[str]
    start: datetime
    end: datetime
    cycles: int
    wins: int
    losses: int
    win_rate: float | None  # wins / cycles; a cycle with pnl <= 0 is not a win
    cash: Decimal
    fees_quote: Decimal
    fees: dict[str, Decimal]
    funding: Decimal
    residual_value: Decimal
    pnl: Decimal
    max_drawdown: Decimal  # max over closes of (running peak of cum_pnl, from 0) - cum_pnl
    max_drawdown_at: datetime | None
    max_unhedged: Decimal  # base asset, worst over the cycles
    max_unhedged_ns: int  # longest time a cycle spent unhedged
    rows: list[CycleRow]


class FundingSettlement(msgspec.Struct, frozen=True, kw_only=True):
    """The rate last published for one funding time (``next_funding_ns`` of the venue's ticker)."""

    funding_time: datetime
    rate: float
    interval_s: int
    annualised: float | None  # rate * 365 * 86400 / interval_s
    last_seen: datetime


class FundingVenue(msgspec.Struct, frozen=True, kw_only=True):
    market: str
    interval_s: int  # the latest interval
    current_rate: float | None
    next_funding: datetime | None
    settlements: list[FundingSettlement]  # by funding time, oldest first


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's record of a settlement on one of our positions (``funding_payments``): quote, + received, - paid."""

    time: datetime  # the settlement
    market: str
    account: str
    amount: Decimal
    rate: float  # the applied rate, 0 when the gateway could not tell it


class FundingReport(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    start: datetime
    end: datetime
    venues: list[FundingVenue]
    payments: list[FundingPayment] = []  # what our accounts were paid or charged in the window, by time
    paid: Decimal = Decimal(0)  # their sum (quote): + received, - paid


class Percentiles(msgspec.Struct, frozen=True, array_like=True, gc=False):
    p50: float | None
    p95: float | None
    p99: float | None


class FeedReport(msgspec.Struct, frozen=True, kw_only=True):
    """One venue market over the window. Latencies in milliseconds from the book tickers' stamps:
    exchange->publish = ts_pub - ts_event, publish->record = ts_rec - ts_pub, exchange->record = ts_rec - ts_event."""

    market: str
    symbols: int
    ticks: int
    exchange_to_publish_ms: Percentiles
    publish_to_record_ms: Percentiles
    exchange_to_record_ms: Percentiles
    silent_minutes: int  # minutes between a symbol's first and last tick of the window with no tick
    gaps: int  # book status: sequence gaps
    resyncs: int  # book status: back to ok after a resync
    disconnects: int  # status reason "disconnected" (each is followed by a reconnect attempt)
    stale: dict[str, int]  # every stale/resyncing status by reason


class FeedsReport(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    end: datetime
    symbol: str | None
    feeds: list[FeedReport]
    not_recorded: list[str]
