"""Unified symbols and venue symbol maps built from symbol rules."""

from decimal import Decimal

import pytest
from arb.core.enums import Market, SymbolStatus, Venue
from arb.core.errors import SymbolError
from arb.core.symbols import Symbol, SymbolInfo, SymbolMap

pytestmark = pytest.mark.unit


def _info(venue, market, base, quote, venue_symbol, status=SymbolStatus.TRADING):
    return SymbolInfo(
        venue=venue, market=market, symbol=Symbol(base, quote, market), venue_symbol=venue_symbol,
        tick_size=Decimal("0.01"), lot_step=Decimal("0.0001"), min_qty=Decimal("0.0001"), status=status,
    )


def _mexc() -> SymbolMap:
    return SymbolMap(Venue.MEXC, Market.SPOT, [
        _info(Venue.MEXC, Market.SPOT, "BTC", "USDT", "BTCUSDT"),
        _info(Venue.MEXC, Market.SPOT, "NEIRO", "ETH", "NEIROETH"),
        _info(Venue.MEXC, Market.SPOT, "BTCU", "SDT", "BTCUSDX"),  # adversarial neighbour
        _info(Venue.MEXC, Market.SPOT, "OLD", "USDT", "OLDUSDT", SymbolStatus.HALTED),
    ])


def test_mexc_concatenated_symbols_resolve_from_rules_not_string_shape():
    """NEIROETH is NEIRO/ETH and BTCUSDT is BTC/USDT because the rules say so."""
    m = _mexc()
    assert m.from_venue("NEIROETH") == Symbol("NEIRO", "ETH")
    assert m.from_venue("BTCUSDT") == Symbol("BTC", "USDT")
    assert m.to_venue("BTC-USDT") == "BTCUSDT"
    assert m.to_venue("NEIRO-ETH") == "NEIROETH"


def test_gate_spot_and_futures_map_both_ways():
    """Gate spot pairs and USDT contracts both use BASE_QUOTE strings, keyed per market."""
    spot = SymbolMap(Venue.GATEIO, Market.SPOT, [_info(Venue.GATEIO, Market.SPOT, "BTC", "USDT", "BTC_USDT")])
    fut = SymbolMap(Venue.GATEIO, Market.FUTURES, [_info(Venue.GATEIO, Market.FUTURES, "BTC", "USDT", "BTC_USDT")])
    assert spot.from_venue("BTC_USDT").market is Market.SPOT
    assert fut.from_venue("BTC_USDT").market is Market.FUTURES
    assert fut.to_venue("BTC-USDT") == "BTC_USDT"


def test_unknown_symbol_error_names_it_and_close_matches():
    """An unknown symbol is a SymbolError naming the symbol and suggesting close matches."""
    with pytest.raises(SymbolError) as e:
        _mexc().to_venue("BTC-USDC")
    assert "'BTC-USDC'" in str(e.value) and "BTC-USDT" in str(e.value)


def test_untradable_symbol_is_refused():
    """A halted symbol is listed but refused for trading with its status in the message."""
    with pytest.raises(SymbolError, match="not tradable .*halted"):
        _mexc().require_tradable("OLD-USDT")


def test_unified_symbol_parse_requires_dash_form():
    """Only the BASE-QUOTE form parses; venue strings are never guessed at."""
    assert Symbol.parse("neiro-eth") == Symbol("NEIRO", "ETH")
    with pytest.raises(SymbolError):
        Symbol.parse("BTCUSDT")
