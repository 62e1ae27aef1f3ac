"""What issue 10's safety costs on the order path: command intake (decode + verb + number checks) beside a bare
decode, and the journal claim made before every venue call (one KV create) beside its floor, a plain acked
JetStream publish of the same bytes, both against the same local NATS in the same run."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from decimal import Decimal

from arb.bus import codec
from arb.bus.connection import Bus
from arb.bus.streams import StreamLimits, ensure_streams
from arb.bus.subjects import OrdSubjects
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, Side, Venue
from arb.testing.servers import find_or_start_nats
from arb.venues.common.journal import OrderJournal
from arb.venues.common.trading import CommandHandler

from bench.common import Row, per_call_ns

N = 2_000


class _Trader:
    venue, market, account = Venue.MEXC, Market.SPOT, "bench"


def _intake_rows() -> list[Row]:
    h = CommandHandler(_Trader(), bus=None, subjects=OrdSubjects.of(Venue.MEXC, "bench", Market.SPOT))  # type: ignore[arg-type]
    data = codec.encode(PlaceOrder("bench-1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.0012"),
                                   price=Decimal("65000.1")))
    subject = "ord.mexc.bench.cmd.spot.place"
    ours = per_call_ns(lambda: h.intake(subject, data), number=50_000)
    bare = per_call_ns(lambda: codec.decode(data), number=50_000)
    return [Row(figure="command intake: decode + verb + number checks", ours=ours, unit="ns", peer=bare,
                peer_name="bare codec.decode")]


async def _journal_rows(url: str) -> list[Row]:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    bus = await Bus.connect(url, name="bench-journal")
    names = await ensure_streams(bus.js, StreamLimits(md_max_age_s=60, md_max_bytes=16 << 20), prefix)
    try:
        journal = await OrderJournal.open(bus.js, Venue.MEXC, "bench", Market.SPOT, prefix)
        subject = OrdSubjects.of(Venue.MEXC, "bench", Market.SPOT, prefix).order
        claim_us, publish_us = [], []
        for i in range(N):
            cmd = PlaceOrder(f"bench-{i}", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.0012"),
                             price=Decimal("65000.1"))
            t0 = time.perf_counter_ns()
            entry, _ = await journal.claim(cmd, time.time_ns())
            claim_us.append((time.perf_counter_ns() - t0) / 1e3)
            assert entry is None
            payload = codec.encode(cmd)
            t0 = time.perf_counter_ns()
            await bus.js.publish(subject, payload)
            publish_us.append((time.perf_counter_ns() - t0) / 1e3)
        q = statistics.quantiles
        return [
            Row(figure="journal claim before a venue call (KV create), p50", ours=statistics.median(claim_us),
                unit="us", peer=statistics.median(publish_us), peer_name="acked JetStream publish"),
            Row(figure="journal claim (KV create), p99", ours=q(claim_us, n=100)[98], unit="us",
                peer=q(publish_us, n=100)[98], peer_name="acked JetStream publish"),
        ]
    finally:
        for name in names:
            try:
                await bus.js.delete_stream(name)
            except Exception:  # noqa: BLE001, S110 -- best effort cleanup of this run's streams
                pass
        await bus.drain()


def run() -> list[Row]:
    rows = _intake_rows()
    handle = find_or_start_nats()
    try:
        rows += asyncio.run(_journal_rows(handle.url))
    finally:
        handle.stop()
    return rows
