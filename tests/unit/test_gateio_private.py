"""Gate.io trading gateway without I/O: fakes stand in for the venue (trader or REST)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import msgspec
import pytest
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, OrderType, Side, TimeInForce, Venue
from arb.core.errors import ConfigError
from arb.core.execution import Balance
from arb.core.margin import LiquidationWarning, Margin, WarningLevel
from arb.core.symbols import SymbolMap
from arb.venues.common.trading import prepare
from arb.venues.gateio import schemas as S
from arb.venues.gateio.private import GatePrivateGateway, GateTrader
from arb.venues.gateio.rest import Pages
from arb.venues.gateio.schemas import FuturesBalancesFrame, FuturesBalanceUpdate, FuturesOrder
from arb.venues.gateio.symbols import futures_info

pytestmark = pytest.mark.unit
D = Decimal

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


# ------------------------------------------------------------------------------------------------ margin publishing

ETH_CONTRACT = CONTRACT.replace(b'"BTC_USDT"', b'"ETH_USDT"').replace(b'"0.0001"', b'"0.01"')


def symbols(*contracts: bytes) -> SymbolMap:
    infos = [futures_info(msgspec.json.decode(c, type=S.Contract)) for c in contracts]
    return SymbolMap(Venue.GATEIO, Market.FUTURES, [i for i in infos if i is not None])


def position(contract: str, size: int, mark: str, liq: str, value: str = "0") -> S.FuturesPosition:
    return S.FuturesPosition(contract=contract, size=size, leverage=10, entry_price=mark, mark_price=mark,
                             liq_price=liq, margin="10", maintenance_rate="0.005", value=value)


class MarginRest:
    """The futures account and its positions, as ``GET /futures/usdt/accounts`` and ``.../positions`` give them."""

    def __init__(self, rows: list[S.FuturesPosition]) -> None:
        self.rows = rows

    async def account(self) -> S.FuturesAccount:
        return S.FuturesAccount(currency="USDT", total="1000", available="900", position_margin="30")

    async def positions_all(self) -> Pages[S.FuturesPosition]:
        pages: Pages[S.FuturesPosition] = Pages()
        pages.rows = list(self.rows)
        return pages


class FlakyBus:
    """Acks every publish but those ``fail`` says no to (subject, event) -> True: refused once each."""

    def __init__(self, fail: Callable[[str, object], bool]) -> None:
        self.fail = fail
        self.sent: list[tuple[str, object]] = []
        self.refused: list[tuple[str, object]] = []

    async def publish_acked(self, subject: str, ev: object) -> None:
        if self.fail(subject, ev):
            self.refused.append((subject, ev))
            raise TimeoutError(f"no ack for {subject}")
        self.sent.append((subject, ev))

    def kinds(self) -> list[str]:
        return [s.rsplit(".", 1)[1] + (f":{ev.symbol}" if isinstance(ev, LiquidationWarning) else "")
                for s, ev in self.sent]


def margin_gateway(rows: list[S.FuturesPosition], bus: FlakyBus) -> GatePrivateGateway:
    trader = GateTrader(Market.FUTURES, "main", None, None, MarginRest(rows))  # type: ignore[arg-type]
    trader.symbols = symbols(CONTRACT, ETH_CONTRACT)
    return GatePrivateGateway(Market.FUTURES, "main", trader, None, bus, None,  # type: ignore[arg-type]
                              VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"),
                              GatewayOptions(liq_warning_fraction=0.05))


# both within 3 % of their liquidation price (threshold 5 %): two warnings
NEAR = [position("BTC_USDT", 10, "100", "97"), position("ETH_USDT", -5, "100", "103")]


async def test_warnings_are_published_when_the_margin_publish_fails():
    """A Margin whose publish fails takes no warning with it: both warnings go out and are not sent again."""
    bus = FlakyBus(lambda subject, ev: subject.endswith(".margin") and len(bus.refused) == 0)
    gw = margin_gateway(NEAR, bus)
    with pytest.raises(TimeoutError):
        await gw.refresh_margin()
    assert bus.kinds() == ["liq_warning:BTC-USDT", "liq_warning:ETH-USDT"]
    assert await gw.refresh_margin() == 1  # the margin goes out at the next read, the warnings not again
    assert bus.kinds() == ["liq_warning:BTC-USDT", "liq_warning:ETH-USDT", "margin"]


async def test_a_warning_that_failed_is_sent_again_and_one_that_went_out_never():
    """The second of two warnings is refused: the next read publishes it alone (the first is not repeated); the
    margin went out the first time regardless."""
    bus = FlakyBus(lambda subject, ev: isinstance(ev, LiquidationWarning) and ev.symbol == "ETH-USDT"
                   and not bus.refused)
    gw = margin_gateway(NEAR, bus)
    with pytest.raises(TimeoutError):
        await gw.refresh_margin()
    assert bus.kinds() == ["liq_warning:BTC-USDT", "margin"]
    assert await gw.refresh_margin() == 0
    assert bus.kinds() == ["liq_warning:BTC-USDT", "margin", "liq_warning:ETH-USDT"]
    assert await gw.refresh_margin() == 0 and len(bus.sent) == 3


async def test_a_position_in_a_contract_without_rules_is_counted_and_watched_from_the_venue_fields():
    """XRP_USDT has no symbol rules here: counted, no Position event, but in the Margin (size = value / mark) and
    warned about like any other."""
    rows = [position("XRP_USDT", -40, "0.5", "0.51", value="20")]
    bus = FlakyBus(lambda subject, ev: False)
    gw = margin_gateway(rows, bus)
    await gw.refresh_margin()
    (m,) = [ev for s, ev in bus.sent if isinstance(ev, Margin)]
    (p,) = m.positions
    assert (p.symbol, p.size, p.contracts, p.liq_price, p.distance) == ("XRP-USDT", D(-40), D(-40), D("0.51"),
                                                                         D("0.02"))
    (w,) = [ev for s, ev in bus.sent if isinstance(ev, LiquidationWarning)]
    assert (w.symbol, w.level) == ("XRP-USDT", WarningLevel.WARNING)
    assert gw.trader.unknown_positions == 1
    assert await gw.trader.positions() == [] and gw.trader.unknown_positions == 2


async def test_margin_read_without_a_futures_client_is_a_clear_error():
    """A gateway without a futures client asked for margin says so (no bare assert)."""
    gw = margin_gateway([], FlakyBus(lambda subject, ev: False))
    gw.trader.fut = None
    with pytest.raises(ConfigError, match="futures market only"):
        await gw.refresh_margin()


# ------------------------------------------------------------------------------------------------ multiplier changes


async def test_events_of_an_order_convert_with_the_multiplier_it_was_placed_with():
    """Placed at 0.0001 BTC per contract, then the contract becomes 0.001: that order's events (order, fill) still
    say 0.0005 BTC for its 5 contracts; an order placed afterwards converts with 0.001 (and is sized with it)."""
    rest = RecordingFuturesRest()
    trader = GateTrader(Market.FUTURES, "main", None, None, rest)  # type: ignore[arg-type]
    trader.symbols = symbols(CONTRACT)
    old_info = trader.symbols.info("BTC-USDT")
    await trader.place(prepare(PlaceOrder("before", "BTC-USDT", Market.FUTURES, Side.BUY, D("0.0005"),
                                          price=D(50000)), old_info))
    trader.put_symbols(symbols(CONTRACT.replace(b'"0.0001"', b'"0.001"')))
    new_info = trader.symbols.info("BTC-USDT")
    placed = await trader.place(prepare(PlaceOrder("after", "BTC-USDT", Market.FUTURES, Side.BUY, D("0.005"),
                                                   price=D(50000)), new_info))
    fill = S.FuturesTradeRow(id=1, order_id=1, contract="BTC_USDT", size=5, price="50000", text=trader.ids.text("before"))
    order = FuturesOrder(id=1, contract="BTC_USDT", size=5, left=0, price="50000", tif="gtc",
                         text=trader.ids.text("before"), status="finished", finish_as="filled")
    assert [b["size"] for b in rest.bodies] == [5, 5]
    assert placed.qty == D("0.005")
    assert trader.fut_fill(fill, new_info, 1).qty == D("0.0005")
    assert trader.order_from_futures(order, 1).filled_qty == D("0.0005")
    unknown = msgspec.structs.replace(fill, text="t-someone-else")
    assert trader.fut_fill(unknown, new_info, 1).qty == D("0.005")  # not placed here: the current multiplier
