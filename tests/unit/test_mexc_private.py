"""MEXC trading gateway internals on hand-written fakes: the user-stream event path to the bus."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arb.config.schema import GatewayOptions
from arb.core.enums import Market, OrderStatus
from arb.core.execution import Fill, OrderUpdate
from arb.venues.mexc import private
from arb.venues.mexc.private import MexcPrivateGateway
from arb.venues.mexc.schemas import SymbolRaw
from arb.venues.mexc.symbols import symbol_map

from proto.gen.mexc.PrivateDealsV3Api_pb2 import PrivateDealsV3Api
from proto.gen.mexc.PrivateOrdersV3Api_pb2 import PrivateOrdersV3Api
from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.unit


class FlakyBus:
    """Acked publishes fail the first ``failures`` times (JetStream briefly unavailable), then succeed."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[tuple[str, Any]] = []

    async def publish_acked(self, subject: str, event: Any, timeout: float = 2.0) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise TimeoutError("nats: timeout")
        self.published.append((subject, event))


def _gateway(bus: FlakyBus) -> MexcPrivateGateway:
    return MexcPrivateGateway(None, None, "ws://unused/ws", Market.SPOT, "a", bus, GatewayOptions())  # type: ignore[arg-type]


def _deal_frame() -> bytes:
    """The docs' private deal push (exchange-facts 1.5) as the binary frame MEXC sends."""
    w = PushDataV3ApiWrapper(channel="spot@private.deals.v3.api.pb", symbol="MXUSDT", sendTime=1736417034332)
    w.privateDeals.CopyFrom(PrivateDealsV3Api(
        price="3.6962", quantity="1", amount="3.6962", tradeType=2, tradeId="505979017439002624X1",
        orderId="C02__505979017439002624115", feeAmount="0.0003998377369698171", feeCurrency="MX",
        time=1736417034280))
    return w.SerializeToString()


async def test_fill_whose_publish_failed_once_is_published_on_retry() -> None:
    """A fill push survives one failed JetStream publish: the retry publishes it, it is not taken as sent."""
    bus = FlakyBus(failures=1)
    gw = _gateway(bus)
    gw.on_binary(_deal_frame())
    await gw._flush_events()
    fills = [ev for _, ev in bus.published if isinstance(ev, Fill)]
    assert [f.trade_id for f in fills] == ["505979017439002624X1"]


def _order_frame() -> bytes:
    """The docs' private order push (exchange-facts 1.5): a market sell, filled."""
    w = PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="MXUSDT", sendTime=1736417034281)
    w.privateOrders.CopyFrom(PrivateOrdersV3Api(
        id="C02__505979017439002624115", clientId="cid-1", price="3.5121", quantity="1", amount="0",
        avgPrice="3.6962", orderType=5, tradeType=2, remainAmount="0", remainQuantity="0", lastDealQuantity="1",
        cumulativeQuantity="1", cumulativeAmount="3.6962", status=2, createTime=1736417034259))
    return w.SerializeToString()


async def test_order_event_outlives_a_long_jetstream_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """An order push is published once JetStream is back, however many publishes failed before; never dropped."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(private.asyncio, "sleep", no_wait)
    bus = FlakyBus(failures=20)
    gw = _gateway(bus)
    gw.on_binary(_order_frame())
    await gw._flush_events()
    orders = [ev.order for _, ev in bus.published if isinstance(ev, OrderUpdate)]
    assert [(o.client_order_id, o.status) for o in orders] == [("cid-1", OrderStatus.FILLED)]
    assert len(slept) == 20 and max(slept) <= 2.0


class OpenOrdersRest:
    """Only what ``open_orders`` needs: no order open anywhere; records the symbols asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def open_orders(self, venue_symbol: str) -> list[Any]:
        self.asked.append(venue_symbol)
        return []


async def test_push_for_a_symbol_missing_from_the_rules_does_not_break_reconcile() -> None:
    """A user-stream order on a pair not in our symbol map (a new listing traded by hand) leaves open_orders working."""
    gw = _gateway(FlakyBus(failures=0))
    rest = OpenOrdersRest()
    gw.trader.rest = rest  # type: ignore[assignment]
    gw.trader.symbols = symbol_map([SymbolRaw(symbol="BTCUSDT", baseAsset="BTC", quoteAsset="USDT",
                                              baseAssetPrecision=6, quoteAssetPrecision=2)])
    gw.trader.interest["BTC-USDT"] = None
    gw.on_binary(_order_frame())  # symbol MXUSDT: not in the map
    assert await gw.trader.open_orders(None) == []
    assert rest.asked == ["BTCUSDT"]
