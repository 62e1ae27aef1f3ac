"""The MEXC md gateway's rules refresh: it asks exchangeInfo for the configured symbols only (``symbols=``) and builds
nothing for the others, with the same reference data as a read of every symbol; a refused filtered read falls back
to every symbol, so a configured symbol the venue stopped listing is still marked delisted."""

from __future__ import annotations

import msgspec
import pytest
from arb.config.schema import GatewayOptions
from arb.core.enums import Market, SymbolStatus
from arb.core.errors import VenueClientError
from arb.testing import bounded
from arb.venues.mexc.public import MexcPublicGateway
from arb.venues.mexc.schemas import ExchangeInfo
from arb.venues.mexc.symbols import check_configured

pytestmark = pytest.mark.unit


def _raw(sym: str, base: str, status: str = "1") -> bytes:
    return (b'{"symbol":"%s","status":"%s","baseAsset":"%s","baseAssetPrecision":6,"quoteAsset":"USDT",'
            b'"quotePrecision":2,"quoteAssetPrecision":2,"quoteAmountPrecision":"1","baseSizePrecision":"0.000001",'
            b'"isSpotTradingAllowed":true,"tradeSideType":"1","makerCommission":"0","takerCommission":"0.0005"}'
            % (sym.encode(), status.encode(), base.encode()))


OTHERS = [_raw(f"X{i}USDT", f"X{i}") for i in range(50)]


class _Rest:
    """exchangeInfo as MEXC answers it: every symbol, or those of ``symbols`` (-1121 for one it does not list)."""

    def __init__(self, raws: dict[str, bytes]) -> None:
        self.raws = raws
        self.calls: list[tuple[str, ...]] = []

    async def exchange_info(self, symbols: tuple[str, ...] | list[str] = ()) -> ExchangeInfo:
        self.calls.append(tuple(symbols))
        if any(s not in self.raws for s in symbols):
            raise VenueClientError("mexc", "-1121", "Invalid symbol.", 400)
        names = list(symbols) or sorted(self.raws)
        body = b'{"timezone":"CST","serverTime":1,"symbols":[' + b",".join(self.raws[n] for n in names) + b"]}"
        return msgspec.json.decode(body, type=ExchangeInfo)


async def _started(rest: _Rest) -> MexcPublicGateway:
    gw = MexcPublicGateway(rest, None, Market.SPOT, ["BTC-USDT", "ETH-USDT"], None,  # type: ignore[arg-type]
                           GatewayOptions())
    await bounded(gw._load_symbols(initial=True), 5, "initial load")
    gw.install_feeds(check_configured(gw.symbols, gw.configured))
    return gw


async def test_a_refresh_reads_only_the_configured_symbols_with_the_same_rules() -> None:
    """At start every symbol is read; a refresh asks for BTCUSDT and ETHUSDT only, maps only them, and holds the
    same reference data (ts aside) and symbol infos as the full read did."""
    raws = {"BTCUSDT": _raw("BTCUSDT", "BTC"), "ETHUSDT": _raw("ETHUSDT", "ETH")}
    raws.update({f"X{i}USDT": r for i, r in enumerate(OTHERS)})
    rest = _Rest(raws)
    gw = await _started(rest)
    before = {k: msgspec.structs.replace(r, ts=0) for k, r in gw.refs.items()}
    infos = {n: f.info for n, f in gw.feeds.items()}
    await bounded(gw._load_symbols(), 5, "refresh")
    assert rest.calls == [(), ("BTCUSDT", "ETHUSDT")]
    assert sorted(gw.symbols.info_by_name) == ["BTC-USDT", "ETH-USDT"]
    assert {k: msgspec.structs.replace(r, ts=0) for k, r in gw.refs.items()} == before
    assert {n: f.info for n, f in gw.feeds.items()} == infos


async def test_a_configured_symbol_no_longer_listed_falls_back_and_is_delisted() -> None:
    """The venue stopped listing ETHUSDT: the filtered read is refused (-1121), every symbol is read instead, and
    ETH-USDT is held as delisted while BTC-USDT keeps its rules."""
    raws = {"BTCUSDT": _raw("BTCUSDT", "BTC"), "ETHUSDT": _raw("ETHUSDT", "ETH"), "X0USDT": OTHERS[0]}
    rest = _Rest(raws)
    gw = await _started(rest)
    del raws["ETHUSDT"]
    await bounded(gw._load_symbols(), 5, "refresh")
    assert rest.calls == [(), ("BTCUSDT", "ETHUSDT"), ()]
    assert gw.refs["ETH-USDT"].status is SymbolStatus.DELISTED
    assert gw.refs["BTC-USDT"].status is SymbolStatus.TRADING


async def test_a_halt_of_a_configured_symbol_shows_after_a_filtered_refresh() -> None:
    """status 2 (pause) in the filtered read: the feed's info and the reference data follow it."""
    raws = {"BTCUSDT": _raw("BTCUSDT", "BTC"), "ETHUSDT": _raw("ETHUSDT", "ETH")}
    rest = _Rest(raws)
    gw = await _started(rest)
    raws["BTCUSDT"] = _raw("BTCUSDT", "BTC", status="2")
    await bounded(gw._load_symbols(), 5, "refresh")
    assert gw.refs["BTC-USDT"].status is not SymbolStatus.TRADING
    assert gw.feeds["BTC-USDT"].info.status is gw.refs["BTC-USDT"].status
