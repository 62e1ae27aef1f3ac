"""The recorder's writer on a real PostgreSQL: the direct COPY path (the usual one), its fall back to staging + merge
when a batch holds replayed rows, and to row-by-row isolation when a constraint refuses one; the rows and 1-minute
rollups the direct path writes equal what SQL computes from the stored rows."""

from __future__ import annotations

import asyncio
import logging
import time
import types
from decimal import Decimal

import asyncpg
import msgspec
import numpy as np
import pytest
from arb.bus import codec, subjects
from arb.core import latency
from arb.core.enums import Market, Venue
from arb.core.margin import LiquidationWarning, WarningLevel
from arb.core.market_data import BookTicker, FundingRate, IndexPrice, MarkPrice
from arb.recorder.config import RecorderConfig
from arb.recorder.metrics import RecorderMetrics
from arb.recorder.tables import BOOK_TICKERS
from arb.recorder.writer import Writer, merge_staged, upsert_rollups
from arb.testing.poll import bounded, eventually
from arb.testing.recorder_kit import T0, bbo, count, funding_paid, margin

pytestmark = pytest.mark.integration

LOG = logging.getLogger("test-recorder-writer")
SUBJ = subjects.md(Venue.MEXC, Market.SPOT, "BTC-USDT", "bbo")
_METRICS = RecorderMetrics()  # one registration per process


def _msg(m: object, subject: str = SUBJ) -> types.SimpleNamespace:
    return types.SimpleNamespace(subject=subject, data=codec.encode(m))


def _bbos(start: int, stop: int, step_ms: int = 1) -> list[types.SimpleNamespace]:
    return [_msg(bbo(i * step_ms, bid=100.0 + (i % 7) / 10, ask=101.0 + (i % 5) / 10)) for i in range(start, stop)]


async def _writer(pg_dsn: str) -> Writer:
    w = Writer(pg_dsn, RecorderConfig(), LOG, _METRICS, name="writer-test")
    await bounded(w.migrate(), 30, "migrate")
    return w


async def _one(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn, timeout=5, command_timeout=10)
    try:
        return await conn.fetchval(sql, timeout=10)
    finally:
        await conn.close(timeout=5)


def _staged() -> float:
    return _METRICS.staged.labels("MD")._value.get()


async def test_a_batch_with_replayed_rows_is_merged_and_inserts_nothing_twice(pg_dsn):
    """A batch overlapping one already stored falls back from the direct COPY to staging + merge: its new rows go in,
    the replayed ones are found by the unique key, the rollup counts each row once; the next batch is staged too
    (a replay is a run of such batches) until one meets no duplicate, then batches go direct again."""
    w = await _writer(pg_dsn)
    try:
        s0 = _staged()
        first = await bounded(w.write("MD", _bbos(0, 1000)), 30, "write")
        assert (first.inserted, first.duplicates, _staged() - s0) == ({"book_tickers": 1000}, {"book_tickers": 0}, 0)
        replay = await bounded(w.write("MD", _bbos(500, 1500)), 30, "write")  # half of it stored already
        assert (replay.inserted, replay.duplicates, replay.attempts) == (
            {"book_tickers": 500}, {"book_tickers": 500}, 2)
        assert _staged() - s0 == 1
        after = await bounded(w.write("MD", _bbos(1500, 2000)), 30, "write")  # staged: the last one met duplicates
        assert (after.inserted, after.duplicates, _staged() - s0) == ({"book_tickers": 500}, {"book_tickers": 0}, 2)
        again = await bounded(w.write("MD", _bbos(2000, 2100)), 30, "write")  # direct again
        assert (again.inserted, again.attempts, _staged() - s0) == ({"book_tickers": 100}, 1, 2)
        whole = await bounded(w.write("MD", _bbos(0, 2100)), 30, "write")  # everything again: nothing new
        assert (whole.inserted, whole.duplicates) == ({"book_tickers": 0}, {"book_tickers": 2100})
    finally:
        await w.close()
    assert await count(pg_dsn, "book_tickers") == 2100
    assert await _one(pg_dsn, "SELECT count(DISTINCT ts_recv) FROM book_tickers") == 2100
    assert await _one(pg_dsn, "SELECT sum(n) FROM bbo_1m") == 2100


async def test_a_refused_row_in_a_direct_batch_is_dead_lettered_and_the_rest_recorded(pg_dsn):
    """One crossed book in a batch written directly: the batch is isolated row by row, the crossed row becomes a dead
    letter naming the constraint, the 99 others (replayed ones among them found as duplicates) are stored once."""
    w = await _writer(pg_dsn)
    try:
        await bounded(w.write("MD", _bbos(0, 10)), 30, "write")
        batch = _bbos(5, 55) + [_msg(bbo(55, bid=101.0, ask=100.0))] + _bbos(56, 105)
        res = await bounded(w.write("MD", batch), 30, "write")
    finally:
        await w.close()
    assert (res.inserted, res.duplicates, res.dead) == ({"book_tickers": 94}, {"book_tickers": 5}, 1)
    assert await count(pg_dsn, "book_tickers") == 104
    assert await _one(pg_dsn, "SELECT sum(n) FROM bbo_1m") == 104
    reason = await _one(pg_dsn, "SELECT reason FROM dead_letters")
    assert "book_tickers_crossed" in str(reason)


async def test_a_margin_a_constraint_refuses_is_dead_lettered_whole_and_the_rest_recorded(pg_dsn):
    """A Margin is one account row plus one row per position, all or nothing: one whose total is NaN, and one whose
    second position has a negative margin, become dead letters naming the constraint with none of their rows stored;
    the good Margin, the warning and the funding record (its account from the subject) are stored, and a replay of
    the same batch inserts nothing twice."""
    g = Venue.GATEIO
    good = margin(T0)
    nan_total = msgspec.structs.replace(margin(T0 + 10**9), total=Decimal("NaN"))
    bad_pos = margin(T0 + 2 * 10**9)
    bad_pos = msgspec.structs.replace(bad_pos, positions=(
        bad_pos.positions[0], msgspec.structs.replace(bad_pos.positions[1], margin=Decimal(-1))))
    warning = LiquidationWarning(venue=g, market=Market.FUTURES, account="main", symbol="BTC-USDT",
                                 level=WarningLevel.WARNING, size=Decimal("-0.01"), mark_price=Decimal("100.2"),
                                 liq_price=Decimal("102.5"), distance=Decimal("0.02295409"), threshold=Decimal("0.05"),
                                 ts_event=T0, ts_recv=T0 + 1, ts_pub=T0 + 2)
    batch = [_msg(good, subjects.ord_evt(g, "main", "margin")), _msg(nan_total, subjects.ord_evt(g, "main", "margin")),
             _msg(bad_pos, subjects.ord_evt(g, "main", "margin")),
             _msg(warning, subjects.ord_evt(g, "main", "liq_warning")),
             _msg(funding_paid(), subjects.ord_evt(g, "sub-1", "funding", prefix="paper."))]
    for seq, msg in enumerate(batch, 1):  # as JetStream delivers them: a dead letter is keyed by its stream sequence
        msg.metadata = types.SimpleNamespace(sequence=types.SimpleNamespace(stream=seq))
    w = await _writer(pg_dsn)
    try:
        res = await bounded(w.write("ORD", batch), 30, "write")
        again = await bounded(w.write("ORD", batch), 30, "write")
    finally:
        await w.close()
    assert (res.inserted, res.dead) == ({"margin_accounts": 1, "position_margins": 2, "liquidation_warnings": 1,
                                         "funding_payments": 1}, 2)
    assert sum(res.duplicates.values()) == 0
    assert sum(again.inserted.values()) == 0 and again.dead == 2
    assert await _one(pg_dsn, "SELECT count(*) FROM margin_accounts WHERE time = ns_to_ts(ts_event)") == 1
    assert await _one(pg_dsn, f"SELECT count(*) FROM position_margins WHERE ts_event = {T0}") == 2  # the good one's
    assert await count(pg_dsn, "position_margins") == 2
    assert await _one(pg_dsn, "SELECT account FROM funding_payments") == "sub-1"
    reasons = await _one(pg_dsn, "SELECT string_agg(reason, ' | ' ORDER BY reason) FROM dead_letters")
    assert "margin_accounts_finite" in str(reasons) and "position_margins_margins" in str(reasons)
    assert await count(pg_dsn, "dead_letters") == 2  # the replay's refusals are the same dead letters


async def test_direct_rows_and_rollups_equal_what_sql_computes(pg_dsn):
    """Rows COPYed directly carry time = ns_to_ts(ts_event) to the microsecond, and the rollups pre-aggregated in
    Python (across several minutes, symbols, mark and index, in batches) equal the SQL aggregates of the stored rows."""
    g, f = Venue.GATEIO, Market.FUTURES
    w = await _writer(pg_dsn)
    try:
        for b in range(3):  # 3 batches, 400 bbos each 0.5 s apart, over about 10 minutes
            msgs = _bbos(b * 400, (b + 1) * 400, step_ms=500)
            for i in range(b * 50, (b + 1) * 50):
                t = T0 + i * 7_000_000_123  # not whole microseconds: truncated like ns_to_ts
                sym = ("BTC-USDT", "ETH-USDT")[i % 2]
                msgs.append(_msg(FundingRate(venue=g, market=f, symbol=sym, rate=1e-4 * (i % 9 - 4),
                                             next_funding_ns=t + 10**12, interval_s=28800 if i % 3 else 3600,
                                             ts_event=t, ts_recv=t + 1, ts_pub=t + 2),
                                 subjects.md(g, f, sym, "funding")))
                msgs.append(_msg(MarkPrice(venue=g, market=f, symbol=sym, price=100 + i, ts_event=t, ts_recv=t + 1,
                                           ts_pub=t + 2), subjects.md(g, f, sym, "mark")))
                msgs.append(_msg(IndexPrice(venue=g, market=f, symbol=sym, price=99 + i, ts_event=t, ts_recv=t + 1,
                                            ts_pub=t + 2), subjects.md(g, f, sym, "index")))
            res = await bounded(w.write("MD", msgs), 30, "write")
            assert res.attempts == 1 and sum(res.duplicates.values()) == 0  # the direct path, first time
    finally:
        await w.close()
    conn = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    try:
        for table in ("book_tickers", "funding_rates", "prices"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE time <> ns_to_ts(ts_event)") == 0
        bbo_sql = await conn.fetch(
            "SELECT exchange_id, symbol_id, date_trunc('minute', time) AS bucket, count(*) AS n, "
            "sum((bid_px + ask_px) / 2) AS sum_mid, sum((ask_px - bid_px) / (bid_px + ask_px) * 2e4) AS sum_spread, "
            "min((bid_px + ask_px) / 2) AS min_mid, max((bid_px + ask_px) / 2) AS max_mid, max(time) AS last_time, "
            "(array_agg(bid_px ORDER BY time DESC))[1] AS last_bid, (array_agg(ask_px ORDER BY time DESC))[1] AS "
            "last_ask FROM book_tickers GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        bbo_1m = await conn.fetch("SELECT * FROM bbo_1m ORDER BY exchange_id, symbol_id, bucket")
        assert len(bbo_sql) == len(bbo_1m) >= 10
        for a, b in zip(bbo_sql, bbo_1m, strict=True):
            assert (a["bucket"], a["n"], a["min_mid"], a["max_mid"], a["last_bid"], a["last_ask"], a["last_time"]) == (
                b["bucket"], b["n"], b["min_mid"], b["max_mid"], b["last_bid"], b["last_ask"], b["last_time"])
            assert b["sum_mid"] == pytest.approx(a["sum_mid"], rel=1e-12)
            assert b["sum_spread_bps"] == pytest.approx(a["sum_spread"], rel=1e-12)
        fund_sql = await conn.fetch(
            "SELECT exchange_id, symbol_id, date_trunc('minute', time) AS bucket, count(*) AS n, sum(rate) AS s, "
            "(array_agg(rate ORDER BY time DESC))[1] AS last_rate, max(interval_s) AS interval_s, max(time) AS lt, "
            "(array_agg(next_funding_ns ORDER BY time DESC))[1] AS nf FROM funding_rates GROUP BY 1, 2, 3 "
            "ORDER BY 1, 2, 3")
        fund_1m = await conn.fetch("SELECT * FROM funding_1m ORDER BY exchange_id, symbol_id, bucket")
        assert len(fund_sql) == len(fund_1m) >= 30
        for a, b in zip(fund_sql, fund_1m, strict=True):
            assert (a["bucket"], a["n"], a["last_rate"], a["interval_s"], a["lt"], a["nf"]) == (
                b["bucket"], b["n"], b["last_rate"], b["interval_s"], b["last_time"], b["last_next_funding_ns"])
            assert b["sum_rate"] == pytest.approx(a["s"], rel=1e-12, abs=1e-18)
        px_sql = await conn.fetch(
            "SELECT exchange_id, symbol_id, kind, date_trunc('minute', time) AS bucket, count(*) AS n, "
            "sum(price) AS s, (array_agg(price ORDER BY time DESC))[1] AS lp, max(time) AS lt FROM prices "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
        px_1m = await conn.fetch("SELECT * FROM prices_1m ORDER BY exchange_id, symbol_id, kind, bucket")
        assert [tuple(r) for r in px_sql] == [
            (r["exchange_id"], r["symbol_id"], r["kind"], r["bucket"], r["n"], r["sum_price"], r["last_price"],
             r["last_time"]) for r in px_1m]
    finally:
        await conn.close(timeout=5)


async def _latency(conn: asyncpg.Connection) -> dict[tuple, tuple]:
    """feed_latency_1m as {(exchange, symbol, minute): (n, counts of x2p, p2r, x2r)}, and the longest stored blob."""
    out = {}
    for r in await conn.fetch("SELECT * FROM feed_latency_1m"):
        out[(r["exchange_id"], r["symbol_id"], r["bucket"])] = (
            r["n"], *(tuple(latency.counts(r[c]).tolist()) for c in ("x2p", "p2r", "x2r")))
    return out


async def test_latency_histograms_of_every_path_equal_the_sql_backfill(pg_dsn):
    """feed_latency_1m as the writer keeps it, batch by batch (direct COPY over two symbols and several minutes; a
    replay, staged, that adds only its new rows; a refused row, isolated row by row; 40 batches into one minute, so
    its blobs pass the compaction size), holds exactly what the SQL backfill makes from the stored rows at once."""
    def tick(i: int, symbol: str = "BTC-USDT", crossed: bool = False, step: int = 250_000_000) -> types.SimpleNamespace:
        t = T0 + i * step + i % 1000  # 4 a second; not whole microseconds
        pub = t + (i * 2_654_435_761) % 3_000_000_000 - 1_000_000  # -1 ms .. 3 s, scattered: negative, tiny, large
        return _msg(BookTicker(venue=Venue.MEXC, market=Market.SPOT, symbol=symbol, bid_px=101.0 if crossed else 100.0,
                               bid_sz=1.0, ask_px=100.5, ask_sz=1.0, seq=i, ts_event=t, ts_recv=t + i + 1, ts_pub=pub),
                    subjects.md(Venue.MEXC, Market.SPOT, symbol, "bbo"))

    w = await _writer(pg_dsn)
    try:
        first = [tick(i, ("BTC-USDT", "ETH-USDT")[i % 2]) for i in range(1000)]  # about 4 minutes, 2 symbols
        assert (await bounded(w.write("MD", first), 30, "direct")).attempts == 1
        replay = [tick(i, ("BTC-USDT", "ETH-USDT")[i % 2]) for i in range(900, 1100)]
        res = await bounded(w.write("MD", replay), 30, "staged")
        assert (res.inserted, res.duplicates) == ({"book_tickers": 100}, {"book_tickers": 100})
        bad = [tick(i, "ETH-USDT") for i in range(1100, 1150)] + [tick(1150, "ETH-USDT", crossed=True)]
        res = await bounded(w.write("MD", bad), 30, "careful")
        assert (res.inserted["book_tickers"], res.dead) == (50, 1)
        written = 0  # bytes of x2p pairs the batches of SOL-USDT's first minute bring
        for b in range(100):  # one minute (1,200 ticks, 50 ms apart) in 100 batches of 12
            batch = [tick(10_000 + b * 12 + j, "SOL-USDT", step=50_000_000) for j in range(12)]
            await bounded(w.write("MD", batch), 30, "small")
            stamps = [codec.decode(m.data) for m in batch]
            written += len(latency.encode(latency.codes(np.array([m.ts_pub - m.ts_event for m in stamps]))))
    finally:
        await w.close()
    conn = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    try:
        kept = await _latency(conn)
        longest = await conn.fetchval("SELECT max(greatest(length(x2p), length(p2r), length(x2r))) "
                                      "FROM feed_latency_1m")
        assert await conn.fetchval("SELECT sum(n) FROM feed_latency_1m") == await count(pg_dsn, "book_tickers") == 2350
        await conn.execute("DELETE FROM feed_latency_1m")
        assert await conn.fetchval("SELECT feed_latency_backfill('-infinity', 'infinity')") == len(kept) >= 10
        assert await _latency(conn) == kept
    finally:
        await conn.close(timeout=5)
    assert written > 3 * 1024 and longest <= 1024  # compacted as it grew


async def test_postgresql_compacts_a_histogram_into_the_modules_own_bytes(pg_dsn):
    """latency_compact / latency_merge (SQL) sum the pairs per code and split counts above 65,535 exactly as
    latency.from_counts does, so the writer's and the backfill's histograms stay comparable byte for byte."""
    w = await _writer(pg_dsn)  # the schema
    await w.close()
    rng = np.random.default_rng(5)
    conn = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    try:
        for _ in range(20):
            parts = [latency.encode(rng.integers(16, 497, int(rng.integers(1, 300)))) for _ in range(4)]
            parts.append(latency.from_counts(np.bincount([300], minlength=latency.CODES) * 60_000))  # 2 x 60,000
            parts.append(parts[-1])
            blob = b"".join(parts)
            want = latency.counts(blob)
            assert await conn.fetchval("SELECT latency_compact($1::bytea)", blob, timeout=5) == latency.from_counts(want)
            merged = blob[:0]
            for p in parts:
                merged = await conn.fetchval("SELECT latency_merge($1::bytea, $2::bytea)", merged, p, timeout=5)
                assert len(merged) <= 1024 or merged == latency.from_counts(latency.counts(merged))
            assert (latency.counts(merged) == want).all()
    finally:
        await conn.close(timeout=5)


async def test_garbage_stamps_are_summarised_like_the_backfill_does_and_do_not_break_it(pg_dsn):
    """Book tickers whose stamps are near int64's ends (ts_pub - ts_event beyond 2^63 either way): the writer's
    histograms put them in the end buckets, the SQL backfill (differences clamped, not overflowing) makes the same."""
    w = await _writer(pg_dsn)
    top = 2**63 - 1
    try:
        msgs = [_msg(BookTicker(venue=Venue.MEXC, market=Market.SPOT, symbol="BTC-USDT", bid_px=100.0, bid_sz=1.0,
                                ask_px=100.5, ask_sz=1.0, seq=i, ts_event=ev, ts_recv=T0 + i, ts_pub=pub))
                for i, (ev, pub) in enumerate([(T0, T0 + 5_000), (-(2**62), top), (2**62, -top), (T0 + 1, T0)])]
        res = await bounded(w.write("MD", msgs), 30, "write")
        assert res.inserted == {"book_tickers": 4} and res.dead == 0
    finally:
        await w.close()
    conn = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    try:
        kept = await _latency(conn)
        await conn.execute("DELETE FROM feed_latency_1m", timeout=5)
        assert await conn.fetchval("SELECT feed_latency_backfill('-infinity', 'infinity')", timeout=10) == 3
        assert await _latency(conn) == kept
        top_code = latency.ZERO + 240
        x2p = {k: v[1] for k, v in kept.items()}
        assert sum(h[top_code] for h in x2p.values()) == 1 and sum(h[latency.ZERO - 240] for h in x2p.values()) == 1
    finally:
        await conn.close(timeout=5)


class _PausedBeforeHistograms:
    """A connection whose first executemany (merge_staged's latency upsert, after its merge locked bbo_1m's minutes)
    waits until ``go`` is set."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def fetch(self, *a: object, **k: object) -> list:
        return await self.conn.fetch(*a, **k)

    async def executemany(self, *a: object, **k: object) -> None:
        self.reached.set()
        await self.go.wait()
        await self.conn.executemany(*a, **k)


async def test_a_direct_and_a_staged_writer_on_the_same_minutes_wait_never_deadlock(pg_dsn):
    """Writer B merges a staged batch (bbo_1m's minutes locked by the merge) and is held before its latency upsert;
    writer A's direct batch on the same minutes must wait for B at bbo_1m, not lock feed_latency_1m first (its
    combined statement once did: PostgreSQL runs an unread CTE last, so A held the histogram row B then needed, and
    one of them died of a deadlock). Both commit; each minute counts both batches."""
    w = await _writer(pg_dsn)  # the schema
    await w.close()
    t0 = T0 - T0 % 60_000_000_000

    def recs(ex: int, sym: int, base: int) -> list[tuple]:  # 2 per minute over two minutes, staging records
        return [(ex, sym, 100.0, 1.0, 100.5, 1.0, base + i, t0 + i * 30 * 10**9 + base, t0 + base + i,
                 t0 + i * 30 * 10**9 + base + 2_000_000) for i in range(4)]

    setup = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    a = await asyncpg.connect(pg_dsn, timeout=5, server_settings={"TimeZone": "UTC"})
    b = await asyncpg.connect(pg_dsn, timeout=5, server_settings={"TimeZone": "UTC"})
    try:
        ex = await setup.fetchval("SELECT id FROM exchanges WHERE venue = 'mexc' AND market = 'spot'", timeout=5)
        sym = await setup.fetchval("INSERT INTO symbols (exchange_id, name) VALUES ($1, 'BTC-USDT') RETURNING id", ex,
                                   timeout=5)
        await b.execute(BOOK_TICKERS.stage_ddl, timeout=5)
        await a.set_type_codec("timestamptz", schema="pg_catalog", encoder=_same, decoder=_same, format="tuple")
        paused = _PausedBeforeHistograms(b)

        async def staged() -> int:
            async with b.transaction():
                await b.copy_records_to_table(BOOK_TICKERS.stage, records=recs(ex, sym, 0),
                                              columns=BOOK_TICKERS.columns, timeout=5)
                return await merge_staged(paused, BOOK_TICKERS, BOOK_TICKERS.merge_plain, time.time_ns())

        async def direct() -> None:
            records, ts_rec = recs(ex, sym, 1000), time.time_ns()
            async with a.transaction():
                await a.copy_records_to_table(BOOK_TICKERS.name, columns=BOOK_TICKERS.direct_columns, timeout=5,
                                              records=[BOOK_TICKERS.direct_row(r, ts_rec) for r in records])
                await upsert_rollups(a, BOOK_TICKERS, records, ts_rec, plain=True)

        tb = asyncio.create_task(staged())
        await bounded(paused.reached.wait(), 10, "B merged")
        ta = asyncio.create_task(direct())
        pid = a.get_server_pid()
        await eventually(lambda: setup.fetchval("SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", pid,
                                                timeout=5), timeout=10, what="A waiting for B")
        paused.go.set()
        assert await bounded(tb, 10, "B staged") == 4
        await bounded(ta, 10, "A direct")
        got = await setup.fetch("SELECT bucket, n FROM feed_latency_1m ORDER BY bucket", timeout=5)
        assert [r["n"] for r in got] == [4, 4]
        assert [r["n"] for r in await setup.fetch("SELECT n FROM bbo_1m ORDER BY bucket", timeout=5)] == [4, 4]
    finally:
        for c in (a, b, setup):
            await c.close(timeout=5)


def _same(x: object) -> object:
    return x


def _transient() -> float:
    return _METRICS.db_errors.labels("transient")._value.get()


def _conflicts() -> float:
    return _METRICS.db_errors.labels("conflict")._value.get()


def _ord(m: object, kind: str, seq: int) -> types.SimpleNamespace:
    msg = _msg(m, subjects.ord_evt(Venue.GATEIO, "main", kind))
    msg.metadata = types.SimpleNamespace(sequence=types.SimpleNamespace(stream=seq))
    return msg


async def test_a_margin_with_no_open_position_is_recorded_and_so_are_the_next_messages(pg_dsn):
    """A Margin with no open position is its account row alone (no position_margins row, no error after the commit:
    the batch is not retried as if PostgreSQL were down), and the batches after it are recorded as usual."""
    flat = msgspec.structs.replace(margin(T0), positions=())
    w = await _writer(pg_dsn)  # with metrics: the per-table latency sample runs after the commit
    try:
        e0 = _transient()
        res = await bounded(w.write("ORD", [_ord(flat, "margin", 1)]), 10, "write the flat margin")
        nxt = await bounded(w.write("ORD", [_ord(margin(T0 + 10**9), "margin", 2),
                                            _ord(flat, "margin", 3)]), 10, "write the next ones")
    finally:
        await w.close()
    assert (res.inserted, res.attempts, res.dead) == ({"margin_accounts": 1}, 1, 0)
    assert nxt.inserted == {"margin_accounts": 1, "position_margins": 2} and nxt.duplicates["margin_accounts"] == 1
    assert _transient() == e0
    assert await count(pg_dsn, "margin_accounts") == 2 and await count(pg_dsn, "position_margins") == 2
    assert await _one(pg_dsn, f"SELECT positions FROM margin_accounts WHERE ts_event = {T0}") == 0


async def test_a_message_whose_rows_cannot_be_built_is_dead_lettered_and_the_rest_recorded(pg_dsn, monkeypatch):
    """Any error building one message's rows (not only an unknown id) makes that message a dead letter naming the
    error; the batch is not retried for it and the other messages are stored."""
    from arb.recorder import tables

    g, f = Venue.GATEIO, Market.FUTURES
    (table, build, many), = tables.ROUTES[MarkPrice]

    def fragile(m, ids, ex):  # a row builder with a bug that only some messages reach
        if m.price == 113:
            raise ZeroDivisionError("a bug in a row builder")
        return build(m, ids, ex)

    monkeypatch.setitem(tables.ROUTES, MarkPrice, ((table, fragile, many),))
    batch = [_msg(MarkPrice(venue=g, market=f, symbol="BTC-USDT", price=100 + i, ts_event=T0 + i, ts_recv=T0 + i,
                            ts_pub=T0 + i), subjects.md(g, f, "BTC-USDT", "mark")) for i in range(20)]
    w = await _writer(pg_dsn)
    try:
        e0 = _transient()
        res = await bounded(w.write("MD", batch), 10, "write")
        again = await bounded(w.write("MD", batch[:5]), 10, "write the next one")  # ids now cached: the hot path
    finally:
        await w.close()
    assert (res.inserted, res.dead, res.attempts) == ({"prices": 19}, 1, 1)
    assert again.duplicates == {"prices": 5}
    assert _transient() == e0
    assert await count(pg_dsn, "prices") == 19
    assert "ZeroDivisionError: a bug in a row builder" in str(await _one(pg_dsn, "SELECT reason FROM dead_letters"))


async def test_two_writers_with_batches_of_mixed_types_side_by_side_never_deadlock(pg_dsn):
    """Two writers (the recorder's ``writers: 2``) committing batches that touch bbo_1m, funding_1m and prices_1m for
    the same minutes, their types first met in opposite orders: no deadlock (nor any other error) is counted, and the
    rows and rollups equal the aggregate of what was written."""
    g, f = Venue.GATEIO, Market.FUTURES
    fwd = Writer(pg_dsn, RecorderConfig(), LOG, _METRICS, name="writer-a")
    rev = Writer(pg_dsn, RecorderConfig(), LOG, _METRICS, name="writer-b")
    await bounded(fwd.migrate(), 30, "migrate")
    rounds, per = 20, 60

    def batch(k: int, side: int) -> list[types.SimpleNamespace]:
        base = (k * 2 + side) * per
        bbos = _bbos(base, base + per, step_ms=1)  # T0 + up to 2.4 s: all in one or two minutes
        rest = []
        for i in range(base, base + per):
            t = T0 + i * 1_000_000
            rest.append(_msg(FundingRate(venue=g, market=f, symbol="BTC-USDT", rate=1e-4, next_funding_ns=t + 10**12,
                                         interval_s=28800, ts_event=t, ts_recv=t + 1, ts_pub=t + 2),
                             subjects.md(g, f, "BTC-USDT", "funding")))
            rest.append(_msg(MarkPrice(venue=g, market=f, symbol="BTC-USDT", price=100.0, ts_event=t, ts_recv=t + 1,
                                       ts_pub=t + 2), subjects.md(g, f, "BTC-USDT", "mark")))
            rest.append(_msg(IndexPrice(venue=g, market=f, symbol="BTC-USDT", price=99.0, ts_event=t, ts_recv=t + 1,
                                        ts_pub=t + 2), subjects.md(g, f, "BTC-USDT", "index")))
        return bbos + rest if side == 0 else rest[::-1] + bbos  # bbo first / prices and funding first

    try:
        await bounded(fwd.write("MD", batch(rounds, 0)), 10, "ids resolved once")  # not part of the race
        e0, c0 = _transient(), _conflicts()
        for k in range(rounds):
            a, b = await bounded(asyncio.gather(fwd.write("MD", batch(k, 0)), rev.write("MD", batch(k, 1))), 20,
                                 f"round {k}")
            assert a.attempts == b.attempts == 1
        assert (_transient() - e0, _conflicts() - c0) == (0, 0)
    finally:
        await fwd.close()
        await rev.close()
    n = (rounds * 2 + 1) * per
    assert await count(pg_dsn, "book_tickers") == await count(pg_dsn, "funding_rates") == n
    assert await count(pg_dsn, "prices") == 2 * n
    assert await _one(pg_dsn, "SELECT sum(n) FROM bbo_1m") == n
    assert await _one(pg_dsn, "SELECT sum(n) FROM funding_1m") == n
    assert await _one(pg_dsn, "SELECT sum(n) FROM prices_1m") == 2 * n
    assert await _one(pg_dsn, "SELECT count(*) FROM (SELECT date_trunc('minute', time) AS b, count(*) AS n FROM "
                              "book_tickers GROUP BY 1) s JOIN bbo_1m ON bucket = b WHERE bbo_1m.n <> s.n") == 0


async def test_a_deadlock_is_retried_at_once_on_the_same_connection_not_taken_for_an_outage(pg_dsn):
    """A transaction PostgreSQL aborts to break a deadlock (here with another session locking the rollups in the other
    order) is tried again at once: counted as a conflict, not as a transient error, the connection kept, the batch
    committed once the other session is gone."""
    g, f = Venue.GATEIO, Market.FUTURES

    def batch(i: int) -> list[types.SimpleNamespace]:
        t = T0 + i * 1_000_000
        return [_msg(bbo(i)), _msg(MarkPrice(venue=g, market=f, symbol="BTC-USDT", price=100.0, ts_event=t,
                                             ts_recv=t + 1, ts_pub=t + 2), subjects.md(g, f, "BTC-USDT", "mark"))]

    w = await _writer(pg_dsn)
    admin = await asyncpg.connect(pg_dsn, timeout=5, command_timeout=10)
    try:
        await bounded(w.write("MD", batch(0)), 10, "the minute's rollup rows")
        conn = w._conn
        e0, c0 = _transient(), _conflicts()
        await admin.execute("SET deadlock_timeout = '10s'")  # so that the writer is the one PostgreSQL aborts
        await admin.execute("BEGIN")
        await admin.execute("UPDATE prices_1m SET n = n", timeout=5)  # the other order: prices_1m first
        writing = asyncio.create_task(w.write("MD", batch(1)))  # bbo_1m, then waits for prices_1m

        async def writer_waits() -> bool:
            return await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                        "'arb-writer-test' AND wait_event_type = 'Lock'", timeout=5) == 1

        await eventually(writer_waits, timeout=10, interval=0.02, what="the writer waits for prices_1m")
        await admin.execute("UPDATE bbo_1m SET n = n", timeout=15)  # a deadlock: the writer is aborted, this goes on
        await eventually(lambda: _conflicts() - c0 == 1, timeout=10, interval=0.02, what="the conflict counted")
        await admin.execute("ROLLBACK")
        res = await bounded(writing, 10, "the batch after the deadlock")
        assert (res.inserted, res.attempts) == ({"book_tickers": 1, "prices": 1}, 2)
        assert (_transient() - e0, _conflicts() - c0) == (0, 1)
        assert w._conn is conn  # the same connection: nothing was taken for an outage
    finally:
        await admin.close(timeout=5)
        await w.close()
    assert await _one(pg_dsn, "SELECT sum(n) FROM bbo_1m") == 2
    assert await _one(pg_dsn, "SELECT sum(n) FROM prices_1m") == 2


class _BrokenAfterCommit:
    """The test's metrics, except the batch histogram, which raises: a bug in code that runs after the commit."""

    def __getattr__(self, name: str) -> object:
        return getattr(_METRICS, name)

    @property
    def batch(self) -> object:
        raise RuntimeError("a bug after the commit")


async def test_a_bug_after_the_commit_is_logged_and_counted_and_the_batch_is_done(pg_dsn, caplog):
    """An error in the writer's own code after the commit is neither an outage (no retry, no reconnect) nor raised to
    the caller (the batch is committed: it is to be acked): logged as a bug and counted, and the next batch goes on."""
    w = Writer(pg_dsn, RecorderConfig(), LOG, _BrokenAfterCommit(), name="writer-test")  # type: ignore[arg-type]
    await bounded(w.migrate(), 30, "migrate")
    bugs = _METRICS.internal_errors.labels("MD")._value.get()
    try:
        e0 = _transient()
        first = await bounded(w.write("MD", _bbos(0, 10)), 10, "write")
        second = await bounded(w.write("MD", _bbos(10, 20)), 10, "write the next one")
    finally:
        await w.close()
    assert (first.inserted, first.attempts, second.inserted) == ({"book_tickers": 10}, 1, {"book_tickers": 10})
    assert (_transient() - e0, _METRICS.internal_errors.labels("MD")._value.get() - bugs) == (0, 2)
    assert "BUG after the commit" in caplog.text and "a bug after the commit" in caplog.text
    assert await count(pg_dsn, "book_tickers") == 20
