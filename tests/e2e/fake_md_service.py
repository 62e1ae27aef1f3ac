"""A minimal service on the real runtime (arb.obs.runtime) that publishes BookTickers: it lets the e2e
tests exercise health endpoints, shutdown and `arb tap` against a real separate process before the
venue gateways exist. Usage: python fake_md_service.py [CONFIG]"""

from __future__ import annotations

import asyncio
import sys

from arb.bus.subjects import MdSubjects
from arb.config.loader import load_config
from arb.core.clock import now_ns
from arb.core.enums import Market, Venue
from arb.core.market_data import BookTicker
from arb.obs.runtime import Runtime, run_service


async def main(rt: Runtime) -> None:
    bus = await rt.connect_bus()
    subjects = MdSubjects.of(Venue.MEXC, Market.SPOT, "BTC-USDT", rt.cfg.nats.subject_prefix)
    seq = 0
    while not rt.stopped.is_set():
        seq += 1
        t = now_ns()
        await bus.publish(subjects.bbo, BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 100.0 + seq, 1.0,
                                                   101.0 + seq, 2.0, seq, t, t, now_ns()))
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else None
    sys.exit(run_service("fake-md", load_config(path), path, main))
