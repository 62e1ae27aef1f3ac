"""The simulator's matching engine: priority, order types, fees, balances, futures positions, funding, rejects."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from arb.sim.engine import Account, Instrument, SimReject, VenueExchange

pytestmark = pytest.mark.unit


class Recorder:
    """A listener that keeps (event, summary) in call order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_order(self, o):
        self.events.append(("order", (o.id, o.status, o.filled)))

    def on_fill(self, f):
        self.events.append(("fill", (f.order_id, f.qty, f.price, f.is_maker)))

    def on_balance(self, a, asset, bal):
        self.events.append(("balance", (a.name, asset, bal.available, bal.locked)))

    def on_position(self, a, p):
        self.events.append(("position", (a.name, p.size)))

    def on_trade(self, t):
        self.events.append(("trade", (t.trade_id, t.price, t.qty, t.taker_side)))

    def on_book(self, ch):
        self.events.append(("book", (ch.first_id, ch.last_id, ch.bids, ch.asks)))

    def on_funding(self, inst, rate):
        self.events.append(("funding", rate))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def spot() -> tuple[VenueExchange, Instrument, Account, Account, Account]:
    inst = Instrument("gateio", "spot", "BTC_USDT", "BTC", "USDT", D("0.1"), D("0.0001"), D("0.0001"),
                      min_notional=D(3), maker_fee=D("0.001"), taker_fee=D("0.002"))
    ex = VenueExchange("gateio", "spot", [inst], clock_ns=lambda: 1_000)
    mm = Account("mm", "gateio", "", "", internal=True)
    a = Account("a", "gateio", "ka", "sa", balances={"USDT": D(100000), "BTC": D(2)})
    b = Account("b", "gateio", "kb", "sb", balances={"USDT": D(100000), "BTC": D(2)})
    return ex, inst, mm, a, b


def futures() -> tuple[VenueExchange, Instrument, Account, Account]:
    inst = Instrument("gateio", "futures", "BTC_USDT", "BTC", "USDT", D("0.1"), D(1), D(1),
                      multiplier=D("0.0001"), maker_fee=D("0.0002"), taker_fee=D("0.0005"))
    ex = VenueExchange("gateio", "futures", [inst], clock_ns=lambda: 1_000, default_leverage=10)
    mm = Account("mm", "gateio", "", "", internal=True)
    a = Account("a", "gateio", "ka", "sa", futures_balances={"USDT": D(10000)})
    return ex, inst, mm, a


def test_price_time_priority_fills_best_price_then_oldest_first():
    """A taker fills the best price first and, at one price, the oldest resting order first."""
    ex, inst, mm, a, b = spot()
    first = ex.place(a, inst, "sell", "limit", "gtc", D("0.1"), D("100.0"))
    second = ex.place(b, inst, "sell", "limit", "gtc", D("0.1"), D("100.0"))
    better = ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("99.9"))
    taker = ex.place(mm, inst, "buy", "limit", "ioc", D("0.15"), D("100.0"))
    assert better.status == "filled"
    assert first.filled == D("0.05") and second.filled == 0
    assert taker.status == "filled" and taker.filled == D("0.15")
    assert ex.book(inst).depth(5)[2] == [(D("100.0"), D("0.15"))]


def test_partial_fill_rests_remainder_with_exact_lock():
    """A limit buy crossing part of the book fills that part and rests the rest with its quote locked."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.3"), D("1000.0"))
    o = ex.place(a, inst, "buy", "limit", "gtc", D("0.5"), D("1000.0"))
    assert (o.status, o.filled, o.left) == ("open", D("0.3"), D("0.2"))
    usdt = ex.balance(a, "USDT")
    assert usdt.locked == D("200.0")
    assert usdt.available == D(100000) - D(300) - D(200)
    btc = ex.balance(a, "BTC")
    assert btc.available == D(2) + D("0.3") - D("0.3") * D("0.002")  # taker fee in base
    assert ex.book(inst).best()[:2] == (D("1000.0"), D("0.2"))


def test_buy_at_better_price_refunds_difference_at_once():
    """A limit buy filled below its limit spends the fill price and unlocks the difference."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D(1), D("900.0"))
    ex.place(a, inst, "buy", "limit", "gtc", D(1), D("1000.0"))
    usdt = ex.balance(a, "USDT")
    assert (usdt.available, usdt.locked) == (D("99100.0"), D(0))


def test_cancel_unlocks_exactly_what_was_locked():
    """Cancelling a resting order returns available/locked to their values before the placement."""
    ex, inst, _, a, _ = spot()
    o = ex.place(a, inst, "buy", "limit", "gtc", D("0.1234"), D("50000.1"), client_id="t-1")
    assert ex.balance(a, "USDT").locked == D("0.1234") * D("50000.1")
    ex.cancel(a, inst, client_id="t-1")
    assert (o.status, o.finish_as) == ("cancelled", "cancelled")
    assert ex.balance(a, "USDT") == ex.balance(a, "USDT").__class__(D(100000), D(0))
    s = ex.place(a, inst, "sell", "limit", "gtc", D("1.5"), D("60000.0"))
    assert ex.balance(a, "BTC").locked == D("1.5")
    ex.cancel(a, inst, order_id=s.id)
    assert (ex.balance(a, "BTC").available, ex.balance(a, "BTC").locked) == (D(2), D(0))


def test_maker_and_taker_fees_on_received_asset():
    """The resting side pays the maker rate and the aggressor the taker rate, each on what it receives."""
    ex, inst, _, a, b = spot()
    ex.place(a, inst, "sell", "limit", "gtc", D(1), D("1000.0"))
    ex.place(b, inst, "buy", "limit", "gtc", D(1), D("1000.0"))
    fa = ex.my_trades(a, inst)[0]
    fb = ex.my_trades(b, inst)[0]
    assert (fa.is_maker, fa.fee, fa.fee_asset) == (True, D("1.000"), "USDT")
    assert (fb.is_maker, fb.fee, fb.fee_asset) == (False, D("0.002"), "BTC")
    assert ex.balance(a, "USDT").available == D(100000) + D(1000) - D(1)
    assert ex.balance(a, "BTC") == ex.balance(a, "BTC").__class__(D(1), D(0))
    assert ex.balance(b, "BTC").available == D(2) + D(1) - D("0.002")
    assert fa.trade_id == fb.trade_id


def test_ioc_cancels_unfilled_rest():
    """An IOC fills what crosses and cancels the rest with finish_as ioc, unlocking it."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1000.0"))
    o = ex.place(a, inst, "buy", "limit", "ioc", D("0.3"), D("1000.0"))
    assert (o.status, o.finish_as, o.filled) == ("cancelled", "ioc", D("0.1"))
    assert ex.balance(a, "USDT").locked == 0
    assert ex.book(inst).best()[2] is None


def test_fok_rejects_when_not_fully_fillable_and_fills_when_it_is():
    """A FOK that cannot fill in full is rejected with no change; one that can fills completely."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1000.0"))
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1001.0"))
    uid = ex.book(inst).update_id
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "limit", "fok", D("0.3"), D("1001.0"))
    assert e.value.reason == "FOK_NOT_FILLED"
    assert ex.book(inst).update_id == uid and ex.balance(a, "USDT").available == D(100000)
    o = ex.place(a, inst, "buy", "limit", "fok", D("0.2"), D("1001.0"))
    assert (o.status, o.filled) == ("filled", D("0.2"))


def test_post_only_rejects_when_it_would_take_and_rests_otherwise():
    """A post-only order crossing the book is rejected; a passive one rests."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1000.0"))
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "limit", "poc", D("0.1"), D("1000.0"))
    assert e.value.reason == "POST_ONLY_WOULD_TAKE"
    o = ex.place(a, inst, "buy", "limit", "poc", D("0.1"), D("999.9"))
    assert o.status == "open" and ex.book(inst).best()[0] == D("999.9")


def test_market_buy_by_qty_walks_levels_and_locks_cost():
    """A market buy by base quantity takes levels in order and spends exactly their cost."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1000.0"))
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1010.0"))
    o = ex.place(a, inst, "buy", "market", "ioc", D("0.15"))
    assert (o.status, o.filled, o.filled_quote) == ("filled", D("0.15"), D("150.5"))
    assert o.avg_price == D("150.5") / D("0.15")
    usdt = ex.balance(a, "USDT")
    assert (usdt.available, usdt.locked) == (D(100000) - D("150.5"), D(0))


def test_market_buy_by_quote_amount_spends_at_most_the_amount():
    """A market buy by quote amount buys whole lot steps for at most that amount and refunds the rest."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D("0.1"), D("1000.0"))
    ex.place(mm, inst, "sell", "limit", "gtc", D(1), D("1100.0"))
    o = ex.place(a, inst, "buy", "market", "ioc", quote_qty=D(210))
    # 0.1 @ 1000 = 100, then floor(110 / 1100, 0.0001) = 0.1 @ 1100 = 110
    assert (o.status, o.filled, o.filled_quote, o.qty) == ("filled", D("0.2"), D("210.0"), D("0.2"))
    assert ex.balance(a, "USDT").available == D(100000) - D("210.0")
    assert ex.balance(a, "USDT").locked == 0


def test_market_sell_on_thin_book_cancels_rest():
    """A market sell larger than the book fills the book and cancels the remainder (finish_as ioc)."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "buy", "limit", "gtc", D("0.5"), D("1000.0"))
    o = ex.place(a, inst, "sell", "market", "ioc", D(1))
    assert (o.status, o.finish_as, o.filled) == ("cancelled", "ioc", D("0.5"))
    assert ex.balance(a, "BTC") == ex.balance(a, "BTC").__class__(D("1.5"), D(0))


def test_rejects_min_qty_notional_precision_balance_and_symbol():
    """Orders breaking the symbol rules or the balance are refused with the matching reason."""
    ex, inst, mm, a, _ = spot()
    ex.place(mm, inst, "sell", "limit", "gtc", D(1), D("1000.0"))
    cases = [
        ({"side": "buy", "qty": D("0.00001"), "price": D("1000.0")}, "INVALID_PRECISION"),
        ({"side": "buy", "qty": D("0.001"), "price": D("1000.05")}, "INVALID_PRECISION"),
        ({"side": "buy", "qty": D("0.0001"), "price": D("1000.0")}, "BELOW_MIN_NOTIONAL"),
        ({"side": "buy", "qty": D(200), "price": D("1000.0")}, "INSUFFICIENT_BALANCE"),
        ({"side": "sell", "qty": D(3), "price": D("2000.0")}, "INSUFFICIENT_BALANCE"),
        ({"side": "buy", "qty": D(0), "price": D("1000.0")}, "INVALID_PARAM"),
        ({"side": "up", "qty": D(1), "price": D("1000.0")}, "INVALID_PARAM"),
    ]
    for kw, reason in cases:
        with pytest.raises(SimReject) as e:
            ex.place(a, inst, kind="limit", tif="gtc", **kw)
        assert e.value.reason == reason, kw
    inst2 = Instrument("gateio", "spot", "X_USDT", "X", "USDT", D(1), D(1), D(5))
    ex2 = VenueExchange("gateio", "spot", [inst2])
    with pytest.raises(SimReject) as e:
        ex2.place(Account("z", "gateio", "k", "s", balances={"USDT": D(100)}), inst2, "buy", "limit", "gtc", D(1), D(1))
    assert e.value.reason == "BELOW_MIN_QTY"
    with pytest.raises(SimReject) as e:
        ex.place(a, "NOPE_USDT", "buy", "limit", "gtc", D(1), D(1))
    assert e.value.reason == "UNKNOWN_SYMBOL"
    assert ex.balance(a, "USDT") == ex.balance(a, "USDT").__class__(D(100000), D(0))


def test_duplicate_client_id_and_cancel_of_closed_order():
    """A second open order with the same client id is refused; cancelling a finished order says closed."""
    ex, inst, _, a, _ = spot()
    o = ex.place(a, inst, "buy", "limit", "gtc", D("0.01"), D("500.0"), client_id="t-x")
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "limit", "gtc", D("0.01"), D("500.0"), client_id="t-x")
    assert e.value.reason == "DUPLICATE_CLIENT_ID"
    ex.cancel(a, inst, order_id=o.id)
    with pytest.raises(SimReject) as e:
        ex.cancel(a, inst, order_id=o.id)
    assert e.value.reason == "ORDER_CLOSED"
    with pytest.raises(SimReject) as e:
        ex.cancel(a, inst, order_id="424242")
    assert e.value.reason == "ORDER_NOT_FOUND"
    assert ex.get_order(a, inst, client_id="t-x") is o


def test_no_liquidity_market_order_is_rejected():
    """A market order on an empty side is refused with NO_LIQUIDITY."""
    ex, inst, _, a, _ = spot()
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "market", "ioc", D("0.1"))
    assert e.value.reason == "NO_LIQUIDITY"


def test_client_orders_trade_against_each_other_and_events_in_contract_order():
    """Two clients trade; listener calls follow ack, fills, counterparty, final, balances, trades, book."""
    ex, inst, _, a, b = spot()
    rec = Recorder()
    ex.add_listener(rec)
    ex.place(a, inst, "sell", "limit", "gtc", D("0.5"), D("1000.0"))
    rec.events.clear()
    ex.place(b, inst, "buy", "limit", "gtc", D("0.2"), D("1000.0"))
    assert rec.kinds() == ["order", "fill", "fill", "order", "order", "balance", "balance", "balance", "balance",
                           "trade", "book"]
    assert rec.events[0][1][1:] == ("open", D(0))
    assert rec.events[4][1][1:] == ("filled", D("0.2"))
    assert rec.events[-1][1][2:] == ([], [(D("1000.0"), D("0.3"))])


def test_book_update_id_is_one_per_action_and_batch_covers_range():
    """Each book-changing action adds exactly one update id; a batch reports first..last in one change."""
    ex, inst, mm, a, _ = spot()
    rec = Recorder()
    ex.add_listener(rec)
    ex.place(mm, inst, "sell", "limit", "gtc", D(1), D("1000.0"))
    ex.place(a, inst, "buy", "limit", "ioc", D("0.1"), D("1000.0"))  # trades: one id
    ex.place(a, inst, "buy", "limit", "ioc", D("0.1"), D("900.0"))  # no change: no id
    assert ex.book(inst).update_id == 2
    with ex.batch(inst):
        ex.place(mm, inst, "buy", "limit", "gtc", D(1), D("990.0"))
        ex.place(mm, inst, "buy", "limit", "gtc", D(1), D("989.0"))
        ex.place(mm, inst, "buy", "limit", "gtc", D(2), D("990.0"))
    books = [v for k, v in rec.events if k == "book"]
    assert [(f, l) for f, l, _, _ in books] == [(1, 1), (2, 2), (3, 5)]
    assert books[-1][2] == [(D("990.0"), D(3)), (D("989.0"), D(1))]
    uid, bids, asks = ex.book(inst).depth(10)
    assert (uid, bids, asks) == (5, [(D("990.0"), D(3)), (D("989.0"), D(1))], [(D("1000.0"), D("0.9"))])


def test_futures_open_increase_reduce_flip_with_entry_and_realised_pnl():
    """A position averages its entry on increase, realises PnL on reduce and re-opens at the fill on flip."""
    ex, inst, mm, a = futures()
    ex.set_mark(inst, D(50000))
    ex.place(mm, inst, "sell", "limit", "gtc", D(100), D("50000.0"))
    ex.place(a, inst, "buy", "limit", "gtc", D(100), D("50000.0"))
    p = ex.position(a, inst)
    assert (p.size, p.entry_price, p.margin) == (D(100), D("50000.0"), D(50))  # 100*0.0001*50000/10
    ex.place(mm, inst, "sell", "limit", "gtc", D(100), D("51000.0"))
    ex.place(a, inst, "buy", "limit", "gtc", D(100), D("51000.0"))
    assert (p.size, p.entry_price) == (D(200), D(50500))
    ex.place(mm, inst, "buy", "limit", "gtc", D(300), D("52000.0"))
    ex.place(a, inst, "sell", "market", "ioc", D(50))
    assert p.size == D(150) and p.pnl_pnl == D(50) * D("0.0001") * D(1500)
    ex.place(a, inst, "sell", "market", "ioc", D(250))
    assert (p.size, p.entry_price) == (D(-100), D("52000.0"))
    assert p.pnl_pnl == D(200) * D("0.0001") * D(1500)
    assert p.margin == D(100) * D("0.0001") * D(52000) / 10
    fees = D("0.0005") * D("0.0001") * (D(100) * 50000 + D(100) * 51000 + D(300) * 52000)
    assert p.pnl_fee == -fees
    usdt = ex.balance(a, "USDT")
    assert usdt.locked == p.margin
    assert usdt.available + usdt.locked == D(10000) + p.pnl_pnl - fees
    ex.set_mark(inst, D(51000))
    assert ex.position(a, inst).unrealised_pnl == D(-100) * D("0.0001") * D(-1000)


def test_futures_order_margin_locked_then_moved_to_position():
    """A resting opening order locks price*multiplier*qty/leverage; a fill turns it into position margin."""
    ex, inst, mm, a = futures()
    o = ex.place(a, inst, "buy", "limit", "gtc", D(1000), D("40000.0"))
    assert ex.balance(a, "USDT").locked == D(400)  # 1000*0.0001*40000/10
    ex.place(mm, inst, "sell", "limit", "gtc", D(400), D("40000.0"))
    assert o.filled == D(400)
    p = ex.position(a, inst)
    bal = ex.balance(a, "USDT")
    assert p.margin == D(160) and bal.locked == D(400)  # 240 order margin + 160 position margin
    ex.cancel(a, inst, order_id=o.id)
    bal = ex.balance(a, "USDT")
    assert bal.locked == D(160)
    assert bal.available == D(10000) - D(160) - D(400) * D("0.0001") * D(40000) * D("0.0002")


def test_reduce_only_and_close():
    """Reduce-only is refused without an opposite position; close=True closes the whole position."""
    ex, inst, mm, a = futures()
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "sell", "market", "ioc", D(1), reduce_only=True)
    assert e.value.reason == "REDUCE_ONLY_VIOLATION"
    ex.place(mm, inst, "sell", "limit", "gtc", D(10), D("30000.0"))
    ex.place(a, inst, "buy", "market", "ioc", D(10))
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "market", "ioc", D(1), reduce_only=True)
    assert e.value.reason == "REDUCE_ONLY_VIOLATION"
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "sell", "limit", "gtc", D(11), D("30000.0"), reduce_only=True)
    assert e.value.reason == "REDUCE_ONLY_VIOLATION"
    ex.place(mm, inst, "buy", "limit", "gtc", D(10), D("31000.0"))
    o = ex.place(a, inst, "sell", "market", "ioc", D(0), close=True)
    assert (o.side, o.qty, o.is_close, o.reduce_only, o.status) == ("sell", D(10), True, True, "filled")
    p = ex.position(a, inst)
    assert (p.size, p.margin, p.entry_price) == (0, 0, 0)
    assert ex.balance(a, "USDT").locked == 0


def test_resting_reduce_only_is_cancelled_when_position_is_gone():
    """A resting reduce-only order whose position closed elsewhere is cancelled instead of opening one."""
    ex, inst, mm, a = futures()
    ex.place(mm, inst, "sell", "limit", "gtc", D(5), D("30000.0"))
    ex.place(a, inst, "buy", "market", "ioc", D(5))
    ro = ex.place(a, inst, "sell", "limit", "gtc", D(5), D("32000.0"), reduce_only=True)
    ex.place(mm, inst, "buy", "limit", "gtc", D(5), D("30500.0"))
    ex.place(a, inst, "sell", "market", "ioc", D(5))
    ex.place(mm, inst, "buy", "limit", "gtc", D(5), D("32000.0"))
    assert (ro.status, ro.finish_as, ro.filled) == ("cancelled", "reduce_only", 0)
    assert ex.position(a, inst).size == 0


def test_funding_charges_longs_and_fires_listeners():
    """At a positive rate a long pays size*multiplier*mark*rate from its USDT; events fire."""
    ex, inst, mm, a = futures()
    ex.place(mm, inst, "sell", "limit", "gtc", D(1000), D("50000.0"))
    ex.place(a, inst, "buy", "market", "ioc", D(1000))
    ex.set_mark(inst, D(50100))
    before = ex.balance(a, "USDT").available
    rec = Recorder()
    ex.add_listener(rec)
    ex.set_funding(inst, D("0.0001"), next_ns=5_000)
    paid = ex.apply_funding(inst, next_ns=10_000)
    amount = D(1000) * D("0.0001") * D(50100) * D("0.0001")
    assert paid == [(a, -amount)]
    assert ex.balance(a, "USDT").available == before - amount
    assert ex.position(a, inst).pnl_fund == -amount
    assert ex.next_funding_ns(inst) == 10_000
    assert rec.kinds() == ["funding", "balance", "position", "funding"]


def test_set_leverage_remargins_position_and_validates():
    """Changing leverage re-computes position margin; out-of-range leverage is refused."""
    ex, inst, mm, a = futures()
    ex.place(mm, inst, "sell", "limit", "gtc", D(100), D("50000.0"))
    ex.place(a, inst, "buy", "market", "ioc", D(100))
    p = ex.set_leverage(a, inst, 5)
    assert p.margin == D(100) and ex.balance(a, "USDT").locked == D(100)
    p = ex.set_leverage(a, inst, 0)
    assert p.leverage == 0 and p.margin == D(50)  # cross margined at cross_leverage 10
    with pytest.raises(SimReject) as e:
        ex.set_leverage(a, inst, 1000)
    assert e.value.reason == "INVALID_LEVERAGE"


def test_futures_insufficient_margin_rejected():
    """An opening order whose margin exceeds the available USDT is refused."""
    ex, inst, _, a = futures()
    with pytest.raises(SimReject) as e:
        ex.place(a, inst, "buy", "limit", "gtc", D(30000), D("40000.0"))  # 30000*4/10 = 12000 > 10000
    assert e.value.reason == "INSUFFICIENT_BALANCE"


def test_order_ids_are_venue_style_and_trade_ids_increase():
    """MEXC ids look like C02__<n>, Gate ids are numeric strings; trade ids rise by one per trade."""
    inst = Instrument("mexc", "spot", "BTCUSDT", "BTC", "USDT", D("0.01"), D("0.000001"), D("0.000001"))
    ex = VenueExchange("mexc", "spot", [inst])
    mm = Account("mm", "mexc", "", "", internal=True)
    o = ex.place(mm, inst, "sell", "limit", "gtc", D(1), D("100.00"))
    assert o.id.startswith("C02__") and o.id[5:].isdigit()
    ex.place(mm, inst, "buy", "market", "ioc", D("0.1"))
    ex.place(mm, inst, "buy", "market", "ioc", D("0.1"))
    ids = [t.trade_id for t in ex.recent_trades(inst, 10)]
    assert ids[0] == ids[1] + 1
    gex, ginst, gmm, _, _ = spot()
    assert gex.place(gmm, ginst, "sell", "limit", "gtc", D(1), D("100.0")).id.isdigit()
