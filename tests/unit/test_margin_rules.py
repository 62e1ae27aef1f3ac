"""Margin tracking rules (arb.venues.common.margin): change detection, the liquidation-distance rule, the funding
record ledger; and the Gate payloads they are read from (documented samples)."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import pairwise

import msgspec
import pytest
from arb.bus import codec
from arb.config.schema import GatewayOptions
from arb.core.enums import Market, Venue
from arb.core.margin import LiquidationWarning, Margin, PositionMargin, WarningLevel, liq_distance
from arb.core.strategy import FundingPaid
from arb.core.symbols import Symbol, SymbolInfo
from arb.venues.common.margin import FundingLedger, LiqWatch, MarginTracker, changed
from arb.venues.gateio import parse as P
from arb.venues.gateio.schemas import AccountBookEntry, FuturesAccount, FuturesPositionsFrame

D = Decimal


def pos(symbol: str = "BTC-USDT", size: str = "1", mark: str = "100", liq: str = "90", margin: str = "10",
        mm: str = "0.5", leverage: int = 10) -> PositionMargin:
    s, m, lq = D(size), D(mark), D(liq)
    return PositionMargin(symbol=symbol, size=s, contracts=s * 10, leverage=leverage, entry_price=D(100),
                          mark_price=m, liq_price=lq, margin=D(margin), maintenance_rate=D("0.005"),
                          maintenance_margin=D(mm), unrealised_pnl=(m - 100) * s, distance=liq_distance(s, m, lq))


def margin(*positions: PositionMargin, available: str = "1000", mm: str = "0.5", ts: int = 1) -> Margin:
    return Margin(venue=Venue.GATEIO, market=Market.FUTURES, account="main", asset="USDT", total=D(1010),
                  available=D(available), position_margin=D(10), order_margin=D(0), maintenance_margin=D(mm),
                  unrealised_pnl=D(0), positions=positions, ts_event=ts, ts_recv=ts, ts_pub=ts)


# ------------------------------------------------------------------------------------------------ distance


@pytest.mark.parametrize(("size", "mark", "liq", "want"), [
    ("1", "100", "90", D("0.1")),
    ("-1", "100", "110", D("0.1")),
    ("1", "100", "100", D(0)),  # at the liquidation price
    ("1", "80", "90", D(0)),  # past it (long)
    ("-1", "120", "110", D(0)),  # past it (short)
    ("1", "3", "1", D("0.66666667")),  # half-even to 8 places
    ("0", "100", "90", None),  # no position
    ("1", "100", "0", None),  # no liquidation price
    ("1", "0", "90", None),  # no mark
])
def test_distance_is_the_signed_gap_as_a_fraction_of_the_mark(size: str, mark: str, liq: str, want: Decimal | None
                                                                ) -> None:
    """(mark - liq) / mark for a long, (liq - mark) / mark for a short, never below 0, None without a risk."""
    assert liq_distance(D(size), D(mark), D(liq)) == want


# ------------------------------------------------------------------------------------------------ change detection


def test_first_margin_is_always_published_and_the_same_one_never_again() -> None:
    """Nothing published yet: publish; the same figures again (other timestamps): do not."""
    t = MarginTracker()
    assert t.should_publish(margin(pos(), ts=1))
    t.published(margin(pos(), ts=1))
    assert not t.should_publish(margin(pos(), ts=2))
    assert t.should_publish(margin(pos(), ts=2), force=True)  # a reconcile publishes regardless


@pytest.mark.parametrize("other", [
    margin(pos(), available="999"),  # account figure
    margin(pos(margin="11")),  # position margin
    margin(pos(liq="91")),  # liquidation price
    margin(pos(leverage=5)),  # leverage
    margin(pos(size="2")),  # size
    margin(pos(), pos("ETH-USDT")),  # a position opened
    margin(),  # the position closed
    margin(pos(), mm="0.506"),  # account maintenance margin moved > 1 %
    margin(pos(mm="0.506")),  # position maintenance margin moved > 1 %
])
def test_a_margin_figure_that_changed_is_published(other: Margin) -> None:
    """Any figure in the compared set, or a maintenance margin moving by more than 1 %, is a change."""
    assert changed(margin(pos()), other)


@pytest.mark.parametrize("other", [
    margin(pos(mark="101")),  # the mark (and with it unrealised PnL and distance)
    margin(pos(), mm="0.504"),  # maintenance margin within 1 %
    margin(pos(mm="0.495")),
])
def test_mark_moves_alone_are_not_a_change(other: Margin) -> None:
    """The mark, unrealised PnL, distance and small maintenance-margin moves never trigger a publish alone."""
    assert not changed(margin(pos()), other)


def test_maintenance_margin_from_zero_is_a_change() -> None:
    """A maintenance margin appearing (0 -> anything) counts."""
    assert changed(margin(pos(), mm="0"), margin(pos(), mm="0.001"))


# ------------------------------------------------------------------------------------------------ warning rule


def levels(watch: LiqWatch, *marks: str, liq: str = "90", size: str = "1") -> list[list[str]]:
    return [[w.level.value for w in watch.check(margin(pos(size=size, mark=m, liq=liq)))] for m in marks]


def test_one_warning_per_crossing_not_per_tick() -> None:
    """Crossing below 5 % warns once; staying below, wobbling around the line, stays quiet."""
    w = LiqWatch(D("0.05"))
    # distances: 10 %, 4.76 %, 4.26 %, 5.26 % (above f, below 1.25 f), 4.76 %
    assert levels(w, "100", "94.5", "94", "95", "94.5") == [[], ["warning"], [], [], []]


def test_exactly_at_the_fraction_is_not_below() -> None:
    """d == f does not warn (the rule is d < f, compared exactly)."""
    w = LiqWatch(D("0.1"))
    assert levels(w, "100") == [[]]  # (100 - 90) / 100 = 0.1
    assert levels(w, "99.99") == [["warning"]]


def test_worse_when_the_distance_halves_again() -> None:
    """Warned at d0: again ('worse') at d <= d0 / 2, then at half of that, never in between."""
    w = LiqWatch(D("0.05"))
    # mark 100 against a rising liquidation price: 4 % (warn), 3 %, 2 % (<= 4 %/2: worse), 1.5 %, 1 % (worse),
    # 0 (at it: worse), 0 (past it: no change)
    out = [[x.level.value for x in w.check(margin(pos(mark="100", liq=liq)))]
           for liq in ("96", "97", "98", "98.5", "99", "100", "101")]
    assert out == [["warning"], [], ["worse"], [], ["worse"], ["worse"], []]


def test_cleared_only_above_the_hysteresis_band() -> None:
    """A warning clears at d >= 1.25 f, not merely back at f; a new crossing warns again."""
    w = LiqWatch(D("0.08"))
    # 5 % warn; 9 % (> f, < 10 %) nothing; 10 % (== 1.25 f) cleared; 7 % warn again
    assert levels(w, "94.7368", "98.9011", "100", "96.7742") == [["warning"], [], ["cleared"], ["warning"]]


def test_short_positions_use_the_other_side() -> None:
    """For a short the liquidation price is above the mark."""
    w = LiqWatch(D("0.05"))
    assert levels(w, "100", "106", size="-1", liq="110") == [[], ["warning"]]  # 10 %, 3.77 %


def test_cleared_when_the_position_is_gone_or_has_no_liquidation_price() -> None:
    """A warned position that closes, or whose liquidation price becomes 0, is cleared once."""
    w = LiqWatch(D("0.05"))
    assert [x.level for x in w.check(margin(pos(mark="92")))] == [WarningLevel.WARNING]
    gone = w.check(margin())
    assert [(x.symbol, x.level, x.size, x.distance) for x in gone] == [("BTC-USDT", WarningLevel.CLEARED, 0, 0)]
    assert w.check(margin()) == []
    assert [x.level for x in w.check(margin(pos(mark="92")))] == [WarningLevel.WARNING]
    assert [x.level for x in w.check(margin(pos(mark="92", liq="0")))] == [WarningLevel.CLEARED]


def test_positions_are_watched_each_on_its_own() -> None:
    """Two positions: each crossing is its own warning, with its own figures."""
    w = LiqWatch(D("0.05"))
    out = w.check(margin(pos("BTC-USDT", mark="92"), pos("ETH-USDT", mark="100")))
    assert [(x.symbol, x.level) for x in out] == [("BTC-USDT", WarningLevel.WARNING)]
    out = w.check(margin(pos("BTC-USDT", mark="92"), pos("ETH-USDT", mark="93")))
    assert [(x.symbol, x.level, x.mark_price, x.liq_price, x.distance, x.threshold) for x in out] == [
        ("ETH-USDT", WarningLevel.WARNING, D(93), D(90), D("0.03225806"), D("0.05"))]


def test_fraction_zero_is_off_and_out_of_range_is_refused() -> None:
    """0 never warns; a fraction outside 0 .. 1 is refused by name."""
    assert levels(LiqWatch(D(0)), "90.1") == [[]]
    for bad in ("1", "-0.1"):
        with pytest.raises(ValueError, match="fraction"):
            LiqWatch(D(bad))


def crossing_path(rng: random.Random, steps: int = 2000) -> list[Decimal]:
    """A random mark path (liquidation at 90) that keeps crossing the threshold both ways: it drifts down until the
    mark is at most 91 (distance 1.1 %, below 5 %), then up until at least 99 (9.1 %, past the 6.25 % that clears),
    and again; noise of +-0.5 on each step."""
    mark, down, out = D(100), True, []
    for _ in range(steps):
        mark = max(D(85), min(D(105), mark + D(rng.randint(-50, 50) + (-25 if down else 25)) / 100))
        if mark <= 91:
            down = False
        elif mark >= 99:
            down = True
        out.append(mark)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_any_path_alternates_warning_and_cleared(seed: int) -> None:
    """Over a random mark path that crosses the threshold both ways: at least one warning and one 'cleared'; a
    'cleared' only follows a warning, 'worse' only while warned, and never two warnings for one crossing."""
    rng = random.Random(seed)
    w = LiqWatch(D("0.05"))
    warned = False
    counts = {level: 0 for level in WarningLevel}
    path = crossing_path(rng)
    assert min(path) <= 91 and max(path) >= 99  # the path itself crosses (else the test proves nothing)
    for mark in path:
        for x in w.check(margin(pos(mark=str(mark)))):
            counts[x.level] += 1
            if x.level is WarningLevel.WARNING:
                assert not warned
                warned = True
            elif x.level is WarningLevel.WORSE:
                assert warned
            else:
                assert warned
                warned = False
    assert counts[WarningLevel.WARNING] >= 1 and counts[WarningLevel.CLEARED] >= 1, counts
    assert counts[WarningLevel.WARNING] - counts[WarningLevel.CLEARED] in (0, 1), counts


@pytest.mark.parametrize("seed", range(5))
def test_a_warning_not_applied_is_called_for_again_and_an_applied_one_never(seed: int) -> None:
    """Two-step use (steps, then apply once published): proposing changes nothing; a step left unapplied (its
    publish failed) is proposed again for the same read; the warnings applied still alternate warning / cleared,
    each crossing warned once."""
    w = LiqWatch(D("0.05"))
    rng = random.Random(seed + 100)
    applied: list[WarningLevel] = []
    skipped = 0
    for mark in crossing_path(random.Random(seed)):
        m = margin(pos(mark=str(mark)))
        steps = w.steps(m)
        assert w.steps(m) == steps
        for st in steps:
            if rng.random() < 0.3:  # not published
                skipped += 1
                assert w.steps(m) == steps
                continue
            w.apply(st)
            applied.append(st.warning.level)
            assert w.steps(m) == [x for x in steps if x != st]  # never proposed again for this read
    starts = [lv for lv in applied if lv is not WarningLevel.WORSE]
    assert skipped and WarningLevel.WARNING in starts and WarningLevel.CLEARED in starts
    assert all(a is not b for a, b in pairwise(starts)) and starts[0] is WarningLevel.WARNING


# ------------------------------------------------------------------------------------------------ funding ledger

NS = 1_000_000_000


def test_funding_records_are_new_once_and_never_older_than_the_start() -> None:
    """A record published is never new again; one older than the start point never is."""
    led = FundingLedger(start_ns=1000 * NS)
    recs = [("BTC-USDT", 1100 * NS), ("ETH-USDT", 1100 * NS), ("BTC-USDT", 999 * NS), ("BTC-USDT", 1100 * NS)]
    assert led.new_records(recs) == [("BTC-USDT", 1100 * NS), ("ETH-USDT", 1100 * NS)]
    led.published("BTC-USDT", 1100 * NS)
    assert led.new_records(recs) == [("ETH-USDT", 1100 * NS)]
    assert led.from_s() == 1100 - FundingLedger.OVERLAP_S


def test_restored_records_are_not_new_after_a_restart() -> None:
    """Read back from the stream at start: those records are not published again, later ones are."""
    led = FundingLedger(start_ns=0)
    led.restore("BTC-USDT", 5000 * NS)
    assert led.new_records([("BTC-USDT", 5000 * NS), ("BTC-USDT", 5001 * NS)]) == [("BTC-USDT", 5001 * NS)]
    assert led.from_s() == 5000 - FundingLedger.OVERLAP_S


def test_funding_ledger_forgets_only_what_reads_no_longer_reach() -> None:
    """After many records, the kept keys still cover everything at or after the read start."""
    led = FundingLedger(start_ns=0)
    for t in range(0, 100_000, 100):
        led.published("BTC-USDT", t * NS)
    start = led.from_s() * NS
    assert all(not led.is_new("BTC-USDT", t * NS) for t in range(0, 100_000, 100) if t * NS >= start)
    assert len(led._seen) < 100


# ------------------------------------------------------------------------------------------------ Gate payloads

def info(venue_symbol: str, name: str, mult: str) -> SymbolInfo:
    base, quote = name.split("-")
    return SymbolInfo(venue=Venue.GATEIO, market=Market.FUTURES, symbol=Symbol(base, quote), venue_symbol=venue_symbol,
                      tick_size=D("0.1"), lot_step=D(1), min_qty=D(1), contract_multiplier=D(mult))


# futures.positions push, Gate Futures WS v4 docs (exchange-facts §2.9), verbatim
POSITIONS_PUSH = (b'{"time":1588212926,"time_ms":1588212926123,"channel":"futures.positions","event":"update",'
                  b'"result":[{"contract":"BTC_USD","cross_leverage_limit":0,"entry_price":40000.36666661111,'
                  b'"history_pnl":-0.000108569505,"history_point":0,"last_close_pnl":-0.000050123368,"leverage":0,'
                  b'"leverage_max":100,"liq_price":0.1,"maintenance_rate":0.005,"margin":49.999890611186,'
                  b'"mode":"single","realised_pnl":-1.25e-8,"realised_point":0,"risk_limit":100,"size":3,'
                  b'"time":1628736848,"time_ms":1628736848321,"user":"110xxxxx","update_id":170919}]}')
# GET /futures/usdt/accounts, Gate APIv4 docs (exchange-facts §2.6), the fields shown there
ACCOUNT = (b'{"user":1666,"currency":"USDT","total":"9707.803567115145","unrealised_pnl":"3371.248828",'
           b'"position_margin":"38.712189181","order_margin":"0","available":"9669.091377934145"}')


def test_gate_position_push_decodes_to_position_margin() -> None:
    """The docs' futures.positions push: numbers as JSON numbers, read exactly; maintenance margin from the rate."""
    frame = msgspec.json.decode(POSITIONS_PUSH, type=FuturesPositionsFrame)
    acc = msgspec.json.decode(ACCOUNT, type=FuturesAccount)
    m = P.futures_margin(acc, [(frame.result[0], info("BTC_USD", "BTC-USD", "0.0001"))], "main", 7)
    (p,) = m.positions
    assert (p.symbol, p.contracts, p.size, p.leverage) == ("BTC-USD", 3, D("0.0003"), 0)
    assert p.entry_price == D("40000.36666661111") and p.liq_price == D("0.1") and p.margin == D("49.999890611186")
    assert p.maintenance_rate == D("0.005") and p.mark_price == 0 and p.distance is None  # the push carries no mark
    assert (m.total, m.available, m.position_margin, m.order_margin) == (
        D("9707.803567115145"), D("9669.091377934145"), D("38.712189181"), D(0))
    assert m.maintenance_margin == 0 and m.unrealised_pnl == D("3371.248828")


def test_gate_account_book_fund_row_is_funding_paid_exactly() -> None:
    """An account book ``fund`` row (fields of gateapi FuturesAccountBook): amount and time exact, contract from the
    field, else from the text."""
    row = msgspec.json.decode(b'{"time":1682294400.123,"change":"-0.0123","balance":"1000.5","type":"fund",'
                              b'"text":"BTC_USDT:fund","contract":"BTC_USDT","trade_id":"","id":"1"}',
                              type=AccountBookEntry)
    ev = P.funding_paid(row, info("BTC_USDT", "BTC-USDT", "0.0001"), 0.0001)
    assert ev == FundingPaid(venue=Venue.GATEIO, market=Market.FUTURES, symbol="BTC-USDT", amount=D("-0.0123"),
                             rate=0.0001, ts=1682294400123000000)
    old = msgspec.json.decode(b'{"time":1547633726,"change":"0.5","balance":"1","type":"fund","text":"ETH_USDT:123"}',
                              type=AccountBookEntry)
    assert P.book_contract(old) == "ETH_USDT" and P.book_time_ns(old) == 1547633726 * NS
    assert codec.decode(codec.encode(ev)) == ev


def test_new_messages_round_trip_through_the_codec() -> None:
    """Margin and LiquidationWarning decode back equal (Decimals as strings, exact)."""
    m = margin(pos(), pos("ETH-USDT", size="-2", liq="130"))
    assert codec.decode(codec.encode(m)) == m
    w = LiqWatch(D("0.05")).check(margin(pos(mark="91")))[0]
    assert isinstance(w, LiquidationWarning) and codec.decode(codec.encode(w)) == w



@pytest.mark.parametrize("bad", [1.0, 1.5, -0.01, float("nan")])
def test_config_refuses_a_warning_fraction_outside_0_to_1_by_name(bad: float) -> None:
    """gateway.liq_warning_fraction outside 0 <= f < 1 fails the config with the field named and an example."""
    with pytest.raises(msgspec.ValidationError, match=r"liq_warning_fraction: expected 0 \(off\).*e\.g\. 0\.05"):
        msgspec.convert({"liq_warning_fraction": bad}, GatewayOptions)
    assert msgspec.convert({"liq_warning_fraction": 0}, GatewayOptions).liq_warning_fraction == 0
