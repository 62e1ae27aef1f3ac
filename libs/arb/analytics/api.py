"""``AnalyticsAPI``: the recorder's database, read (specs/analytics.md has every definition).

One asyncpg pool; every query is a constant SQL string with bind parameters; every call is bounded by
``command_timeout``. Market-data series read the 1-minute rollups (``bbo_1m``, ``funding_1m``), which are tables
on plain PostgreSQL and continuous aggregates on TimescaleDB with the same columns, and ``feeds`` the latency
histograms the recorder keeps per minute in both modes (``feed_latency_1m``, arb.core.latency).
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Self

import asyncpg
import msgspec

from ..config.checks import redact_url
from ..core import latency
from ..core.errors import StorageError, SymbolError
from .results import (
    CycleRow,
    FeedReport,
    FeedsReport,
    FundingPayment,
    FundingReport,
    FundingSettlement,
    FundingVenue,
    MarketQuotes,
    OpportunityGroup,
    OpportunityReport,
    OpportunityRow,
    Percentiles,
    PerformanceReport,
    Point,
    SpreadPair,
    SpreadReport,
    Stats,
)

BUCKET_S = 60
YEAR_S = 365 * 86400
_ZERO = Decimal(0)
_DEC_MAP = msgspec.json.Decoder(dict[str, Decimal])

NOT_RECORDED = [
    ("reconnects as such: a disconnect is recorded per symbol as a status (reason 'disconnected'), the reconnect "
    "itself and a watchdog's silent-socket reconnect (reason 'silent') are not told apart from a resync"),
    "latency of book snapshots, trades, funding and mark prices (only book tickers are used: one row per update)",
    "NATS delivery alone: publish->record includes the recorder's batching (fetch_timeout_s) and merge",
    "messages the gateway dropped before publishing (only its logs and metrics count them)",
]


class UnknownSymbol(SymbolError):
    pass


# ------------------------------------------------------------------------------------------------------ SQL
_SYMBOL_NAMES = "SELECT DISTINCT name FROM symbols ORDER BY name"

_BBO = """
SELECT e.venue, e.market, x.ticks, x.sum_mid, x.sum_spread, x.buckets, x.mids
FROM (SELECT b.exchange_id, sum(b.n)::bigint AS ticks, sum(b.sum_mid) AS sum_mid, sum(b.sum_spread_bps) AS sum_spread,
             array_agg(b.bucket ORDER BY b.bucket) AS buckets, array_agg(b.sum_mid / b.n ORDER BY b.bucket) AS mids
      FROM bbo_1m b
      WHERE (b.exchange_id, b.symbol_id) IN (SELECT exchange_id, id FROM symbols WHERE name = $1)
        AND b.bucket >= $2 AND b.bucket < $3 AND b.n > 0 AND b.sum_mid IS NOT NULL
      GROUP BY b.exchange_id) x
JOIN exchanges e ON e.id = x.exchange_id"""

_FUNDING = """
SELECT DISTINCT ON (s.exchange_id, f.last_next_funding_ns)
       e.venue, e.market, f.last_next_funding_ns, f.last_rate, f.interval_s, f.last_time
FROM symbols s
JOIN exchanges e ON e.id = s.exchange_id
JOIN funding_1m f ON f.exchange_id = s.exchange_id AND f.symbol_id = s.id
WHERE s.name = $1 AND f.bucket >= $2 AND f.bucket < $3
ORDER BY s.exchange_id, f.last_next_funding_ns, f.bucket DESC"""

_FUNDING_PAID = """
SELECT p.time, e.venue, e.market, p.account, p.amount, p.rate
FROM symbols s
JOIN exchanges e ON e.id = s.exchange_id
JOIN funding_payments p ON p.exchange_id = s.exchange_id AND p.symbol_id = s.id
WHERE s.name = $1 AND p.time >= $2 AND p.time < $3
ORDER BY p.time, e.venue, e.market, p.account"""

_TASKS_OF_SYMBOL = "SELECT DISTINCT task FROM strategy_commands WHERE command->>'symbol' = $1 ORDER BY task"

_CYCLES = """
SELECT task, cycle, opened, time, buy, sell, qty, entry_spread_bps, expected_net_bps, cash, fees::text AS fees,
       fees_quote, funding, residual_value, pnl, max_unhedged, max_unhedged_ns, reason
FROM cycles
WHERE task = ANY($1::text[]) AND time >= $2 AND time < $3
ORDER BY time, task, cycle"""

_OPP_WHERE = "time >= $1 AND time < $2 AND spread_bps >= $3 AND ($4::text[] IS NULL OR task = ANY($4::text[]))"
_OPP_GROUPS = f"""
SELECT task, buy, sell, count(*) AS seen, count(*) FILTER (WHERE taken) AS taken,
       avg(spread_bps) AS mean_spread, max(spread_bps) AS max_spread, avg(net_bps) AS mean_net,
       avg(net_bps) FILTER (WHERE taken) AS taken_net, coalesce(sum(net_quote) FILTER (WHERE taken), 0) AS taken_quote
FROM opportunities WHERE {_OPP_WHERE}
GROUP BY task, buy, sell ORDER BY task, buy, sell"""
_OPP_ROWS = f"""
SELECT time, task, buy, sell, qty, buy_vwap, sell_vwap, spread_bps, fees_bps, funding_bps, net_bps, net_quote,
       taken, reason
FROM opportunities WHERE {_OPP_WHERE}
ORDER BY time DESC LIMIT $5"""

# the window's latency histograms (feed_latency_1m, one per symbol and minute), concatenated per venue market and
# summed here (arb.core.latency): a day is about 1,440 short rows per market, whatever the tick rate. Grouped by
# exchange id before the names are joined (the join under the aggregate cost 2 of its 6 ms over a day)
_LAT = """
SELECT e.venue, e.market, x.ticks, x.x2p, x.p2r, x.x2r
FROM (SELECT l.exchange_id, sum(l.n)::bigint AS ticks, string_agg(l.x2p, ''::bytea) AS x2p,
             string_agg(l.p2r, ''::bytea) AS p2r, string_agg(l.x2r, ''::bytea) AS x2r
      FROM feed_latency_1m l
      WHERE l.bucket >= $1 AND l.bucket < $2
        AND ($3::text IS NULL OR (l.exchange_id, l.symbol_id) IN (SELECT exchange_id, id FROM symbols WHERE name = $3))
      GROUP BY l.exchange_id) x
JOIN exchanges e ON e.id = x.exchange_id"""

_SILENT = """
SELECT e.venue, e.market, count(*) AS symbols,
       sum((extract(epoch FROM x.last - x.first)::bigint / 60) + 1 - x.n)::bigint AS silent
FROM (SELECT b.exchange_id, b.symbol_id, min(b.bucket) AS first, max(b.bucket) AS last, count(*) AS n
      FROM bbo_1m b
      WHERE b.bucket >= $1 AND b.bucket < $2
        AND ($3::text IS NULL OR (b.exchange_id, b.symbol_id) IN (SELECT exchange_id, id FROM symbols WHERE name = $3))
      GROUP BY b.exchange_id, b.symbol_id) x
JOIN exchanges e ON e.id = x.exchange_id
GROUP BY e.venue, e.market"""

_STATUS = """
SELECT e.venue, e.market,
       count(*) FILTER (WHERE st.reason = 'sequence_gap') AS gaps,
       count(*) FILTER (WHERE st.state = 'ok' AND st.reason = 'synced' AND st.feed = 'book') AS resyncs,
       count(DISTINCT (st.symbol_id, st.time)) FILTER (WHERE st.reason = 'disconnected') AS disconnects
FROM symbols s
JOIN exchanges e ON e.id = s.exchange_id
JOIN book_status st ON st.exchange_id = s.exchange_id AND st.symbol_id = s.id
WHERE st.time >= $1 AND st.time < $2 AND ($3::text IS NULL OR s.name = $3)
GROUP BY e.venue, e.market"""

_STALE = """
SELECT e.venue, e.market, st.reason, count(*) AS n
FROM symbols s
JOIN exchanges e ON e.id = s.exchange_id
JOIN book_status st ON st.exchange_id = s.exchange_id AND st.symbol_id = s.id
WHERE st.time >= $1 AND st.time < $2 AND st.state <> 'ok' AND ($3::text IS NULL OR s.name = $3)
GROUP BY e.venue, e.market, st.reason"""


# ------------------------------------------------------------------------------------------------------ maths
def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (percentile_cont; numpy's default): rank = q * (n - 1)."""
    n = len(sorted_values)
    if n == 0:
        return None
    r = q * (n - 1)
    lo = math.floor(r)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (r - lo)


def stats(values: list[float], threshold: float, bucket_s: int = BUCKET_S) -> Stats:
    s = sorted(values)
    n = len(s)
    above = sum(1 for v in values if abs(v) >= threshold)
    return Stats(n=n, mean=(math.fsum(s) / n) if n else None, p5=percentile(s, 0.05), p50=percentile(s, 0.5),
                 p95=percentile(s, 0.95), min=s[0] if n else None, max=s[-1] if n else None,
                 above_s=above * bucket_s, above_frac=(above / n) if n else 0.0)


def drawdown(pnls: list[Decimal]) -> tuple[Decimal, int | None]:
    """Largest fall of the cumulative PnL from its running peak (the peak starts at 0), and the index it ends at."""
    cum = peak = worst = _ZERO
    at: int | None = None
    for i, p in enumerate(pnls):
        cum += p
        peak = max(peak, cum)
        if peak - cum > worst:
            worst, at = peak - cum, i
    return worst, at


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w`` (a bare number is seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    t = text.strip().lower()
    unit = t[-1] if t and t[-1] in units else "s"
    num = t[:-1] if t and t[-1] in units else t
    try:
        v = float(num)
    except ValueError:
        raise ValueError(f"{text!r}: expected a duration like 90s, 15m, 1h, 7d") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{text!r}: a duration must be > 0")
    return timedelta(seconds=v * units[unit])


def _key(venue: str, market: str) -> str:
    return f"{venue}.{market}"


def _order(key: str) -> tuple[bool, str]:
    """Spot markets first, then futures; by venue within each: a basis pair is always (spot, futures)."""
    return (key.endswith(".futures"), key)


def _ms(blob: bytes | None) -> Percentiles:
    """p50 / p95 / p99 in ms of a stored latency histogram (its values read back as their buckets' middles, within
    4.4 %), linear interpolation between closest ranks (percentile_cont's)."""
    return Percentiles(*(None if v is None else v / 1e6
                         for v in latency.percentiles(latency.counts(blob or b""), (0.5, 0.95, 0.99))))


def _utc(t: datetime | None) -> datetime:
    if t is None:
        return datetime.now(UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------------------ API
class AnalyticsAPI:
    """Read-only queries over the recorder's database. Use ``await AnalyticsAPI.connect(dsn)`` (or ``async with``)."""

    def __init__(self, pool: asyncpg.Pool, dsn: str = "", command_timeout: float = 10.0) -> None:
        self.pool = pool
        self.dsn = dsn
        self.timeout = command_timeout
        self._names: list[str] | None = None

    @classmethod
    async def connect(cls, dsn: str, *, timeout: float = 5.0, command_timeout: float = 10.0,
                      max_size: int = 4) -> AnalyticsAPI:
        """A pool on ``dsn``; StorageError (with the URL, password masked) when the database cannot be reached."""
        try:
            pool = await asyncio.wait_for(
                asyncpg.create_pool(dsn, min_size=1, max_size=max_size, timeout=timeout,
                                    command_timeout=command_timeout), timeout + 1.0)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise StorageError(f"database unreachable at {redact_url(dsn)}: {e or type(e).__name__}") from None
        return cls(pool, dsn, command_timeout)

    async def close(self) -> None:
        await asyncio.wait_for(self.pool.close(), self.timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await self.pool.fetch(sql, *args, timeout=self.timeout)
        except asyncpg.UndefinedTableError as e:
            raise StorageError(f"{redact_url(self.dsn)}: no recorder schema ({e}); `arb recorder` applies its "
                               "migrations at start") from None
        except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as e:
            raise StorageError(f"database unreachable at {redact_url(self.dsn)}: {e or type(e).__name__}") from None

    # ------------------------------------------------------------------------------------------ symbols
    async def symbols(self, refresh: bool = False) -> list[str]:
        """Every unified symbol the recorder has seen, on any venue market."""
        if self._names is None or refresh:
            self._names = [r["name"] for r in await self._fetch(_SYMBOL_NAMES)]
        return self._names

    async def resolve(self, text: str) -> str:
        """The unified name (``NEIRO-ETH``) of ``text`` in any spelling: unified, Gate's ``NEIRO_ETH``, ccxt's
        ``NEIRO/ETH``, MEXC's ``NEIROETH`` (matched against the recorded names with the separator removed)."""
        for refresh in (False, True):
            names = await self.symbols(refresh)
            found = match_symbol(text, names)
            if found:
                if len(found) > 1:
                    raise UnknownSymbol(f"ambiguous symbol {text}: it reads as {', '.join(found)}; "
                                        "write it with a separator (BASE-QUOTE)")
                return found[0]
        shown = ", ".join(names[:30]) + (f" (+{len(names) - 30} more)" if len(names) > 30 else "")
        raise UnknownSymbol(f"unknown symbol {text}; known: {shown or 'none (nothing recorded yet)'}")

    # ------------------------------------------------------------------------------------------ spread
    async def spread(self, symbol: str, timeframe: timedelta | str = "1h", *, threshold_bps: float = 10.0,
                     end: datetime | None = None) -> SpreadReport:
        """Cross-venue spreads and spot-perp basis of ``symbol`` over [end - timeframe, end), minute by minute."""
        name = await self.resolve(symbol)
        tf = parse_duration(timeframe) if isinstance(timeframe, str) else timeframe
        end = _utc(end)
        start = end - tf
        rows = await self._fetch(_BBO, name, start, end)
        by = {_key(r["venue"], r["market"]): r for r in rows}
        keys = sorted(by, key=_order)
        markets = [MarketQuotes(market=k, ticks=int(by[k]["ticks"]), minutes=len(by[k]["buckets"]),
                                mean_mid=by[k]["sum_mid"] / by[k]["ticks"],
                                mean_quoted_bps=(by[k]["sum_spread"] or 0.0) / by[k]["ticks"]) for k in keys]
        pairs = []
        for i, a in enumerate(keys):
            ta, ma = by[a]["buckets"], by[a]["mids"]
            for b in keys[i + 1:]:
                tb, mb = by[b]["buckets"], by[b]["mids"]
                if ta == tb:  # the usual case: both markets had a tick every minute
                    ts, va, vb = ta, ma, mb
                else:
                    other = dict(zip(tb, mb, strict=True))
                    both = [(t, x, other[t]) for t, x in zip(ta, ma, strict=True) if t in other]
                    ts, va, vb = [x[0] for x in both], [x[1] for x in both], [x[2] for x in both]
                series = [Point(t, (y - x) / x * 1e4) for t, x, y in zip(ts, va, vb, strict=True) if x > 0]
                kind = "basis" if a.endswith(".spot") and b.endswith(".futures") else "spread"
                pairs.append(SpreadPair(kind=kind, a=a, b=b, stats=stats([p.v for p in series], threshold_bps),
                                        series=series))
        return SpreadReport(symbol=name, start=start, end=end, bucket_s=BUCKET_S, threshold_bps=threshold_bps,
                            markets=markets, pairs=pairs)

    # ------------------------------------------------------------------------------------------ opportunities
    async def _tasks(self, symbol: str | None, task: str | None) -> tuple[str | None, list[str] | None]:
        """(unified symbol, its tasks) — a task's symbol is read from the commands it sent (the schema keys
        strategy rows by task only)."""
        if task:
            return (await self.resolve(symbol) if symbol else None), [task]
        if not symbol:
            return None, None
        name = await self.resolve(symbol)
        return name, [r["task"] for r in await self._fetch(_TASKS_OF_SYMBOL, name)]

    async def opportunities(self, min_spread_bps: float = 0.0, *, symbol: str | None = None, task: str | None = None,
                            timeframe: timedelta | str = "1d", end: datetime | None = None,
                            limit: int = 50) -> OpportunityReport:
        """Opportunities recorded with ``spread_bps >= min_spread_bps`` in [end - timeframe, end): per task and
        direction how many were seen and taken and their edge, and the latest ``limit`` rows."""
        name, tasks = await self._tasks(symbol, task)
        tf = parse_duration(timeframe) if isinstance(timeframe, str) else timeframe
        end = _utc(end)
        start = end - tf
        if tasks == []:
            groups, rows = [], []
        else:
            groups, rows = await asyncio.gather(  # two pool connections: one scan each, side by side
                self._fetch(_OPP_GROUPS, start, end, float(min_spread_bps), tasks),
                self._fetch(_OPP_ROWS, start, end, float(min_spread_bps), tasks, int(limit)))
        g = [OpportunityGroup(task=r["task"], buy=r["buy"], sell=r["sell"], seen=r["seen"], taken=r["taken"],
                              mean_spread_bps=r["mean_spread"], max_spread_bps=r["max_spread"],
                              mean_net_bps=r["mean_net"], taken_mean_net_bps=r["taken_net"],
                              taken_net_quote=r["taken_quote"]) for r in groups]
        return OpportunityReport(
            symbol=name, tasks=tasks or sorted({x.task for x in g}), start=start, end=end,
            min_spread_bps=float(min_spread_bps), seen=sum(x.seen for x in g), taken=sum(x.taken for x in g),
            groups=g, rows=[OpportunityRow(**dict(r)) for r in rows])

    # ------------------------------------------------------------------------------------------ performance
    async def performance(self, symbol: str | None = None, days: float = 7.0, *, task: str | None = None,
                          end: datetime | None = None) -> PerformanceReport:
        """Cycles closed in [end - days, end) by the tasks trading ``symbol`` (or ``task``): PnL itemised."""
        if not symbol and not task:
            raise ValueError("performance: give a symbol or a task")
        name, tasks = await self._tasks(symbol, task)
        end = _utc(end)
        start = end - timedelta(days=days)
        recs = await self._fetch(_CYCLES, tasks, start, end) if tasks else []
        rows: list[CycleRow] = []
        cum = _ZERO
        fees: dict[str, Decimal] = defaultdict(Decimal)
        for r in recs:
            cum += r["pnl"]
            f = _DEC_MAP.decode(r["fees"])
            for asset, amount in f.items():
                fees[asset] += amount
            rows.append(CycleRow(task=r["task"], cycle=r["cycle"], opened=r["opened"], closed=r["time"], buy=r["buy"],
                                 sell=r["sell"], qty=r["qty"], entry_spread_bps=r["entry_spread_bps"],
                                 expected_net_bps=r["expected_net_bps"], cash=r["cash"], fees_quote=r["fees_quote"],
                                 fees=f, funding=r["funding"], residual_value=r["residual_value"], pnl=r["pnl"],
                                 cum_pnl=cum, max_unhedged=r["max_unhedged"], max_unhedged_ns=r["max_unhedged_ns"],
                                 reason=r["reason"]))
        n = len(rows)
        wins = sum(1 for c in rows if c.pnl > 0)
        dd, at = drawdown([c.pnl for c in rows])
        return PerformanceReport(
            symbol=name, tasks=tasks or [], start=start, end=end, cycles=n, wins=wins, losses=n - wins,
            win_rate=(wins / n) if n else None, cash=sum((c.cash for c in rows), _ZERO),
            fees_quote=sum((c.fees_quote for c in rows), _ZERO), fees=dict(sorted(fees.items())),
            funding=sum((c.funding for c in rows), _ZERO), residual_value=sum((c.residual_value for c in rows), _ZERO),
            pnl=cum, max_drawdown=dd, max_drawdown_at=rows[at].closed if at is not None else None,
            max_unhedged=max((c.max_unhedged for c in rows), default=_ZERO),
            max_unhedged_ns=max((c.max_unhedged_ns for c in rows), default=0), rows=rows)

    # ------------------------------------------------------------------------------------------ funding
    async def funding(self, symbol: str, days: float = 7.0, *, end: datetime | None = None) -> FundingReport:
        """Per venue market, the rate last published for each funding time in [end - days, end), with the
        interval; the current rate is the last one seen. With them, the settlements the venues booked on our accounts
        in the window (``funding_payments``) and their sum."""
        name = await self.resolve(symbol)
        end = _utc(end)
        start = end - timedelta(days=days)
        by: dict[str, list[FundingSettlement]] = defaultdict(list)
        for r in await self._fetch(_FUNDING, name, start, end):
            iv = int(r["interval_s"] or 0)
            by[_key(r["venue"], r["market"])].append(FundingSettlement(
                funding_time=datetime.fromtimestamp(r["last_next_funding_ns"] / 1e9, UTC), rate=r["last_rate"],
                interval_s=iv, annualised=r["last_rate"] * YEAR_S / iv if iv else None, last_seen=r["last_time"]))
        venues = []
        for k in sorted(by, key=_order):
            s = by[k]
            cur = max(s, key=lambda x: x.last_seen)
            venues.append(FundingVenue(market=k, interval_s=cur.interval_s, current_rate=cur.rate,
                                       next_funding=cur.funding_time, settlements=s))
        payments = [FundingPayment(time=r["time"], market=_key(r["venue"], r["market"]), account=r["account"],
                                   amount=r["amount"], rate=r["rate"])
                    for r in await self._fetch(_FUNDING_PAID, name, start, end)]
        return FundingReport(symbol=name, start=start, end=end, venues=venues, payments=payments,
                             paid=sum((p.amount for p in payments), _ZERO))

    # ------------------------------------------------------------------------------------------ feeds
    async def feeds(self, window: timedelta | str = "1h", *, symbol: str | None = None,
                    end: datetime | None = None) -> FeedsReport:
        """Per venue market over [end - window, end): book-ticker latency percentiles and silent minutes from the
        1-minute rollups (minutes whose start is in the window), gaps, resyncs and disconnects from the book status
        events."""
        name = await self.resolve(symbol) if symbol else None
        w = parse_duration(window) if isinstance(window, str) else window
        end = _utc(end)
        start = end - w
        lat, silent, status, stale = await asyncio.gather(
            self._fetch(_LAT, start, end, name), self._fetch(_SILENT, start, end, name),
            self._fetch(_STATUS, start, end, name), self._fetch(_STALE, start, end, name))
        by_lat = {_key(r["venue"], r["market"]): r for r in lat}
        by_silent = {_key(r["venue"], r["market"]): r for r in silent}
        by_status = {_key(r["venue"], r["market"]): r for r in status}
        by_stale: dict[str, dict[str, int]] = defaultdict(dict)
        for r in stale:
            by_stale[_key(r["venue"], r["market"])][r["reason"]] = r["n"]
        keys = set(by_lat) | set(by_status) | set(by_stale)
        feeds = []
        for k in sorted(keys, key=_order):
            lr, sr, si = by_lat.get(k), by_status.get(k), by_silent.get(k)
            feeds.append(FeedReport(
                market=k, symbols=si["symbols"] if si else 0, ticks=int(lr["ticks"]) if lr else 0,
                exchange_to_publish_ms=_ms(lr and lr["x2p"]), publish_to_record_ms=_ms(lr and lr["p2r"]),
                exchange_to_record_ms=_ms(lr and lr["x2r"]),
                silent_minutes=int(si["silent"]) if si else 0, gaps=sr["gaps"] if sr else 0,
                resyncs=sr["resyncs"] if sr else 0, disconnects=sr["disconnects"] if sr else 0,
                stale=dict(sorted(by_stale.get(k, {}).items()))))
        return FeedsReport(start=start, end=end, symbol=name, feeds=feeds, not_recorded=NOT_RECORDED)


def match_symbol(text: str, names: list[str]) -> list[str]:
    """The recorded names ``text`` spells (several when a spelling with no separator is ambiguous)."""
    key = text.strip().upper()
    if not key:
        return []
    for sep in ("_", "/"):
        key = key.replace(sep, "-")
    if "-" in key:
        return [key] if key in names else []
    return [n for n in names if n.replace("-", "") == key]
