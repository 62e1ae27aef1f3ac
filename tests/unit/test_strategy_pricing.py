"""Strategy pricing, market views, opportunities and task parameters on real-looking BTC-USDT books and rules."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.enums import BookState, Market, Side, SymbolStatus, Venue
from arb.core.market_data import BookDelta, BookTicker, Level, MarketStatus
from arb.strategy.opportunity import Direction, closing_spread_bps, evaluate
from arb.strategy.params import MarketSpec, TaskParams
from arb.strategy.pricing import LegRules, common_step, depth_within, walk
from arb.strategy.view import MarketView
from arb.testing.strategy_kit import GATE_PERP, GATE_SPOT, MEXC_SPOT, NS, T0, book, funding, params, refs

pytestmark = pytest.mark.unit
D = Decimal


def _rules() -> dict[str, LegRules]:
    return {f"{r.venue.value}.{r.market.value}": LegRules(r) for r in refs()}


def _view(spec: MarketSpec, mid: float, **kw) -> MarketView:
    v = MarketView(f"{spec.venue.value}.{spec.market.value}", spec.market is Market.FUTURES)
    v.on_event(book(spec, mid, **kw))
    return v


# --------------------------------------------------------------------------------------------------- walk / VWAP


def test_walk_takes_levels_in_order_and_reports_vwap_and_worst_price():
    """Buying 3 from 1 @100, 1 @101, 5 @102 costs (100 + 101 + 102) / 3, and the IOC limit is 102."""
    vwap, worst, filled = walk([(100.0, 1.0), (101.0, 1.0), (102.0, 5.0)], 3.0)
    assert (round(vwap, 9), worst, filled) == (101.0, 102.0, 3.0)


def test_walk_reports_a_partial_when_depth_runs_out():
    """Asking more than the book holds returns what it holds, never a price for depth that is not there."""
    vwap, worst, filled = walk([(100.0, 1.0), (101.0, 1.0)], 5.0)
    assert (filled, worst, vwap) == (2.0, 101.0, 100.5)
    assert walk([], 1.0) == (0.0, 0.0, 0.0)


def test_depth_within_stops_at_the_limit_price():
    """Base available to a buyer at 101 or better: the first two asks only."""
    assert depth_within([(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)], 101.0, True) == 3.0
    assert depth_within([(100.0, 1.0), (99.0, 2.0)], 99.5, False) == 1.0


# --------------------------------------------------------------------------------------------------- grids and rules


@pytest.mark.parametrize(("a", "b", "lcm"), [
    ("0.000001", "0.0001", "0.0001"), ("0.001", "0.0001", "0.001"), ("0.3", "0.2", "0.6"), ("1", "0.25", "1"),
    ("0.0001", "0", "0.0001"),
])
def test_common_step_is_the_least_common_multiple(a: str, b: str, lcm: str):
    """A quantity on the common step is a whole number of steps on both legs."""
    got = common_step(D(a), D(b))
    assert got == D(lcm)
    if D(a) > 0 and D(b) > 0:
        assert got % D(a) == 0 and got % D(b) == 0


def test_a_perpetual_leg_speaks_base_outside_and_contracts_to_the_venue():
    """Gate BTC_USDT perpetual: 1 contract = 0.0001 BTC; 0.00123 BTC floors to 0.0012 BTC = 12 contracts."""
    perp = _rules()["gateio.futures"]
    assert perp.base_step == D("0.0001") and perp.base_min == D("0.0001")
    base = perp.floor_base(D("0.00123"))
    assert base == D("0.0012") and perp.venue_qty(base) == D("12")


def test_limit_prices_are_on_the_tick_and_never_more_aggressive():
    """A buy rounds down and a sell up, on Gate's 0.1 tick."""
    spot = _rules()["gateio.spot"]
    assert spot.limit_price(60000.17, Side.BUY) == D("60000.1")
    assert spot.limit_price(60000.11, Side.SELL) == D("60000.2")


def test_minimum_quantity_and_notional_are_checked_exactly_on_every_leg():
    """Gate spot refuses less than 3 USDT; a perpetual leg refuses less than one contract; MEXC takes 1 USDT."""
    r = _rules()
    assert "min_notional" in r["gateio.spot"].check(60000.0, D("0.00004"))  # 2.4 USDT
    assert r["gateio.spot"].check(60000.0, D("0.00005")) == ""  # 3.0 USDT
    assert "0 on step" in r["gateio.futures"].check(60000.0, r["gateio.futures"].floor_base(D("0.00009")))
    assert r["mexc.spot"].check(60000.0, D("0.00002")) == ""  # 1.2 USDT
    assert not r["gateio.spot"].fast_ok(60000.0, 0.00004) and r["gateio.spot"].fast_ok(60000.0, 0.00005)


def test_a_halted_symbol_is_refused():
    """A rule with status halted refuses any quantity, with the reason."""
    ref = msgspec.structs.replace(refs()[0], status=SymbolStatus.HALTED)
    assert "not tradable" in LegRules(ref).check(60000.0, D("0.01"))


# --------------------------------------------------------------------------------------------------- market view


def test_a_book_is_tradable_only_ok_fresh_and_without_a_gap():
    """Resyncing, gapped and old books are not tradable; each says why."""
    v = _view(GATE_SPOT, 60000)
    age = 5 * NS
    assert v.book.tradable(T0, age) and v.book.why_not(T0, age) == ""
    assert not v.book.tradable(T0 + 6 * NS, age) and "old" in v.book.why_not(T0 + 6 * NS, age)
    v.on_event(MarketStatus(Venue.GATEIO, Market.SPOT, "BTC-USDT", BookState.RESYNCING, "gap", T0, T0, T0))
    assert "resyncing" in v.book.why_not(T0, age)
    v.on_event(book(GATE_SPOT, 60000, seq=10))
    v.on_event(BookDelta(Venue.GATEIO, Market.SPOT, "BTC-USDT", [], [], 12, 12, T0, T0, T0))  # 11 missing
    assert "gapped" in v.book.why_not(T0, age)
    v.on_event(book(GATE_SPOT, 60000, seq=20))
    assert v.book.tradable(T0, age)


def test_a_contiguous_delta_updates_levels_and_a_zero_size_removes_one():
    """Absolute sizes replace a level; size 0 removes it; the sides stay sorted best first."""
    v = _view(MEXC_SPOT, 60000, depth=3, seq=5)
    best_bid = v.book.bids[0][0]
    v.on_event(BookDelta(Venue.MEXC, Market.SPOT, "BTC-USDT", [Level(best_bid, 0.0), Level(best_bid + 0.2, 1.5)],
                         [], 6, 6, T0 + 1, T0 + 1, T0 + 1))
    assert v.book.bids[0] == (best_bid + 0.2, 1.5)
    assert all(v.book.bids[i][0] > v.book.bids[i + 1][0] for i in range(len(v.book.bids) - 1))
    assert v.book.seq == 6 and not v.book.gapped


def test_a_fresher_bbo_trims_levels_the_older_book_still_shows():
    """When the bbo is newer than the book, its level is the top: older levels at or better than it are gone."""
    v = _view(MEXC_SPOT, 60000, spread=1.0, depth=5)  # asks 60000.5, 60001.5, ...
    v.on_event(BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 60001.0, 0.2, 60001.5, 0.01, 0, T0 + 5, T0 + 5, 0))
    asks = v.book.side(True)
    assert asks[0][0] == 60001.5 and asks[1][0] == 60002.5
    bids = v.book.side(False)
    assert bids[0] == (60001.0, 0.2) and bids[1][0] == 59999.5


def test_funding_times_come_from_the_contract_interval_never_an_assumed_8h():
    """A 4 h contract has two funding times in 8 h; an hourly one (rate at its cap) eight; a stale next time rolls."""
    v = MarketView("gateio.futures", True)
    v.on_event(funding(0.0001, T0 + 600 * NS, interval_s=4 * 3600))
    assert v.fundings_within(T0, 8 * 3600) == 2
    v.on_event(funding(0.003, T0 + 600 * NS, interval_s=3600))
    assert v.fundings_within(T0, 8 * 3600) == 8
    v.on_event(funding(0.0001, T0 - 600 * NS, interval_s=3600))  # next time already passed: next is T0 + 3000 s
    assert v.fundings_within(T0, 3000) == 1 and v.fundings_within(T0, 2999) == 0
    assert MarketView("mexc.spot", False).fundings_within(T0, 1e6) == 0


# --------------------------------------------------------------------------------------------------- opportunities


def _direction(buy: MarketSpec, sell: MarketSpec, size: str = "0.01") -> Direction:
    r = _rules()
    key = lambda s: f"{s.venue.value}.{s.market.value}"
    return Direction(key(buy), key(sell), r[key(buy)], r[key(sell)], D(size))


def test_a_rich_perpetual_is_priced_net_of_both_legs_fees_exit_and_funding():
    """Spot 60000 vs perp 60400: net edge = spread - 2 x (taker fees) - exit - slippage + 1 funding of 1 bp."""
    d = _direction(MEXC_SPOT, GATE_PERP)
    buy, sell = _view(MEXC_SPOT, 60000), _view(GATE_PERP, 60400)
    sell.on_event(funding(0.0001, T0 + 1800 * NS))
    o = evaluate("t1", d, buy, sell, T0, exit_bps=2.0, slippage_bps=1.0, hold_s=3600)
    assert o is not None and o.qty == D("0.01")
    vb, vs = 60000.5, 60399.5  # 0.01 fits in the first level of each side
    spread = (vs - vb) / vb * 1e4
    fees = 2e4 * (0.0005 + 0.0005)
    assert o.spread_bps == pytest.approx(spread) and o.fees_bps == pytest.approx(fees)
    assert o.funding_bps == pytest.approx(1.0)  # short perp receives a positive rate, one funding within the hour
    assert o.net_bps == pytest.approx(spread - fees - 2.0 - 1.0 + 1.0)
    assert o.net_quote == pytest.approx(o.net_bps * 1e-4 * vb * 0.01)


def test_a_long_perpetual_pays_a_positive_funding_rate():
    """Buying the perpetual when it is cheap counts funding as a cost when longs pay."""
    d = _direction(GATE_PERP, GATE_SPOT)
    buy, sell = _view(GATE_PERP, 59700), _view(GATE_SPOT, 60000)
    buy.on_event(funding(0.0002, T0 + 60 * NS, interval_s=3600))
    o = evaluate("t1", d, buy, sell, T0, exit_bps=2.0, slippage_bps=1.0, hold_s=2 * 3600)
    assert o is not None and o.funding_bps == pytest.approx(-2 * 2.0)


def test_the_cycle_quantity_is_on_both_legs_grids():
    """0.01234 BTC against a 0.0001 BTC contract: the cycle trades 0.0123 BTC, 123 contracts, on both legs."""
    d = _direction(MEXC_SPOT, GATE_PERP, size="0.01234")
    assert d.qty == D("0.0123") and d.sell_rules.venue_qty(d.qty) == D("123")
    assert d.qty % d.buy_rules.base_step == 0


def test_no_opportunity_without_the_depth_for_the_whole_quantity():
    """A book holding less than the cycle's size on the side taken proposes nothing."""
    d = _direction(MEXC_SPOT, GATE_PERP, size="5")
    assert evaluate("t1", d, _view(MEXC_SPOT, 60000, depth=3), _view(GATE_PERP, 61000), T0, exit_bps=2,
                    slippage_bps=1, hold_s=3600) is None


def test_no_opportunity_below_either_legs_minimum_notional():
    """0.00004 BTC (2.4 USDT) is below Gate spot's 3 USDT minimum even with a huge spread: never proposed."""
    d = _direction(MEXC_SPOT, GATE_SPOT, size="0.00004")
    assert evaluate("t1", d, _view(MEXC_SPOT, 60000), _view(GATE_SPOT, 62000), T0, exit_bps=2, slippage_bps=1,
                    hold_s=3600) is None
    d2 = _direction(GATE_SPOT, MEXC_SPOT, size="0.00004")
    assert evaluate("t1", d2, _view(GATE_SPOT, 60000), _view(MEXC_SPOT, 62000), T0, exit_bps=2, slippage_bps=1,
                    hold_s=3600) is None


def test_the_closing_spread_reads_the_opposite_sides():
    """Closing sells on the buy market's bids and buys on the sell market's asks."""
    buy, sell = _view(MEXC_SPOT, 60000, spread=2.0), _view(GATE_PERP, 60000, spread=2.0)
    c = closing_spread_bps(buy, sell, 0.01)
    assert c == pytest.approx((60001.0 - 59999.0) / 59999.0 * 1e4)


# --------------------------------------------------------------------------------------------------- params


@pytest.mark.parametrize(("change", "field"), [
    ({"task": "has space"}, "task"), ({"task": "x" * 13}, "task"), ({"symbol": "BTCUSDT"}, "symbol"),
    ({"markets": (MEXC_SPOT,)}, "markets"), ({"markets": (MEXC_SPOT, MEXC_SPOT)}, "markets"),
    ({"size": D(0)}, "size"), ({"exit_bps": 50.0}, "exit_bps"), ({"entry_bps": float("nan")}, "entry_bps"),
    ({"hedge_attempts": 0}, "hedge_attempts"), ({"max_open_cycles": 2}, "max_open_cycles"),
    ({"inventory_band": 1.5}, "inventory_band"),
])
def test_bad_task_parameters_are_refused_naming_the_field(change: dict, field: str):
    """Every bad value fails at start-up with the field's name in the message."""
    with pytest.raises(ValueError, match=field):
        params(**change)


def test_task_parameters_decode_from_config_with_unknown_keys_refused():
    """A task section decodes from YAML-like data; a misspelt key is an error, not a silent default."""
    raw = {"task": "btc1", "symbol": "BTC-USDT", "size": "0.01",
           "markets": [{"venue": "mexc", "market": "spot", "account": "main"},
                       {"venue": "gateio", "market": "futures", "account": "main"}]}
    p = msgspec.convert(raw, TaskParams)
    assert p.spec("gateio.futures").market is Market.FUTURES and p.position_limit == D("0.02")
    with pytest.raises(msgspec.ValidationError, match="entry_bsp"):
        msgspec.convert({**raw, "entry_bsp": 5}, TaskParams)
    assert params().base == "BTC" and params().quote == "USDT"
