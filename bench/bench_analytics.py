"""Analytics figures: each query's latency over a day of one-second book tickers for one symbol on three venue markets.

A fresh database with the recorder's schema (its own migrations); generated data put in with COPY: 86,400 book
tickers on each of mexc.spot, gateio.spot and gateio.futures (259,200 rows) and their 1-minute rollups (bbo_1m built
with the recorder's definition in one INSERT ... SELECT, feed_latency_1m by the schema's own backfill function), a
funding update every 10 s on gateio.futures (8 h interval), a gap and a resync every hour, an opportunity every
10 s (one in 20 taken) and 300 closed cycles. Each query is timed through ``AnalyticsAPI`` (pool warm, the symbol
cache warm, as a long-lived caller sees it): median of 30 calls. The database is dropped after.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from arb.analytics import AnalyticsAPI
from arb.recorder import schema
from arb.testing.servers import create_database, drop_database, find_or_start_postgres

from bench.common import Row, check

DAY = 86_400
SEC = 10**9
END = datetime(2025, 6, 16, tzinfo=UTC)
START = END - timedelta(days=1)
S0 = int(START.timestamp()) * SEC
MARKETS = (("mexc", "spot", 0.0), ("gateio", "spot", 2.0), ("gateio", "futures", 8.0))  # basis in bps
TARGET = "<= 10"
CALLS = 30

_BBO_1M = """
INSERT INTO bbo_1m (exchange_id, symbol_id, bucket, n, sum_mid, sum_spread_bps, min_mid, max_mid, last_bid, last_ask,
                    last_time)
SELECT exchange_id, symbol_id, date_trunc('minute', time), count(*), sum((bid_px + ask_px) / 2),
       sum(CASE WHEN bid_px + ask_px > 0 THEN (ask_px - bid_px) / (bid_px + ask_px) * 2e4 ELSE 0 END),
       min((bid_px + ask_px) / 2), max((bid_px + ask_px) / 2), (array_agg(bid_px ORDER BY time DESC))[1],
       (array_agg(ask_px ORDER BY time DESC))[1], max(time)
FROM book_tickers GROUP BY 1, 2, 3"""
_FUNDING_1M = """
INSERT INTO funding_1m (exchange_id, symbol_id, bucket, n, sum_rate, last_rate, last_next_funding_ns, interval_s,
                        last_time)
SELECT exchange_id, symbol_id, date_trunc('minute', time), count(*), sum(rate), (array_agg(rate ORDER BY time DESC))[1],
       (array_agg(next_funding_ns ORDER BY time DESC))[1], max(interval_s), max(time)
FROM funding_rates GROUP BY 1, 2, 3"""


def _ts(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC)


async def _fill(conn: asyncpg.Connection) -> int:
    rnd = random.Random(14)
    ids = {}
    for venue, market, _ in MARKETS:
        ex = await conn.fetchval("SELECT id FROM exchanges WHERE venue = $1 AND market = $2", venue, market)
        ids[(venue, market)] = (ex, await conn.fetchval(
            "INSERT INTO symbols (exchange_id, name) VALUES ($1, 'NEIRO-ETH') RETURNING id", ex))
    rows = 0
    mid = 0.0001
    walk = []
    for _ in range(DAY):
        mid *= 1 + rnd.gauss(0, 2e-4)
        walk.append(mid)
    for venue, market, basis in MARKETS:
        ex, sym = ids[(venue, market)]
        recs = []
        for i, m in enumerate(walk):
            t = S0 + i * SEC + rnd.randrange(0, 900_000_000)
            px = m * (1 + (basis + rnd.gauss(0, 3)) / 1e4)
            half = px * 5e-4
            ts_recv = t + rnd.randrange(1_000_000, 30_000_000)
            recs.append((_ts(t), ex, sym, px - half, 1.0, px + half, 2.0, i, t, ts_recv, ts_recv + 50_000,
                         ts_recv + rnd.randrange(1_000_000, 200_000_000)))
        await conn.copy_records_to_table("book_tickers", records=recs, columns=(
            "time", "exchange_id", "symbol_id", "bid_px", "bid_sz", "ask_px", "ask_sz", "seq", "ts_event", "ts_recv",
            "ts_pub", "ts_rec"))
        rows += len(recs)
    await conn.execute(_BBO_1M)
    await conn.execute("SELECT feed_latency_backfill('-infinity', 'infinity')")  # the recorder's histograms
    ex, sym = ids[("gateio", "futures")]
    fr = []
    for i in range(0, DAY, 10):
        t = S0 + i * SEC
        nxt = S0 + (i // 28800 + 1) * 28800 * SEC
        fr.append((_ts(t), ex, sym, rnd.gauss(1e-4, 5e-5), nxt, 28800, t, t + 1, t + 2, t + 3))
    await conn.copy_records_to_table("funding_rates", records=fr, columns=(
        "time", "exchange_id", "symbol_id", "rate", "next_funding_ns", "interval_s", "ts_event", "ts_recv", "ts_pub",
        "ts_rec"))
    await conn.execute(_FUNDING_1M)
    ex, sym = ids[("mexc", "spot")]
    st = []
    for h in range(24):
        t = S0 + h * 3600 * SEC + 17 * SEC
        st += [(_ts(t), ex, sym, "book", "resyncing", "sequence_gap", t, t, t, t),
               (_ts(t + SEC), ex, sym, "book", "ok", "synced", t + SEC, t + SEC, t + SEC, t + SEC)]
    await conn.copy_records_to_table("book_status", records=st, columns=(
        "time", "exchange_id", "symbol_id", "feed", "state", "reason", "ts_event", "ts_recv", "ts_pub", "ts_rec"))
    opps = []
    for i in range(0, DAY, 10):
        t = S0 + i * SEC
        spread = abs(rnd.gauss(30, 20))
        opps.append((_ts(t), "neiro", "mexc.spot", "gateio.futures", Decimal(1000), 0.0001, 0.0001, 0.0001, 0.0001,
                     spread, 20.0, 1.0, spread - 19.0, (spread - 19.0) / 1e4 * 0.1, i % 200 == 0, "", t, t))
    await conn.copy_records_to_table("opportunities", records=opps, columns=(
        "time", "task", "buy", "sell", "qty", "buy_vwap", "sell_vwap", "buy_limit", "sell_limit", "spread_bps",
        "fees_bps", "funding_bps", "net_bps", "net_quote", "taken", "reason", "ts", "ts_rec"))
    cyc = []
    for n in range(300):
        t = S0 + n * 280 * SEC
        pnl = Decimal(rnd.randrange(-50, 90)) / 1000
        cyc.append((_ts(t + 60 * SEC), "neiro", n, "mexc.spot", "gateio.futures", Decimal(1000), _ts(t), 40.0, 20.0,
                    pnl + Decimal("0.02"), json.dumps({"USDT": "0.02"}), Decimal("0.02"), Decimal(0), pnl, "{}",
                    Decimal(0), pnl, Decimal(rnd.randrange(0, 1000)), rnd.randrange(0, 5 * SEC), 4, "converged",
                    False, t, t + 60 * SEC, t))
    await conn.copy_records_to_table("cycles", records=cyc, columns=(
        "time", "task", "cycle", "buy", "sell", "qty", "opened", "entry_spread_bps", "expected_net_bps", "cash",
        "fees", "fees_quote", "funding", "realised", "residual", "residual_value", "pnl", "max_unhedged",
        "max_unhedged_ns", "orders", "reason", "fills_missing", "opened_ns", "closed_ns", "ts_rec"))
    cmd = json.dumps({"type": "place", "client_order_id": "neiro-1", "symbol": "NEIRO-ETH", "market": "spot"})
    await conn.execute("INSERT INTO strategy_commands (time, task, cycle, venue, account, verb, client_order_id, "
                       "command, ts, ts_rec) VALUES ($1, 'neiro', 0, 'mexc', 'main', 'place', 'neiro-1', $2::jsonb, "
                       "$3, $3)", START, cmd, S0)
    await conn.execute("ANALYZE")
    return rows


async def _time(fn) -> float:
    await fn()  # warm: prepared statements, caches
    samples = []
    for _ in range(CALLS):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


async def _main(pg_url: str) -> list[Row]:
    name = f"bench_an_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(pg_url, name)
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await schema.apply(conn)
            rows = await _fill(conn)
        finally:
            await conn.close(timeout=10)
        api = await AnalyticsAPI.connect(dsn, command_timeout=30)
        try:
            queries = [
                ("spread NEIROETH 1h", lambda: api.spread("NEIROETH", "1h", end=END)),
                ("spread NEIROETH 1d", lambda: api.spread("NEIROETH", "1d", end=END)),
                ("opportunities >= 50 bps, 1d", lambda: api.opportunities(50, symbol="NEIRO_ETH", end=END)),
                ("performance 7d (300 cycles)", lambda: api.performance("NEIRO-ETH", 7, end=END)),
                ("funding 7d", lambda: api.funding("NEIRO-ETH", 7, end=END)),
                ("feeds 1h (180 histogram rows)", lambda: api.feeds("1h", end=END)),
                ("feeds 1d (4,320 histogram rows)", lambda: api.feeds("1d", end=END)),
            ]
            out = []
            for label, fn in queries:
                ms = await _time(fn)
                out.append(Row(figure=f"analytics: {label}", ours=ms, unit="ms", target=f"{TARGET} ms",
                               met=check(ms, TARGET)))
            assert rows == 3 * DAY
            return out
        finally:
            await api.close()
    finally:
        await drop_database(pg_url, name)


def run() -> list[Row]:
    pg = find_or_start_postgres()
    try:
        return asyncio.run(_main(pg.url))
    finally:
        pg.stop()


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
