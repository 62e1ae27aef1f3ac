"""One md publisher for every venue: ts_event (venue), ts_recv (socket read), ts_pub (bus publish) mean the same."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from arb.bus import codec
from arb.bus.subjects import MdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.core.market_data import BookTicker, Trade
from arb.core.symbols import Symbol, SymbolInfo
from arb.testing import bounded
from arb.venues.gateio.public import GatePublicGateway, _Book
from arb.venues.gateio.ws import PublicWs
from arb.venues.mexc.public import MexcPublicGateway

from proto.gen.mexc.PublicAggreBookTickerV3Api_pb2 import PublicAggreBookTickerV3Api
from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.unit


class _Nats:
    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes) -> None:
        self.got.append((subject, payload))


class _Bus:
    def __init__(self) -> None:
        self.nc = _Nats()


def _mexc(bus: _Bus) -> MexcPublicGateway:
    gw = MexcPublicGateway(None, None, Market.SPOT, ["BTC-USDT"], bus, GatewayOptions())  # type: ignore[arg-type]
    gw.install_feeds([SymbolInfo(Venue.MEXC, Market.SPOT, Symbol("BTC", "USDT"), "BTCUSDT", Decimal("0.01"),
                                 Decimal("0.000001"), Decimal("0.000001"))])
    return gw


def _gate(bus: _Bus) -> GatePublicGateway:
    gw = GatePublicGateway(Market.SPOT, ["BTC-USDT"], bus, None, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"), GatewayOptions())
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, Market.SPOT, "BTC-USDT"), 1.0)
    return gw


MEXC_BBO = PushDataV3ApiWrapper(
    channel="spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT", sendTime=1736412092433,
    publicAggreBookTicker=PublicAggreBookTickerV3Api(bidPrice="93387.28", bidQuantity="3.73485", askPrice="93387.29",
                                                     askQuantity="7.669875", version="43296363236"),
).SerializeToString()
GATE_BBO = ('{"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker","event":"update","result":'
            '{"t":1606293275123,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38",'
            '"A":"0.09"}}')
GATE_TRADE = ('{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades","event":"update","result":'
              '{"id":309143071,"create_time":1606292218,"create_time_ms":"1606292218213.4578","side":"sell",'
              '"currency_pair":"GT_USDT","amount":"16.4700000000","price":"0.4705000000","range":"2390902-2390902"}}')


async def test_every_venue_stamps_ts_pub_at_the_publish_after_the_socket_read():
    """An event of each venue leaves the common publisher with ts_pub >= ts_recv (socket read) > ts_event > 0."""
    mbus, gbus = _Bus(), _Bus()
    mexc, gate = _mexc(mbus), _gate(gbus)
    t0 = time.time_ns()
    mexc.on_binary(MEXC_BBO)
    PublicWs(Market.SPOT, gate).on_text(GATE_BBO)
    queued_at = time.time_ns()
    await bounded(mexc.pub.drain(), 5, "mexc drained")
    await bounded(gate.pub.drain(), 5, "gate drained")
    events = [codec.decode(p) for _, p in mbus.nc.got + gbus.nc.got]
    assert [type(e) for e in events] == [BookTicker, BookTicker]
    for e in events:
        assert e.ts_pub >= queued_at >= e.ts_recv >= t0 > e.ts_event > 0, e
    assert [s for s, _ in mbus.nc.got + gbus.nc.got] == ["md.mexc.spot.BTC-USDT.bbo", "md.gateio.spot.BTC-USDT.bbo"]


async def test_a_gate_trade_carries_the_three_times():
    """Gate spot trade: ts_event from create_time_ms, ts_recv from the read, ts_pub from the publish."""
    bus = _Bus()
    gate = _gate(bus)
    gate.books["GT_USDT"] = _Book("GT-USDT", "GT_USDT", MdSubjects.of(Venue.GATEIO, Market.SPOT, "GT-USDT"), 1.0)
    PublicWs(Market.SPOT, gate).on_text(GATE_TRADE)
    await bounded(gate.pub.drain(), 5, "gate drained")
    (subject, payload), = bus.nc.got
    trade = codec.decode(payload)
    assert subject == "md.gateio.spot.GT-USDT.trade" and isinstance(trade, Trade)
    assert trade.ts_event // 1_000_000 == 1606292218213 and trade.ts_pub >= trade.ts_recv > trade.ts_event
    assert gate.published == 1
