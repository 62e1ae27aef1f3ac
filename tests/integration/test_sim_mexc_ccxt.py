"""A real third-party client against the MEXC simulator: ccxt (async) and ccxt.pro, only base URLs changed.

ccxt's mexc builds REST URLs as ``urls['api']['spot'][public|private] + '/api/v3/' + path`` and, in
``load_markets``, also asks ``urls['api']['contract']['public'] + '/detail'`` (futures contracts) and,
with keys, ``/api/v3/capital/config/getall``. ccxt.pro connects to ``urls['api']['ws']['spot']``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest
from arb.core.enums import Market, Venue
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.engine import Account, VenueExchange
from arb.sim.server import SimServer

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.integration
CHANNEL = "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"  # what ccxt.pro subscribes by default


class Sim:
    def __init__(self, base: str, ex: VenueExchange, maker: Account, key: str, secret: str) -> None:
        self.base, self.ex, self.maker, self.key, self.secret = base, ex, maker, key, secret

    def point(self, client: ccxt_async.mexc) -> ccxt_async.mexc:
        """Change only the base URLs of a ccxt mexc client to this simulator."""
        api = client.urls["api"]
        api["spot"]["public"] = api["spot"]["private"] = self.base
        api["contract"]["public"] = self.base + "/api/v1/contract"
        api["contract"]["private"] = self.base + "/api/v1/private"
        if "ws" in api:
            api["ws"]["spot"] = self.base.replace("http://", "ws://") + "/ws"
        return client


def sim_config() -> SimConfig:
    return SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """SimServer with the market task off and a known BTCUSDT book (exact values in asserts)."""
    async with SimServer(sim_config(), run_market=False) as server:
        ex = server.ctx.exchanges[(Venue.MEXC, Market.SPOT)]
        for book in ex.books.values():
            for o in list(book.orders()):
                ex.cancel_internal(o)
        maker = Account("maker", "mexc", "makerkey", "makersecret", internal=True)
        for i in range(10):
            ex.place(maker, "BTCUSDT", "buy", "limit", "gtc", Decimal("0.5"), Decimal(65000 - i))
            ex.place(maker, "BTCUSDT", "sell", "limit", "gtc", Decimal("0.5"), Decimal(65001 + i))
        acct = server.ctx.accounts.by_name("mexc-demo")
        yield Sim(server.urls["mexc_rest"].removesuffix("/api/v3"), ex, maker, acct.api_key, acct.api_secret)


async def test_ccxt_rest_markets_book_balance_orders(sim: Sim) -> None:
    """ccxt loads markets, fetches the book and balance, creates and cancels an order with only URLs changed."""
    client = sim.point(ccxt_async.mexc({"apiKey": sim.key, "secret": sim.secret}))
    try:
        markets = await client.load_markets()
        assert {"BTC/USDT", "ETH/USDT", "NEIRO/ETH"} <= set(markets)
        m = markets["BTC/USDT"]
        assert (m["id"], m["active"], m["limits"]["amount"]["min"], m["limits"]["cost"]["min"]) == \
            ("BTCUSDT", True, 0.000001, 1.0)
        book = await client.fetch_order_book("BTC/USDT", 5)
        assert book["bids"][0] == [65000.0, 0.5] and book["asks"][0] == [65001.0, 0.5]
        assert book["nonce"] == sim.ex.book("BTCUSDT").update_id
        bal = await client.fetch_balance()
        assert bal["USDT"]["free"] == 100000.0 and bal["BTC"]["total"] == 1.0
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 60000)
        assert order["id"].startswith("C02__")
        fetched = await client.fetch_order(order["id"], "BTC/USDT")
        assert (fetched["status"], fetched["price"], fetched["amount"]) == ("open", 60000.0, 0.01)
        assert [o["id"] for o in await client.fetch_open_orders("BTC/USDT")] == [order["id"]]
        await client.cancel_order(order["id"], "BTC/USDT")
        assert (await client.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
        taker = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 65001)
        assert (await client.fetch_order(taker["id"], "BTC/USDT"))["filled"] == 0.1
        trades = await client.fetch_my_trades("BTC/USDT")
        assert [(t["order"], t["price"], t["amount"]) for t in trades] == [(taker["id"], 65001.0, 0.1)]
    finally:
        await client.close()


async def test_ccxt_errors_map_to_ccxt_exceptions(sim: Sim) -> None:
    """MEXC error codes from the simulator surface as ccxt's mapped exceptions (10101, 700002)."""
    client = sim.point(ccxt_async.mexc({"apiKey": sim.key, "secret": sim.secret}))
    bad = sim.point(ccxt_async.mexc({"apiKey": sim.key, "secret": "wrong-secret"}))
    try:
        await client.load_markets()
        with pytest.raises(ccxt_async.InsufficientFunds):
            await client.create_order("BTC/USDT", "limit", "buy", 100, 65000)
        bad.markets, bad.markets_by_id, bad.symbols = client.markets, client.markets_by_id, client.symbols
        bad.currencies = client.currencies
        with pytest.raises(ccxt_async.AuthenticationError):
            await bad.fetch_balance()
    finally:
        await client.close()
        await bad.close()


def levels(side: list) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in side]


async def test_ccxt_pro_watch_order_book_stays_in_sync() -> None:
    """With the live market running, ccxt.pro's watch_order_book (binary aggre depth + REST snapshot) keeps
    matching the venue's book: checked at every update for seconds, by the update ids both sides carry."""
    async with SimServer(sim_config(), run_market=True) as server:
        ex = server.ctx.exchanges[(Venue.MEXC, Market.SPOT)]
        acct = server.ctx.accounts.by_name("mexc-demo")
        s = Sim(server.urls["mexc_rest"].removesuffix("/api/v3"), ex, Account("x", "mexc", "x", "x", internal=True),
                acct.api_key, acct.api_secret)
        client = s.point(ccxt_pro.mexc({"apiKey": s.key, "secret": s.secret}))
        history: dict[int, tuple[list, list]] = {}

        class Recorder:
            def on_book(self, ch: object) -> None:
                _, bids, asks = ex.book("BTCUSDT").depth(5000)
                history[ex.book("BTCUSDT").update_id] = (bids, asks)

        ex.add_listener(Recorder())
        to_version: dict[int, int] = {}  # fromVersion -> toVersion of each depth push (ccxt keeps fromVersion)

        async def tap() -> None:
            async with aiohttp.ClientSession() as http, http.ws_connect(server.urls["mexc_ws"]) as ws:
                await ws.send_json({"method": "SUBSCRIPTION", "params": [CHANNEL]})
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        d = PushDataV3ApiWrapper.FromString(msg.data).publicAggreDepths
                        to_version[int(d.fromVersion)] = int(d.toVersion)

        tapper = asyncio.create_task(tap())
        try:
            await client.load_markets()
            checked = 0
            loop = asyncio.get_running_loop()
            end = None
            while end is None or loop.time() < end:
                ob = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 10)
                if end is None:
                    end = loop.time() + 5.0  # in sync from the first resolved book: watch 5 s more
                tv = to_version.get(ob["nonce"])
                if tv is not None and tv in history:
                    bids, asks = history[tv]
                    assert levels(client.orderbooks["BTC/USDT"]["bids"]) == bids
                    assert levels(client.orderbooks["BTC/USDT"]["asks"]) == asks
                    checked += 1
            assert checked >= 20
        finally:
            tapper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tapper
            await client.close()
