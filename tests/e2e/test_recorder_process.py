"""`arb recorder` as a real process: killed with SIGKILL mid-stream and started again, it loses no message and stores
none twice (published counted against stored), and it logs the storage mode it runs in."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest
from arb.bus import codec, subjects
from arb.core.enums import Market, Venue
from arb.testing.poll import bounded, eventually
from arb.testing.procs import Service
from arb.testing.recorder_kit import bbo, count, samples

pytestmark = pytest.mark.e2e


async def _publish(bus, prefix: str, start: int, n: int) -> int:
    subj = prefix + subjects.md(Venue.MEXC, Market.SPOT, "BTC-USDT", "bbo")
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with sem:
            await bus.js.publish(subj, codec.encode(bbo(i)), timeout=10)

    await bounded(asyncio.gather(*(one(i) for i in range(start, start + n))), 60, "publish")
    return n


async def _metric(base: str, name: str) -> float:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
            http.get(f"{base}/metrics") as r:
        text = await r.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.timeout(90)
async def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(bus, js_streams, pg_dsn, nats_url,
                                                                     tmp_path: Path):
    """Recorder killed with SIGKILL while batches are in flight, started again: every published message is stored
    exactly once (the unacked ones are redelivered after ack_wait and the unique keys absorb the committed ones)."""
    p = js_streams.subject_prefix
    cfg = tmp_path / "recorder.yaml"
    cfg.write_text("http:\n  port: 0\nrecorder:\n  ack_wait_s: 2\n  fetch_timeout_s: 0.1\n  batch_size: 200\n"
                   "  backoff_initial_s: 0.05\n  backoff_max_s: 0.5\n  max_ack_pending: 2000\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(NATS_URL=nats_url, DATABASE_URL=pg_dsn, ARB_NATS__SUBJECT_PREFIX=p)
    first = Service(["recorder", "--config", str(cfg)], env, tmp_path / "recorder1.log")
    second: Service | None = None
    try:
        await first.wait_ready(30)
        published = await _publish(bus, p, 0, 4000)
        for subject, m in samples()[1:]:  # one of every other type too (bbo(0) is among the 4,000)
            await bus.js.publish(p + subject, codec.encode(m), timeout=10)
        published += len(samples()) - 1

        async def some_stored() -> bool:
            return await count(pg_dsn, "book_tickers") > 0

        await eventually(some_stored, timeout=20, what="the first recorder stored something")
        first.proc.kill()  # SIGKILL: no flush, no ack of what it had fetched
        first.stop(10)  # already dead: reaps it and closes its pipes
        stored_at_kill = await count(pg_dsn, "book_tickers")
        published += await _publish(bus, p, 4000, 2000)  # more arrives while no recorder runs
        second = Service(["recorder", "--config", str(cfg)], env, tmp_path / "recorder2.log")
        await second.wait_ready(30)

        async def all_stored() -> bool:
            assert await count(pg_dsn, "book_tickers") == 6000
            rows = {t: await count(pg_dsn, t) for t in ("fills", "orders", "cycles", "positions", "opportunities")}
            assert rows == {"fills": 1, "orders": 1, "cycles": 1, "positions": 1, "opportunities": 1}
            return True

        await eventually(all_stored, timeout=40, interval=0.2, what="6,000 book tickers and the other types stored")
        assert await count(pg_dsn, "dead_letters") == 0
        import asyncpg

        c = await asyncpg.connect(pg_dsn, timeout=5)
        try:
            distinct = await c.fetchval("SELECT count(DISTINCT ts_recv) FROM book_tickers")
            rollup = await c.fetchval("SELECT sum(n) FROM bbo_1m")
        finally:
            await c.close(timeout=5)
        assert distinct == 6000 and rollup == 6000
        assert "storage mode: plain PostgreSQL" in first.log()
        base = await second.http_base()
        assert await _metric(base, 'arb_recorder_rows_total{table="book_tickers"}') == 6000 - stored_at_kill
        print(f"recorder kill -9: published {published} messages ({6000} book tickers), stored {stored_at_kill} "
              f"before the kill, {distinct} distinct after restart, {rollup} in the rollup")
        assert second.stop() == 0
    finally:
        if first.alive():
            first.stop()
        if second is not None and second.alive():
            second.stop()
