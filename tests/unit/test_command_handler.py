"""The venue-neutral CommandHandler on a hand-written fake trader: the balances command (verb ``balances``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from arb.bus import codec
from arb.bus.subjects import CMD_VERBS, OrdSubjects
from arb.core.commands import COMMAND_VERBS, BalancesReply, ErrorReply, QueryBalances
from arb.core.enums import Market, Venue
from arb.core.execution import Balance
from arb.core.symbols import SymbolMap
from arb.venues.common.trading import CommandHandler

pytestmark = pytest.mark.unit


class FakeTrader:
    """Only what the balances command needs; every other VenueTrader call is absent on purpose."""

    venue = Venue.GATEIO
    account = "main"

    def __init__(self, market: Market, balances: list[Balance]) -> None:
        self.market = market
        self.symbols = SymbolMap(Venue.GATEIO, market, [])
        self._balances = balances
        self.balance_calls = 0

    async def balances(self) -> list[Balance]:
        self.balance_calls += 1
        return self._balances


def _usdt(market: Market) -> Balance:
    return Balance(Venue.GATEIO, market, "main", "USDT", Decimal("99.5"), Decimal("0.5"), 1, 2, 3)


def _handler(trader: FakeTrader) -> CommandHandler:
    return CommandHandler(trader, bus=None, subjects=OrdSubjects.of(Venue.GATEIO, "main", Market.SPOT))  # type: ignore[arg-type]


def test_balances_command_travels_the_bus_union_on_its_catalogued_verb():
    """QueryBalances decodes from the one bus codec and is sent on the ``balances`` verb of the catalogue."""
    cmd = QueryBalances(Market.FUTURES)
    assert codec.decode(codec.encode(cmd)) == cmd
    assert COMMAND_VERBS[QueryBalances] == "balances" and "balances" in CMD_VERBS
    assert set(COMMAND_VERBS.values()) == set(CMD_VERBS)


async def test_balances_command_replies_with_the_venue_balances():
    """The gateway answers QueryBalances with a BalancesReply of what the venue reports now."""
    trader = FakeTrader(Market.SPOT, [_usdt(Market.SPOT)])
    reply = await _handler(trader).handle(QueryBalances(Market.SPOT))
    assert reply == BalancesReply([_usdt(Market.SPOT)]) and trader.balance_calls == 1


async def test_balances_command_for_another_market_is_refused_without_asking_the_venue():
    """A spot gateway refuses a futures balances query with a typed validation error."""
    trader = FakeTrader(Market.SPOT, [_usdt(Market.SPOT)])
    reply = await _handler(trader).handle(QueryBalances(Market.FUTURES))
    assert isinstance(reply, ErrorReply) and reply.kind == "validation" and "futures" in reply.message
    assert trader.balance_calls == 0
