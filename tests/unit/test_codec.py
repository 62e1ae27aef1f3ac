"""The bus codec: one tagged union, decoded without knowing the subject's type."""

from decimal import Decimal

import msgspec
import pytest
from arb.bus import codec
from arb.bus.subjects import MdSubjects, OrdSubjects, md, ord_cmd
from arb.core.commands import ErrorReply, PlaceOrder
from arb.core.enums import BookState, Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from arb.core.execution import Order, OrderUpdate
from arb.core.market_data import BookSnapshot, BookTicker, Level

pytestmark = pytest.mark.unit


def _bbo() -> BookTicker:
    return BookTicker(Venue.MEXC, Market.SPOT, "BTC-USDT", 1.5, 2.0, 1.6, 3.0, 7, 1, 2, 3)


def test_any_event_round_trips_through_the_union():
    """Market data, execution events and commands decode to their own types."""
    order = Order(Venue.GATEIO, Market.FUTURES, "main", "BTC-USDT", "c1", "42", Side.SELL, OrderType.LIMIT,
                  TimeInForce.GTC, Decimal("65000.1"), Decimal("0.0003"), Decimal(0), None, OrderStatus.NEW,
                  False, 1, 2, 3, contracts=Decimal(3))
    book = BookSnapshot(Venue.GATEIO, Market.SPOT, "ETH-USDT", [Level(1.0, 2.0)], [Level(1.1, 3.0)], 9,
                        BookState.OK, 1, 2, 3)
    for ev in (_bbo(), book, OrderUpdate(order), PlaceOrder("c1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.1")),
               ErrorReply("venue_client", "30002", "below minimum")):
        assert codec.decode(codec.encode(ev)) == ev


def test_decimals_travel_as_exact_strings():
    """Order quantities are encoded as decimal strings, never floats."""
    cmd = PlaceOrder("c1", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.30000000000000004"), price=Decimal("1E-7"))
    raw = msgspec.msgpack.decode(codec.encode(cmd))
    assert raw["qty"] == "0.30000000000000004" and raw["price"] == "1E-7"
    assert codec.decode(codec.encode(cmd)).qty == Decimal("0.30000000000000004")


def test_old_subscriber_decodes_newer_event_with_appended_field():
    """Schema evolution: a field appended with a default does not break older decoders."""

    class BookTickerV2(msgspec.Struct, frozen=True, tag="bbo"):
        venue: Venue
        market: Market
        symbol: str
        bid_px: float
        bid_sz: float
        ask_px: float
        ask_sz: float
        seq: int
        ts_event: int
        ts_recv: int
        ts_pub: int
        new_field: str = "x"

    data = msgspec.msgpack.encode(BookTickerV2(Venue.MEXC, Market.SPOT, "BTC-USDT", 1, 2, 3, 4, 5, 6, 7, 8))
    assert codec.decode(data).ask_sz == 4


def test_garbage_raises_decode_error():
    """A malformed payload is a msgspec error the subscriber can count, not a crash elsewhere."""
    with pytest.raises(msgspec.DecodeError):
        codec.decode(b"\xc1\x00garbage")
    with pytest.raises(msgspec.ValidationError):
        codec.decode(msgspec.msgpack.encode({"type": "nope"}))


def test_subjects_follow_catalogue_and_reject_bad_tokens():
    """Subjects are md.<venue>.<market>.<symbol>.<kind> and ord.<venue>.<account>.cmd.<market>.<verb>; tokens outside [A-Za-z0-9_-] are refused."""
    s = MdSubjects.of(Venue.MEXC, Market.SPOT, "BTC-USDT")
    assert s.bbo == "md.mexc.spot.BTC-USDT.bbo" and s.book == "md.mexc.spot.BTC-USDT.book"
    o = OrdSubjects.of(Venue.GATEIO, "main", Market.FUTURES, prefix="t1.")
    assert o.fill == "t1.ord.gateio.main.evt.fill" and o.cmd_prefix == "t1.ord.gateio.main.cmd.futures"
    assert ord_cmd(Venue.MEXC, "acct-1", Market.SPOT, "place") == "ord.mexc.acct-1.cmd.spot.place"
    with pytest.raises(ValueError):
        md(Venue.MEXC, Market.SPOT, "BTC.USDT", "bbo")


def test_to_json_is_readable_and_tagged():
    """tap output carries the type tag and field names."""
    out = msgspec.json.decode(codec.to_json(_bbo()))
    assert out["type"] == "bbo" and out["venue"] == "mexc" and out["bid_px"] == 1.5
