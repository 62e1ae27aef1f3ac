"""MEXC trading gateway internals on hand-written fakes: the user-stream event path to the bus."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from arb.config.schema import GatewayOptions
from arb.core.enums import Market, OrderStatus
from arb.core.execution import Fill, OrderUpdate
from arb.venues.mexc import private
from arb.venues.mexc.auth import ServerClock
from arb.venues.mexc.private import MexcPrivateGateway
from arb.venues.mexc.schemas import SymbolRaw, TradeRaw
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
    await gw.outbox.flush()
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

    bus = FlakyBus(failures=20)
    gw = _gateway(bus)
    gw.outbox._sleep = no_wait
    gw.on_binary(_order_frame())
    await gw.outbox.flush()
    orders = [ev.order for _, ev in bus.published if isinstance(ev, OrderUpdate)]
    assert [(o.client_order_id, o.status) for o in orders] == [("cid-1", OrderStatus.FILLED)]
    assert len(slept) == 20 and max(slept) <= 2.0


async def test_order_push_without_client_id_carries_the_id_we_placed_it_with() -> None:
    """MEXC may omit ``clientId`` in an order push (the docs' sample has none): the event still names the
    client order id the gateway placed it with, so a consumer tracking its order by that id sees it."""
    bus = FlakyBus(failures=0)
    gw = _gateway(bus)
    gw.trader.cid_by_oid["C02__505979017439002624115"] = "cid-placed"
    w = PushDataV3ApiWrapper.FromString(_order_frame())
    w.privateOrders.clientId = ""
    gw.on_binary(w.SerializeToString())
    await gw.outbox.flush()
    orders = [ev.order for _, ev in bus.published if isinstance(ev, OrderUpdate)]
    assert [(o.client_order_id, o.venue_order_id) for o in orders] == [("cid-placed", "C02__505979017439002624115")]


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


class TradesRest:
    """``myTrades`` over a fixed trade list. A window holding more than ``limit`` yields its oldest, its newest or
    any ``limit`` trades (``pick``), and every page comes in shuffled order: the docs promise neither."""

    def __init__(self, times: list[int], pick: str, seed: int = 7) -> None:
        self.trades = [TradeRaw(symbol="BTCUSDT", id=f"{i:x}", orderId="O1", price="1", qty="1", time=t)
                       for i, t in enumerate(times)]
        self.pick = pick
        self.rng = random.Random(seed)
        self.clock = ServerClock(lambda: max(times) + 1)
        self.calls = 0

    async def my_trades(self, venue_symbol: str, start_ms: int = 0, limit: int = 100, end_ms: int = 0,
                        max_wait_s: float | None = None) -> list[TradeRaw]:
        self.calls += 1
        hits = sorted((t for t in self.trades if (not start_ms or t.time >= start_ms) and (not end_ms or t.time <= end_ms)),
                      key=lambda t: t.time)
        if len(hits) > limit:
            hits = {"oldest": hits[:limit], "newest": hits[-limit:]}.get(self.pick) or self.rng.sample(hits, limit)
        self.rng.shuffle(hits)
        return hits


def _trader(rest: TradesRest) -> private.MexcTrader:
    return private.MexcTrader(rest, "a", symbol_map([SymbolRaw(symbol="BTCUSDT", baseAsset="BTC", quoteAsset="USDT",  # type: ignore[arg-type]
                                                               baseAssetPrecision=6, quoteAssetPrecision=2)]))


@pytest.mark.parametrize("pick", ["oldest", "newest", "any"])
async def test_fills_since_reads_every_trade_whatever_page_the_venue_returns(pick: str) -> None:
    """More than a page of fills, many tied on one millisecond: every one is read once, oldest first, in a
    bounded number of requests, whichever trades and in whichever order the venue puts in a full page."""
    t0 = 1_736_417_034_000
    times = [t0 + i // 3 for i in range(450)] + [t0 + 500] * 60 + [t0 - 5_000] * 4  # ties; 4 before the window
    rest = TradesRest(times, pick)
    trader = _trader(rest)
    fills = await trader.fills_since("BTC-USDT", t0 * 1_000_000)
    assert sorted(f.trade_id for f in fills) == sorted(t.id for t in rest.trades if t.time >= t0)
    assert [f.ts_event for f in fills] == sorted(f.ts_event for f in fills)
    assert trader.fills_incomplete == 0
    assert rest.calls <= 5 * len(times) // 100  # pages per 100 trades: ~3 for a run, halving for any


async def test_fills_since_reports_a_millisecond_holding_more_than_a_page() -> None:
    """More than 100 trades in one millisecond cannot be paged by time: what was read is returned, flagged."""
    t0 = 1_736_417_034_000
    rest = TradesRest([t0] * 130 + [t0 + 1] * 5, "oldest")
    trader = _trader(rest)
    fills = await trader.fills_since("BTC-USDT", t0 * 1_000_000)
    assert len(fills) == 105 and trader.fills_incomplete == 1


async def test_fills_since_is_capped_in_requests() -> None:
    """A window too busy to read in TRADES_MAX_REQUESTS pages stops there and says so."""
    t0 = 1_736_417_034_000
    rest = TradesRest([t0 + i for i in range(2_000)], "newest")
    trader = _trader(rest)
    trader.TRADES_MAX_REQUESTS = 10
    await trader.fills_since("BTC-USDT", t0 * 1_000_000)
    assert rest.calls == 10 and trader.fills_incomplete == 1
