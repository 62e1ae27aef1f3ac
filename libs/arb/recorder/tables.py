"""Which bus message goes to which table, as which row, and the SQL that merges a staged batch.

Each ``Table`` names its staging columns (what the recorder COPYs: the message's fields as they come, ids
resolved, nanosecond stamps as bigints) and how each target column is computed from them (``time`` from the
ns stamp, jsonb from text). The merge is one statement per table::

    WITH ins AS (INSERT INTO t (...) SELECT ... FROM stage_t ON CONFLICT DO NOTHING RETURNING ...)
    [, rollup AS (INSERT INTO t_1m ... SELECT ... FROM ins GROUP BY ... ON CONFLICT ... DO UPDATE ...)]
    SELECT count(*) FROM ins

so a duplicate costs only its own row (never its batch), and in plain PostgreSQL mode the 1-minute rollup counts
exactly the rows that were new. SQL is built once, here, from this fixed list of identifiers; data only ever
travels as COPY records or bind parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..core import latency
from ..core.execution import Balance, Fill, OrderUpdate, Position
from ..core.margin import LiquidationWarning, Margin
from ..core.market_data import (
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    Kline,
    Liquidation,
    MarketStatus,
    MarkPrice,
    OpenInterest,
    Trade,
)
from ..core.strategy import (
    CycleReport,
    ExposureReport,
    FundingPaid,
    Opportunity,
    RebalanceNeed,
    SendCommand,
    Transition,
)

_json = msgspec.json.Encoder(decimal_format="string")

TS = (("ts_event", "bigint"), ("ts_recv", "bigint"), ("ts_pub", "bigint"))
EX_SYM = (("exchange_id", "smallint"), ("symbol_id", "integer"))


class Table:
    """One target table: staging columns, the target columns and their expressions, an optional rollup.

    ``direct``: every target column is a staging column as it is, plus ``time`` (from the ns stamp ``time_from``) and
    ``ts_rec``, so a batch can be COPYed straight into the table (``direct_columns``, rows made by ``direct_row``)."""

    __slots__ = ("columns", "direct", "direct_columns", "latency", "latency_at", "merge_plain", "merge_timescale", "name", "rollup",
                 "stage", "stage_ddl", "time_at", "time_from")

    def __init__(self, name: str, stage: tuple[tuple[str, str], ...], time_from: str,
                 casts: dict[str, tuple[str, str]] | None = None, rollup: Rollup | None = None,
                 extra: tuple[tuple[str, str], ...] = (), latency: bool = False) -> None:
        self.name = name
        self.latency = latency  # feed_latency_1m is kept from its rows (both modes): the merges return their stamps
        cols = tuple(c for c, _ in stage)
        self.latency_at = (cols.index("ts_event"), cols.index("ts_pub")) if latency else (0, 0)
        self.stage = "stage_" + name
        self.columns = tuple(c for c, _ in stage)
        self.time_from = time_from
        self.time_at = self.columns.index(time_from)
        self.rollup = rollup
        self.direct = not casts and not extra
        self.direct_columns = ("time", *self.columns, "ts_rec")
        casts = casts or {}
        self.stage_ddl = (f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} ("
                          + ", ".join(f"{c} {t}" for c, t in stage) + ") ON COMMIT DELETE ROWS")
        target = ["time", *(casts.get(c, (c, c))[0] for c in self.columns), *(c for c, _ in extra), "ts_rec"]
        exprs = [f"ns_to_ts({time_from})", *(casts.get(c, (c, c))[1] for c in self.columns), *(e for _, e in extra),
                 "$1::bigint"]
        insert = (f"INSERT INTO {name} ({', '.join(target)}) SELECT {', '.join(exprs)} FROM {self.stage} "
                  f"ON CONFLICT DO NOTHING")
        # a table with latency: the merges return the inserted rows' (exchange_id, symbol_id, ts_event, ts_pub), not
        # their count, for the writer to summarise exactly the rows that were new
        stamps = ("exchange_id", "symbol_id", "ts_event", "ts_pub") if latency else ()
        out = f"SELECT {', '.join(stamps)} FROM ins" if latency else "SELECT count(*) FROM ins"
        self.merge_timescale = f"WITH ins AS ({insert} RETURNING {', '.join(stamps) or '1'}) {out}"
        if rollup:
            returning = rollup.returning.split(", ")
            returning += [c for c in stamps if c not in returning]
            self.merge_plain = (f"WITH ins AS ({insert} RETURNING {', '.join(returning)}), rollup AS ({rollup.sql}) "
                                f"{out}")
        else:
            self.merge_plain = self.merge_timescale

    def direct_row(self, record: tuple, ts_rec: int) -> tuple:
        """The target row of a staging record: ``time`` as the ``(microseconds since 2000-01-01,)`` tuple the
        writer's timestamptz codec sends (the microsecond ``ns_to_ts`` gives), the record, ``ts_rec``."""
        return ((_us(record[self.time_at]) - PG_EPOCH_US,), *record, ts_rec)


PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix microseconds


def _last(col: str) -> str:
    return f"(array_agg({col} ORDER BY time DESC))[1]"


def _keep_last(*cols: str) -> str:
    return ", ".join(f"{c} = CASE WHEN excluded.last_time >= r.last_time THEN excluded.{c} ELSE r.{c} END"
                     for c in (*cols, "last_time"))


_MID = "(bid_px + ask_px) / 2"
_SPREAD = "CASE WHEN bid_px + ask_px > 0 THEN (ask_px - bid_px) / (bid_px + ask_px) * 2e4 ELSE 0 END"

# A rollup is written two ways, with one conflict clause (how a minute already there absorbs new rows):
# * staging path: aggregated in SQL from the rows the merge really inserted (``FROM ins``, RETURNING);
# * direct path (the whole batch went in by COPY, so every row is new): pre-aggregated here per minute and upserted
#   as a few rows (``upsert``). Buckets are UTC minutes in both (the writer's session runs with TimeZone UTC).
_BBO_INTO = ("INSERT INTO bbo_1m AS r (exchange_id, symbol_id, bucket, n, sum_mid, sum_spread_bps, min_mid, max_mid, "
             "last_bid, last_ask, last_time) ")
_BBO_ON = ("ON CONFLICT (exchange_id, symbol_id, bucket) DO UPDATE SET n = r.n + excluded.n, "
           "sum_mid = r.sum_mid + excluded.sum_mid, sum_spread_bps = r.sum_spread_bps + excluded.sum_spread_bps, "
           "min_mid = LEAST(r.min_mid, excluded.min_mid), max_mid = GREATEST(r.max_mid, excluded.max_mid), "
           + _keep_last("last_bid", "last_ask"))
BBO_ROLLUP = (
    _BBO_INTO
    + f"SELECT exchange_id, symbol_id, date_trunc('minute', time), count(*), sum({_MID}), sum({_SPREAD}), "
    f"min({_MID}), max({_MID}), {_last('bid_px')}, {_last('ask_px')}, max(time) "
    "FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 " + _BBO_ON)
_FUNDING_INTO = ("INSERT INTO funding_1m AS r (exchange_id, symbol_id, bucket, n, sum_rate, last_rate, "
                 "last_next_funding_ns, interval_s, last_time) ")
_FUNDING_ON = ("ON CONFLICT (exchange_id, symbol_id, bucket) DO UPDATE SET n = r.n + excluded.n, "
               "sum_rate = r.sum_rate + excluded.sum_rate, interval_s = GREATEST(r.interval_s, excluded.interval_s), "
               + _keep_last("last_rate", "last_next_funding_ns"))
FUNDING_ROLLUP = (
    _FUNDING_INTO
    + f"SELECT exchange_id, symbol_id, date_trunc('minute', time), count(*), sum(rate), {_last('rate')}, "
    f"{_last('next_funding_ns')}, max(interval_s), max(time) "
    "FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 " + _FUNDING_ON)
_PRICES_INTO = "INSERT INTO prices_1m AS r (exchange_id, symbol_id, kind, bucket, n, sum_price, last_price, last_time) "
_PRICES_ON = ("ON CONFLICT (exchange_id, symbol_id, kind, bucket) DO UPDATE SET n = r.n + excluded.n, "
              "sum_price = r.sum_price + excluded.sum_price, " + _keep_last("last_price"))
PRICES_ROLLUP = (
    _PRICES_INTO
    + f"SELECT exchange_id, symbol_id, kind, date_trunc('minute', time), count(*), sum(price), {_last('price')}, "
    "max(time) FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 " + _PRICES_ON)

_MINUTE_NS = 60_000_000_000


def _us(ns: int) -> int:
    """``ns_to_ts``'s microsecond: ns / 1000 truncated toward zero (PostgreSQL's bigint division)."""
    return ns // 1000 if ns >= 0 else -(-ns // 1000)


def _minute_ns(ns: int) -> int:
    """``date_trunc('minute', ns_to_ts(ns))`` in UTC, as ns."""
    return _us(ns) // 60_000_000 * _MINUTE_NS


def _agg_bbo(records: list[tuple]) -> list[tuple]:
    """Per (exchange, symbol, minute): n, sum of mids, sum of spreads (bps), min/max mid, the last bid/ask (the latest
    microsecond; the later record on a tie) and its time. Column-wise (comprehensions, one dict pass for the groups):
    0.64 -> 0.4 us per row measured here (one group), same figures as the row-wise ``_agg_bbo_rows``. Not
    ``zip(*records)``: its 1,000 iterators made it 7 % of the recorder's CPU end to end (py-spy)."""
    if not records:
        return []
    exs, syms = [r[0] for r in records], [r[1] for r in records]
    bids, asks, tevs = [r[2] for r in records], [r[4] for r in records], [r[7] for r in records]
    if min(tevs) < 0:
        return _agg_bbo_rows(records)  # ns_to_ts truncates toward zero before 1970: the row-wise path has it
    mids = [(b + a) / 2 for b, a in zip(bids, asks, strict=True)]
    spreads = [(a - b) / (b + a) * 2e4 if b + a > 0 else 0.0 for b, a in zip(bids, asks, strict=True)]
    us = [t // 1000 for t in tevs]
    groups: dict[tuple, list[int]] = {}
    first = min(us) // 60_000_000
    if first == max(us) // 60_000_000 and len(set(exs)) == 1 and len(set(syms)) == 1:
        groups[(exs[0], syms[0], first)] = list(range(len(us)))  # one symbol's minute: no grouping pass
    else:
        for i, k in enumerate(zip(exs, syms, [t // 60_000_000 for t in us], strict=True)):
            g = groups.get(k)
            if g is None:
                groups[k] = [i]
            else:
                g.append(i)
    out = []
    whole = len(groups) == 1
    for (e, sy, m), idx in groups.items():
        if whole:
            gm, gs, gu = mids, spreads, us
        else:
            gm, gs, gu = [mids[i] for i in idx], [spreads[i] for i in idx], [us[i] for i in idx]
        j = max(range(len(gu) - 1, -1, -1), key=gu.__getitem__)  # the last of the latest
        last = idx[j]
        out.append((e, sy, m * _MINUTE_NS, len(idx), sum(gm), sum(gs), min(gm), max(gm), bids[last], asks[last],
                    gu[j] * 1000))
    return out


def _agg_bbo_rows(records: list[tuple]) -> list[tuple]:
    # record: exchange_id, symbol_id, bid_px, bid_sz, ask_px, ask_sz, seq, ts_event, ...
    g: dict[tuple, list] = {}
    for r in records:
        bid, ask, t = r[2], r[4], _us(r[7])
        mid = (bid + ask) / 2
        spread = (ask - bid) / (bid + ask) * 2e4 if bid + ask > 0 else 0.0
        k = (r[0], r[1], t // 60_000_000)
        a = g.get(k)
        if a is None:
            g[k] = [1, mid, spread, mid, mid, bid, ask, t]
        else:
            a[0] += 1
            a[1] += mid
            a[2] += spread
            a[3] = min(a[3], mid)
            a[4] = max(a[4], mid)
            if t >= a[7]:
                a[5], a[6], a[7] = bid, ask, t
    return [(e, s, m * _MINUTE_NS, *a[:7], a[7] * 1000) for (e, s, m), a in g.items()]


def _agg_funding(records: list[tuple]) -> list[tuple]:
    # record: exchange_id, symbol_id, rate, next_funding_ns, interval_s, ts_event, ...
    g: dict[tuple, list] = {}
    for r in records:
        rate, t = r[2], _us(r[5])
        k = (r[0], r[1], t // 60_000_000)
        a = g.get(k)
        if a is None:
            g[k] = [1, rate, rate, r[3], r[4], t]
        else:
            a[0] += 1
            a[1] += rate
            a[4] = max(a[4], r[4])
            if t >= a[5]:
                a[2], a[3], a[5] = rate, r[3], t
    return [(e, s, m * _MINUTE_NS, *a[:5], a[5] * 1000) for (e, s, m), a in g.items()]


def _agg_prices(records: list[tuple]) -> list[tuple]:
    # record: exchange_id, symbol_id, kind, price, ts_event, ...
    g: dict[tuple, list] = {}
    for r in records:
        price, t = r[3], _us(r[4])
        k = (r[0], r[1], r[2], t // 60_000_000)
        a = g.get(k)
        if a is None:
            g[k] = [1, price, price, t]
        else:
            a[0] += 1
            a[1] += price
            if t >= a[3]:
                a[2], a[3] = price, t
    return [(e, s, kind, m * _MINUTE_NS, a[0], a[1], a[2], a[3] * 1000) for (e, s, kind, m), a in g.items()]


class Rollup:
    """A plain-PostgreSQL 1-minute rollup: the SQL aggregating ``ins`` (staging path), and ``aggregate`` + ``upsert``
    (direct path: groups made here from the batch's records, one upsert row per minute, bucket and last time as ns)."""

    __slots__ = ("aggregate", "returning", "sql", "upsert", "with_latency")

    def __init__(self, sql: str, returning: str, aggregate: Callable[[list[tuple]], list[tuple]], into: str,
                 values: str, on: str) -> None:
        self.sql = sql
        self.returning = returning
        self.aggregate = aggregate
        self.upsert = into + "VALUES (" + values + ") " + on
        # this rollup's row, then the latency histograms of the same (exchange, symbol, minute), in one statement
        # (one round trip a batch fewer on the direct path: 60.3 -> 62.6k rows/s, medians of 12 alternated runs)
        self.with_latency = latency.after(self.upsert, values.count("$") + 1)


BBO_1M = Rollup(BBO_ROLLUP, "exchange_id, symbol_id, time, bid_px, ask_px", _agg_bbo, _BBO_INTO,
                "$1, $2, ns_to_ts($3), $4, $5, $6, $7, $8, $9, $10, ns_to_ts($11)", _BBO_ON)
FUNDING_1M = Rollup(FUNDING_ROLLUP, "exchange_id, symbol_id, time, rate, next_funding_ns, interval_s", _agg_funding,
                    _FUNDING_INTO, "$1, $2, ns_to_ts($3), $4, $5, $6, $7, $8, ns_to_ts($9)", _FUNDING_ON)
PRICES_1M = Rollup(PRICES_ROLLUP, "exchange_id, symbol_id, kind, time, price", _agg_prices, _PRICES_INTO,
                   "$1, $2, $3, ns_to_ts($4), $5, $6, $7, ns_to_ts($8)", _PRICES_ON)

_JSONB = "jsonb"

BOOK_TICKERS = Table("book_tickers", (*EX_SYM, ("bid_px", "float8"), ("bid_sz", "float8"), ("ask_px", "float8"),
                                      ("ask_sz", "float8"), ("seq", "bigint"), *TS), "ts_event",
                     rollup=BBO_1M, latency=True)
BOOK_SNAPSHOTS = Table("book_snapshots", (*EX_SYM, ("state", "text"), ("seq", "bigint"), ("bid_px", "float8[]"),
                                          ("bid_sz", "float8[]"), ("ask_px", "float8[]"), ("ask_sz", "float8[]"),
                                          *TS), "ts_event")
TRADES = Table("trades", (*EX_SYM, ("price", "float8"), ("size", "float8"), ("side", "text"), ("trade_id", "text"),
                          *TS), "ts_event")
FUNDING_RATES = Table("funding_rates", (*EX_SYM, ("rate", "float8"), ("next_funding_ns", "bigint"),
                                        ("interval_s", "bigint"), *TS), "ts_event",
                      rollup=FUNDING_1M)
PRICES = Table("prices", (*EX_SYM, ("kind", "text"), ("price", "float8"), *TS), "ts_event",
               rollup=PRICES_1M)
BOOK_STATUS = Table("book_status", (*EX_SYM, ("feed", "text"), ("state", "text"), ("reason", "text"), *TS),
                    "ts_event")
OPEN_INTEREST = Table("open_interest", (*EX_SYM, ("size", "float8"), ("notional", "float8"), *TS), "ts_event")
LIQUIDATIONS = Table("liquidations", (*EX_SYM, ("price", "float8"), ("size", "float8"), ("side", "text"),
                                      ("source", "text"), *TS), "ts_event")
KLINES = Table("klines", (*EX_SYM, ("interval_name", "text"), ("open_ns", "bigint"), ("open", "float8"),
                          ("high", "float8"), ("low", "float8"), ("close", "float8"), ("volume", "float8"),
                          ("quote_volume", "float8"), ("closed", "boolean"), *TS), "ts_event")
ORDERS = Table("orders", (("exchange_id", "smallint"), ("account", "text"), ("symbol_id", "integer"),
                          ("client_order_id", "text"), ("venue_order_id", "text"), ("side", "text"),
                          ("order_type", "text"), ("tif", "text"), ("price", "numeric"), ("qty", "numeric"),
                          ("filled_qty", "numeric"), ("avg_price", "numeric"), ("status", "text"),
                          ("reduce_only", "boolean"), ("contracts", "numeric"), ("correction", "boolean"), *TS),
               "ts_event")
FILLS = Table("fills", (("exchange_id", "smallint"), ("account", "text"), ("symbol_id", "integer"),
                        ("client_order_id", "text"), ("venue_order_id", "text"), ("trade_id", "text"),
                        ("side", "text"), ("price", "numeric"), ("qty", "numeric"), ("fee", "numeric"),
                        ("fee_asset", "text"), ("is_maker", "boolean"), ("correction", "boolean"), *TS), "ts_event")
BALANCES = Table("balances", (("exchange_id", "smallint"), ("account", "text"), ("asset", "text"),
                              ("free", "numeric"), ("locked", "numeric"), ("correction", "boolean"), *TS), "ts_event")
POSITIONS = Table("positions", (("exchange_id", "smallint"), ("account", "text"), ("symbol_id", "integer"),
                                ("size", "numeric"), ("contracts", "numeric"), ("entry_price", "numeric"),
                                ("mark_price", "numeric"), ("leverage", "bigint"), ("margin", "numeric"),
                                ("unrealised_pnl", "numeric"), ("liq_price", "numeric"), ("correction", "boolean"),
                                *TS), "ts_event")
MARGIN_ACCOUNTS = Table("margin_accounts", (("exchange_id", "smallint"), ("account", "text"), ("asset", "text"),
                                            ("total", "numeric"), ("available", "numeric"),
                                            ("position_margin", "numeric"), ("order_margin", "numeric"),
                                            ("maintenance_margin", "numeric"), ("unrealised_pnl", "numeric"),
                                            ("positions", "bigint"), ("correction", "boolean"), *TS), "ts_event")
POSITION_MARGINS = Table("position_margins", (("exchange_id", "smallint"), ("account", "text"),
                                              ("symbol_id", "integer"), ("size", "numeric"), ("contracts", "numeric"),
                                              ("leverage", "bigint"), ("entry_price", "numeric"),
                                              ("mark_price", "numeric"), ("liq_price", "numeric"),
                                              ("margin", "numeric"), ("maintenance_rate", "numeric"),
                                              ("maintenance_margin", "numeric"), ("unrealised_pnl", "numeric"),
                                              ("distance", "numeric"), ("correction", "boolean"), *TS), "ts_event")
LIQUIDATION_WARNINGS = Table("liquidation_warnings", (("exchange_id", "smallint"), ("account", "text"),
                                                      ("symbol_id", "integer"), ("level", "text"), ("size", "numeric"),
                                                      ("mark_price", "numeric"), ("liq_price", "numeric"),
                                                      ("distance", "numeric"), ("threshold", "numeric"), *TS),
                             "ts_event")
FUNDING_PAYMENTS = Table("funding_payments", (("exchange_id", "smallint"), ("account", "text"),
                                              ("symbol_id", "integer"), ("amount", "numeric"), ("rate", "float8"),
                                              ("ts", "bigint")), "ts")
OPPORTUNITIES = Table("opportunities", (("task", "text"), ("buy", "text"), ("sell", "text"), ("qty", "numeric"),
                                        ("buy_vwap", "float8"), ("sell_vwap", "float8"), ("buy_limit", "float8"),
                                        ("sell_limit", "float8"), ("spread_bps", "float8"), ("fees_bps", "float8"),
                                        ("funding_bps", "float8"), ("net_bps", "float8"), ("net_quote", "float8"),
                                        ("taken", "boolean"), ("reason", "text"), ("ts", "bigint")), "ts")
TRANSITIONS = Table("strategy_transitions", (("task", "text"), ("cycle", "bigint"), ("old", "text"),
                                             ("new", "text"), ("reason", "text"), ("ts", "bigint")), "ts")
CYCLES = Table("cycles", (("task", "text"), ("cycle", "bigint"), ("buy", "text"), ("sell", "text"),
                          ("qty", "numeric"), ("entry_spread_bps", "float8"), ("expected_net_bps", "float8"),
                          ("cash", "numeric"), ("fees", "text"), ("fees_quote", "numeric"), ("funding", "numeric"),
                          ("realised", "numeric"), ("residual", "text"), ("residual_value", "numeric"),
                          ("pnl", "numeric"), ("max_unhedged", "numeric"), ("max_unhedged_ns", "bigint"),
                          ("orders", "bigint"), ("reason", "text"), ("fills_missing", "boolean"),
                          ("opened_ns", "bigint"), ("closed_ns", "bigint")), "closed_ns",
               casts={"fees": ("fees", "fees::jsonb"), "residual": ("residual", "residual::jsonb")},
               extra=(("opened", "ns_to_ts(opened_ns)"),))
COMMANDS = Table("strategy_commands", (("task", "text"), ("cycle", "bigint"), ("venue", "text"), ("account", "text"),
                                       ("verb", "text"), ("client_order_id", "text"), ("command", "text"),
                                       ("ts", "bigint")), "ts", casts={"command": ("command", "command::jsonb")})
EXPOSURES = Table("exposures", (("task", "text"), ("cycle", "bigint"), ("net", "numeric"), ("positions", "text"),
                                ("max_unhedged", "numeric"), ("max_unhedged_ns", "bigint"), ("ts", "bigint")), "ts",
                  casts={"positions": ("positions", "positions::jsonb")})
REBALANCES = Table("rebalance_needs", (("task", "text"), ("asset", "text"), ("market", "text"), ("have", "numeric"),
                                       ("need", "numeric"), ("source", "text"), ("within_venue", "boolean"),
                                       ("ts", "bigint")), "ts")

TABLES: tuple[Table, ...] = (BOOK_TICKERS, BOOK_SNAPSHOTS, TRADES, FUNDING_RATES, PRICES, BOOK_STATUS, OPEN_INTEREST,
                             LIQUIDATIONS, KLINES, ORDERS, FILLS, BALANCES, POSITIONS, MARGIN_ACCOUNTS,
                             POSITION_MARGINS, LIQUIDATION_WARNINGS, FUNDING_PAYMENTS, OPPORTUNITIES, TRANSITIONS,
                             CYCLES, COMMANDS, EXPOSURES, REBALANCES)

DEAD_LETTER_SQL = ("INSERT INTO dead_letters (stream, stream_seq, subject, data, reason) VALUES ($1, $2, $3, $4, $5) "
                   "ON CONFLICT (stream, stream_seq, subject) DO NOTHING")

# -------------------------------------------------------------------------------------------------------- rows
# A row builder takes the message and an id resolver (ids(venue, market, symbol) -> (exchange_id, symbol_id),
# ex(venue, market) -> exchange_id) and returns the staging tuple. Names needing an id are listed by ``needs``.

Ids = Callable[[Any, Any, str], tuple[int, int]]
Ex = Callable[[Any, Any], int]


def _v(x: Any) -> str:
    return x.value if hasattr(x, "value") else str(x)


def _bbo(m: BookTicker, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.bid_px, m.bid_sz, m.ask_px, m.ask_sz, m.seq, m.ts_event,
            m.ts_recv, m.ts_pub)


def _book(m: BookSnapshot, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), _v(m.state), m.seq, [lv.price for lv in m.bids],
            [lv.size for lv in m.bids], [lv.price for lv in m.asks], [lv.size for lv in m.asks], m.ts_event,
            m.ts_recv, m.ts_pub)


def _trade(m: Trade, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.price, m.size, _v(m.side), m.trade_id, m.ts_event, m.ts_recv,
            m.ts_pub)


def _funding(m: FundingRate, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.rate, m.next_funding_ns, m.interval_s, m.ts_event, m.ts_recv,
            m.ts_pub)


def _mark(m: MarkPrice, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), "mark", m.price, m.ts_event, m.ts_recv, m.ts_pub)


def _index(m: IndexPrice, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), "index", m.price, m.ts_event, m.ts_recv, m.ts_pub)


def _status(m: MarketStatus, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.feed, _v(m.state), m.reason, m.ts_event, m.ts_recv, m.ts_pub)


def _oi(m: OpenInterest, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.size, m.notional, m.ts_event, m.ts_recv, m.ts_pub)


def _liquidation(m: Liquidation, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.price, m.size, _v(m.side), m.source, m.ts_event, m.ts_recv,
            m.ts_pub)


def _kline(m: Kline, ids: Ids, ex: Ex) -> tuple:
    return (*ids(m.venue, m.market, m.symbol), m.interval, m.open_ns, m.open, m.high, m.low, m.close, m.volume,
            m.quote_volume, m.closed, m.ts_event, m.ts_recv, m.ts_pub)


def _order(m: OrderUpdate, ids: Ids, ex: Ex) -> tuple:
    o = m.order
    e, s = ids(o.venue, o.market, o.symbol)
    return (e, o.account, s, o.client_order_id, o.venue_order_id, _v(o.side), _v(o.order_type), _v(o.tif), o.price,
            o.qty, o.filled_qty, o.avg_price, _v(o.status), o.reduce_only, o.contracts, m.correction, o.ts_event,
            o.ts_recv, o.ts_pub)


def _fill(m: Fill, ids: Ids, ex: Ex) -> tuple:
    e, s = ids(m.venue, m.market, m.symbol)
    return (e, m.account, s, m.client_order_id, m.venue_order_id, m.trade_id, _v(m.side), m.price, m.qty, m.fee,
            m.fee_asset, m.is_maker, m.correction, m.ts_event, m.ts_recv, m.ts_pub)


def _balance(m: Balance, ids: Ids, ex: Ex) -> tuple:
    return (ex(m.venue, m.market), m.account, m.asset, m.free, m.locked, m.correction, m.ts_event, m.ts_recv, m.ts_pub)


def _position(m: Position, ids: Ids, ex: Ex) -> tuple:
    e, s = ids(m.venue, m.market, m.symbol)
    return (e, m.account, s, m.size, m.contracts, m.entry_price, m.mark_price, m.leverage, m.margin,
            m.unrealised_pnl, m.liq_price, m.correction, m.ts_event, m.ts_recv, m.ts_pub)


def _margin(m: Margin, ids: Ids, ex: Ex) -> tuple:
    return (ex(m.venue, m.market), m.account, m.asset, m.total, m.available, m.position_margin, m.order_margin,
            m.maintenance_margin, m.unrealised_pnl, len(m.positions), m.correction, m.ts_event, m.ts_recv, m.ts_pub)


def _position_margins(m: Margin, ids: Ids, ex: Ex) -> list[tuple]:
    """One row per open position of the Margin (``many``: a list of records)."""
    out = []
    for p in m.positions:
        e, s = ids(m.venue, m.market, p.symbol)
        out.append((e, m.account, s, p.size, p.contracts, p.leverage, p.entry_price, p.mark_price, p.liq_price,
                    p.margin, p.maintenance_rate, p.maintenance_margin, p.unrealised_pnl, p.distance, m.correction,
                    m.ts_event, m.ts_recv, m.ts_pub))
    return out


def _liq_warning(m: LiquidationWarning, ids: Ids, ex: Ex) -> tuple:
    e, s = ids(m.venue, m.market, m.symbol)
    return (e, m.account, s, _v(m.level), m.size, m.mark_price, m.liq_price, m.distance, m.threshold, m.ts_event,
            m.ts_recv, m.ts_pub)


def _funding_paid(m: FundingPaid, ids: Ids, ex: Ex, account: str) -> tuple:
    e, s = ids(m.venue, m.market, m.symbol)
    return (e, account, s, m.amount, m.rate, m.ts)


def evt_account(subject: str) -> str | None:
    """The account of an execution event's subject (``[<prefix>]ord.<venue>.<account>.evt.<kind>``), else None
    (e.g. the same message logged by the coordinator on ``strat.<task>.input``)."""
    t = subject.split(".")
    if len(t) >= 5 and t[-2] == "evt" and t[-5] == "ord":
        return t[-3]
    return None


def _opp(m: Opportunity, ids: Ids, ex: Ex) -> tuple:
    return (m.task, m.buy, m.sell, m.qty, m.buy_vwap, m.sell_vwap, m.buy_limit, m.sell_limit, m.spread_bps,
            m.fees_bps, m.funding_bps, m.net_bps, m.net_quote, m.taken, m.reason, m.ts)


def _transition(m: Transition, ids: Ids, ex: Ex) -> tuple:
    return (m.task, m.cycle, _v(m.old), _v(m.new), m.reason, m.ts)


def _cycle(m: CycleReport, ids: Ids, ex: Ex) -> tuple:
    return (m.task, m.cycle, m.buy, m.sell, m.qty, m.entry_spread_bps, m.expected_net_bps, m.cash,
            _json.encode(m.fees).decode(), m.fees_quote, m.funding, m.realised, _json.encode(m.residual).decode(),
            m.residual_value, m.pnl, m.max_unhedged, m.max_unhedged_ns, m.orders, m.reason, m.fills_missing,
            m.opened_ns, m.closed_ns)


def _command(m: SendCommand, ids: Ids, ex: Ex) -> tuple:
    c = m.command
    return (m.task, m.cycle, _v(m.venue), m.account, type(c).__struct_config__.tag,
            getattr(c, "client_order_id", ""), _json.encode(c).decode(), m.ts)


def _exposure(m: ExposureReport, ids: Ids, ex: Ex) -> tuple:
    return (m.task, m.cycle, m.net, _json.encode(m.positions).decode(), m.max_unhedged, m.max_unhedged_ns, m.ts)


def _rebalance(m: RebalanceNeed, ids: Ids, ex: Ex) -> tuple:
    return (m.task, m.asset, m.market, m.have, m.need, m.source, m.within_venue, m.ts)


# A route: (table, row builder, many). The builder returns the staging record, or with ``many`` a list of them (one
# message, several rows: a Margin's positions). A message type has one route per table it fills.
Route = tuple[Table, Callable[..., Any], bool]


def _one(table: Table, build: Callable[..., tuple]) -> tuple[Route, ...]:
    return ((table, build, False),)


# message type -> its routes
ROUTES: dict[type, tuple[Route, ...]] = {
    BookTicker: _one(BOOK_TICKERS, _bbo),
    BookSnapshot: _one(BOOK_SNAPSHOTS, _book),
    Trade: _one(TRADES, _trade),
    FundingRate: _one(FUNDING_RATES, _funding),
    MarkPrice: _one(PRICES, _mark),
    IndexPrice: _one(PRICES, _index),
    MarketStatus: _one(BOOK_STATUS, _status),
    OpenInterest: _one(OPEN_INTEREST, _oi),
    Liquidation: _one(LIQUIDATIONS, _liquidation),
    Kline: _one(KLINES, _kline),
    OrderUpdate: _one(ORDERS, _order),
    Fill: _one(FILLS, _fill),
    Balance: _one(BALANCES, _balance),
    Position: _one(POSITIONS, _position),
    Margin: ((MARGIN_ACCOUNTS, _margin, False), (POSITION_MARGINS, _position_margins, True)),
    LiquidationWarning: _one(LIQUIDATION_WARNINGS, _liq_warning),
    FundingPaid: _one(FUNDING_PAYMENTS, _funding_paid),  # + account=evt_account(subject): see ACCOUNT_FROM_SUBJECT
    Opportunity: _one(OPPORTUNITIES, _opp),
    Transition: _one(TRANSITIONS, _transition),
    CycleReport: _one(CYCLES, _cycle),
    SendCommand: _one(COMMANDS, _command),
    ExposureReport: _one(EXPOSURES, _exposure),
    RebalanceNeed: _one(REBALANCES, _rebalance),
}

# Types that carry no account: their builders take ``account=`` from the subject (``evt_account``); the same message
# on a subject naming none (the coordinator's copy on strat.<task>.input) has no row: skipped (the ORD one is stored).
ACCOUNT_FROM_SUBJECT: frozenset[type] = frozenset({FundingPaid})


def needs(m: Any) -> list[tuple[Any, Any, str | None]]:
    """The (venue, market, symbol or None) whose ids the rows of ``m`` need: none for strategy messages; the
    exchange and each position's symbol for a Margin."""
    o = m.order if type(m) is OrderUpdate else m
    venue = getattr(o, "venue", None)
    if venue is None or type(m) is SendCommand:
        return []
    if type(m) is Margin:
        return [(venue, m.market, None), *((venue, m.market, p.symbol) for p in m.positions)]
    return [(venue, o.market, getattr(o, "symbol", None))]


__all__ = [
    "ACCOUNT_FROM_SUBJECT",
    "DEAD_LETTER_SQL",
    "ROUTES",
    "TABLES",
    "Rollup",
    "Route",
    "Table",
    "evt_account",
    "needs",
]
