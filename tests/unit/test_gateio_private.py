"""Gate.io trading gateway user-stream handling without I/O: a fake trader stands in for the venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.core.execution import Balance
from arb.venues.gateio.private import GatePrivateGateway
from arb.venues.gateio.schemas import FuturesBalancesFrame, FuturesBalanceUpdate

pytestmark = pytest.mark.unit


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
    published = [ev.free for kind, ev in gw._events if kind == "balance"]
    assert published and published[-1] == Decimal(90), published
    assert trader.calls == 2
