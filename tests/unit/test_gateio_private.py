"""Gate.io trading gateway without I/O: fakes stand in for the venue (trader or REST)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec
import pytest
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, OrderType, Side, TimeInForce, Venue
from arb.core.execution import Balance
from arb.venues.common.trading import prepare
from arb.venues.gateio import schemas as S
from arb.venues.gateio.private import GatePrivateGateway, GateTrader
from arb.venues.gateio.schemas import FuturesBalancesFrame, FuturesBalanceUpdate, FuturesOrder
from arb.venues.gateio.symbols import futures_info

pytestmark = pytest.mark.unit

CONTRACT = (b'{"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001","order_price_round":"0.1",'
            b'"order_size_min":1,"order_size_max":1000000,"funding_rate":"0.002053","funding_interval":28800,'
            b'"funding_next_apply":1610035200,"maker_fee_rate":"-0.00025","taker_fee_rate":"0.00075",'
            b'"in_delisting":false,"status":"trading"}')  # facts §2.6 example, the fields SymbolInfo reads


class SlowAccountTrader:
    """``balances()`` answers with the account as it was when the request was made, after ``release``."""

    market = Market.FUTURES

    def __init__(self) -> None:
        self.total = Decimal(100)
        self.calls = 0
        self.release = asyncio.Event()

    async def balances(self) -> list[Balance]:
        self.calls += 1
        seen = self.total
        await self.release.wait()
        return [Balance(Venue.GATEIO, Market.FUTURES, "main", "USDT", seen, Decimal(0), 1, 1, 1)]


def gateway(trader: SlowAccountTrader) -> GatePrivateGateway:
    return GatePrivateGateway(Market.FUTURES, "main", trader, None, None, None,  # type: ignore[arg-type]
                              VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"), GatewayOptions())


def push(balance: float) -> FuturesBalancesFrame:
    return FuturesBalancesFrame([FuturesBalanceUpdate(balance=balance, currency="usdt", time_ms=1)])


async def test_balance_push_during_a_refresh_is_followed_by_another_refresh():
    """A futures.balances push that arrives while the account is being re-read makes one more read, so the
    last published balance is the venue's latest, not the one from before the second change."""
    trader = SlowAccountTrader()
    gw = gateway(trader)
    gw._on_fut_balances(push(100.0), 1)
    await asyncio.sleep(0)
    trader.total = Decimal(90)  # a second change on the venue while the first read is in flight
    gw._on_fut_balances(push(90.0), 2)
    trader.release.set()
    for _ in range(20):
        await asyncio.sleep(0)
    published = [ev.free for kind, ev in gw.outbox.pending() if kind == "balance"]
    assert published and published[-1] == Decimal(90), published
    assert trader.calls == 2


class RecordingFuturesRest:
    """Records the body of every futures placement and answers like Gate (the order, open)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    async def place(self, body: dict, decimal: bool = False) -> FuturesOrder:
        self.bodies.append(body)
        return FuturesOrder(id=1, contract=body["contract"], size=body["size"], left=body["size"],
                            price=body["price"], tif=body["tif"], text=body.get("text", ""), status="open")


async def test_futures_market_fok_is_sent_as_fok_not_downgraded_to_ioc():
    """A market FOK leg must fill completely or not at all: it goes out as price "0" with tif fok; a market
    order without FOK stays ioc."""
    info = futures_info(msgspec.json.decode(CONTRACT, type=S.Contract))
    assert info is not None
    rest = RecordingFuturesRest()
    trader = GateTrader(Market.FUTURES, "main", None, None, rest)  # type: ignore[arg-type]
    fok = PlaceOrder("fok-1", "BTC-USDT", Market.FUTURES, Side.SELL, Decimal("0.0005"), order_type=OrderType.MARKET,
                     tif=TimeInForce.FOK)
    await trader.place(prepare(fok, info))
    ioc = PlaceOrder("ioc-1", "BTC-USDT", Market.FUTURES, Side.SELL, Decimal("0.0005"), order_type=OrderType.MARKET)
    await trader.place(prepare(ioc, info))
    assert [(b["price"], b["tif"], b["size"]) for b in rest.bodies] == [("0", "fok", -5), ("0", "ioc", -5)]
