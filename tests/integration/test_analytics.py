"""Analytics on the real PostgreSQL: the recorder's schema (its own migrations), a small hand-built fixture written
by the recorder's writer (so the 1-minute rollups are the recorder's own), every query checked against values worked
out by hand below; the plot holds the series; the CLI as a process, --json parsed; every spelling of a symbol."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import types
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import msgspec
import pytest
from arb.analytics import AnalyticsAPI, UnknownSymbol, plot
from arb.bus import codec, subjects
from arb.core import latency
from arb.core.commands import PlaceOrder
from arb.core.enums import BookState, Market, Side, Venue
from arb.core.market_data import BookTicker, FundingRate, MarketStatus
from arb.core.strategy import CycleReport, FundingPaid, Opportunity, SendCommand
from arb.recorder import schema
from arb.recorder.config import RecorderConfig
from arb.recorder.writer import Writer
from arb.testing.poll import bounded

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOG = logging.getLogger("test-analytics")
M, G = Venue.MEXC, Venue.GATEIO
S, F = Market.SPOT, Market.FUTURES
BASE = datetime(2025, 6, 15, 16, 0, tzinfo=UTC)  # minute 0 of the fixture
B = int(BASE.timestamp()) * 10**9
END = BASE + timedelta(minutes=3)
MIN, SEC, MS = 60 * 10**9, 10**9, 10**6
F1 = B + 8 * 3600 * SEC  # gate's funding times, 8 h apart
F2 = F1 + 8 * 3600 * SEC
PNG = b"\x89PNG\r\n\x1a\n"

# Mean mid per minute (two ticks a minute at +10 s and +40 s; bid/ask = mid -/+ 0.05):
#   gateio.spot 100.0 100.0 100.0 | mexc.spot 100.1 (100.0 and 100.2) 100.2 99.9 | gateio.futures 100.3 - 100.5
# spread  gateio.spot -> mexc.spot      [10, 20, -10] bps
# basis   gateio.spot -> gateio.futures [30, 50]      (minute 1: no futures tick)
# basis   mexc.spot   -> gateio.futures [(100.3 - 100.1) / 100.1, (100.5 - 99.9) / 99.9] * 1e4
MIDS = {(G, S): [(100.0, 100.0), (100.0, 100.0), (100.0, 100.0)],
        (M, S): [(100.0, 100.2), (100.2, 100.2), (99.9, 99.9)],
        (G, F): [(100.3, 100.3), None, (100.5, 100.5)]}
# exchange -> publish per tick of gateio.spot, in ms (ts_pub - ts_event): 1..6 in tick order
SEEN: list = []


def _msg(subject: str, m) -> types.SimpleNamespace:
    return types.SimpleNamespace(subject=subject, data=codec.encode(m))


def _md() -> list:
    out = []
    for (venue, market), minutes in MIDS.items():
        k = 0
        for i, mids in enumerate(minutes):
            for j, mid in enumerate(mids or ()):
                t = B + i * MIN + (10 + 30 * j) * SEC
                k += 1
                out.append(_msg(subjects.md(venue, market, "NEIRO-ETH", "bbo"), BookTicker(
                    venue, market, "NEIRO-ETH", mid - 0.05, 1.0, mid + 0.05, 1.0, k, t, t + MS // 2, t + k * MS)))
    # a minute before the window: must not count
    t = B - 30 * SEC
    out.append(_msg(subjects.md(M, S, "NEIRO-ETH", "bbo"),
                    BookTicker(M, S, "NEIRO-ETH", 199.95, 1.0, 200.05, 1.0, 0, t, t + 1, t + 2)))
    out.append(_msg(subjects.md(M, S, "BTC-USDT", "bbo"),
                    BookTicker(M, S, "BTC-USDT", 65000.0, 1.0, 65000.5, 1.0, 1, B, B + 1, B + 2)))
    # funding: gate's 8 h rate for F1 revised once, then the rate for F2; mexc's 4 h rate
    for dt, rate, nxt in ((5, 0.0001, F1), (65, 0.0002, F1), (125, -0.0001, F2)):
        t = B + dt * SEC
        out.append(_msg(subjects.md(G, F, "NEIRO-ETH", "funding"),
                        FundingRate(G, F, "NEIRO-ETH", rate, nxt, 28800, t, t + 1, t + 2)))
    t = B + 70 * SEC
    out.append(_msg(subjects.md(M, F, "NEIRO-ETH", "funding"),
                    FundingRate(M, F, "NEIRO-ETH", 0.00005, B + 4 * 3600 * SEC, 14400, t, t + 1, t + 2)))
    # mexc spot: a gap, its resync, a disconnect (book and bbo feeds at once), the resync after it
    for dt, state, reason, feed in ((20, BookState.RESYNCING, "sequence_gap", "book"),
                                    (21, BookState.OK, "synced", "book"),
                                    (90, BookState.STALE, "disconnected", "book"),
                                    (90, BookState.STALE, "disconnected", "bbo"),
                                    (95, BookState.OK, "synced", "book")):
        t = B + dt * SEC
        out.append(_msg(subjects.md(M, S, "NEIRO-ETH", "status"),
                        MarketStatus(M, S, "NEIRO-ETH", state, reason, t, t + 1, t + 2, feed)))
    return out


def _ord() -> list:
    """The venue's funding records on our accounts: two NEIRO-ETH settlements in the window (accounts main and sub),
    one before it and one of another symbol (neither counts)."""
    def paid(account: str, symbol: str, ns: int, amount: str, rate: float) -> types.SimpleNamespace:
        return _msg(subjects.ord_evt(G, account, "funding"),
                    FundingPaid(venue=G, market=F, symbol=symbol, amount=Decimal(amount), rate=rate, ts=ns))

    return [paid("main", "NEIRO-ETH", B + 30 * SEC, "-0.0125", 0.0001), paid("sub", "NEIRO-ETH", B + 150 * SEC,
                                                                             "0.004", -0.0001),
            paid("main", "NEIRO-ETH", B - 8 * 86400 * SEC, "-1", 0.0003), paid("main", "BTC-USDT", B, "-2", 0.0001)]


def _opp(task: str, sec: int, buy: str, sell: str, spread: float, net: float, taken: bool) -> types.SimpleNamespace:
    return _msg(subjects.strat(task, "opp"), Opportunity(
        task=task, buy=buy, sell=sell, qty=Decimal(10), buy_vwap=100.0, sell_vwap=100.0 * (1 + spread / 1e4),
        buy_limit=100.0, sell_limit=100.0, spread_bps=spread, fees_bps=20.0, funding_bps=net - spread + 20.0,
        net_bps=net, net_quote=net / 100, ts=B + sec * SEC, taken=taken, reason="" if taken else "sampled"))


def _cycle(task: str, n: int, closed_s: int, cash: str, fees: str, funding: str, unhedged: str,
           unhedged_ns: int, other_fees: dict | None = None) -> types.SimpleNamespace:
    pnl = Decimal(cash) - Decimal(fees) + Decimal(funding)
    return _msg(subjects.strat(task, "cycle"), CycleReport(
        task=task, cycle=n, buy="mexc.spot", sell="gateio.futures", qty=Decimal(10), opened_ns=B + (closed_s - 5) * SEC,
        closed_ns=B + closed_s * SEC, entry_spread_bps=60.0, expected_net_bps=40.0, cash=Decimal(cash),
        fees={"USDT": Decimal(fees), **(other_fees or {})}, fees_quote=Decimal(fees), funding=Decimal(funding),
        realised=pnl, residual={}, residual_value=Decimal(0), pnl=pnl, max_unhedged=Decimal(unhedged),
        max_unhedged_ns=unhedged_ns, orders=4, reason="converged"))


def _strat() -> list:
    cmd = [_msg(subjects.strat(task, "cmd"), SendCommand(
        task=task, cycle=1, venue=M, account="main", ts=B,
        command=PlaceOrder(client_order_id=f"{task}-1", symbol=sym, market=S, side=Side.BUY, qty=Decimal(1),
                           price=Decimal(100)))) for task, sym in (("neiro", "NEIRO-ETH"), ("btc", "BTC-USDT"))]
    opps = [_opp("neiro", 15, "mexc.spot", "gateio.futures", 60.0, 41.0, False),
            _opp("neiro", 75, "mexc.spot", "gateio.futures", 80.0, 61.0, True),
            _opp("neiro", 80, "gateio.spot", "gateio.futures", 30.0, 11.0, False),
            _opp("neiro", 135, "mexc.spot", "gateio.futures", 45.0, 26.0, False),
            _opp("btc", 100, "mexc.spot", "gateio.futures", 100.0, 70.0, True)]
    cycles = [_cycle("neiro", 1, 50, "1.3", "0.4", "0.1", "0.5", 100 * MS),
              _cycle("neiro", 2, 110, "-1.0", "0.4", "-0.1", "2.0", 3 * SEC, {"NEIRO": Decimal("0.01")}),
              _cycle("neiro", 3, 170, "1.0", "0.35", "0.05", "1.0", 200 * MS),
              _cycle("neiro", 0, -2 * 86400, "100", "0", "0", "0", 0),  # two days before: outside a 1-day window
              _cycle("btc", 1, 100, "5", "0", "0", "0", 0)]
    return cmd + opps + cycles


@pytest.fixture
async def db(pg_dsn: str) -> str:
    """pg_dsn with the recorder's schema and the fixture, written by the recorder's writer; the record stamps of the
    book tickers set to publish + 5 ms (the writer stamps its own clock) and their latency histograms made again."""
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        await bounded(schema.apply(conn), 20, "migrations")
    finally:
        await conn.close(timeout=5)
    w = Writer(pg_dsn, RecorderConfig(), LOG)
    try:
        await bounded(w.write("MD", _md()), 20, "write md")
        await bounded(w.write("STRAT", _strat()), 20, "write strat")
        await bounded(w.write("ORD", _ord()), 20, "write ord")
    finally:
        await bounded(w.close(), 10, "writer close")
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        await conn.execute("UPDATE book_tickers SET ts_rec = ts_pub + 5000000", timeout=5)
        # the latency histograms again from the stamps as set (the SQL backfill; the writer's own histograms equal
        # it: test_recorder_writer.py)
        await conn.execute("DELETE FROM feed_latency_1m", timeout=5)
        assert await conn.fetchval("SELECT feed_latency_backfill('-infinity', 'infinity')", timeout=5) > 0
    finally:
        await conn.close(timeout=5)
    return pg_dsn


@pytest.fixture
async def api(db: str):
    a = await bounded(AnalyticsAPI.connect(db, timeout=5, command_timeout=5), 10, "connect")
    try:
        yield a
    finally:
        await bounded(a.close(), 10, "close")


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------------------------------------ spread
async def test_spread_pairs_and_stats_match_the_hand_computed_values(api):
    """Spread and basis per minute from the rollups' mean mids, with mean, p5/p50/p95 and time above 15 bps."""
    r = await bounded(api.spread("NEIRO-ETH", "3m", threshold_bps=15, end=END), 10, "spread")
    assert (r.symbol, r.start, r.end) == ("NEIRO-ETH", BASE, END)
    assert [(m.market, m.ticks, m.minutes) for m in r.markets] == [("gateio.spot", 6, 3), ("mexc.spot", 6, 3),
                                                                  ("gateio.futures", 4, 2)]
    assert r.markets[0].mean_mid == approx(100.0)
    assert r.markets[0].mean_quoted_bps == approx(0.1 / 100 * 1e4)  # (ask - bid) / mid
    assert r.markets[1].mean_mid == approx((100.0 + 100.2 + 100.2 + 100.2 + 99.9 + 99.9) / 6)
    assert [(p.kind, p.a, p.b) for p in r.pairs] == [("spread", "gateio.spot", "mexc.spot"),
                                                     ("basis", "gateio.spot", "gateio.futures"),
                                                     ("basis", "mexc.spot", "gateio.futures")]
    sp, b1, b2 = r.pairs
    assert [p.t for p in sp.series] == [BASE + timedelta(minutes=i) for i in range(3)]
    assert [p.v for p in sp.series] == [approx(10.0), approx(20.0), approx(-10.0)]
    # sorted [-10, 10, 20]: p5 at rank 0.1 -> -10 + 0.1 * 20; p95 at rank 1.9 -> 10 + 0.9 * 10
    st = sp.stats
    assert (st.n, st.above_s) == (3, 60)
    assert (st.mean, st.p5, st.p50, st.p95, st.min, st.max) == (approx(20 / 3), approx(-8.0), approx(10.0),
                                                                approx(19.0), approx(-10.0), approx(20.0))
    assert st.above_frac == approx(1 / 3)
    assert [p.v for p in b1.series] == [approx(30.0), approx(50.0)]
    assert (b1.stats.above_s, b1.stats.mean, b1.stats.p50) == (120, approx(40.0), approx(40.0))
    expected = [(100.3 - 100.1) / 100.1 * 1e4, (100.5 - 99.9) / 99.9 * 1e4]
    assert [p.v for p in b2.series] == [approx(v) for v in expected]
    assert [p.t for p in b2.series] == [BASE, BASE + timedelta(minutes=2)]


async def test_every_spelling_of_a_symbol_gives_the_same_report(api):
    """NEIRO-ETH, NEIROETH (MEXC), NEIRO_ETH (Gate), neiro/eth (ccxt) resolve to one symbol and one result."""
    reports = [await bounded(api.spread(s, "3m", end=END), 10, s) for s in ("NEIRO-ETH", "NEIROETH", "NEIRO_ETH",
                                                                           "neiro/eth")]
    assert all(msgspec.json.encode(x) == msgspec.json.encode(reports[0]) for x in reports)
    assert await bounded(api.resolve("BTCUSDT"), 5, "resolve") == "BTC-USDT"


async def test_an_unknown_symbol_is_refused_naming_the_known_ones(api):
    """An unknown symbol says so and lists what the database knows."""
    with pytest.raises(UnknownSymbol, match=r"unknown symbol NEIROXX; known: BTC-USDT, NEIRO-ETH"):
        await bounded(api.spread("NEIROXX", "1h", end=END), 10, "spread")


# ------------------------------------------------------------------------------------------------------ opportunities
async def test_opportunities_seen_and_taken_with_the_edge(api):
    """Rows with spread >= 40 bps of the symbol's tasks: counted per direction, taken ones and their edge."""
    r = await bounded(api.opportunities(40.0, symbol="NEIROETH", timeframe="3m", end=END), 10, "opportunities")
    assert (r.symbol, r.tasks, r.seen, r.taken) == ("NEIRO-ETH", ["neiro"], 3, 1)
    (g,) = r.groups
    assert (g.task, g.buy, g.sell, g.seen, g.taken) == ("neiro", "mexc.spot", "gateio.futures", 3, 1)
    assert (g.mean_spread_bps, g.max_spread_bps) == (approx((60 + 80 + 45) / 3), approx(80.0))
    assert (g.mean_net_bps, g.taken_mean_net_bps, g.taken_net_quote) == (approx((41 + 61 + 26) / 3), approx(61.0),
                                                                         approx(0.61))
    assert [(x.time, x.spread_bps, x.net_bps, x.taken) for x in r.rows] == [
        (BASE + timedelta(seconds=135), 45.0, 26.0, False), (BASE + timedelta(seconds=75), 80.0, 61.0, True),
        (BASE + timedelta(seconds=15), 60.0, 41.0, False)]
    every = await bounded(api.opportunities(0.0, timeframe="3m", end=END), 10, "all")
    assert (every.seen, every.taken, every.tasks) == (5, 2, ["btc", "neiro"])


# ------------------------------------------------------------------------------------------------------ performance
async def test_performance_itemises_pnl_and_finds_win_rate_drawdown_and_exposure(api):
    """Three cycles of the symbol's task in the window: pnl 1.0, -1.5, 0.7 -> total 0.2, win rate 2/3, drawdown
    1.5 (peak 1.0 to -0.5), worst unhedged 2.0 base for 3 s; the other symbol's and the older cycle are out."""
    r = await bounded(api.performance("NEIRO_ETH", days=1, end=END), 10, "performance")
    assert (r.tasks, r.cycles, r.wins, r.losses) == (["neiro"], 3, 2, 1)
    assert r.win_rate == approx(2 / 3)
    assert [c.pnl for c in r.rows] == [Decimal("1.0"), Decimal("-1.5"), Decimal("0.70")]
    assert [c.cum_pnl for c in r.rows] == [Decimal("1.0"), Decimal("-0.5"), Decimal("0.20")]
    assert (r.cash, r.fees_quote, r.funding, r.residual_value, r.pnl) == (
        Decimal("1.3"), Decimal("1.15"), Decimal("0.05"), Decimal(0), Decimal("0.2"))
    assert r.fees == {"NEIRO": Decimal("0.01"), "USDT": Decimal("1.15")}
    assert (r.max_drawdown, r.max_drawdown_at) == (Decimal("1.5"), BASE + timedelta(seconds=110))
    assert (r.max_unhedged, r.max_unhedged_ns) == (Decimal("2.0"), 3 * SEC)
    week = await bounded(api.performance(task="neiro", days=7, end=END), 10, "week")
    assert (week.cycles, week.pnl) == (4, Decimal("100.2"))


# ------------------------------------------------------------------------------------------------------ funding
async def test_funding_history_per_venue_with_the_interval(api):
    """Gate: the rate last published for each funding time (F1 revised 1 -> 2 bps, then F2 at -1 bp), 8 h interval;
    MEXC: one 4 h rate."""
    r = await bounded(api.funding("NEIRO-ETH", days=1, end=END), 10, "funding")
    assert [v.market for v in r.venues] == ["gateio.futures", "mexc.futures"]
    gate, mexc = r.venues
    ts = datetime.fromtimestamp
    assert [(s.funding_time, s.rate, s.interval_s) for s in gate.settlements] == [
        (ts(F1 / 1e9, UTC), 0.0002, 28800), (ts(F2 / 1e9, UTC), -0.0001, 28800)]
    assert gate.settlements[0].annualised == approx(0.0002 * 3 * 365)
    assert (gate.current_rate, gate.next_funding, gate.interval_s) == (-0.0001, ts(F2 / 1e9, UTC), 28800)
    assert (mexc.current_rate, mexc.interval_s, mexc.settlements[0].annualised) == (0.00005, 14400,
                                                                                   approx(0.00005 * 6 * 365))
    # what the venue booked on our accounts in the window (funding_payments), not the rates: the amounts as recorded
    assert [(p.time, p.market, p.account, p.amount, p.rate) for p in r.payments] == [
        (BASE + timedelta(seconds=30), "gateio.futures", "main", Decimal("-0.0125"), 0.0001),
        (BASE + timedelta(seconds=150), "gateio.futures", "sub", Decimal("0.004"), -0.0001)]
    assert r.paid == Decimal("-0.0085")


# ------------------------------------------------------------------------------------------------------ feeds
async def test_feeds_latency_percentiles_gaps_resyncs_and_disconnects(api):
    """gateio.spot's six ticks publish 1..6 ms after the venue and are recorded 5 ms later; mexc.spot had one gap,
    two resyncs and one disconnect (book and bbo feeds at once); gateio.futures was silent for a minute."""
    r = await bounded(api.feeds("3m", end=END), 10, "feeds")
    by = {f.market: f for f in r.feeds}
    assert list(by) == ["gateio.spot", "mexc.spot", "gateio.futures"]
    gs = by["gateio.spot"]
    assert (gs.symbols, gs.ticks, gs.silent_minutes) == (1, 6, 0)
    # read from the per-minute histograms: a value reads back as its bucket's geometric middle, bucket k holding
    # [1 us * 2^((k-1)/8), 1 us * 2^(k/8)); then ranks as percentile_cont (rank = q * (n - 1)).
    def mid(v_ms: float) -> float:
        k = math.floor(math.log2(v_ms * 1000) * 8) + 1
        return 2 ** ((k - 0.5) / 8) / 1000

    def pct(values_ms: list[float], q: float) -> float:
        m = sorted(mid(v) for v in values_ms)
        r = q * (len(m) - 1)
        lo, hi = math.floor(r), math.ceil(r)
        return m[lo] + (r - lo) * (m[hi] - m[lo])

    x2p, x2r = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    for got, values, exact in ((gs.exchange_to_publish_ms, x2p, (3.5, 5.75, 5.95)),
                               (gs.publish_to_record_ms, [5.0] * 6, (5.0, 5.0, 5.0)),
                               (gs.exchange_to_record_ms, x2r, (8.5, 10.75, 10.95))):
        got = msgspec.structs.astuple(got)
        # 1..6 ms: p50 at rank 2.5 between the 3rd and 4th values; p95 at rank 4.75, p99 at 4.95
        assert got == tuple(pytest.approx(pct(values, q), rel=1e-3) for q in (0.5, 0.95, 0.99))
        # and within the buckets' half width (4.45 %) of the raw values' own percentiles
        assert got == tuple(pytest.approx(e, rel=latency.ERROR) for e in exact)
    ms = by["mexc.spot"]
    assert (ms.symbols, ms.ticks, ms.gaps, ms.resyncs, ms.disconnects) == (2, 7, 1, 2, 1)  # BTC-USDT's tick too
    assert ms.stale == {"disconnected": 2, "sequence_gap": 1}
    assert by["gateio.futures"].silent_minutes == 1
    assert r.not_recorded
    one = await bounded(api.feeds("3m", symbol="NEIROETH", end=END), 10, "feeds one")
    assert {f.market: f.ticks for f in one.feeds}["mexc.spot"] == 6


# ------------------------------------------------------------------------------------------------------ plot
async def test_a_plot_is_a_png_holding_the_reports_series(api, tmp_path):
    """The spread chart has one line per pair with the report's values, and the file is a PNG."""
    r = await bounded(api.spread("NEIRO-ETH", "3m", end=END), 10, "spread")
    path = tmp_path / "spread.png"
    fig = plot.save(r, str(path))
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 1000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 500)
    (ax,) = fig.axes
    lines = [ln for ln in ax.lines if ln.get_label().startswith(("spread", "basis"))]
    assert [list(ln.get_ydata()) for ln in lines] == [[p.v for p in pair.series] for pair in r.pairs]
    assert lines[0].get_label() == "spread mexc.spot vs gateio.spot"
    perf = plot.performance(await bounded(api.performance("NEIRO-ETH", days=1, end=END), 10, "performance"))
    assert list(perf.axes[0].lines[0].get_ydata()) == [1.0, -0.5, 0.2]


# ------------------------------------------------------------------------------------------------------ CLI
def _cli(dsn: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": str(ROOT / "libs") + os.pathsep + str(ROOT)}
    return subprocess.run([sys.executable, "-m", "arb.cli", "analytics", *args], capture_output=True, text=True,
                          check=False, env=env, timeout=60, cwd=ROOT)


async def test_the_cli_prints_the_same_report_as_json_and_a_table(api, db, tmp_path):
    """`arb analytics spread --json` gives the API's report; the table names the pairs; --plot writes a PNG."""
    want = json.loads(msgspec.json.encode(await bounded(api.spread("NEIRO-ETH", "3m", end=END), 10, "spread")))
    end = END.isoformat()
    p = _cli(db, "spread", "--symbol", "NEIROETH", "--timeframe", "3m", "--end", end, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == want
    png = tmp_path / "s.png"
    p = _cli(db, "spread", "--symbol", "NEIRO_ETH", "--timeframe", "3m", "--end", end, "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert "spread" in p.stdout and "mexc.spot vs gateio.spot" in p.stdout and "wrote" in p.stderr
    assert png.read_bytes()[:8] == PNG
    for q in (["opportunities", "--min-spread", "0.4", "--timeframe", "3m"], ["performance", "--symbol", "NEIRO-ETH"],
              ["funding", "--symbol", "NEIRO-ETH"], ["feeds", "--window", "3m"]):
        p = _cli(db, *q, "--end", end, "--json")
        assert p.returncode == 0, (q, p.stderr)
        doc = json.loads(p.stdout)
        assert doc and "start" in doc, q
    p = _cli(db, "opportunities", "--min-spread", "0.4", "--timeframe", "3m", "--end", end, "--json")
    assert (json.loads(p.stdout)["seen"], json.loads(p.stdout)["taken"]) == (4, 2)  # 0.4 % = 40 bps: neiro 3, btc 1
    p = _cli(db, "performance", "--symbol", "NEIROETH", "--end", end, "--json")
    assert Decimal(json.loads(p.stdout)["pnl"]) == Decimal("100.2")  # decimals travel as strings
    p = _cli(db, "funding", "--symbol", "NEIRO-ETH", "--end", end)  # 7 days: the payment 8 days back is not in
    assert p.returncode == 0, p.stderr
    assert "paid to our accounts (venue records, quote; + received, - paid): -0.0085" in p.stdout
    assert "-0.0125" in p.stdout and "sub" in p.stdout and "-1 " not in p.stdout


async def test_the_cli_exit_codes_unknown_symbol_bad_usage_database_down(db):
    """Unknown symbol and bad usage exit 2 with the reason on stderr; an unreachable database exits 1."""
    p = _cli(db, "spread", "--symbol", "NEIROXX", "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert "unknown symbol NEIROXX; known: BTC-USDT, NEIRO-ETH" in p.stderr
    p = _cli(db, "spread", "--symbol", "NEIROETH", "--timeframe", "soon")
    assert p.returncode == 2 and "duration" in p.stderr
    p = _cli(db, "performance")
    assert p.returncode == 2
    p = _cli("postgresql://postgres@127.0.0.1:1/test", "feeds", "--timeout", "3")
    assert p.returncode == 1 and p.stdout == ""
    assert "database unreachable at postgresql://postgres@127.0.0.1:1/test" in p.stderr
