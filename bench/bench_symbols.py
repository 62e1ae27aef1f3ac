"""Symbol lookup: venue string -> unified Symbol and back. Peer: ccxt's safe_market on the same market set."""

from __future__ import annotations

from decimal import Decimal

from arb.core.enums import Market, Venue
from arb.core.symbols import Symbol, SymbolInfo, SymbolMap

from bench.common import Row, check, per_call_ns


def _universe(n: int = 2000) -> list[tuple[str, str]]:
    quotes = ["USDT", "USDC", "ETH", "BTC"]
    return [(f"C{i}X", quotes[i % 4]) for i in range(n)] + [("BTC", "USDT"), ("NEIRO", "ETH")]


def run() -> list[Row]:
    pairs = _universe()
    infos = [
        SymbolInfo(venue=Venue.MEXC, market=Market.SPOT, symbol=Symbol(b, q), venue_symbol=b + q,
                   tick_size=Decimal("0.01"), lot_step=Decimal("0.0001"), min_qty=Decimal("0.0001"))
        for b, q in pairs
    ]
    smap = SymbolMap(Venue.MEXC, Market.SPOT, infos)
    from_venue, to_venue = smap.from_venue, smap.to_venue
    ours_from = per_call_ns(lambda: from_venue("NEIROETH"))
    ours_to = per_call_ns(lambda: to_venue("BTC-USDT"))

    peer = None
    try:
        import ccxt

        ex = ccxt.mexc()
        ex.set_markets([
            {"id": b + q, "symbol": f"{b}/{q}", "base": b, "quote": q, "baseId": b, "quoteId": q, "type": "spot",
             "spot": True, "active": True, "precision": {}, "limits": {}}
            for b, q in pairs
        ])
        safe_market = ex.safe_market
        peer = per_call_ns(lambda: safe_market("NEIROETH"), number=50_000)
    except Exception:  # noqa: BLE001, S110 -- ccxt missing or changed: the row shows ours only
        pass
    target = "<= 100"
    return [
        Row(figure="symbol lookup venue->unified (2k symbols)", ours=ours_from, unit="ns", peer=peer,
            peer_name="ccxt safe_market", target=target, met=check(ours_from, target)),
        Row(figure="symbol lookup unified->venue", ours=ours_to, unit="ns", peer=peer,
            peer_name="ccxt safe_market", target=target, met=check(ours_to, target)),
    ]
