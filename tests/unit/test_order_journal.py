"""CommandHandler with its order journal on a fake venue and an in-memory KV with JetStream KV's semantics:
a client id is claimed before the venue call and never sent twice, whatever crashes in between; intake
refuses what is not a sane command, by name."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from arb.bus import codec
from arb.bus.subjects import OrdSubjects
from arb.core.commands import CancelOrder, ErrorReply, OrderReply, PlaceOrder, QueryOrder, SetLeverage
from arb.core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.errors import LookupIncomplete, ValidationError, VenueServerError
from arb.core.execution import Order
from arb.core.symbols import Symbol, SymbolInfo, SymbolMap
from arb.venues.common.journal import IntentState, OrderJournal, cid_key
from arb.venues.common.trading import CommandHandler, PreparedOrder, check_command
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

pytestmark = pytest.mark.unit

INFO = SymbolInfo(venue=Venue.GATEIO, market=Market.SPOT, symbol=Symbol("BTC", "USDT", Market.SPOT),
                  venue_symbol="BTC_USDT", tick_size=Decimal("0.1"), lot_step=Decimal("0.0001"),
                  min_qty=Decimal("0.0001"))


class Entry(msgspec.Struct):
    value: bytes
    revision: int


class MemoryKV:
    """JetStream KV's create / update(last=) / put / get semantics, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Entry] = {}
        self.seq = 0
        self.fail_next = 0
        self.fail_after_create = False  # every put fails (the marks after the claim are lost)

    def _write(self, key: str, value: bytes) -> int:
        if self.fail_next:
            self.fail_next -= 1
            raise TimeoutError("nats: timeout")
        self.seq += 1
        self.data[key] = Entry(value, self.seq)
        return self.seq

    async def create(self, key: str, value: bytes) -> int:
        await asyncio.sleep(0)  # a real KV answers later: let other commands run meanwhile
        if key in self.data:
            raise KeyWrongLastSequenceError(description="wrong last sequence")
        return self._write(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        await asyncio.sleep(0)  # a real KV answers later: let the other process run meanwhile
        cur = self.data.get(key)
        if (cur.revision if cur else 0) != (last or 0):
            raise KeyWrongLastSequenceError(description="wrong last sequence")
        return self._write(key, value)

    async def put(self, key: str, value: bytes) -> int:
        await asyncio.sleep(0)
        if self.fail_after_create:
            raise TimeoutError("nats: timeout")
        return self._write(key, value)

    async def get(self, key: str) -> Entry:
        if key not in self.data:
            raise KeyNotFoundError
        return self.data[key]


class Venue_:
    """A venue that may act on a submit and then fail to answer (the crash window), or never get it."""

    venue = Venue.GATEIO
    market = Market.SPOT
    account = "main"
    request_expiry_s = 5.0

    def __init__(self) -> None:
        self.symbols = SymbolMap(Venue.GATEIO, Market.SPOT, [INFO])
        self.orders: dict[str, Order] = {}
        self.sent: list[str] = []
        self.lose_answer = False  # act, then raise as a timeout would
        self.lose_request = False  # never act, raise a 5xx
        self.lookup_incomplete = False  # queries cannot reach back far enough

    async def place(self, p: PreparedOrder) -> Order:
        self.sent.append(p.client_order_id)
        await asyncio.sleep(0)
        if self.lose_request:
            raise VenueServerError("gateio", "503", "down", 503)
        o = Order(Venue.GATEIO, Market.SPOT, "main", p.symbol, p.client_order_id, str(len(self.sent)), p.side,
                  p.order_type, p.tif, p.price, p.qty, p.qty if p.order_type is OrderType.MARKET else Decimal(0),
                  None, OrderStatus.FILLED if p.order_type is OrderType.MARKET else OrderStatus.NEW, False, 1, 2, 3)
        self.orders[p.client_order_id] = o
        if self.lose_answer:
            raise TimeoutError("read timeout")
        return o

    async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
        if self.lookup_incomplete:
            raise LookupIncomplete("gateio", "LOOKUP_INCOMPLETE", "not among the newest 3000 finished orders")
        return self.orders.get(client_order_id)

    def is_duplicate_client_id(self, exc: Any) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000_000

    def __call__(self) -> int:
        return self.ns


async def _no_sleep(s: float) -> None:
    return None


def _handler(venue: Venue_, kv: MemoryKV, clock: Clock) -> CommandHandler:
    journal = OrderJournal(kv, Venue.GATEIO, "main", Market.SPOT)
    return CommandHandler(venue, bus=None, subjects=OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT),  # type: ignore[arg-type]
                          journal=journal, sleep=_no_sleep, clock=clock)


def _buy(cid: str, **kw: Any) -> PlaceOrder:
    fields: dict[str, Any] = {"price": Decimal(50000), "qty": Decimal("0.001"), **kw}
    return PlaceOrder(cid, "BTC-USDT", Market.SPOT, Side.BUY, **fields)


async def test_a_crash_after_the_venue_acted_is_resolved_by_asking_never_by_resending():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    first = _handler(venue, kv, clock)
    venue.lose_answer = True
    first.UNKNOWN_RESOLVE_DELAYS = ()  # "crash": no resolution in the first process
    r = await first.handle(_buy("c1", order_type=OrderType.MARKET))
    assert isinstance(r, ErrorReply) and r.status_unknown
    venue.lose_answer = False

    restarted = _handler(venue, kv, clock)  # new process, same journal, empty memory
    again = await restarted.handle(_buy("c1", order_type=OrderType.MARKET))
    assert isinstance(again, OrderReply) and again.order.filled_qty == Decimal("0.001")
    assert venue.sent == ["c1"] and restarted.resolved_from_journal == 1


async def test_an_id_not_found_is_unknown_until_the_request_window_passed_then_sent_once():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    venue.lose_request = True
    r = await h.handle(_buy("c2"))
    assert isinstance(r, ErrorReply) and r.status_unknown, r  # 3.7 s of queries < 5 s window + margin
    venue.lose_request = False

    r = await _handler(venue, kv, clock).handle(_buy("c2"))
    assert isinstance(r, ErrorReply) and r.code == "STATUS_UNKNOWN" and r.retryable, r
    assert venue.sent == ["c2"]

    clock.ns += int(13e9)  # past recvWindow (5 s) + margin (7 s): the first request can no longer be executed
    r = await _handler(venue, kv, clock).handle(_buy("c2"))
    assert isinstance(r, OrderReply) and r.order.status is OrderStatus.NEW
    assert venue.sent == ["c2", "c2"]
    r = await _handler(venue, kv, clock).handle(_buy("c2"))  # and from then on it is that order
    assert isinstance(r, OrderReply) and venue.sent == ["c2", "c2"]


async def test_a_refused_id_may_be_sent_again_a_placed_one_never():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    r = await h.handle(_buy("c3", price=Decimal("0.01")))  # below min notional? no: below the tick-rounded price
    assert isinstance(r, ErrorReply) and r.kind == "validation", r
    assert (await OrderJournal(kv, Venue.GATEIO, "main", Market.SPOT).get("c3")).state is IntentState.REJECTED
    ok = await h.handle(_buy("c3"))  # the same process: a refused id carries no parameters of its own
    assert isinstance(ok, OrderReply) and venue.sent == ["c3"]


async def test_a_reused_id_with_other_parameters_is_a_conflict_in_this_process_and_after_a_restart():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    assert isinstance(await h.handle(_buy("c4")), OrderReply)
    for other in (msgspec.structs.replace(_buy("c4"), side=Side.SELL), _buy("c4", qty=Decimal("0.002")),
                  msgspec.structs.replace(_buy("c4"), symbol="ETH-USDT"), _buy("c4", price=Decimal(49000))):
        for handler in (h, _handler(venue, kv, clock)):
            r = await handler.handle(other)
            assert isinstance(r, ErrorReply) and r.kind == "conflict" and r.code == "CLIENT_ID_REUSED", r
    assert venue.sent == ["c4"]
    same = await _handler(venue, kv, clock).handle(_buy("c4", ts_pub=99))  # ts_pub is not a parameter
    assert isinstance(same, OrderReply)


async def test_a_journal_that_cannot_be_written_sends_nothing():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    kv.fail_next = 1
    r = await _handler(venue, kv, clock).handle(_buy("c5"))
    assert isinstance(r, ErrorReply) and r.retryable and venue.sent == []


async def test_concurrent_copies_of_one_place_reach_the_venue_once():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    replies = await asyncio.gather(*(h.handle(_buy("c6")) for _ in range(5)))
    assert all(isinstance(r, OrderReply) for r in replies) and venue.sent == ["c6"]
    assert h.resolved_from_journal == 0  # the copies waited for the first one, none went to the journal


async def test_a_concurrent_command_with_other_parameters_is_a_conflict_not_the_first_ones_order():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    first, other = await asyncio.gather(h.handle(_buy("c8")), h.handle(_buy("c8", qty=Decimal("0.5"))))
    assert isinstance(first, OrderReply)
    assert isinstance(other, ErrorReply) and other.kind == "conflict" and "qty" in other.message, other
    assert venue.sent == ["c8"]


async def test_a_pending_id_the_venue_forgot_is_answered_from_what_this_process_saw_never_resent():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    kv.fail_after_create = True
    r = await h.handle(_buy("c9", order_type=OrderType.MARKET))  # the PLACED mark is lost: the entry stays pending
    assert isinstance(r, OrderReply)
    assert (await OrderJournal(kv, Venue.GATEIO, "main", Market.SPOT).get("c9")).state is IntentState.PENDING
    kv.fail_after_create = False
    venue.orders.clear()  # the venue no longer finds it
    clock.ns += int(120e9)
    again = await h.handle(_buy("c9", order_type=OrderType.MARKET))
    assert isinstance(again, OrderReply) and again.order.venue_order_id == r.order.venue_order_id
    assert venue.sent == ["c9"]


async def test_a_pending_id_older_than_any_lookup_reaches_is_never_resent():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    venue.lose_request = True
    r = await _handler(venue, kv, clock).handle(_buy("c10"))
    assert isinstance(r, ErrorReply) and r.status_unknown
    venue.lose_request = False
    clock.ns += int((CommandHandler.PENDING_RESEND_MAX_S + 1) * 1e9)
    r = await _handler(venue, kv, clock).handle(_buy("c10"))
    assert isinstance(r, ErrorReply) and r.code == "ORDER_NOT_FOUND" and r.status_unknown, r
    assert venue.sent == ["c10"]


async def test_an_incomplete_venue_lookup_is_unknown_not_absent():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    venue.lose_request = True
    await _handler(venue, kv, clock).handle(_buy("c11"))
    venue.lose_request = False
    venue.lookup_incomplete = True
    clock.ns += int(30e9)
    r = await _handler(venue, kv, clock).handle(_buy("c11"))
    assert isinstance(r, ErrorReply) and r.status_unknown and r.code == "LOOKUP_INCOMPLETE", r
    assert venue.sent == ["c11"]


async def test_a_lease_lost_between_claim_and_send_sends_nothing():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    calls = iter([None, "lease not renewed for 6.0 s (TTL 10 s)"])
    h.fence = lambda: next(calls)
    r = await h.handle(_buy("c12"))
    assert isinstance(r, ErrorReply) and r.code == "NOT_WRITER", r
    assert venue.sent == []
    assert (await OrderJournal(kv, Venue.GATEIO, "main", Market.SPOT).get("c12")).state is IntentState.REJECTED


async def test_a_handler_that_is_not_the_writer_sends_nothing():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    h.fence = lambda: "lease lost to another process"
    for cmd in (_buy("c7"), CancelOrder("BTC-USDT", Market.SPOT, client_order_id="c7"),
                SetLeverage("BTC-USDT", 3, Market.SPOT)):
        r = await h.handle(cmd)
        assert isinstance(r, ErrorReply) and r.code == "NOT_WRITER" and "lease lost" in r.message, r
    assert venue.sent == [] and kv.data == {}
    r = await h.handle(QueryOrder("BTC-USDT", Market.SPOT, client_order_id="c7"))  # reads are fine
    assert isinstance(r, ErrorReply) and r.code == "ORDER_NOT_FOUND"


@pytest.mark.parametrize("value", ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "1E+30", "1E+15", "-1",
                                   "1." + "1" * 60])
@pytest.mark.parametrize("field", ["qty", "price"])
def test_check_command_names_the_field_of_a_number_that_is_not_sane(field: str, value: str):
    cmd = msgspec.structs.replace(_buy("n1"), **{field: Decimal(value)})
    with pytest.raises(ValidationError, match=f"^{field}: "):
        check_command(cmd)


@pytest.mark.parametrize("value", ["0.1", "65000.123456789012345678901234567890", "99999999999999", "1E-30"])
def test_check_command_takes_numbers_any_venue_could_trade(value: str):
    check_command(_buy("n2", price=Decimal(value)))


@pytest.mark.parametrize("cid", ["", "x" * 65, "a b", "é", "tab\there"])
def test_check_command_refuses_client_ids_no_venue_or_key_could_carry(cid: str):
    if cid == "":
        return  # an empty id is refused by the place path (every order carries one)
    with pytest.raises(ValidationError, match="^client_order_id: "):
        check_command(_buy(cid))


def test_intake_refuses_by_reason_and_counts():
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    h = _handler(venue, kv, clock)
    prefix = "ord.gateio.main.cmd.spot."
    cases = [
        (prefix + "place", b"\x00\x01", "UNDECODABLE"),
        (prefix + "place", msgspec.msgpack.encode({"type": "place"}), "UNDECODABLE"),
        (prefix + "place", codec.encode(OrderReply(venue.orders.get("x") or _order())), "NOT_A_COMMAND"),
        (prefix + "cancel", codec.encode(_buy("v1")), "WRONG_VERB"),
        (prefix + "place", codec.encode(_buy("v1", qty=Decimal("NaN"))), "INVALID"),
    ]
    for subject, data, code in cases:
        cmd, refusal = h.intake(subject, data)
        assert cmd is None and refusal is not None and refusal.kind == "validation" and refusal.code == code, refusal
    cmd, refusal = h.intake(prefix + "place", codec.encode(_buy("v1")))
    assert refusal is None and cmd == _buy("v1")
    assert h.refused == {"undecodable": 2, "not_a_command": 1, "wrong_verb": 1, "invalid": 1}


def _order() -> Order:
    return Order(Venue.GATEIO, Market.SPOT, "main", "BTC-USDT", "x", "1", Side.BUY, OrderType.LIMIT,
                 TimeInForce.GTC, Decimal(1), Decimal(1), Decimal(0), None, OrderStatus.NEW, False,
                 1, 1, 1)


@pytest.mark.parametrize("cid", ["a", "t-1.2_3", "ünï/code ~!", "x" * 64])
def test_every_client_id_has_its_own_valid_kv_key(cid: str):
    key = cid_key(cid)
    assert key[0] == "c" and all(ch.isalnum() or ch in "-_" for ch in key)
    assert cid_key(cid + "x") != key


async def test_two_processes_resolving_one_absent_id_send_it_once():
    """Even without the writer lease (two copies at once), the journal alone lets one of them resend an id
    found absent: the ABSENT mark is a compare-and-set on the revision each read. Here B reads the entry, A
    then resolves and resends it, and only then does B's venue query answer "not found"."""
    venue, kv, clock = Venue_(), MemoryKV(), Clock()
    venue.lose_request = True
    await _handler(venue, kv, clock).handle(_buy("c13"))
    venue.lose_request = False
    clock.ns += int(13e9)

    class Slow(Venue_):
        def __init__(self) -> None:
            super().__init__()
            self.go = asyncio.Event()
            self.asked = asyncio.Event()

        async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
            self.asked.set()
            await self.go.wait()
            return None  # what B's query saw: not found (A's order lands after it read)

        async def place(self, p: PreparedOrder) -> Order:
            return await venue.place(p)

    slow = Slow()
    b = asyncio.create_task(_handler(slow, kv, clock).handle(_buy("c13")))  # type: ignore[arg-type]
    await asyncio.wait_for(slow.asked.wait(), 5)
    a = await _handler(venue, kv, clock).handle(_buy("c13"))
    assert isinstance(a, OrderReply)
    slow.go.set()
    rb = await asyncio.wait_for(b, 5)
    assert isinstance(rb, ErrorReply) and rb.status_unknown, rb
    assert venue.sent == ["c13", "c13"]  # the lost first request, then exactly one resend


class IntentBeforeMultipliers(msgspec.Struct, frozen=True):
    """The journal entry as written before ``contract_multiplier`` existed."""

    cmd: PlaceOrder
    state: IntentState
    ts_intent: int
    venue_order_id: str = ""
    ts_resolved: int = 0
    note: str = ""


async def test_an_entry_written_before_the_multiplier_field_decodes_as_unknown():
    """Old entries keep decoding (multiplier None: unknown) and are resolved as before; a new futures-shaped entry
    round-trips its multiplier exactly."""
    kv = MemoryKV()
    journal = OrderJournal(kv, Venue.GATEIO, "main", Market.SPOT)
    old = IntentBeforeMultipliers(cmd=_buy("old"), state=IntentState.PLACED, ts_intent=5, venue_order_id="9")
    await kv.put(journal.key("old"), msgspec.msgpack.encode(old))
    await journal.claim(_buy("new"), 6, Decimal("0.0001"))

    entry = await journal.get("old")
    new = await journal.get("new")

    assert entry is not None and (entry.state, entry.venue_order_id, entry.contract_multiplier) == (
        IntentState.PLACED, "9", None)
    assert new is not None and new.contract_multiplier == Decimal("0.0001")
    venue = Venue_()
    venue.orders["old"] = msgspec.structs.replace(_order(), client_order_id="old", qty=Decimal("0.001"))
    reply = await _handler(venue, kv, Clock()).handle(_buy("old"))
    assert isinstance(reply, OrderReply) and venue.sent == [], reply
