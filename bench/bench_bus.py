"""Bus figures: encode+publish throughput, and one-way latency between two processes at 1k and 10k msg/s.

Peers measured in the same run: raw nats-py publish of pre-encoded bytes (the floor under our codec),
and raw nats-py with an 8-byte timestamp payload for latency.
"""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import time
import uuid

import msgspec
from arb.bus import codec
from arb.bus.connection import Bus
from arb.core.enums import Market, Venue
from arb.core.market_data import BookTicker
from arb.testing.servers import find_or_start_nats

from bench.common import Row, check


def _bbo(ts: int) -> BookTicker:
    return BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 65000.1, 0.5, 65000.2, 0.7, 123456789, ts, ts, ts)


async def _throughput(url: str, n: int = 200_000) -> tuple[float, float, float]:
    bus = await Bus.connect(url, name="bench-bus")
    subject = f"bench.{uuid.uuid4().hex[:8]}.md.mexc.spot.BTC-USDT.bbo"
    now = time.time_ns
    # ours: construct + encode + publish, per message
    t0 = time.perf_counter()
    for _ in range(n):
        await bus.publish(subject, _bbo(now()))
    await bus.nc.flush()
    ours = n / (time.perf_counter() - t0)
    # peer: raw nats-py publish of bytes encoded once
    payload = codec.encode(_bbo(now()))
    pub = bus.nc.publish
    t0 = time.perf_counter()
    for _ in range(n):
        await pub(subject, payload)
    await bus.nc.flush()
    raw = n / (time.perf_counter() - t0)
    # encode only
    enc = codec.encode
    ev = _bbo(1)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        enc(ev)
    enc_ns = (time.perf_counter_ns() - t0) / n
    await bus.drain()
    return ours, raw, enc_ns


async def _latency(url: str, mode: str, rate: int, seconds: float) -> dict:
    subject = f"bench.lat.{uuid.uuid4().hex[:8]}"
    count = int(rate * seconds)
    proc = subprocess.Popen(  # noqa: ASYNC220 -- only forks; its first line is read through an executor
        [sys.executable, "-m", "bench.bus_sub", url, subject, mode, str(count), str(seconds + 10)],
        stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    ready = await loop.run_in_executor(None, proc.stdout.readline)
    assert ready.strip() == "ready", ready
    bus = await Bus.connect(url, name="bench-lat")
    pack = struct.Struct("<q").pack
    now = time.time_ns
    start = time.perf_counter()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            if mode == "codec":
                await bus.publish(subject, _bbo(now()))
            else:
                await bus.nc.publish(subject, pack(now()))
            sent += 1
        await bus.nc.flush() if rate <= 1000 else None
        await asyncio.sleep(0.0005)
    await bus.nc.flush()
    out = await loop.run_in_executor(None, proc.stdout.readline)
    proc.wait(timeout=15)
    await bus.drain()
    return msgspec.json.decode(out)


async def _run() -> list[Row]:
    handle = find_or_start_nats()
    try:
        url = handle.url
        ours, raw, enc_ns = await _throughput(url)
        rows = [
            Row(figure="bus encode+publish BookTicker", ours=ours, unit="msg/s", peer=raw,
                peer_name="raw nats-py publish, pre-encoded", target=">= 200000", met=check(ours, ">= 200000")),
            Row(figure="bus codec encode BookTicker", ours=enc_ns, unit="ns", target="<= 1000", met=check(enc_ns, "<= 1000")),
        ]
        for rate in (1000, 10000):
            o = await _latency(url, "codec", rate, 3.0)
            r = await _latency(url, "raw", rate, 3.0)
            rows.append(Row(figure=f"one-way latency p50 @ {rate} msg/s (2 processes)", ours=o["p50_us"], unit="us",
                            peer=r["p50_us"], peer_name="raw nats-py 8-byte payload", target="<= 500",
                            met=check(o["p50_us"], "<= 500")))
            rows.append(Row(figure=f"one-way latency p99 @ {rate} msg/s (2 processes)", ours=o["p99_us"], unit="us",
                            peer=r["p99_us"], peer_name="raw nats-py 8-byte payload", target="<= 2000",
                            met=check(o["p99_us"], "<= 2000")))
        return rows
    finally:
        handle.stop()


def run() -> list[Row]:
    try:
        import uvloop

        return uvloop.run(_run())
    except ImportError:
        return asyncio.run(_run())


__all__ = ["check", "run"]
