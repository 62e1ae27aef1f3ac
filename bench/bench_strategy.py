"""Strategy core: the cost of one decision per book update, and a replay of 100,000 updates.

* evaluate: one ``BookSnapshot`` (depth 20) of one of the three BTC-USDT markets stepped through ``Strategy.step``
  in ANALYZING: the view updated, the six directions priced by VWAP walks, the best compared with the threshold.
  Floor beside it: decoding that same snapshot from its bus bytes (what the coordinator pays before the core runs).
* replay: 100,000 updates (random-walk mids, the perpetual's premium moving in and out of the entry threshold) with
  a stand-in venue filling every order, so cycles open, hedge, hold and close: decisions per second end to end.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal

from arb.bus import codec
from arb.strategy import Strategy
from arb.strategy.events import Start, Tick
from arb.testing.strategy_kit import (
    GATE_PERP,
    GATE_SPOT,
    MEXC_SPOT,
    NS,
    T0,
    Venue3,
    balances,
    book,
    funding,
    params,
    refs,
)
from arb.testing.strategy_kit import run as feed

from bench.common import Row, check, per_call_ns

UPDATES = 100_000


def _ready(entry_bps: float) -> Strategy:
    st = Strategy(params(entry_bps=entry_bps, exit_bps=2.0, max_book_age_s=1e9, size=Decimal("0.01")))
    feed(st, [*refs(), *balances(), book(MEXC_SPOT, 60000), book(GATE_SPOT, 60000), book(GATE_PERP, 60000),
             funding(0.0001, T0 + 3600 * NS), Start(), Tick(), Tick()], T0)
    return st


def _evaluate() -> tuple[float, float]:
    st = _ready(entry_bps=1e6)  # never enters: every step is a pure evaluation
    assert st.state.state.value == "analyzing", st.state.state
    rng = random.Random(7)
    evs = [book((MEXC_SPOT, GATE_SPOT, GATE_PERP)[i % 3], 60000 + rng.uniform(-30, 30), ts=T0) for i in range(300)]
    i = 0
    step = st.step

    def one() -> None:
        nonlocal i
        step(evs[i % 300], T0)
        i += 1

    before = st.decisions
    ours = per_call_ns(one, number=20_000, repeat=5)
    assert st.decisions > before
    raw = codec.encode(evs[0])
    dec = codec.decode
    floor = per_call_ns(lambda: dec(raw), number=20_000, repeat=5)
    return ours, floor


def _replay() -> tuple[float, int, int]:
    st = _ready(entry_bps=8.0)
    venue = Venue3()
    rng = random.Random(11)
    mid, prem = 60000.0, 0.0
    specs = (MEXC_SPOT, GATE_SPOT, GATE_PERP)
    evs = []
    for i in range(UPDATES):
        mid += rng.gauss(0, 3)
        prem = max(-100.0, min(300.0, prem + rng.gauss(0, 12)))
        spec = specs[i % 3]
        evs.append(book(spec, mid + (prem if spec is GATE_PERP else 0.0), ts=T0 + i * 1_000_000))
    t0 = time.perf_counter()
    for i, ev in enumerate(evs):
        now = T0 + i * 1_000_000
        out = st.step(ev, now)
        if out:
            feed(st, venue.answer(out, now), now, venue)
    dt = time.perf_counter() - t0
    return UPDATES / dt, st.decisions, st.state.cycle


def run() -> list[Row]:
    ours, floor = _evaluate()
    rate, decisions, cycles = _replay()
    return [
        Row(figure="strategy: evaluate one book update (3 markets, depth 20, 6 directions)", ours=ours / 1000,
            unit="us", peer=floor / 1000, peer_name="decode that snapshot from the bus", target="<= 20",
            met=check(ours / 1000, "<= 20")),
        Row(figure=f"strategy: replay {UPDATES:,} updates ({decisions:,} decisions, {cycles} cycles)", ours=rate,
            unit="updates/s", target=">= 50,000", met=check(rate, ">= 50,000")),
    ]
