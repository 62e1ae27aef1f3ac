"""The recorder with the real NATS JetStream and PostgreSQL: every message type to its row, replays and redeliveries
inserting nothing twice, bad messages dead-lettered without stopping the rest, two replicas, a PostgreSQL outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from urllib.parse import urlsplit

import asyncpg
import pytest
from arb.bus import codec, subjects
from arb.core.enums import Market, Venue
from arb.core.market_data import FundingRate, IndexPrice, MarkPrice
from arb.recorder.config import RecorderConfig
from arb.recorder.recorder import Recorder
from arb.testing.poll import bounded, eventually
from arb.testing.recorder_kit import SAMPLE_TABLES, T0, PgProxy, bbo, count, samples, skipped_samples

pytestmark = pytest.mark.integration

LOG = logging.getLogger("test-recorder")
FAST = {"fetch_timeout_s": 0.1, "ack_wait_s": 2.0, "backoff_initial_s": 0.05, "backoff_max_s": 0.5,
        "lag_interval_s": 0.5}


@pytest.fixture
async def recorders(bus, js_streams, pg_dsn) -> AsyncIterator[Callable[..., asyncio.Future]]:
    """Start recorders on this test's streams (``await start(consumer="recorder", dsn=pg_dsn, **cfg)``); closed after."""
    made: list[Recorder] = []

    async def start(consumer: str = "recorder", dsn: str = pg_dsn, **cfg) -> Recorder:
        rec = Recorder(bus.js, dsn, RecorderConfig(consumer=consumer, **{**FAST, **cfg}), js_streams.subject_prefix,
                       LOG, name=f"rec{len(made)}")
        made.append(rec)
        await bounded(rec.start(), 30, "recorder start")
        return rec

    try:
        yield start
    finally:
        for rec in made:
            await bounded(rec.close(5.0), 15, "recorder close")


async def _publish(bus, prefix: str, items, concurrency: int = 64) -> int:
    """JetStream-acked publishes (stored before this returns), ``concurrency`` in flight."""
    sem = asyncio.Semaphore(concurrency)

    async def one(subject: str, data: bytes) -> None:
        async with sem:
            await bus.js.publish(prefix + subject, data, timeout=10)

    await bounded(asyncio.gather(*(one(s, m if isinstance(m, bytes) else codec.encode(m)) for s, m in items)), 60,
                  "publish")
    return len(items)


async def _rows(dsn: str, table: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetch(f"SELECT * FROM {table}", timeout=10)  # a fixed table name
    finally:
        await conn.close(timeout=5)


def _bbos(n: int, start: int = 0) -> list[tuple[str, object]]:
    return [(subjects.md(Venue.MEXC, Market.SPOT, "BTC-USDT", "bbo"), bbo(i)) for i in range(start, start + n)]


async def _all_in(dsn: str, table: str, n: int, timeout: float = 30.0) -> None:
    async def done() -> bool:
        assert await count(dsn, table) == n
        return True

    await eventually(done, timeout=timeout, interval=0.1, what=f"{n} rows in {table}")


async def test_every_recorded_message_type_becomes_its_row(bus, js_streams, pg_dsn, recorders):
    """Each message type published on its subject comes out as one row of its table, its fields intact."""
    p = js_streams.subject_prefix
    rec = await recorders()
    skipped = {t: rec.m.skipped.labels(t)._value.get()
               for t in ("margin", "liq_warning", "strat_funding_paid", "delta", "strat_tick")}
    await _publish(bus, p, samples() + skipped_samples())

    async def all_there() -> bool:
        for table in set(SAMPLE_TABLES):
            assert await count(pg_dsn, table) == SAMPLE_TABLES.count(table), table
        return True

    await eventually(all_there, timeout=20, interval=0.1, what="one row per sample")
    bt = (await _rows(pg_dsn, "book_tickers"))[0]
    assert (bt["bid_px"], bt["bid_sz"], bt["ask_px"], bt["ask_sz"], bt["seq"]) == (100.0, 1.5, 100.5, 2.0, 0)
    assert bt["time"].timestamp() == 1_750_000_000 and bt["ts_recv"] == bbo(0).ts_recv and bt["ts_rec"] > 0
    book = (await _rows(pg_dsn, "book_snapshots"))[0]
    assert (book["bid_px"], book["bid_sz"], book["ask_px"], book["state"]) == ([100.0, 99.5], [1.0, 2.0], [100.5], "ok")
    trade = (await _rows(pg_dsn, "trades"))[0]
    assert (trade["price"], trade["size"], trade["side"], trade["trade_id"]) == (2500.5, 0.25, "sell", "t-9")
    assert sorted((r["kind"], r["price"]) for r in await _rows(pg_dsn, "prices")) == [("index", 100.1), ("mark", 100.2)]
    funding = (await _rows(pg_dsn, "funding_rates"))[0]
    assert (funding["rate"], funding["interval_s"]) == (0.0001, 28800)
    assert (await _rows(pg_dsn, "book_status"))[0]["reason"] == "gap 5 -> 7"
    oi = (await _rows(pg_dsn, "open_interest"))[0]
    assert (oi["size"], oi["notional"], oi["ts_recv"]) == (1234.5, 123_456_789.0, T0 + 1)
    assert oi["time"].timestamp() == 1_750_000_000 and oi["ts_rec"] > 0
    liq = (await _rows(pg_dsn, "liquidations"))[0]
    assert (liq["price"], liq["size"], liq["side"], liq["source"], liq["ts_event"]) == (99.5, 0.3, "sell", "rest", T0)
    kl = (await _rows(pg_dsn, "klines"))[0]
    assert (kl["interval_name"], kl["open_ns"], kl["open"], kl["high"], kl["low"], kl["close"]) == (
        "1m", T0 - 60 * 10**9, 100.0, 101.5, 99.0, 100.5)
    assert (kl["volume"], kl["quote_volume"], kl["closed"], kl["time"].timestamp()) == (
        12.5, 1256.25, True, 1_750_000_000)
    order = (await _rows(pg_dsn, "orders"))[0]
    assert (order["price"], order["filled_qty"], order["status"], order["contracts"]) == (
        Decimal("100.1"), Decimal("0.01"), "filled", Decimal(1))
    fill = (await _rows(pg_dsn, "fills"))[0]
    assert (fill["price"], fill["qty"], fill["fee"], fill["fee_asset"]) == (
        Decimal("100.05"), Decimal("0.01"), Decimal("0.0005"), "USDT")
    bal = (await _rows(pg_dsn, "balances"))[0]
    assert (bal["asset"], bal["free"], bal["locked"]) == ("USDT", Decimal("1000.5"), Decimal(2))
    pos = (await _rows(pg_dsn, "positions"))[0]
    assert (pos["size"], pos["leverage"], pos["liq_price"]) == (Decimal("-0.01"), 3, Decimal(130))
    acct = (await _rows(pg_dsn, "margin_accounts"))[0]
    assert (acct["account"], acct["asset"], acct["total"], acct["available"], acct["position_margin"],
            acct["order_margin"], acct["maintenance_margin"], acct["unrealised_pnl"], acct["positions"],
            acct["correction"]) == ("main", "USDT", Decimal("1000.5"), Decimal("990.25"), Decimal("10.2"),
                                    Decimal("0.05"), Decimal("0.0601"), Decimal("-0.75"), 2, True)
    assert acct["time"].timestamp() == 1_750_000_000 and acct["ts_recv"] == T0 + 1 and acct["ts_rec"] > 0
    pms = {r["name"]: r for r in await _fetch(pg_dsn, (
        "SELECT s.name, e.market, p.* FROM position_margins p JOIN symbols s ON s.id = p.symbol_id "
        "JOIN exchanges e ON e.id = p.exchange_id"))}
    btc, eth = pms["BTC-USDT"], pms["ETH-USDT"]
    assert (btc["market"], btc["account"], btc["size"], btc["contracts"], btc["leverage"], btc["entry_price"],
            btc["mark_price"], btc["liq_price"], btc["margin"], btc["maintenance_rate"], btc["maintenance_margin"],
            btc["unrealised_pnl"], btc["distance"], btc["correction"]) == (
        "futures", "main", Decimal("-0.01"), Decimal(-1), 10, Decimal("100.3"), Decimal("100.2"), Decimal("102.5"),
        Decimal("0.1003"), Decimal("0.005"), Decimal("0.00501"), Decimal("0.001"), Decimal("0.02295409"), True)
    assert (eth["size"], eth["contracts"], eth["leverage"], eth["liq_price"], eth["distance"]) == (
        Decimal("0.5"), Decimal(50), 0, Decimal(0), None)  # no liquidation price: no distance
    assert btc["time"] == acct["time"] and btc["ts_recv"] == eth["ts_recv"] == acct["ts_recv"]
    warn = (await _rows(pg_dsn, "liquidation_warnings"))[0]
    assert (warn["account"], warn["level"], warn["size"], warn["mark_price"], warn["liq_price"], warn["distance"],
            warn["threshold"], warn["ts_recv"]) == ("main", "worse", Decimal("-0.01"), Decimal("100.2"),
                                                    Decimal("102.5"), Decimal("0.02295409"), Decimal("0.05"), T0 + 1)
    assert warn["symbol_id"] == btc["symbol_id"] and warn["time"].timestamp() == 1_750_000_000
    paid = await _rows(pg_dsn, "funding_payments")  # the ORD one; its strat.btc.input copy names no account
    assert [(r["account"], r["symbol_id"], r["amount"], r["rate"], r["ts"]) for r in paid] == [
        ("main", btc["symbol_id"], Decimal("-0.00012345"), 0.0001, T0 - 3600 * 10**9)]
    assert paid[0]["time"].timestamp() == 1_750_000_000 - 3600 and paid[0]["ts_rec"] > 0
    cyc = (await _rows(pg_dsn, "cycles"))[0]
    assert (cyc["pnl"], cyc["fees_quote"], cyc["funding"], cyc["orders"]) == (
        Decimal("0.0041"), Decimal("0.002"), Decimal("0.0001"), 4)
    assert '"USDT": "0.002"' in cyc["fees"] and (cyc["time"] - cyc["opened"]).total_seconds() == 60
    assert (await _rows(pg_dsn, "strategy_transitions"))[0]["new"] == "managing_orders"
    cmd = (await _rows(pg_dsn, "strategy_commands"))[0]
    assert (cmd["verb"], cmd["client_order_id"]) == ("place", "c1") and '"qty": "0.01"' in cmd["command"]
    assert (await _rows(pg_dsn, "opportunities"))[0]["taken"] is True
    assert (await _rows(pg_dsn, "exposures"))[0]["net"] == Decimal("0.0001")
    assert (await _rows(pg_dsn, "rebalance_needs"))[0]["need"] == Decimal("0.01")
    # the symbols each market saw, under the exchange of that market
    syms = {(r["venue"], r["market"], r["name"]) for r in await _fetch(pg_dsn, (
        "SELECT e.venue, e.market, s.name FROM symbols s JOIN exchanges e ON e.id = s.exchange_id"))}
    assert syms == {("mexc", "spot", "BTC-USDT"), ("gateio", "spot", "ETH-USDT"), ("gateio", "futures", "BTC-USDT"),
                    ("gateio", "futures", "ETH-USDT")}  # the last one seen only as a position of the Margin
    # the delta, the tick and the FundingPaid's strat.<task>.input copy have no row: skipped, not dead letters; the
    # margin, the warning and the ORD FundingPaid are stored, not counted as skipped; every message acked
    await eventually(lambda: sum(s.acked for s in rec.stats.values()) == len(samples()) + len(skipped_samples()),
                     timeout=10, what="all acked")
    assert await count(pg_dsn, "dead_letters") == 0
    assert {t: rec.m.skipped.labels(t)._value.get() - n for t, n in skipped.items()} == {
        "margin": 0, "liq_warning": 0, "strat_funding_paid": 1, "delta": 1, "strat_tick": 1}
    roll = await _fetch(pg_dsn, "SELECT n, sum_mid, last_bid, last_ask FROM bbo_1m")
    assert [tuple(r) for r in roll] == [(1, 100.25, 100.0, 100.5)]


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetch(sql, timeout=10)
    finally:
        await conn.close(timeout=5)


async def test_a_replay_inserts_nothing_twice(bus, js_streams, pg_dsn, recorders):
    """A second consumer replaying the whole streams into the same database adds no row and no rollup count."""
    p = js_streams.subject_prefix
    first = await recorders("first")
    n = await _publish(bus, p, _bbos(3000) + samples())
    await _all_in(pg_dsn, "book_tickers", 3000)
    await eventually(lambda: sum(s.acked for s in first.stats.values()) == n, timeout=20, what="first acked all")
    before = {t: await count(pg_dsn, t) for t in set(SAMPLE_TABLES)}
    second = await recorders("second")  # a new durable: delivered everything again from the start
    await eventually(lambda: sum(s.acked for s in second.stats.values()) == n, timeout=30, what="replay acked all")
    after = {t: await count(pg_dsn, t) for t in set(SAMPLE_TABLES)}
    assert after == before and after["book_tickers"] == 3000  # samples()[0] is bbo(0) again
    assert sum(s.inserted for s in second.stats.values()) == 0
    assert {t: after[t] for t in ("open_interest", "liquidations", "klines")} == {
        "open_interest": 1, "liquidations": 1, "klines": 1}  # the derivatives' rows too, once each
    assert {t: after[t] for t in ("margin_accounts", "position_margins", "liquidation_warnings",
                                  "funding_payments")} == {
        "margin_accounts": 1, "position_margins": 2, "liquidation_warnings": 1, "funding_payments": 1}
    paid = await _fetch(pg_dsn, "SELECT account, amount, ts FROM funding_payments")
    assert [tuple(r) for r in paid] == [("main", Decimal("-0.00012345"), T0 - 3600 * 10**9)]
    pos = await _fetch(pg_dsn, "SELECT size, distance FROM position_margins ORDER BY size")
    assert [tuple(r) for r in pos] == [(Decimal("-0.01"), Decimal("0.02295409")), (Decimal("0.5"), None)]
    assert (await _fetch(pg_dsn, "SELECT sum(n) FROM bbo_1m"))[0][0] == 3000  # the rollup counted each row once


async def test_malformed_messages_are_dead_lettered_and_the_next_ones_recorded(bus, js_streams, pg_dsn, recorders):
    """Garbage bytes, a crossed book and an invalid symbol go to dead_letters (subject, bytes, reason); the good
    messages around them, in the same batch, are recorded; every message is acked."""
    p = js_streams.subject_prefix
    subj = subjects.md(Venue.MEXC, Market.SPOT, "BTC-USDT", "bbo")
    garbage = b"\x93\x01\x02not a message"
    crossed = bbo(5, bid=101.0, ask=100.0)
    bad_symbol = bbo(6, symbol="btc usdt")
    rec = await recorders()
    items = [(subj, bbo(1)), (subj, garbage), (subj, bbo(2)), (subj, crossed), (subj, bad_symbol), (subj, bbo(3))]
    await _publish(bus, p, items, concurrency=1)
    await _all_in(pg_dsn, "dead_letters", 3)
    await _all_in(pg_dsn, "book_tickers", 3)
    dead = sorted(await _rows(pg_dsn, "dead_letters"), key=lambda r: r["stream_seq"])
    assert [r["subject"] for r in dead] == [p + subj] * 3
    assert bytes(dead[0]["data"]) == garbage and dead[0]["reason"].startswith("undecodable")
    assert bytes(dead[1]["data"]) == codec.encode(crossed) and "book_tickers_crossed" in dead[1]["reason"]
    assert bytes(dead[2]["data"]) == codec.encode(bad_symbol) and "symbols_name" in dead[2]["reason"]
    assert dead[0]["stream"] == "MD" and dead[0]["stream_seq"] == 2
    assert sorted(r["seq"] for r in await _rows(pg_dsn, "book_tickers")) == [1, 2, 3]
    await eventually(lambda: rec.stats["MD"].acked == 6, timeout=10, what="all six acked")
    # and the consumer goes on: a later message is recorded too
    await _publish(bus, p, [(subj, bbo(4))])
    await _all_in(pg_dsn, "book_tickers", 4)


async def test_two_replicas_share_the_consumers_without_duplicates(bus, js_streams, pg_dsn, recorders):
    """Two recorders on the same durable consumers each take part of the stream; every row is stored exactly once."""
    p = js_streams.subject_prefix
    a = await recorders(batch_size=200)
    b = await recorders(batch_size=200)
    n = await _publish(bus, p, _bbos(6000))
    await _all_in(pg_dsn, "book_tickers", n)
    distinct = (await _fetch(pg_dsn, "SELECT count(DISTINCT ts_recv) FROM book_tickers"))[0][0]
    assert distinct == n
    await eventually(lambda: a.stats["MD"].acked + b.stats["MD"].acked >= n, timeout=10, what="all acked")
    assert a.stats["MD"].inserted > 0 and b.stats["MD"].inserted > 0  # both did part of the work
    assert a.stats["MD"].inserted + b.stats["MD"].inserted == n


async def test_a_postgres_outage_loses_nothing_and_acks_nothing_early(bus, js_streams, pg_dsn, recorders):
    """PostgreSQL cut off (every connection dropped, new ones refused) while messages flow, then its backends
    terminated repeatedly: the recorder retries with backoff, acks nothing meanwhile, and in the end every
    published message is stored once."""
    p = js_streams.subject_prefix
    u = urlsplit(pg_dsn)
    proxy = await PgProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    try:
        rec = await recorders(dsn=proxy.dsn(pg_dsn), batch_size=250)
        await _publish(bus, p, _bbos(1000))
        await _all_in(pg_dsn, "book_tickers", 1000)
        acked_before = rec.stats["MD"].acked
        proxy.cut()
        await _publish(bus, p, _bbos(2000, start=1000))
        # down: nothing more is stored, nothing more acked, and the consumer holds the fetched messages unacked
        await eventually(lambda: rec.m.db_up._value.get() == 0, timeout=10, what="the recorder saw the outage")
        assert await count(pg_dsn, "book_tickers") == 1000 and rec.stats["MD"].acked == acked_before
        info = await bus.js.consumer_info(js_streams.md, "recorder")
        assert info.num_ack_pending > 0
        proxy.restore()
        # then the backends terminated again and again while it catches up
        admin = await asyncpg.connect(pg_dsn, timeout=5)
        try:
            db = u.path.lstrip("/")
            for _ in range(5):
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                                    "AND pid <> pg_backend_pid() AND application_name LIKE 'arb-%'", db, timeout=5)
                await asyncio.sleep(0.1)  # spacing between terminations (not a wait for a result)
            await _publish(bus, p, _bbos(1000, start=3000))
        finally:
            await admin.close(timeout=5)
        await _all_in(pg_dsn, "book_tickers", 4000, timeout=40)
        assert (await _fetch(pg_dsn, "SELECT count(DISTINCT ts_recv) FROM book_tickers"))[0][0] == 4000
        assert rec.m.db_errors.labels("transient")._value.get() > 0
    finally:
        with contextlib.suppress(Exception):
            await proxy.close()


def _mixed_md(n: int, start: int = 0) -> list[tuple[str, object]]:
    """``n`` rounds of a book ticker, a mark, an index and a funding rate (each round its own ts), in that order."""
    g, f = Venue.GATEIO, Market.FUTURES
    out: list[tuple[str, object]] = []
    for i in range(start, start + n):
        t = T0 + i * 1_000_000
        out.append((subjects.md(Venue.MEXC, Market.SPOT, "BTC-USDT", "bbo"), bbo(i)))
        out.append((subjects.md(g, f, "BTC-USDT", "mark"), MarkPrice(venue=g, market=f, symbol="BTC-USDT", price=100.0,
                                                                    ts_event=t, ts_recv=t + 1, ts_pub=t + 2)))
        out.append((subjects.md(g, f, "BTC-USDT", "index"), IndexPrice(venue=g, market=f, symbol="BTC-USDT",
                                                                      price=99.0, ts_event=t, ts_recv=t + 1,
                                                                      ts_pub=t + 2)))
        out.append((subjects.md(g, f, "BTC-USDT", "funding"), FundingRate(
            venue=g, market=f, symbol="BTC-USDT", rate=1e-4, next_funding_ns=t + 10**12, interval_s=28800, ts_event=t,
            ts_recv=t + 1, ts_pub=t + 2)))
    return out


async def _redelivered(bus, stream: str, consumer: str = "recorder") -> int:
    """How many deliveries of the consumer were redeliveries: each delivery takes a consumer sequence, each message
    one stream sequence (num_redelivered only counts those not acked yet)."""
    info = await bus.js.consumer_info(stream, consumer, timeout=5)
    return info.delivered.consumer_seq - info.delivered.stream_seq


async def _settled(bus, js_streams, consumer: str = "recorder") -> None:
    """Every stream's consumer has nothing pending, nothing unacked, and never redelivered anything."""
    async def settled() -> bool:
        for stream in (js_streams.md, js_streams.ord, js_streams.strat):
            info = await bus.js.consumer_info(stream, consumer, timeout=5)
            assert (stream, info.num_pending, info.num_ack_pending, info.num_redelivered) == (stream, 0, 0, 0)
            assert (stream, await _redelivered(bus, stream, consumer)) == (stream, 0)
        return True

    await eventually(settled, timeout=15, interval=0.2, what="every message acked, none redelivered")


async def test_two_writers_on_mixed_types_ack_everything_and_nothing_is_redelivered(bus, js_streams, pg_dsn, recorders):
    """With ``writers: 2`` and batches mixing book tickers, marks, indexes, funding rates and every other type (acked
    per batch as one buffer of +ACK lines), every message is acked once committed: the consumers end with nothing
    pending or unacked and nothing redelivered, and the rows equal the messages."""
    p = js_streams.subject_prefix
    rec = await recorders(writers=2, batch_size=50)
    n = await _publish(bus, p, _mixed_md(1500, start=10_000) + samples())
    await _all_in(pg_dsn, "book_tickers", 1501)
    await _all_in(pg_dsn, "prices", 3002)
    await _all_in(pg_dsn, "funding_rates", 1501)
    await _settled(bus, js_streams)
    for table in set(SAMPLE_TABLES) - {"book_tickers", "prices", "funding_rates"}:
        assert await count(pg_dsn, table) == SAMPLE_TABLES.count(table), table
    assert sum(st.acked for st in rec.stats.values()) == n
    assert (await _fetch(pg_dsn, "SELECT sum(n) FROM prices_1m"))[0][0] == 3002


async def test_a_stalled_postgres_keeps_the_held_messages_in_progress_and_nothing_is_redelivered(
        bus, js_streams, pg_dsn, recorders):
    """PostgreSQL hanging (connections accepted, nothing answered) for 3 x ack_wait under one of two replicas: its
    held messages are kept in progress all along (none redelivered to the other replica), its hung statements end at
    ``command_timeout_s`` as an outage, and after the stall every message is stored once."""
    p = js_streams.subject_prefix
    u = urlsplit(pg_dsn)
    proxy = await PgProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    try:
        stuck = await recorders(dsn=proxy.dsn(pg_dsn), batch_size=100, command_timeout_s=2.5, connect_timeout_s=1.0)
        await recorders(batch_size=100)  # the other replica, straight to PostgreSQL
        await _publish(bus, p, _bbos(500))
        await _all_in(pg_dsn, "book_tickers", 500)
        transient = stuck.m.db_errors.labels("transient")._value.get()
        proxy.stall()
        await _publish(bus, p, _bbos(2000, start=500))
        await eventually(lambda: sum(len(b) for b in stuck._held["MD"]) > 0, timeout=10,
                         what="the stalled replica holds messages")
        await asyncio.sleep(3 * 2.0)  # the stall window: 3 x ack_wait_s
        held = sum(len(b) for b in stuck._held["MD"])
        assert held > 0
        assert stuck.m.db_errors.labels("transient")._value.get() > transient  # the hung statement timed out
        assert await _redelivered(bus, js_streams.md) == 0
        proxy.resume()
        await _all_in(pg_dsn, "book_tickers", 2500, timeout=40)
        await _settled(bus, js_streams)
        assert (await _fetch(pg_dsn, "SELECT count(DISTINCT ts_recv) FROM book_tickers"))[0][0] == 2500
        assert (await _fetch(pg_dsn, "SELECT sum(n) FROM bbo_1m"))[0][0] == 2500
    finally:
        with contextlib.suppress(Exception):
            await proxy.close()


async def test_no_pull_request_piles_up_while_nats_is_away_and_recording_resumes(pg_dsn, tmp_path):
    """NATS stopped under the recorder: no fetch is sent while the client reconnects (its pull requests would wait in
    the client's buffer and, at the reconnect, pull many batches into one replica, unmarked), and once NATS is back
    the recorder fetches and stores again by itself."""
    from arb.bus.connection import Bus
    from arb.bus.streams import StreamLimits, ensure_streams
    from arb.testing.recorder_kit import NatsProcess

    srv = await NatsProcess(tmp_path / "js", tmp_path / "nats.log").start()
    bus = None
    rec = None
    try:
        bus = await bounded(Bus.connect(srv.url, name="pytest-recorder"), 10, "connect")
        await bounded(ensure_streams(bus.js, StreamLimits(md_max_age_s=60, md_max_bytes=64 << 20)), 10, "streams")
        rec = Recorder(bus.js, pg_dsn, RecorderConfig(**FAST), "", LOG, name="rec-nats")
        await bounded(rec.start(), 30, "recorder start")
        await _publish(bus, "", _bbos(10))
        await _all_in(pg_dsn, "book_tickers", 10)
        nc = bus.js._nc
        await srv.stop()
        await eventually(lambda: not nc.is_connected, timeout=10, interval=0.02, what="the client sees NATS away")
        buffered = nc.pending_data_size
        await asyncio.sleep(1.0)  # NATS away for 1 s (the scenario): ~10 fetch rounds per stream at fetch_timeout 0.1
        assert nc.pending_data_size - buffered < 100  # not one pull request (each ~60 bytes) more in the buffer
        await srv.start()
        await _publish(bus, "", _bbos(10, start=10))
        await _all_in(pg_dsn, "book_tickers", 20)
    finally:
        if rec is not None:
            await bounded(rec.close(5.0), 15, "recorder close")
        if bus is not None:
            await bounded(bus.drain(), 10, "drain")
        await srv.stop()
