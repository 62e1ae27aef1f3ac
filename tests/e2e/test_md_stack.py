"""The market-data stack as real processes: `arb sim` + `arb md-gateway` (MEXC spot, Gate futures) over real NATS.

Every await is bounded (``bounded``, ``eventually``, the HTTP session's timeout)."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest
from arb.bus.connection import Bus
from arb.core.enums import BookState
from arb.core.market_data import BookSnapshot, BookTicker, FundingRate, MarketStatus
from arb.testing.poll import bounded, bounded_context, eventually
from arb.testing.procs import Service, start_sim

pytestmark = pytest.mark.e2e


STALE_AFTER_S = 1.0  # gateway.stale_after_s in the stack's config


async def test_sim_and_md_gateways_publish_synced_books_and_exit_cleanly(nats_url: str, subject_prefix: str,
                                                                        bus: Bus, js_streams, tmp_path):
    """Both gateways publish OK books and BBOs from the simulator; futures funding arrives; a stalled MEXC socket
    is published stale within gateway.stale_after_s and ok again after the stall; SIGTERM exits 0."""
    env = dict(os.environ, NATS_URL=nats_url, ARB_NATS__SUBJECT_PREFIX=subject_prefix)
    sim, urls = await start_sim(env, tmp_path / "sim.log", "--seed", "1")
    procs = [sim]
    try:
        cfg = tmp_path / "stack.yaml"
        cfg.write_text(
            f"http:\n  port: 0\ngateway:\n  stale_after_s: {STALE_AFTER_S}\nvenues:\n"
            f"  mexc:\n    spot:\n      rest_url: {urls['mexc_rest']}\n      ws_url: {urls['mexc_ws']}\n"
            f"  gateio:\n    futures:\n      rest_url: {urls['gateio_rest']}\n      ws_url: {urls['gateio_futures_ws']}\n"
        )
        seen: dict[tuple[str, str], list] = {}
        loop = asyncio.get_running_loop()
        statuses: list[tuple[float, MarketStatus]] = []

        async def on(event, msg):
            seen.setdefault((msg.subject.split(".")[2], type(event).__name__), []).append(event)
            if isinstance(event, MarketStatus) and event.venue.value == "mexc":
                statuses.append((loop.time(), event))

        await bounded(bus.subscribe(f"{subject_prefix}md.*.*.BTC-USDT.>", on), 5, "subscribe")
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

        # a silent socket (ws_stall: open, no data, no pong) is published stale within the bound, by the process
        async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10, "http") as h:
            t0 = loop.time()
            async with h.post(urls["admin"] + "/faults", json={"venue": "mexc", "market": "spot", "name": "ws_stall",
                                                               "count": 1, "params": {"seconds": 3}}) as r:
                assert r.status == 200, await r.text()

        def first(state: BookState, feed: str) -> float | None:
            return next((t - t0 for t, s in statuses
                         if t >= t0 and s.state is state and getattr(s, "feed", "book") == feed), None)

        took = await eventually(lambda: first(BookState.STALE, "book"), timeout=10, what="mexc book stale")
        print(f"\ne2e mexc spot: book stale {took:.3f}s after the stall")
        assert took <= STALE_AFTER_S + 1.0, took  # + a loaded host's scheduling of three processes
        assert first(BookState.STALE, "bbo") is not None
        back = await eventually(lambda: first(BookState.OK, "book"), timeout=20, what="mexc book ok again")
        assert back >= 2.5, back  # not before the stall ended
    finally:
        results = [(p.stop(timeout=30), p) for p in reversed(procs)]
    for rc, p in results:
        assert rc == 0, p.log()[-2000:]
