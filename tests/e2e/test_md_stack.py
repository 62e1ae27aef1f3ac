"""The market-data stack as real processes: `arb sim` + `arb md-gateway` (MEXC spot, Gate futures) over real NATS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from arb.bus.connection import Bus
from arb.core.enums import BookState
from arb.core.market_data import BookSnapshot, BookTicker, FundingRate
from arb.testing.poll import eventually

pytestmark = pytest.mark.e2e
ARB = [sys.executable, "-m", "arb.cli"]


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


async def test_sim_and_md_gateways_publish_synced_books_and_exit_cleanly(nats_url: str, subject_prefix: str,
                                                                        bus: Bus, tmp_path):
    """Both gateways publish OK books and BBOs from the simulator; futures funding arrives; SIGTERM exits 0."""
    env = dict(os.environ, NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=subject_prefix)
    sim = subprocess.Popen([*ARB, "sim", "--json", "--seed", "1", "--mexc-port", "0", "--gateio-port", "0",
                            "--admin-port", "0", "--http-port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs = [sim]
    try:
        line = await asyncio.get_running_loop().run_in_executor(None, sim.stdout.readline)
        urls = json.loads(line)
        cfg = tmp_path / "stack.yaml"
        cfg.write_text(
            "http:\n  port: 0\nvenues:\n"
            f"  mexc:\n    spot:\n      rest_url: {urls['mexc_rest']}\n      ws_url: {urls['mexc_ws']}\n"
            f"  gateio:\n    futures:\n      rest_url: {urls['gateio_rest']}\n      ws_url: {urls['gateio_futures_ws']}\n"
        )
        seen: dict[tuple[str, str], list] = {}

        async def on(event, msg):
            seen.setdefault((msg.subject.split(".")[2], type(event).__name__), []).append(event)

        await bus.subscribe(f"{subject_prefix}md.*.*.BTC-USDT.>", on)
        for venue, market in (("mexc", "spot"), ("gateio", "futures")):
            procs.append(subprocess.Popen([*ARB, "md-gateway", "--config", str(cfg), "--venue", venue,
                                           "--market", market, "--symbols", "BTC-USDT"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env))

        def synced(venue: str) -> bool:
            books = [b for b in seen.get((venue, "BookSnapshot"), []) if b.state is BookState.OK]
            return bool(books) and bool(seen.get((venue, "BookTicker")))

        await eventually(lambda: synced("mexc") and synced("gateio"), timeout=60, what="both gateways synced")
        await eventually(lambda: seen.get(("gateio", "FundingRate")), timeout=30, what="futures funding")
        book: BookSnapshot = [b for b in seen[("gateio", "BookSnapshot")] if b.state is BookState.OK][-1]
        assert book.bids[0].price < book.asks[0].price and len(book.bids) > 5
        bbo: BookTicker = seen[("mexc", "BookTicker")][-1]
        assert 0 < bbo.bid_px < bbo.ask_px and bbo.ts_recv >= bbo.ts_event - 5_000_000_000
        funding: FundingRate = seen[("gateio", "FundingRate")][-1]
        assert funding.interval_s > 0 and funding.next_funding_ns > funding.ts_recv - 120 * 10**9
    finally:
        results = [_stop(p) for p in reversed(procs)]
    for rc, err in results:
        assert rc == 0, err[-2000:]
