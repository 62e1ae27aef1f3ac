"""Reference data on the bus: every md gateway (MEXC spot, Gate spot, Gate futures) puts its configured symbols'
rules and fees into the KV bucket REF, and ``RefData`` (no venue code) reads them and notices a changed rule.

Real NATS (this test's own streams and buckets, ``js_streams``) and the in-process simulator; every await is bounded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from arb.bus.connection import Bus
from arb.bus.refdata import RefData
from arb.bus.streams import ref_bucket
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Side, SymbolStatus, Venue
from arb.core.errors import SymbolError
from arb.core.refdata import SymbolRef, encode_ref
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually
from arb.venues.gateio.public import build_public as gate_public
from arb.venues.mexc.public import build_public as mexc_public

pytestmark = pytest.mark.integration

SYMBOLS = ["BTC-USDT", "ETH-USDT"]
CASES = [(Venue.MEXC, Market.SPOT), (Venue.GATEIO, Market.SPOT), (Venue.GATEIO, Market.FUTURES)]


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with bounded_context(SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))), 30,
                               "simulator") as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10,
                               "http session") as s:
        yield s


def build(sim: SimServer, venue: Venue, market: Market, bus: Bus, session: aiohttp.ClientSession, prefix: str,
          refresh_s: float) -> Any:
    opts = GatewayOptions(subject_prefix=prefix, depth=5, symbol_refresh_s=refresh_s, watchdog_s=5.0,
                          backoff_initial_s=0.05, backoff_max_s=0.3)
    if venue is Venue.MEXC:
        return mexc_public(VenueEndpoints(rest_url=sim.urls["mexc_rest"], ws_url=sim.urls["mexc_ws"]), market,
                           SYMBOLS, bus, session, opts)
    ws = sim.urls["gateio_spot_ws"] if market is Market.SPOT else sim.urls["gateio_futures_ws"]
    return gate_public(VenueEndpoints(rest_url=sim.urls["gateio_rest"], ws_url=ws), market, SYMBOLS, bus, session,
                       opts)


def expected(sim: SimServer, venue: Venue, market: Market, symbol: str) -> dict[str, Any]:
    """What the simulator's rules endpoint says, in SymbolRef terms."""
    ex = sim.ctx.exchanges[(venue, market)]
    inst = ex.inst(symbol.replace("-", "" if venue is Venue.MEXC else "_"))
    want: dict[str, Any] = {"venue_symbol": inst.venue_symbol, "tick": inst.tick, "step": inst.step,
                            "min_qty": inst.min_qty, "min_notional": inst.min_notional,
                            "contract_multiplier": inst.multiplier, "maker_fee": inst.maker_fee,
                            "taker_fee": inst.taker_fee, "funding_interval_s": 0, "status": SymbolStatus.TRADING}
    if venue is Venue.GATEIO and market is Market.SPOT:  # one `fee` per pair: maker = taker
        want["maker_fee"] = inst.taker_fee
    if market is Market.FUTURES:
        want["funding_interval_s"] = ex.funding_interval_s
        want["min_qty"] = max(inst.min_qty, Decimal(1))
    return want


def fields(ref: SymbolRef, names: Any) -> dict[str, Any]:
    return {n: getattr(ref, n) for n in names}


def change_rules(sim: SimServer, venue: Venue, market: Market, symbol: str) -> None:
    """A rule change at the venue: the simulator's instrument is read-only by design, so it is set in place."""
    ex = sim.ctx.exchanges[(venue, market)]
    inst = ex.inst(symbol.replace("-", "" if venue is Venue.MEXC else "_"))
    object.__setattr__(inst, "taker_fee", inst.taker_fee + Decimal("0.0001"))
    if market is Market.FUTURES:
        ex.funding_interval_s = ex.funding_interval_s * 2
    else:
        object.__setattr__(inst, "min_notional", inst.min_notional + Decimal(2))


@pytest.mark.parametrize(("venue", "market"), CASES, ids=[f"{v.value}-{m.value}" for v, m in CASES])
async def test_gateway_publishes_rules_and_reader_notices_a_change(sim, bus, session, js_streams, subject_prefix,
                                                                   venue, market):
    """RefData returns the venue's rules for each configured symbol after start, and a changed rule after a refresh,
    with its callback called for that symbol only."""
    t0 = time.time_ns()
    gw = build(sim, venue, market, bus, session, subject_prefix, refresh_s=1.0)
    changes: list[tuple[str, SymbolRef | None]] = []
    await bounded(gw.start(), 30, "gateway start")
    ref = None
    try:
        ref = await bounded(RefData.open(bus.js, subject_prefix, on_change=lambda k, r: changes.append((k, r))), 10,
                            "refdata open")
        await eventually(lambda: all(ref.find(venue, market, s) for s in SYMBOLS), timeout=10, what="entries")
        for s in SYMBOLS:
            got = ref.get(venue, market, s)
            want = expected(sim, venue, market, s)
            assert fields(got, want) == want, s
            assert (got.venue, got.market, got.symbol) == (venue, market, s)
            assert got.source.startswith(f"{venue.value} GET ") and got.fee_source
            assert t0 <= got.ts <= time.time_ns()
        btc = ref.get(venue, market, "BTC-USDT")
        assert ref.round_qty(venue, market, "BTC-USDT", btc.step * Decimal("2.5")) == btc.step * 2
        assert ref.round_price(venue, market, "BTC-USDT", Decimal(65000) + btc.tick / 2, Side.SELL) == 65000 + btc.tick

        change_rules(sim, venue, market, "BTC-USDT")

        want = expected(sim, venue, market, "BTC-USDT")
        await eventually(lambda: fields(ref.get(venue, market, "BTC-USDT"), want) == want, timeout=15,
                         what="changed rule in RefData")
        # only what changed is put again: the sim's funding interval is one per exchange, so it moves ETH too
        key, eth = f"{venue.value}.{market.value}.BTC-USDT", f"{venue.value}.{market.value}.ETH-USDT"
        keys = {key, eth} if market is Market.FUTURES else {key}
        await eventually(lambda: {k for k, _ in changes} == keys, timeout=5, what="callbacks")
        new = dict(changes)[key]
        assert new is not None and new.taker_fee == want["taker_fee"] and new.ts > btc.ts
    finally:
        if ref is not None:
            await bounded(ref.close(), 5, "refdata close")
        await bounded(gw.stop(), 15, "gateway stop")


async def test_reader_restricted_to_keys_and_missing_symbol(sim, bus, session, js_streams, subject_prefix):
    """A reader opened for one key holds only that key; an unpublished symbol is a SymbolError naming its key."""
    gw = build(sim, Venue.GATEIO, Market.FUTURES, bus, session, subject_prefix, refresh_s=3600.0)
    await bounded(gw.start(), 30, "gateway start")
    try:
        async with await bounded(RefData.open(bus.js, subject_prefix, keys=["gateio.futures.ETH-USDT"]), 10,
                                 "refdata open") as ref:
            assert list(ref.refs) == ["gateio.futures.ETH-USDT"]
            assert ref.get("gateio", "futures", "ETH-USDT").contract_multiplier == Decimal("0.01")
            with pytest.raises(SymbolError, match="gateio.futures.BTC-USDT"):
                ref.get(Venue.GATEIO, Market.FUTURES, "BTC-USDT")
    finally:
        await bounded(gw.stop(), 15, "gateway stop")


async def test_reader_updates_deletes_and_skips_a_bad_entry(bus, js_streams, subject_prefix):
    """Written by hand into REF: the load holds each key, an awaited callback sees a changed rule and a delete
    (None), a re-put with the same rules calls nothing, and an entry that does not decode is skipped."""
    kv = await bounded(bus.js.key_value(ref_bucket(subject_prefix)), 5, "bucket")
    a = SymbolRef(venue=Venue.MEXC, market=Market.SPOT, symbol="BTC-USDT", venue_symbol="BTCUSDT",
                  tick=Decimal("0.01"), step=Decimal("0.000001"), min_qty=Decimal("0.000001"), min_notional=Decimal(1),
                  taker_fee=Decimal("0.0005"), source="test", fee_source="test", ts=1)
    await bounded(kv.put(a.key, encode_ref(a)), 5, "put")
    await bounded(kv.put("mexc.spot.BAD-USDT", b'{"venue":"nowhere"}'), 5, "put")
    seen: list[tuple[str, SymbolRef | None]] = []

    async def on_change(key: str, new: SymbolRef | None) -> None:
        seen.append((key, new))

    ref = await bounded(RefData.open(bus.js, subject_prefix, on_change=on_change), 10, "refdata open")
    try:
        assert list(ref.refs) == [a.key] and ref.bad_entries == 1 and ref.get("mexc", "spot", "BTC-USDT") == a
        await bounded(kv.put(a.key, encode_ref(msgspec.structs.replace(a, ts=2))), 5, "put same rules")
        b = msgspec.structs.replace(a, ts=3, tick=Decimal("0.1"))
        await bounded(kv.put(a.key, encode_ref(b)), 5, "put changed")
        await eventually(lambda: seen, timeout=5, what="callback")
        assert seen == [(a.key, b)] and ref.get("mexc", "spot", "BTC-USDT") == b
        await bounded(kv.delete(a.key), 5, "delete")
        await eventually(lambda: len(seen) == 2, timeout=5, what="delete callback")
        assert seen[1] == (a.key, None) and ref.find("mexc", "spot", "BTC-USDT") is None
    finally:
        await bounded(ref.close(), 5, "refdata close")
