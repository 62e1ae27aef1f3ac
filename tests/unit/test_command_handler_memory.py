"""CommandHandler idempotency memory on a hand-written fake venue: a client id is placed once, whatever follows."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from arb.bus.subjects import OrdSubjects
from arb.core.commands import ErrorReply, OrderReply, PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.errors import ProtocolError, VenueClientError
from arb.core.execution import Order
from arb.core.symbols import Symbol, SymbolInfo, SymbolMap
from arb.venues.common.trading import CommandHandler, PreparedOrder
from arb.venues.gateio.errors import is_duplicate_client_id as gate_duplicate
from arb.venues.mexc.errors import is_duplicate_client_id as mexc_duplicate

pytestmark = pytest.mark.unit

INFO = SymbolInfo(venue=Venue.GATEIO, market=Market.SPOT, symbol=Symbol("BTC", "USDT", Market.SPOT),
                  venue_symbol="BTC_USDT", tick_size=Decimal("0.1"), lot_step=Decimal("0.0001"),
                  min_qty=Decimal("0.0001"))


class FakeVenue:
    """A venue that keeps orders by client id, can forget them (Gate's lookback) and can refuse submits."""

    venue = Venue.GATEIO
    market = Market.SPOT
    account = "main"

    def __init__(self) -> None:
        self.symbols = SymbolMap(Venue.GATEIO, Market.SPOT, [INFO])
        self.orders: dict[str, Order] = {}
        self.forgotten: set[str] = set()
        self.refuse: VenueClientError | None = None
        self.place_calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def place(self, p: PreparedOrder) -> Order:
        self.place_calls += 1
        await self.gate.wait()
        if self.refuse is not None:
            raise self.refuse
        o = Order(Venue.GATEIO, Market.SPOT, "main", p.symbol, p.client_order_id, str(100 + self.place_calls), p.side,
                  p.order_type, p.tif, p.price, p.qty, Decimal(0), None, OrderStatus.NEW, False, 1, 2, 3)
        self.orders[p.client_order_id] = o
        return o

    async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
        if client_order_id in self.forgotten:
            return None
        return self.orders.get(client_order_id)

    def is_duplicate_client_id(self, exc: VenueClientError) -> bool:
        return exc.code == "DUPLICATE"


def _handler(venue: FakeVenue) -> CommandHandler:
    return CommandHandler(venue, bus=None, subjects=OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT))  # type: ignore[arg-type]


def _place(cid: str) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.001"), OrderType.LIMIT, TimeInForce.GTC,
                      Decimal(50000))


async def test_repeat_of_an_order_the_venue_no_longer_finds_is_answered_from_memory_not_resent():
    """The venue confirmed the order, then aged it out of its lookups: the repeat returns it, nothing is sent."""
    venue = FakeVenue()
    h = _handler(venue)
    first = await h.handle(_place("c1"))
    venue.forgotten.add("c1")
    again = await h.handle(_place("c1"))
    assert isinstance(again, OrderReply) and again == first and venue.place_calls == 1


async def test_concurrent_repeats_of_a_known_id_send_at_most_one_more_order():
    """A refused id may be resent, but two simultaneous resends make one venue call, not two."""
    venue = FakeVenue()
    h = _handler(venue)
    venue.refuse = VenueClientError("gateio", "BALANCE_NOT_ENOUGH", "Not enough balance")
    assert isinstance(await h.handle(_place("c2")), ErrorReply)
    venue.refuse = None
    venue.gate.clear()
    a = asyncio.create_task(h.handle(_place("c2")))
    b = asyncio.create_task(h.handle(_place("c2")))
    await asyncio.sleep(0)
    venue.gate.set()
    ra, rb = await asyncio.gather(a, b)
    assert isinstance(ra, OrderReply) and ra == rb and venue.place_calls == 2


async def test_duplicate_refusal_is_answered_with_the_existing_order():
    """The venue refuses the id as a duplicate and knows an order with it: that order is the reply."""
    venue = FakeVenue()
    existing = await venue.place(PreparedOrder("c3", "BTC-USDT", "BTC_USDT", Side.BUY, OrderType.LIMIT,
                                               TimeInForce.GTC, Decimal("0.001"), Decimal("0.001"), Decimal(50000),
                                               False, INFO))
    venue.refuse = VenueClientError("gateio", "DUPLICATE", "Repeated creation")
    h = _handler(venue)
    r = await h.handle(_place("c3"))
    assert r == OrderReply(existing) and h.duplicates_resolved == 1


async def test_duplicate_refusal_stands_when_the_venue_knows_no_such_order():
    """A duplicate refusal the venue cannot back with an order is returned as the venue's error."""
    venue = FakeVenue()
    venue.refuse = VenueClientError("gateio", "DUPLICATE", "Repeated creation")
    r = await _handler(venue).handle(_place("c4"))
    assert isinstance(r, ErrorReply) and r.kind == "venue_client" and r.code == "DUPLICATE"


def test_venue_duplicate_id_refusals_are_recognised():
    """MEXC 33333 / a duplicate message and Gate REPEATED_CREATION / 'already in use' count; balance errors do not."""
    assert mexc_duplicate(VenueClientError("mexc", "33333", "client id 'x' is already in use by an open order"))
    assert mexc_duplicate(VenueClientError("mexc", "30099", "Duplicate clientOrderId"))
    assert not mexc_duplicate(VenueClientError("mexc", "10101", "Insufficient balance"))
    assert gate_duplicate(VenueClientError("gateio", "REPEATED_CREATION", "Repeated creation"))
    assert gate_duplicate(VenueClientError("gateio", "INVALID_PARAM_VALUE", "client id 't-x' is already in use"))
    assert not gate_duplicate(VenueClientError("gateio", "BALANCE_NOT_ENOUGH", "Not enough balance"))


class PlacedButUnreadable(FakeVenue):
    """The venue placed the order but its 2xx answer could not be decoded."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    async def place(self, p: PreparedOrder) -> Order:
        await super().place(p)
        raise self.exc


@pytest.mark.parametrize("exc", [ProtocolError("gate: reply is not JSON"), KeyError("id")])
async def test_a_placed_order_whose_answer_cannot_be_read_is_resolved_by_query(exc: Exception):
    """An unreadable answer to a submit is 'status unknown': the order is found by query, not reported failed
    (a caller told 'internal error' would place it again)."""
    venue = PlacedButUnreadable(exc)
    h = CommandHandler(venue, bus=None, subjects=OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT),  # type: ignore[arg-type]
                       sleep=_no_sleep)
    r = await h.handle(_place("u1"))
    assert isinstance(r, OrderReply) and r.order.venue_order_id == venue.orders["u1"].venue_order_id
    again = await h.handle(_place("u1"))
    assert isinstance(again, OrderReply) and venue.place_calls == 1


async def test_unresolved_unknown_status_is_reported_as_unknown():
    """When the venue can be asked nothing, the reply says status unknown whatever the last error was."""
    venue = PlacedButUnreadable(ProtocolError("garbled"))

    async def broken_query(symbol: str, cid: str, voi: str) -> Order | None:
        raise ProtocolError("garbled too")

    venue.query = broken_query  # type: ignore[method-assign]
    h = CommandHandler(venue, bus=None, subjects=OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT),  # type: ignore[arg-type]
                       sleep=_no_sleep)
    r = await h.handle(_place("u2"))
    assert isinstance(r, ErrorReply) and r.status_unknown and r.retryable


async def _no_sleep(_s: float) -> None:
    return None
