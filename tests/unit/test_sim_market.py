"""The simulator's market: seeded determinism, venue rules in maker quotes, dislocations, funding, faults."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from arb.sim import build_context
from arb.sim.config import DislocationConfig, SimConfig
from arb.sim.faults import Faults
from arb.sim.market import ManualClock, Market, PriceProcess

pytestmark = pytest.mark.unit


def run_market(seed: int, steps: int = 50, **cfg_kw) -> tuple[Market, list]:
    clock = ManualClock()
    ctx = build_context(SimConfig(seed=seed, **cfg_kw), clock_ns=clock.now_ns)
    m = Market(ctx, clock)
    fairs = []
    for _ in range(steps):
        clock.advance(0.1)
        m.step(0.1)
        fairs.append(tuple(m.fair(s) for s in m.symbols))
    return m, fairs


def snapshot(m: Market) -> list:
    return [(k, sym, ex.book(sym).depth(50), [(t.trade_id, t.price, t.qty) for t in ex.recent_trades(sym, 50)])
            for k, ex in m.ctx.exchanges.items() for sym in ex.instruments]


def test_same_seed_same_market():
    """Two markets with the same seed produce the same fair prices, quotes and trades step by step."""
    m1, f1 = run_market(7)
    m2, f2 = run_market(7)
    assert f1 == f2
    assert snapshot(m1) == snapshot(m2)


def test_different_seed_different_market():
    """Another seed gives other prices."""
    _, f1 = run_market(1, steps=5)
    _, f2 = run_market(2, steps=5)
    assert f1 != f2


def test_maker_quotes_follow_each_venues_rules():
    """Every resting level is on the venue's tick, every size on its lot step and above its minimums."""
    m, _ = run_market(3, steps=20)
    for ex in m.ctx.exchanges.values():
        for inst in ex.instruments.values():
            _, bids, asks = ex.book(inst).depth(1000)
            assert len(bids) >= 20 and len(asks) >= 20, inst
            assert bids[0][0] < asks[0][0]
            for p, q in bids + asks:
                assert p % inst.tick == 0 and q % inst.step == 0 and q >= inst.min_qty, (inst, p, q)
            for o in ex.book(inst).orders():
                assert o.price * o.left * inst.multiplier >= inst.min_notional or o.filled


def test_neiro_eth_is_quoted_in_eth_with_tiny_prices():
    """NEIRO-ETH books exist on MEXC and Gate spot, priced around 4.5e-7 ETH, and not on futures."""
    m, _ = run_market(1, steps=3)
    for venue, market, sym in (("mexc", "spot", "NEIROETH"), ("gateio", "spot", "NEIRO_ETH")):
        ex = m.ctx.exchange(venue, market)
        bid, _, ask, _ = ex.book(sym).best()
        assert D("0.0000002") < bid < ask < D("0.000001")
        assert ex.instruments[sym].quote == "ETH"
    assert "NEIRO_ETH" not in m.ctx.exchange("gateio", "futures").instruments


def test_requote_is_a_diff_not_a_wipe():
    """Between two steps most resting maker orders survive (only edge levels and a few sizes change)."""
    m, _ = run_market(5, steps=10)
    ex = m.ctx.exchange("mexc", "spot")
    before = {o.id for o in ex.book("BTCUSDT").orders()}
    m.clock.advance(0.1)
    m.step(0.1)
    after = {o.id for o in ex.book("BTCUSDT").orders()}
    assert len(before & after) >= 0.6 * len(before)


def test_admin_dislocation_moves_one_venue_only():
    """A dislocation of +100 bps on Gate spot lifts its mid by about 1 % while MEXC stays at fair."""
    m, _ = run_market(1, steps=2, dislocations=DislocationConfig(enabled=False))
    m.dislocate("BTC-USDT", "gateio", "spot", 100.0, 5.0)
    m.clock.advance(0.1)
    m.step(0.1)
    fair = D(repr(m.fair("BTC-USDT")))
    gate_mid = m.ctx.exchange("gateio", "spot").book("BTC_USDT").mid()
    mexc_mid = m.ctx.exchange("mexc", "spot").book("BTCUSDT").mid()
    assert abs(gate_mid / fair - D("1.01")) < D("0.0005")
    assert abs(mexc_mid / fair - 1) < D("0.0005")
    for _ in range(60):
        m.clock.advance(0.1)
        m.step(0.1)
    assert abs(m.ctx.exchange("gateio", "spot").book("BTC_USDT").mid() / D(repr(m.fair("BTC-USDT"))) - 1) < D("0.0005")


def test_random_dislocations_appear_and_vanish():
    """With frequent configured dislocations some venue is shifted at some step and none is forever."""
    m, _ = run_market(2, steps=1, dislocations=DislocationConfig(every_s=1.0, duration_s=0.5, bps=50.0))
    seen = 0
    for _ in range(100):
        m.clock.advance(0.1)
        m.step(0.1)
        seen += sum(len(s.dislocations) for s in m.symbols.values())
    assert seen > 0
    assert all(d.until > m.t for s in m.symbols.values() for d in s.dislocations)


def test_funding_settles_every_interval_on_positions():
    """With a 1 s funding interval a long futures position pays funding about once per simulated second."""
    clock = ManualClock(start_ns=1_700_000_000_000_000_000)
    ctx = build_context(SimConfig(seed=1, funding_interval_s=1), clock_ns=clock.now_ns)
    m = Market(ctx, clock)
    m.start()
    m.set_funding_rate("BTC-USDT", "0.001")
    ex = ctx.exchange("gateio", "futures")
    acct = ctx.accounts.by_name("gateio-demo")
    ex.place(acct, "BTC_USDT", "buy", "market", "ioc", D(100))
    for _ in range(35):
        clock.advance(0.1)
        m.step(0.1)
    p = ex.position(acct, "BTC_USDT")
    assert len(ex.funding_history["BTC_USDT"]) == 3
    assert p.pnl_fund < 0
    assert ex.next_funding_ns("BTC_USDT") > clock.now_ns()


def test_price_process_is_seeded_and_positive():
    """The same seed and symbol give the same path; prices stay positive."""
    a = PriceProcess("BTC-USDT", D(65000), 0.6, 0.0, seed=9)
    b = PriceProcess("BTC-USDT", D(65000), 0.6, 0.0, seed=9)
    pa = [a.step(1.0) for _ in range(100)]
    assert pa == [b.step(1.0) for _ in range(100)]
    assert all(p > 0 for p in pa)


def test_faults_shots_probability_and_filters():
    """A counted fault fires that many times for its venue only; probability 1 fires every time; clear disarms."""
    f = Faults(seed=1)
    f.arm("book_skip", "mexc", "spot", count=2)
    assert f.take("book_skip", "gateio", "spot") is None
    assert f.take("book_skip", "mexc", "spot") is not None
    assert f.take("book_skip", "mexc", "spot") is not None
    assert f.take("book_skip", "mexc", "spot") is None
    f.arm("rest_5xx", count=0, probability=1.0, params={"status": 502})
    assert all(f.take("rest_5xx", "gateio", "futures").param("status", 500) == 502 for _ in range(5))
    assert f.clear("rest_5xx") == 1 and f.take("rest_5xx", "gateio", "futures") is None
    with pytest.raises(ValueError):
        f.arm("no_such_fault")
