"""Reference data on the bus: every md gateway (MEXC spot, Gate spot, Gate futures) puts its configured symbols'
rules and fees into the KV bucket REF, and ``RefData`` (no venue code) reads them and notices a changed rule; a rule
changed mid-run through the simulator's ``POST /admin/rules`` (grid, minimums, multiplier, funding interval, a halt, a
delisting) reaches the reader within a refresh and the gateway's log names it.

Real NATS (this test's own streams and buckets, ``js_streams``) and the in-process simulator; every await is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from arb.bus import subjects
from arb.bus.connection import Bus
from arb.bus.refdata import RefData
from arb.bus.streams import ref_bucket
from arb.config.schema import GatewayOptions, LogConfig, VenueEndpoints
from arb.core.enums import Market, Side, SymbolStatus, Venue
from arb.core.errors import SymbolError
from arb.core.refdata import SymbolRef, encode_ref
from arb.obs import log as arblog
from arb.sim.server import SimServer
from arb.testing import bounded, eventually
from arb.venues.gateio.public import build_public as gate_public
from arb.venues.mexc.public import build_public as mexc_public

pytestmark = pytest.mark.integration

SYMBOLS = ["BTC-USDT", "ETH-USDT"]
CASES = [(Venue.MEXC, Market.SPOT), (Venue.GATEIO, Market.SPOT), (Venue.GATEIO, Market.FUTURES)]


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
    """A rule change at the venue (``Instrument.set_rules``, what ``POST /admin/rules`` calls); on futures the
    simulator's exchange-wide funding interval too, which moves every contract without its own."""
    ex = sim.ctx.exchanges[(venue, market)]
    inst = ex.inst(symbol.replace("-", "" if venue is Venue.MEXC else "_"))
    inst.set_rules({"taker_fee": inst.taker_fee + Decimal("0.0001")})
    if market is Market.FUTURES:
        ex.funding_interval_s = ex.funding_interval_s * 2
    else:
        inst.set_rules({"min_notional": inst.min_notional + Decimal(2)})


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


class ListSink:
    """The project's log lines, as written (arb.obs.log sink)."""

    name = "list"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.lines.extend(data.decode().splitlines())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def matching(self, *texts: str) -> list[str]:
        with self._lock:
            return [line for line in self.lines if all(t in line for t in texts)]


@pytest.fixture
def log_sink() -> Iterator[ListSink]:
    s = ListSink()
    system = arblog.configure(LogConfig(console=False), "test-refdata", sinks=[s])
    try:
        yield s
    finally:
        system.shutdown(5.0)


# one mid-run rule change per venue market, in the admin's terms (sizes in the venue's unit) -> the SymbolRef fields
RULE_CHANGES: dict[tuple[Venue, Market], tuple[dict[str, Any], dict[str, Any]]] = {
    (Venue.MEXC, Market.SPOT): ({"tick": "0.1", "step": "0.0001", "min_qty": "0.0001", "min_notional": "5"},
                                {"tick": Decimal("0.1"), "step": Decimal("0.0001"), "min_qty": Decimal("0.0001"),
                                 "min_notional": Decimal(5)}),
    (Venue.GATEIO, Market.SPOT): ({"tick": "1", "step": "0.0001", "min_qty": "0.0002", "min_notional": "10"},
                                  {"tick": Decimal(1), "step": Decimal("0.0001"), "min_qty": Decimal("0.0002"),
                                   "min_notional": Decimal(10)}),
    (Venue.GATEIO, Market.FUTURES): ({"tick": "0.5", "min_qty": "2", "contract_multiplier": "0.001",
                                      "funding_interval_s": 3600},
                                     {"tick": Decimal("0.5"), "min_qty": Decimal(2),
                                      "contract_multiplier": Decimal("0.001"), "funding_interval_s": 3600}),
}


async def admin_rules(session: aiohttp.ClientSession, sim: SimServer, venue: Venue, market: Market,
                      **rules: Any) -> dict[str, Any]:
    body = {"venue": venue.value, "market": market.value, "symbol": "BTC-USDT", **rules}
    async with session.post(sim.urls["admin"] + "/rules", json=body) as r:
        got = await r.json()
        assert r.status == 200, got
        return got


@pytest.mark.parametrize(("venue", "market"), CASES, ids=[f"{v.value}-{m.value}" for v, m in CASES])
async def test_rule_changed_mid_run_reaches_the_reader_and_the_log(sim, bus, session, js_streams, subject_prefix,
                                                                  log_sink, venue, market):
    """Rules changed at the venue mid-run (POST /admin/rules: grid, minimums, multiplier, funding interval, then a
    halt, a delisting and trading again) are in REF within a refresh of the running md gateway: RefData sees each
    with its callback, and the gateway's log names the symbol, the field and its old and new value."""
    # Arrange
    gw = build(sim, venue, market, bus, session, subject_prefix, refresh_s=0.5)
    key = f"{venue.value}.{market.value}.BTC-USDT"
    seen: list[SymbolRef] = []
    await bounded(gw.start(), 30, "gateway start")
    ref = None
    try:
        ref = await bounded(RefData.open(bus.js, subject_prefix, on_change=lambda k, r: k == key and seen.append(r)),
                            10, "refdata open")
        await eventually(lambda: ref.find(venue, market, "BTC-USDT"), timeout=10, what="entry")
        before = ref.get(venue, market, "BTC-USDT")
        body, want = RULE_CHANGES[(venue, market)]
        # Act: new grid and minimums (and multiplier and funding interval on the perpetual)
        answer = await admin_rules(session, sim, venue, market, **body)
        # Assert
        assert set(answer["changed"]) == set(body)
        await eventually(lambda: fields(ref.get(venue, market, "BTC-USDT"), want) == want, timeout=10,
                         what="changed rules in RefData")
        for name, new in want.items():
            line = f"{name} {getattr(before, name)} -> {new}"
            await eventually(lambda line=line: log_sink.matching(key, "reference data changed", line), timeout=5,
                             what=f"log line naming {line}")
        # Act / Assert: a halt, a delisting, trading again: each one status in REF, callback and log
        old = SymbolStatus.TRADING
        for status in (SymbolStatus.HALTED, SymbolStatus.DELISTED, SymbolStatus.TRADING):
            await admin_rules(session, sim, venue, market, status=status.value)
            await eventually(lambda status=status: ref.get(venue, market, "BTC-USDT").status is status, timeout=10,
                             what=f"status {status.value} in RefData")
            await eventually(lambda status=status: seen and seen[-1].status is status, timeout=5,
                             what=f"callback with {status.value}")
            line = f"status {old.value} -> {status.value}"
            await eventually(lambda line=line: log_sink.matching(key, "reference data changed", line), timeout=5,
                             what=f"log line naming {line}")
            old = status
        assert fields(ref.get(venue, market, "BTC-USDT"), want) == want  # a status change moved nothing else
    finally:
        if ref is not None:
            await bounded(ref.close(), 5, "refdata close")
        await bounded(gw.stop(), 15, "gateway stop")


async def test_admin_rules_serves_each_venues_status_fields_and_refuses_bad_requests(sim, session):
    """POST /admin/rules: a halt shows in each venue's own fields (exchangeInfo status "2" and isSpotTradingAllowed
    false; trade_status untradable; contract status delisting, in_delisting true), a delisting as "3" / a past
    delisting_time / delisted; a bad value or an unknown field is a 400 naming the field and changes nothing."""
    # Arrange
    rest_m, rest_g = sim.urls["mexc_rest"], sim.urls["gateio_rest"]

    async def get(url: str) -> Any:
        async with session.get(url) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def views() -> tuple[dict, dict, dict]:
        m = (await get(rest_m + "/exchangeInfo?symbol=BTCUSDT"))["symbols"][0]
        g = await get(rest_g + "/spot/currency_pairs/BTC_USDT")
        f = await get(rest_g + "/futures/usdt/contracts/BTC_USDT")
        return m, g, f

    # Act
    for venue, market in CASES:
        await admin_rules(session, sim, venue, market, status="halted")
    halted = await views()
    for venue, market in CASES:
        await admin_rules(session, sim, venue, market, status="delisted")
    delisted = await views()
    bad = []
    for body in ({"venue": "mexc", "market": "spot", "symbol": "BTC-USDT", "tick": "0.05"},
                 {"venue": "gateio", "market": "futures", "symbol": "BTC_USDT", "status": "paused"},
                 {"venue": "gateio", "market": "futures", "symbol": "BTC_USDT", "lot": "1"}):
        async with session.post(sim.urls["admin"] + "/rules", json=body) as r:
            bad.append((r.status, (await r.json())["error"]))
    # Assert
    m, g, f = halted
    assert (m["status"], m["isSpotTradingAllowed"]) == ("2", False)
    assert (g["trade_status"], g["delisting_time"]) == ("untradable", 0)
    assert (f["status"], f["in_delisting"]) == ("delisting", True)
    m, g, f = delisted
    assert m["status"] == "3" and g["trade_status"] == "untradable"
    assert 0 < g["delisting_time"] <= time.time()
    assert f["status"] == "delisted"
    assert [s for s, _ in bad] == [400, 400, 400]
    assert "tick" in bad[0][1] and "status" in bad[1][1] and "lot" in bad[2][1]
    assert sim.ctx.exchange("gateio", "futures").inst("BTC_USDT").status == "delisted"


@pytest.mark.parametrize(("venue", "market"), CASES, ids=[f"{v.value}-{m.value}" for v, m in CASES])
async def test_a_symbol_halted_before_start_does_not_stop_the_gateway(sim, bus, session, js_streams, subject_prefix,
                                                                      venue, market):
    """BTC-USDT is halted at the venue when the md gateway starts: the gateway starts anyway (one halted symbol used
    to stop market data for every configured symbol), REF says halted (the strategy stays out), ETH-USDT's book is
    published, and when the venue trades BTC again REF says so at the next refresh."""
    # Arrange
    await admin_rules(session, sim, venue, market, status=SymbolStatus.HALTED.value)
    gw = build(sim, venue, market, bus, session, subject_prefix, refresh_s=0.5)
    books: list[Any] = []

    async def on_book(ev: Any, msg: Any) -> None:
        books.append(ev)

    sub = await bounded(bus.subscribe(subjects.md(venue, market, "ETH-USDT", "book", subject_prefix), on_book), 5,
                        "subscribe")
    ref = None
    # Act
    await bounded(gw.start(), 30, "gateway start")
    try:
        ref = await bounded(RefData.open(bus.js, subject_prefix), 10, "refdata open")
        # Assert
        await eventually(lambda: ref.find(venue, market, "BTC-USDT") and ref.find(venue, market, "ETH-USDT"),
                         timeout=10, what="both entries")
        assert ref.get(venue, market, "BTC-USDT").status is SymbolStatus.HALTED
        assert ref.get(venue, market, "ETH-USDT").status is SymbolStatus.TRADING
        await eventually(lambda: books, timeout=20, what="an ETH-USDT book")
        await admin_rules(session, sim, venue, market, status=SymbolStatus.TRADING.value)
        await eventually(lambda: ref.get(venue, market, "BTC-USDT").status is SymbolStatus.TRADING, timeout=10,
                         what="BTC-USDT trading again in REF")
    finally:
        await bounded(sub.unsubscribe(), 5, "unsubscribe")
        if ref is not None:
            await bounded(ref.close(), 5, "refdata close")
        await bounded(gw.stop(), 15, "gateway stop")
