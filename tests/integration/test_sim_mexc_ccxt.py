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

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest
from aiohttp import web
from arb.core.enums import Market, Venue
from arb.sim import build_context
from arb.sim.engine import Account, VenueExchange
from arb.sim.mexc import build_app
from arb.testing import eventually

pytestmark = pytest.mark.integration


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


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    ctx = build_context()
    app = build_app(ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    ex = ctx.exchanges[(Venue.MEXC, Market.SPOT)]
    maker = Account("maker", "mexc", "makerkey", "makersecret", internal=True)
    for i in range(10):
        ex.place(maker, "BTCUSDT", "buy", "limit", "gtc", Decimal("0.5"), Decimal(65000 - i))
        ex.place(maker, "BTCUSDT", "sell", "limit", "gtc", Decimal("0.5"), Decimal(65001 + i))
    acct = ctx.accounts.by_name("mexc-demo")
    try:
        yield Sim(f"http://127.0.0.1:{port}", ex, maker, acct.api_key, acct.api_secret)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def churn(s: Sim, seconds: float) -> AsyncIterator[None]:
    """Maker activity for ``seconds``: levels added and removed every few ms."""
    async def run() -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        i = 0
        while loop.time() < end:
            i += 1
            side = "buy" if i % 2 else "sell"
            px = Decimal(64985 - i % 9) if side == "buy" else Decimal(65016 + i % 9)
            o = s.ex.place(s.maker, "BTCUSDT", side, "limit", "gtc", Decimal("0.01") * (1 + i % 4), px)
            if i % 3 == 0:
                s.ex.cancel_internal(o)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        await task


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


async def test_ccxt_pro_watch_order_book_stays_in_sync(sim: Sim) -> None:
    """ccxt.pro's watch_order_book, fed by binary aggre depth + REST snapshot, equals REST after activity."""
    client = sim.point(ccxt_pro.mexc({"apiKey": sim.key, "secret": sim.secret}))
    try:
        await client.load_markets()
        stop = asyncio.Event()
        updates = 0

        async def watch() -> None:
            nonlocal updates
            while not stop.is_set():
                ob = await client.watch_order_book("BTC/USDT")
                updates += 1
                if ob["bids"] and ob["asks"]:
                    assert ob["bids"][0][0] < ob["asks"][0][0], "crossed book"

        watcher = asyncio.create_task(watch())
        for seconds in (4.0, 1.5, 1.5):  # ccxt caches 25 deltas (2.5 s at 100ms) before its snapshot
            async with churn(sim, seconds):
                await eventually(lambda: watcher.done() or updates > 0, timeout=10, what="first book")

            async def same() -> bool:
                assert not watcher.done(), watcher.exception()
                ob = client.orderbooks["BTC/USDT"]
                _, bids, asks = sim.ex.book("BTCUSDT").depth(5000)
                assert levels(ob["bids"]) == bids and levels(ob["asks"]) == asks
                return True

            await eventually(same, timeout=5, what="ccxt book == venue book")
        stop.set()
        assert updates > 20
        sim.ex.place(sim.maker, "BTCUSDT", "buy", "limit", "gtc", Decimal("0.01"), Decimal(64000))
        await asyncio.wait_for(watcher, 5)
    finally:
        await client.close()
