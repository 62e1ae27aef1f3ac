"""The market-data stack as real processes: `arb sim` + `arb md-gateway` (MEXC spot, Gate futures) over real NATS."""

from __future__ import annotations

import os

import pytest
from arb.bus.connection import Bus
from arb.core.enums import BookState
from arb.core.market_data import BookSnapshot, BookTicker, FundingRate
from arb.testing.poll import eventually
from arb.testing.procs import Service, start_sim

pytestmark = pytest.mark.e2e


async def test_sim_and_md_gateways_publish_synced_books_and_exit_cleanly(nats_url: str, subject_prefix: str,
                                                                        bus: Bus, js_streams, tmp_path):
    """Both gateways publish OK books and BBOs from the simulator; futures funding arrives; SIGTERM exits 0."""
    env = dict(os.environ, NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=subject_prefix)
    sim, urls = await start_sim(env, tmp_path / "sim.log", "--seed", "1")
    procs = [sim]
    try:
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
            procs.append(Service(["md-gateway", "--config", str(cfg), "--venue", venue, "--market", market,
                                  "--symbols", "BTC-USDT"], env, tmp_path / f"md-{venue}.log"))

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
        results = [(p.stop(timeout=30), p) for p in reversed(procs)]
    for rc, p in results:
        assert rc == 0, p.log()[-2000:]
