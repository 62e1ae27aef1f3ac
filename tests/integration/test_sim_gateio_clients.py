"""Real third-party clients against the Gate.io simulator, only base URLs changed: ccxt (async),
ccxt.pro and gate-api (Gate's official Python SDK).

ccxt's gate builds URLs as ``urls['api'][public|private][type] + '/' + type + '/' + path`` (type spot,
futures, margin, account, ...). ``load_markets`` also asks ``/spot/currencies``, ``/margin/currency_pairs``
and, with keys, ``/account/detail``; its ``fetchMarkets`` option is narrowed to spot + swap and the swap
settle currencies to usdt (the simulator serves no delivery, option or BTC-settled markets).
ccxt.pro spot ``watch_order_book`` uses ``spot.obu`` (``ob.BTC_USDT.50``, first push full); swap uses
``futures.order_book_update`` plus a REST ``order_book?with_id=true`` snapshot. The SDK is synchronous
(urllib3), so its calls run in a thread while the simulator serves from the test's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import gate_api
import pytest
from arb.core.enums import Market, Venue
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import eventually

pytestmark = pytest.mark.integration

ACCOUNT = "gateio-demo"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as server:
        yield server


def _creds(sim: SimServer) -> tuple[str, str]:
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    return acc.api_key, acc.api_secret


def point(client: Any, sim: SimServer) -> Any:
    """Change only the base URLs of a ccxt gate client (REST and, for ccxt.pro, WS) to the simulator."""
    base = sim.urls["gateio_rest"]
    for access in ("public", "private"):
        for kind in client.urls["api"][access]:
            client.urls["api"][access][kind] = base
    if "spot" in client.urls["api"] and isinstance(client.urls["api"].get("swap"), dict):
        client.urls["api"]["spot"] = sim.urls["gateio_spot_ws"]
        client.urls["api"]["swap"]["usdt"] = sim.urls["gateio_futures_ws"]
    return client


def _options() -> dict[str, Any]:
    return {"fetchMarkets": {"types": ["spot", "swap"]},
            "swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}}}


def ccxt_client(sim: SimServer) -> ccxt_async.gate:
    key, secret = _creds(sim)
    return point(ccxt_async.gate({"apiKey": key, "secret": secret, "options": _options()}), sim)


def sdk(sim: SimServer) -> gate_api.ApiClient:
    key, secret = _creds(sim)
    return gate_api.ApiClient(gate_api.Configuration(host=sim.urls["gateio_rest"], key=key, secret=secret))


async def test_ccxt_loads_spot_and_swap_markets(sim: SimServer) -> None:
    """ccxt's load_markets sees BTC/USDT spot and BTC/USDT:USDT swap with the venue's rules."""
    client = ccxt_client(sim)
    try:
        markets = await client.load_markets()
    finally:
        await client.close()
    spot, swap = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    assert spot["spot"] and spot["precision"]["price"] == 0.1 and spot["limits"]["cost"]["min"] == 3
    assert swap["swap"] and swap["contractSize"] == 0.0001 and swap["precision"]["price"] == 0.1
    assert swap["limits"]["amount"]["min"] == 1


async def test_ccxt_fetches_order_books_matching_the_engine(sim: SimServer) -> None:
    """ccxt's fetch_order_book returns the engine's levels with the REST with_id nonce."""
    client = ccxt_client(sim)
    try:
        await client.load_markets()
        ob = await client.fetch_order_book("BTC/USDT", 5)
        fob = await client.fetch_order_book("BTC/USDT:USDT", 5)
    finally:
        await client.close()
    assert len(ob["bids"]) == 5 and ob["bids"][0][0] < ob["asks"][0][0] and isinstance(ob["nonce"], int)
    assert len(fob["asks"]) == 5 and fob["bids"][0][0] < fob["asks"][0][0] and isinstance(fob["nonce"], int)


async def test_ccxt_fetches_spot_and_swap_balances(sim: SimServer) -> None:
    """ccxt's fetch_balance reads the spot wallet and the USDT futures account."""
    client = ccxt_client(sim)
    try:
        await client.load_markets()
        spot = await client.fetch_balance()
        swap = await client.fetch_balance({"type": "swap"})
    finally:
        await client.close()
    assert spot["USDT"]["free"] == 100000 and spot["BTC"]["total"] == 1
    assert swap["USDT"]["free"] == 100000


async def test_ccxt_places_and_cancels_spot_and_swap_orders(sim: SimServer) -> None:
    """ccxt creates resting limit orders on spot and swap, then cancels them."""
    client = ccxt_client(sim)
    spot_ex = sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)]
    acc = sim.ctx.accounts.by_name(ACCOUNT)
    try:
        await client.load_markets()
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.001, 50000, {"clientOrderId": "t-ccxt1"})
        assert order["status"] == "open" and order["clientOrderId"] == "t-ccxt1"
        assert spot_ex.get_order(acc, order_id=order["id"]).is_open
        cancelled = await client.cancel_order(order["id"], "BTC/USDT")
        assert cancelled["status"] == "canceled"
        fut = await client.create_order("BTC/USDT:USDT", "limit", "sell", 2, 90000)
        assert fut["status"] == "open" and fut["side"] == "sell" and fut["amount"] == 2
        fcancel = await client.cancel_order(fut["id"], "BTC/USDT:USDT")
        assert fcancel["status"] == "canceled"
    finally:
        await client.close()


async def _watch_in_sync(sim: SimServer, symbol: str, market: Market, venue_symbol: str, seconds: float) -> int:
    """Run ccxt.pro watch_order_book for ``seconds``; each time its nonce equals the engine's update id,
    its top 20 levels must equal the engine's. Returns how many such checks passed."""
    key, secret = _creds(sim)
    client = point(ccxt_pro.gate({"apiKey": key, "secret": secret, "options": _options()}), sim)
    book = sim.ctx.exchanges[(Venue.GATEIO, market)].book(venue_symbol)
    checks = 0
    loop = asyncio.get_running_loop()
    try:
        await client.load_markets()
        end = loop.time() + seconds
        while loop.time() < end:
            ob = await client.watch_order_book(symbol)
            uid, bids, asks = book.depth(20)
            if ob["nonce"] != uid:
                continue
            assert [[float(p), float(q)] for p, q in bids] == [list(x[:2]) for x in ob["bids"][:20]]
            assert [[float(p), float(q)] for p, q in asks] == [list(x[:2]) for x in ob["asks"][:20]]
            checks += 1
    finally:
        await client.close()
    return checks


async def test_ccxt_pro_watch_order_book_stays_in_sync_on_spot(sim: SimServer) -> None:
    """ccxt.pro's spot book (spot.obu) equals the engine's whenever their update ids agree, for 4 s."""
    checks = await _watch_in_sync(sim, "BTC/USDT", Market.SPOT, "BTC_USDT", 4.0)
    assert checks >= 3


async def test_ccxt_pro_watch_order_book_stays_in_sync_on_swap(sim: SimServer) -> None:
    """ccxt.pro's swap book (REST snapshot + futures.order_book_update) tracks the engine's for 4 s."""
    checks = await _watch_in_sync(sim, "BTC/USDT:USDT", Market.FUTURES, "BTC_USDT", 4.0)
    assert checks >= 3


async def test_gate_sdk_lists_pairs_and_contracts(sim: SimServer) -> None:
    """The official SDK lists currency pairs and USDT contracts with their rules."""
    client = sdk(sim)
    pairs = await asyncio.to_thread(gate_api.SpotApi(client).list_currency_pairs)
    contracts = await asyncio.to_thread(gate_api.FuturesApi(client).list_futures_contracts, "usdt")
    by_id = {p.id: p for p in pairs}
    assert by_id["BTC_USDT"].precision == 1 and by_id["BTC_USDT"].min_quote_amount == "3"
    c = {c.name: c for c in contracts}["BTC_USDT"]
    assert c.quanto_multiplier == "0.0001" and c.order_price_round == "0.1" and c.funding_interval == 60


async def test_gate_sdk_places_and_cancels_spot_and_futures_orders(sim: SimServer) -> None:
    """The official SDK creates and cancels a spot order and a futures order (float Timestamp signing)."""
    client = sdk(sim)
    spot, fut = gate_api.SpotApi(client), gate_api.FuturesApi(client)
    order = gate_api.Order(currency_pair="BTC_USDT", side="buy", amount="0.001", price="50000", text="t-sdk1")
    created = await asyncio.to_thread(spot.create_order, order)
    assert created.status == "open" and created.text == "t-sdk1"
    cancelled = await asyncio.to_thread(spot.cancel_order, created.id, "BTC_USDT")
    assert cancelled.status == "cancelled" and cancelled.finish_as == "cancelled"
    forder = gate_api.FuturesOrder(contract="BTC_USDT", size="-3", price="90000", tif="gtc", text="t-sdk2")
    fcreated = await asyncio.to_thread(fut.create_futures_order, "usdt", forder)
    assert fcreated.status == "open" and Decimal(fcreated.size) == -3 and fcreated.text == "t-sdk2"
    fcancelled = await asyncio.to_thread(fut.cancel_futures_order, "usdt", str(fcreated.id))
    assert fcancelled.status == "finished" and fcancelled.finish_as == "cancelled"
    await eventually(lambda: not sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)].open_orders(
        sim.ctx.accounts.by_name(ACCOUNT)), what="no open futures orders left")
