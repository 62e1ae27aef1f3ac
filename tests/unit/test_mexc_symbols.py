"""MEXC exchangeInfo -> SymbolInfo, status, unknown symbols with close matches, rounding to the rules."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, Side, SymbolStatus
from arb.core.errors import SymbolError, ValidationError
from arb.venues.common.trading import prepare
from arb.venues.mexc.schemas import ExchangeInfo
from arb.venues.mexc.symbols import check_configured, symbol_map

pytestmark = pytest.mark.unit

DOCS_SYMBOL = (
    b'{"symbol":"TOMO3LUSDT","status":"ENABLED","baseAsset":"TOMO3L","baseAssetPrecision":2,"quoteAsset":"USDT",'
    b'"quotePrecision":3,"quoteAssetPrecision":3,"baseCommissionPrecision":2,"quoteCommissionPrecision":3,'
    b'"orderTypes":["LIMIT","LIMIT_MAKER"],"quoteOrderQtyMarketAllowed":false,"isSpotTradingAllowed":false,'
    b'"isMarginTradingAllowed":false,"quoteAmountPrecision":"5","baseSizePrecision":"0.0001",'
    b'"permissions":["SPOT","LIMIT"],"filters":[],"maxQuoteAmount":"5000000","makerCommission":"0.002",'
    b'"takerCommission":"0.002","tradeSideType":"1"}'
)
BTC = (b'{"symbol":"BTCUSDT","status":"1","baseAsset":"BTC","baseAssetPrecision":6,"quoteAsset":"USDT",'
       b'"quotePrecision":2,"quoteAssetPrecision":2,"quoteAmountPrecision":"1","baseSizePrecision":"0.000001",'
       b'"isSpotTradingAllowed":true,"tradeSideType":"1","someNewField":{"x":1}}')
NEIRO = (b'{"symbol":"NEIROETH","status":"1","baseAsset":"NEIRO","baseAssetPrecision":0,"quoteAsset":"ETH",'
         b'"quotePrecision":10,"quoteAssetPrecision":10,"quoteAmountPrecision":"0.0005","baseSizePrecision":"1",'
         b'"isSpotTradingAllowed":true,"tradeSideType":"1"}')
PAUSED = (b'{"symbol":"ETHUSDT","status":"2","baseAsset":"ETH","baseAssetPrecision":5,"quoteAsset":"USDT",'
          b'"quotePrecision":2,"isSpotTradingAllowed":true}')


def _map():
    body = b'{"timezone":"CST","serverTime":1,"symbols":[' + b",".join([DOCS_SYMBOL, BTC, NEIRO, PAUSED]) + b"]}"
    return symbol_map(msgspec.json.decode(body, type=ExchangeInfo).symbols)


def test_rules_from_precisions() -> None:
    """tick = 10^-quotePrecision, step = 10^-baseAssetPrecision, minimums from the docs' fields."""
    info = _map().info("BTC-USDT")
    assert (info.tick_size, info.lot_step, info.min_qty, info.min_notional) == (
        Decimal("0.01"), Decimal("0.000001"), Decimal("0.000001"), Decimal(1))
    assert info.venue_symbol == "BTCUSDT"


def test_tick_is_the_coarser_of_the_two_quote_precisions() -> None:
    """quotePrecision and quoteAssetPrecision may differ: the coarser grid is valid under either reading."""
    def tick(qp: int | None, qap: int | None) -> Decimal:
        fields = b"".join([b'"quotePrecision":%d,' % qp if qp is not None else b"",
                           b'"quoteAssetPrecision":%d,' % qap if qap is not None else b""])
        body = (b'{"symbols":[{"symbol":"XUSDT","status":"1","baseAsset":"X","quoteAsset":"USDT",'
                b'"baseAssetPrecision":2,' + fields + b'"isSpotTradingAllowed":true}]}')
        return symbol_map(msgspec.json.decode(body, type=ExchangeInfo).symbols).info("X-USDT").tick_size
    assert tick(4, 6) == Decimal("0.0001")
    assert tick(6, 4) == Decimal("0.0001")
    assert tick(None, 5) == Decimal("0.00001") and tick(3, None) == Decimal("0.001")


def test_split_comes_from_base_and_quote_fields() -> None:
    """NEIROETH is NEIRO/ETH because exchangeInfo says so."""
    m = _map()
    assert m.from_venue("NEIROETH").name == "NEIRO-ETH"
    assert m.info("NEIRO-ETH").tick_size == Decimal("1E-10")


def test_status_mapping() -> None:
    """'2' (pause) and spot trading not allowed are HALTED; '1' with trading allowed is TRADING."""
    m = _map()
    assert m.info("ETH-USDT").status is SymbolStatus.HALTED
    assert m.info("TOMO3L-USDT").status is SymbolStatus.HALTED
    assert m.info("BTC-USDT").status is SymbolStatus.TRADING


def test_unknown_symbol_names_it_with_close_matches() -> None:
    """An unknown configured symbol is a SymbolError naming it and offering close matches."""
    with pytest.raises(SymbolError) as e:
        check_configured(_map(), ["BTC-USDT", "BTC-USTD"])
    assert "BTC-USTD" in str(e.value) and "BTC-USDT" in str(e.value)


def test_a_halted_symbol_is_configured_with_its_status_and_an_unknown_one_still_refused() -> None:
    """A paused configured symbol does not stop the others: it comes back with status halted (its data and its REF
    entry are still wanted); an unknown one beside it is still a SymbolError naming it."""
    infos = check_configured(_map(), ["ETH-USDT", "BTC-USDT"])
    assert [(i.name, i.status) for i in infos] == [("ETH-USDT", SymbolStatus.HALTED), ("BTC-USDT", SymbolStatus.TRADING)]
    with pytest.raises(SymbolError, match="BTC-USTD"):
        check_configured(_map(), ["ETH-USDT", "BTC-USTD"])


def test_rounding_never_beyond_what_was_asked() -> None:
    """Buy price rounds down, sell up, quantity floors to the step."""
    info = _map().info("BTC-USDT")
    buy = prepare(PlaceOrder("c", "BTC-USDT", Market.SPOT, Side.BUY, Decimal("0.0012345"), price=Decimal("60000.129")), info)
    sell = prepare(PlaceOrder("c", "BTC-USDT", Market.SPOT, Side.SELL, Decimal("0.0012345"), price=Decimal("60000.121")), info)
    assert (buy.price, buy.qty) == (Decimal("60000.12"), Decimal("0.001234"))
    assert sell.price == Decimal("60000.13")


def test_min_notional_checked_before_sending() -> None:
    """Below the quote minimum is a ValidationError, not a venue round trip."""
    info = _map().info("NEIRO-ETH")
    with pytest.raises(ValidationError, match="notional"):
        prepare(PlaceOrder("c", "NEIRO-ETH", Market.SPOT, Side.BUY, Decimal(100), price=Decimal("0.0000004")), info)
