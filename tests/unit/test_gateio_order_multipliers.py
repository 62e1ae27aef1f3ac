"""Gate perpetual contract multiplier per order, without I/O (specs/gateways.md, "Contract multiplier changes"): read
back at start from ORD and from the order journal, pruned once the order is finished and converted, never dropped
while working; a position read that disagrees with the multiplier held re-reads the rules at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from arb.bus.subjects import OrdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.execution import Order, OrderUpdate
from arb.core.symbols import SymbolMap
from arb.testing import bounded
from arb.venues.common import trading
from arb.venues.common.journal import OrderJournal
from arb.venues.common.multipliers import OrderMultipliers
from arb.venues.common.trading import CommandHandler
from arb.venues.gateio import parse as P
from arb.venues.gateio import schemas as S
from arb.venues.gateio.private import GatePrivateGateway, GateTrader
from arb.venues.gateio.rest import Pages
from arb.venues.gateio.symbols import futures_info
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

pytestmark = pytest.mark.unit
D = Decimal
OLD, NEW = D("0.0001"), D("0.001")
CONTRACT = (b'{"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001","order_price_round":"0.1",'
            b'"order_size_min":1,"order_size_max":1000000,"funding_rate":"0.002053","funding_interval":28800,'
            b'"funding_next_apply":1610035200,"maker_fee_rate":"-0.00025","taker_fee_rate":"0.00075",'
            b'"in_delisting":false,"status":"trading"}')  # facts §2.6 example, the fields SymbolInfo reads


def rules(multiplier: Decimal) -> SymbolMap:
    raw = CONTRACT.replace(b'"0.0001"', f'"{multiplier}"'.encode())
    info = futures_info(msgspec.json.decode(raw, type=S.Contract))
    assert info is not None
    return SymbolMap(Venue.GATEIO, Market.FUTURES, [info])


class Entry(msgspec.Struct):
    value: bytes
    revision: int


class MemoryKV:
    """JetStream KV's create / update(last=) / put / get, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Entry] = {}
        self.seq = 0

    def _write(self, key: str, value: bytes) -> int:
        self.seq += 1
        self.data[key] = Entry(value, self.seq)
        return self.seq

    async def create(self, key: str, value: bytes) -> int:
        if key in self.data:
            raise KeyWrongLastSequenceError(description="wrong last sequence")
        return self._write(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        cur = self.data.get(key)
        if (cur.revision if cur else 0) != (last or 0):
            raise KeyWrongLastSequenceError(description="wrong last sequence")
        return self._write(key, value)

    async def put(self, key: str, value: bytes) -> int:
        return self._write(key, value)

    async def get(self, key: str) -> Entry:
        if key not in self.data:
            raise KeyNotFoundError
        return self.data[key]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FuturesVenue:
    """Gate's futures order endpoints over one in-memory book of orders (found by id or by ``text``)."""

    def __init__(self) -> None:
        self.orders: dict[str, S.FuturesOrder] = {}
        self.crash_after_acting = False  # the process dies after the venue took the order, before its answer

    async def place(self, body: dict, decimal: bool = False) -> S.FuturesOrder:
        o = S.FuturesOrder(id=len(self.orders) + 1, contract=body["contract"], size=body["size"], left=body["size"],
                           price=body["price"], tif=body["tif"], text=body["text"], status="open")
        self.orders[o.text] = o
        if self.crash_after_acting:
            raise SystemExit("crash")  # not an Exception: nothing in the handler answers for it
        return o

    async def get_order(self, oid: str) -> S.FuturesOrder:
        for o in self.orders.values():
            if oid in (o.text, str(o.id)):
                return o
        raise AssertionError(f"no order {oid}")


def trader_at(multiplier: Decimal, venue: FuturesVenue | None = None) -> GateTrader:
    t = GateTrader(Market.FUTURES, "main", None, None, venue or FuturesVenue())  # type: ignore[arg-type]
    t.symbols = rules(multiplier)
    return t


def fill_of(trader: GateTrader, cid: str, contracts: int, trade_id: int = 1) -> S.FuturesTradeRow:
    return S.FuturesTradeRow(id=trade_id, order_id=1, contract="BTC_USDT", size=contracts, price="50000",
                             text=trader.ids.text(cid))


def order_of(trader: GateTrader, cid: str, contracts: int, left: int, finish_as: str = "") -> S.FuturesOrder:
    return S.FuturesOrder(id=1, contract="BTC_USDT", size=contracts, left=left, price="50000", tif="gtc",
                          text=trader.ids.text(cid), status="finished" if finish_as else "open", finish_as=finish_as)


def ord_event(cid: str, qty: str, contracts: int, status: OrderStatus, market: Market = Market.FUTURES,
              filled: str = "0") -> OrderUpdate:
    return OrderUpdate(Order(Venue.GATEIO, market, "main", "BTC-USDT", cid, "1", Side.BUY, OrderType.LIMIT,
                             TimeInForce.GTC, D(50000), D(qty), D(filled), None, status, False, 1, 1, 1,
                             contracts=D(contracts)))


class NoBus:
    js = None


def handler(trader: GateTrader, kv: MemoryKV | None = None) -> CommandHandler:
    journal = OrderJournal(kv, Venue.GATEIO, "main", Market.FUTURES) if kv is not None else None
    return CommandHandler(trader, NoBus(), OrdSubjects.of(Venue.GATEIO, "main", Market.FUTURES),  # type: ignore[arg-type]
                          journal=journal)


# ------------------------------------------------------------------------------------------------ restart: ORD


async def test_orders_replayed_from_ord_convert_with_their_own_multiplier_after_a_change_across_the_restart(
        monkeypatch: pytest.MonkeyPatch):
    """Placed at 0.0001 by the process before (10 contracts = 0.001 BTC), the gateway restarts with the contract at
    0.001: the resting order's fill and cancel still say 0.001 BTC (qty / contracts of its last ORD event), an order
    of somebody else converts with the current multiplier, a spot event teaches nothing."""
    events = [ord_event("rest", "0.001", 10, OrderStatus.NEW),
              ord_event("done", "0.002", 20, OrderStatus.FILLED, filled="0.002"),
              ord_event("spot", "1", 1, OrderStatus.NEW, market=Market.SPOT)]

    async def fake_replay(js: Any, subject: str, since_ns: int, **kw: Any) -> AsyncIterator[Any]:
        for ev in events:
            yield ev

    monkeypatch.setattr(trading, "replay", fake_replay)
    trader = trader_at(NEW)
    h = handler(trader)

    assert await h.restore(3600) == 2
    fill = trader.fut_fill(fill_of(trader, "rest", 4), trader.symbols.info("BTC-USDT"), 1)
    cancelled = trader.order_from_futures(order_of(trader, "rest", 10, 6, finish_as="cancelled"), 1)
    other = trader.fut_fill(fill_of(trader, "someone-else", 4, trade_id=2), trader.symbols.info("BTC-USDT"), 1)

    assert fill.qty == D("0.0004")
    assert cancelled is not None and (cancelled.qty, cancelled.filled_qty) == (D("0.001"), D("0.0004"))
    assert trader.mults.get("done") == OLD and "spot" not in trader.mults
    assert other.qty == D("0.004")
    assert h.multipliers_learned == 2


# ------------------------------------------------------------------------------------------------ restart: journal


async def test_a_crash_before_the_venue_answered_is_resolved_with_the_multiplier_the_intent_recorded():
    """The venue took 10 contracts of 0.0001 (0.001 BTC) and the process died before its answer; the next process
    holds 0.001 per contract. The repeated command is answered with that order as 0.001 BTC (not 0.01 BTC, a
    "conflict"), and its fill says 0.001 BTC."""
    venue, kv = FuturesVenue(), MemoryKV()
    cmd = PlaceOrder("c1", "BTC-USDT", Market.FUTURES, Side.BUY, D("0.001"), price=D(50000))
    venue.crash_after_acting = True
    with pytest.raises(SystemExit):
        await handler(trader_at(OLD, venue), kv).handle(cmd)
    venue.crash_after_acting = False
    intent = await OrderJournal(kv, Venue.GATEIO, "main", Market.FUTURES).get("c1")
    assert intent is not None and intent.contract_multiplier == OLD

    after = trader_at(NEW, venue)
    reply = await handler(after, kv).handle(cmd)

    assert isinstance(reply, OrderReply), reply
    assert (reply.order.qty, reply.order.contracts) == (D("0.001"), 10)
    assert after.fut_fill(fill_of(after, "c1", 10), after.symbols.info("BTC-USDT"), 1).qty == D("0.001")
    placed = await OrderJournal(kv, Venue.GATEIO, "main", Market.FUTURES).get("c1")
    assert placed is not None and placed.contract_multiplier == OLD  # kept through the PLACED mark


async def test_rules_refreshed_between_claim_and_send_are_recorded_before_sending():
    """The claim recorded 0.0001; the rules say 0.001 by the time the order is prepared: the intent names 0.001
    before the venue is called (the order is 1 contract of 0.001)."""
    venue, kv = FuturesVenue(), MemoryKV()
    trader = trader_at(OLD, venue)
    h = handler(trader, kv)
    claim = h._claim

    async def claim_then_refresh(cmd: PlaceOrder) -> Any:
        out = await claim(cmd)
        trader.put_symbols(rules(NEW))
        return out

    h._claim = claim_then_refresh  # type: ignore[method-assign]
    reply = await h.handle(PlaceOrder("c2", "BTC-USDT", Market.FUTURES, Side.BUY, D("0.001"), price=D(50000)))

    assert isinstance(reply, OrderReply) and reply.order.contracts == 1, reply
    intent = await OrderJournal(kv, Venue.GATEIO, "main", Market.FUTURES).get("c2")
    assert intent is not None and intent.contract_multiplier == NEW


# ------------------------------------------------------------------------------------------------ pruning


def test_a_finished_order_is_pruned_once_its_fills_are_converted_and_a_working_one_never():
    """Filled (5 contracts) and its one fill converted: gone ``done_keep_s`` later; a working order stays however
    old; a finished order whose fills never all come goes after ``fill_grace_s``."""
    clock = Clock()
    trader = trader_at(OLD)
    trader.mults = OrderMultipliers("test", done_keep_s=60, fill_grace_s=600, clock=clock)
    info = trader.symbols.info("BTC-USDT")
    for cid in ("filled", "working", "unfilled-fills"):
        trader.mults.placed(cid, OLD)
    trader.order_from_futures(order_of(trader, "filled", 5, 0, finish_as="filled"), 1)
    trader.order_from_futures(order_of(trader, "unfilled-fills", 5, 0, finish_as="filled"), 1)
    clock.t += 30
    trader.fut_fill(fill_of(trader, "filled", 5), info, 1)
    trader.fut_fill(fill_of(trader, "filled", 5), info, 1)  # the same trade again (reconcile): counts once

    clock.t += 59
    assert trader.mults.prune() == 0 and "filled" in trader.mults
    clock.t += 2
    assert trader.mults.prune() == 1 and "filled" not in trader.mults
    clock.t += 600
    assert trader.mults.prune() == 1 and "unfilled-fills" not in trader.mults
    clock.t += 10**6
    assert trader.mults.prune() == 0 and trader.mults.get("working") == OLD


def test_at_the_cap_finished_orders_go_first_then_the_least_recently_used_working_one():
    """Cap 3: two working orders (the older one used since) and one finished; each new order drops a finished one
    first, and only then the working order not used for longest."""
    clock = Clock()
    mults = OrderMultipliers("test", cap=3, done_keep_s=60, fill_grace_s=600, clock=clock)
    mults.placed("w1", OLD)
    mults.placed("w2", OLD)
    mults.placed("f", OLD)
    mults.order_seen("f", True, D(0))
    assert mults.get("w1") == OLD  # used: now the most recent

    mults.placed("n1", NEW)
    assert "f" not in mults and {"w1", "w2", "n1"} <= set(mults._m)
    mults.placed("n2", NEW)

    assert "w2" not in mults and {"w1", "n1", "n2"} == set(mults._m)
    assert mults.dropped_live == 1


def test_an_id_read_back_never_overrides_what_this_process_placed():
    mults = OrderMultipliers("test")
    mults.placed("c", NEW)
    assert not mults.learn("c", OLD) and mults.get("c") == NEW
    assert not mults.learn("d", None) and not mults.learn("d", D(0)) and "d" not in mults


# ------------------------------------------------------------------------------------------------ position alarm


def position(size: int, mark: str, value: str) -> S.FuturesPosition:
    return S.FuturesPosition(contract="BTC_USDT", size=size, leverage=10, entry_price=mark, mark_price=mark,
                             liq_price="1", margin="10", maintenance_rate="0.005", value=value)


@pytest.mark.parametrize(("row", "implied"), [
    (position(10, "50000", "50"), D("0.0001")),
    (position(-10, "50000", "50.2"), D("0.0001004")),  # within 1 %: rounding, not a change
    (position(10, "50000", "500"), D("0.001")),
    (position(10, "50000", "0"), None),  # a push: no value
    (position(0, "50000", "0"), None),
])
def test_implied_multiplier_is_value_over_mark_over_contracts(row: S.FuturesPosition, implied: Decimal | None):
    assert P.implied_multiplier(row) == implied


class PositionsRest:
    def __init__(self, rows: list[S.FuturesPosition]) -> None:
        self.rows = rows

    async def account(self) -> S.FuturesAccount:
        return S.FuturesAccount(currency="USDT", total="1000", available="900", position_margin="30")

    async def positions_all(self) -> Pages[S.FuturesPosition]:
        pages: Pages[S.FuturesPosition] = Pages()
        pages.rows = list(self.rows)
        return pages


async def test_a_position_whose_value_disagrees_with_the_multiplier_rereads_the_rules_at_once():
    """The venue values 10 contracts at 500 USDT at mark 50000 (0.001 per contract) while we hold 0.0001: warned,
    the rules are read at once (not at the next ``symbol_refresh_s``) and hold 0.001 after it; a position that
    agrees reads nothing."""
    rest = PositionsRest([position(10, "50000", "50")])
    trader = GateTrader(Market.FUTURES, "main", None, None, rest)  # type: ignore[arg-type]
    trader.symbols = rules(OLD)
    gw = GatePrivateGateway(Market.FUTURES, "main", trader, None, None, None,  # type: ignore[arg-type]
                            VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"), GatewayOptions())

    async def venue_rules() -> SymbolMap:
        return rules(NEW)

    gw.rules.read = venue_rules
    await trader.positions()
    assert (trader.multiplier_mismatches, gw.rules.now_requests) == (0, 0)
    rest.rows = [position(10, "50000", "500")]

    (p,) = await trader.positions()
    assert gw.rules.now_task is not None
    await bounded(gw.rules.now_task, 5, "rules read")

    assert trader.multiplier_mismatches == 1 and gw.rules.now_requests == 1
    assert p.size == D("0.001")  # this read still converted with the rules held: the alarm is what it adds
    assert gw.symbols.info("BTC-USDT").contract_multiplier == NEW
    await trader.positions()
    assert trader.multiplier_mismatches == 1
