"""Recorder figures: book tickers into local PostgreSQL, 1,000-row batches, one transaction each.

* direct COPY + rollup: the recorder's usual statements (COPY straight into book_tickers, with its foreign key,
  unique key and CHECKs; the 1-minute rollup and the latency histograms pre-aggregated and upserted; commit), on
  rows already built; peer in the same run: ``executemany`` of an INSERT ... ON CONFLICT DO NOTHING with the same
  rows (no rollup: the cheaper statement). Then the same on two connections at once (the recorder's ``writers: 2`` per stream).
* floor: the same COPY into copies of book_tickers without the foreign key (unique key and CHECKs kept) and with
  nothing at all (no key, no FK, no CHECK): what the constraints cost.
* staged COPY + merge: the path of a batch holding a replayed row (COPY into the staging table, INSERT ... SELECT
  ... ON CONFLICT DO NOTHING with the rollup from what was inserted, commit).
* Writer.write: the same plus what the recorder does in Python per message (decode, route, build the row).
* End to end: messages already in a JetStream stream, consumed by ``Recorder`` (fetch, write, ack after commit)
  until every one is acked.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import types
import uuid

import asyncpg
from arb.bus import codec
from arb.bus.connection import Bus
from arb.bus.streams import StreamLimits, ensure_streams, stream_name_prefix
from arb.core.enums import Market, Venue
from arb.core.market_data import BookTicker
from arb.recorder import schema
from arb.recorder.config import RecorderConfig
from arb.recorder.recorder import Recorder, tune_gc
from arb.recorder.tables import BOOK_TICKERS, TABLES
from arb.recorder.writer import Writer, merge_staged, upsert_rollups
from arb.testing.servers import create_database, drop_database, find_or_start_nats, find_or_start_postgres

from bench.common import Row, check

BATCH = 1000
BATCHES = 100
LOG = logging.getLogger("bench-recorder")
_N = 0


def _bbos(n: int) -> list[BookTicker]:
    """n book tickers never seen before in this run (distinct ts_recv)."""
    global _N
    t = time.time_ns()
    out = [BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 65000.1, 0.5, 65000.2, 0.7, _N + i, t + (_N + i) * 1000,
                      t + _N + i, t) for i in range(n)]
    _N += n
    return out


def _record(m: BookTicker, ex: int, sym: int) -> tuple:
    return (ex, sym, m.bid_px, m.bid_sz, m.ask_px, m.ask_sz, m.seq, m.ts_event, m.ts_recv, m.ts_pub)


def _same(x: object) -> object:
    return x


async def _direct(conn: asyncpg.Connection, batches: list[list[tuple]], table: str = "book_tickers",
                  rollup: bool = True) -> None:
    for recs in batches:  # what Writer._write_once does on the direct path
        ts_rec = time.time_ns()
        async with conn.transaction():
            await conn.copy_records_to_table(table, records=[BOOK_TICKERS.direct_row(r, ts_rec) for r in recs],
                                             columns=BOOK_TICKERS.direct_columns)
            if rollup:  # bbo_1m and feed_latency_1m, as the writer does
                await upsert_rollups(conn, BOOK_TICKERS, recs, ts_rec, plain=True)


async def _db_paths(dsn: str) -> tuple[float, float, float, float, float, float]:
    conn = await asyncpg.connect(dsn)
    conn2 = await asyncpg.connect(dsn)
    try:
        ex = await conn.fetchval("SELECT id FROM exchanges WHERE venue = 'mexc' AND market = 'spot'")
        sym = await conn.fetchval("INSERT INTO symbols (exchange_id, name) VALUES ($1, 'BTC-USDT') "
                                  "ON CONFLICT (exchange_id, name) DO UPDATE SET name = excluded.name RETURNING id", ex)
        for t in TABLES:
            await conn.execute(t.stage_ddl)
        for c in (conn, conn2):
            await c.set_type_codec("timestamptz", schema="pg_catalog", encoder=_same, decoder=_same, format="tuple")
        batches = [[_record(m, ex, sym) for m in _bbos(BATCH)] for _ in range(BATCHES)]
        t0 = time.perf_counter()
        await _direct(conn, batches)
        direct_rate = BATCH * BATCHES / (time.perf_counter() - t0)
        halves = [[[_record(m, ex, sym) for m in _bbos(BATCH)] for _ in range(BATCHES // 2)] for _ in range(2)]
        t0 = time.perf_counter()
        await asyncio.gather(_direct(conn, halves[0]), _direct(conn2, halves[1]))
        two_rate = BATCH * BATCHES / (time.perf_counter() - t0)
        # the floor: the same COPY (no rollup) without the foreign key, then without any constraint
        await conn.execute("CREATE TABLE floor_key (LIKE book_tickers INCLUDING CONSTRAINTS)")
        await conn.execute("ALTER TABLE floor_key ADD UNIQUE (exchange_id, symbol_id, time, ts_recv)")
        await conn.execute("CREATE TABLE floor_bare (LIKE book_tickers)")
        floor = []
        for table in ("floor_key", "floor_bare"):
            batches = [[_record(m, ex, sym) for m in _bbos(BATCH)] for _ in range(BATCHES)]
            t0 = time.perf_counter()
            await _direct(conn, batches, table, rollup=False)
            floor.append(BATCH * BATCHES / (time.perf_counter() - t0))
        batches = [[_record(m, ex, sym) for m in _bbos(BATCH)] for _ in range(BATCHES)]
        t0 = time.perf_counter()
        for recs in batches:
            async with conn.transaction():
                await conn.copy_records_to_table(BOOK_TICKERS.stage, records=recs, columns=BOOK_TICKERS.columns)
                assert await merge_staged(conn, BOOK_TICKERS, BOOK_TICKERS.merge_plain, time.time_ns()) == BATCH
        copy_rate = BATCH * BATCHES / (time.perf_counter() - t0)
        sql = ("INSERT INTO book_tickers (exchange_id, symbol_id, bid_px, bid_sz, ask_px, ask_sz, seq, ts_event, "
               "ts_recv, ts_pub, time, ts_rec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ns_to_ts($8), $11) "
               "ON CONFLICT DO NOTHING")
        batches = [[(*_record(m, ex, sym), 0) for m in _bbos(BATCH)] for _ in range(BATCHES)]
        t0 = time.perf_counter()
        for recs in batches:
            async with conn.transaction():
                await conn.executemany(sql, recs)
        many_rate = BATCH * BATCHES / (time.perf_counter() - t0)
        return direct_rate, copy_rate, many_rate, two_rate, floor[0], floor[1]
    finally:
        await conn2.close()
        await conn.close()


async def _writer(dsn: str) -> float:
    w = Writer(dsn, RecorderConfig(), LOG)
    try:
        batches = [[types.SimpleNamespace(subject="md.mexc.spot.BTC-USDT.bbo", data=codec.encode(m))
                    for m in _bbos(BATCH)] for _ in range(BATCHES)]
        warm = [types.SimpleNamespace(subject="md.mexc.spot.BTC-USDT.bbo", data=codec.encode(m)) for m in _bbos(1)]
        await w.write("MD", warm)  # connect, staging tables, ids: not part of the figure
        t0 = time.perf_counter()
        for b in batches:
            res = await w.write("MD", b)
            assert res.inserted["book_tickers"] == BATCH
        return BATCH * BATCHES / (time.perf_counter() - t0)
    finally:
        await w.close()


async def _end_to_end(dsn: str, nats_url: str, n: int = 100_000) -> float:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    bus = await Bus.connect(nats_url, name="bench-recorder")
    names = await ensure_streams(bus.js, StreamLimits(md_max_age_s=600, md_max_bytes=512 << 20), prefix)
    try:
        subject = prefix + "md.mexc.spot.BTC-USDT.bbo"
        for m in _bbos(n):
            await bus.nc.publish(subject, codec.encode(m))
        await bus.nc.flush()
        md = stream_name_prefix(prefix) + "MD"
        for _ in range(600):
            if (await bus.js.stream_info(md)).state.messages >= n:
                break
            await asyncio.sleep(0.05)
        stored = (await bus.js.stream_info(md)).state.messages
        if stored < n:
            raise RuntimeError(f"only {stored} of {n} messages reached stream {md}")
        rec = Recorder(bus.js, dsn, RecorderConfig(streams=("MD",), fetch_timeout_s=0.2), prefix, LOG)
        await rec.start()
        old_gc = tune_gc()  # as the service does after start
        try:
            t0 = time.perf_counter()
            while rec.stats["MD"].acked < n:
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"only {rec.stats['MD'].acked} of {n} acked within 120 s")
                await asyncio.sleep(0.01)
            rate = n / (time.perf_counter() - t0)
        finally:
            gc.set_threshold(*old_gc)
            gc.unfreeze()
            await rec.close()
        return rate
    finally:
        for name in names:
            try:
                await bus.js.delete_stream(name)
            except Exception:  # noqa: BLE001, S110 -- cleanup of a bench stream
                pass
        await bus.drain()


async def _main(pg_url: str, nats_url: str) -> list[Row]:
    name = f"bench_rec_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(pg_url, name)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await schema.apply(conn)
        finally:
            await conn.close()
        direct_rate, copy_rate, many_rate, two_rate, no_fk_rate, bare_rate = await _db_paths(dsn)
        writer_rate = await _writer(dsn)
        e2e = await _end_to_end(dsn, nats_url)
    finally:
        await drop_database(pg_url, name)
    t_copy, t_e2e = ">= 250000", ">= 100000"
    return [
        Row(figure="recorder: bbo direct COPY+rollup, 1k-row txns", ours=direct_rate, unit="rows/s", peer=many_rate,
            peer_name="executemany INSERT ON CONFLICT", target=t_copy, met=check(direct_rate, t_copy)),
        Row(figure="recorder: bbo direct COPY+rollup, 2 connections", ours=two_rate, unit="rows/s",
            peer=direct_rate, peer_name="1 connection", target=t_copy, met=check(two_rate, t_copy)),
        Row(figure="recorder floor: bbo COPY, no FK (key, CHECKs)", ours=no_fk_rate, unit="rows/s", peer=bare_rate,
            peer_name="bare table: no key, FK, CHECK"),
        Row(figure="recorder: bbo staged COPY+merge+rollup (replays)", ours=copy_rate, unit="rows/s", peer=many_rate,
            peer_name="executemany INSERT ON CONFLICT", target=t_copy, met=check(copy_rate, t_copy)),
        Row(figure="recorder: bbo Writer.write (decode+COPY+rollup)", ours=writer_rate, unit="rows/s",
            peer=direct_rate, peer_name="direct COPY+rollup alone", target=t_copy, met=check(writer_rate, t_copy)),
        Row(figure="recorder: bbo end to end from JetStream, acked", ours=e2e, unit="rows/s", peer=writer_rate,
            peer_name="Writer.write alone", target=t_e2e, met=check(e2e, t_e2e)),
    ]


def run() -> list[Row]:
    pg = find_or_start_postgres()
    nats = find_or_start_nats()
    try:
        return asyncio.run(_main(pg.url, nats.url))
    finally:
        nats.stop()
        pg.stop()


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
