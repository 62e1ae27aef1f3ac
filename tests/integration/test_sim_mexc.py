"""MEXC spot wire layer of the simulator over real HTTP/WebSocket on loopback (exchange-facts PART 1).

The simulator runs in-process (``SimServer``, free ports, market task off); each test clears the initial
books and places its own liquidity from an internal maker account, so every test is deterministic. Every await
is bounded: HTTP by the session's timeout, WebSocket reads by their ``timeout=``, the rest by ``bounded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import WSMsgType
from arb.core.enums import Market, Venue
from arb.sim import SimContext
from arb.sim.config import AccountConfig, InstrumentConfig, PortsConfig, SimConfig, SymbolConfig
from arb.sim.engine import Account, VenueExchange
from arb.sim.market import ManualClock
from arb.sim.mexc.app import WsLimits, ws_limits
from arb.sim.mexc.auth import sign
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.integration

DOC_KEY, DOC_SECRET = "mx0aBYs33eIilxBWC5", "45d0b3c26f2644f19bfb98b07741b2f5"
DOC_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
DEPTH = "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)  # every request (and WebSocket handshake) of these tests


def ws_connect(v: Venue_, url: str = "") -> Any:
    """``async with ws_connect(v) as ws``: handshake and close bounded; bare reads time out after 10 s."""
    return bounded_context(v.session.ws_connect(url or v.ws_url, timeout=aiohttp.ClientWSTimeout(ws_receive=10,
                                                                                               ws_close=5)),
                           15, "websocket")


async def send(ws: aiohttp.ClientWebSocketResponse, obj: Any) -> None:
    await bounded(ws.send_json(obj), 5, "websocket send")


@dataclass
class Venue_:
    ctx: SimContext
    limits: WsLimits
    base: str
    ws_url: str
    session: aiohttp.ClientSession
    ex: VenueExchange
    maker: Account
    key: str
    secret: str

    async def signed(self, method: str, path: str, query: str = "", key: str | None = None,
                     secret: str | None = None, ts: int | None = None) -> tuple[int, Any, Any]:
        q = (query + "&" if query else "") + f"timestamp={ts if ts is not None else int(time.time() * 1000)}"
        q += "&signature=" + sign(secret or self.secret, q)
        async with self.session.request(method, f"{self.base}{path}?{q}",
                                        headers={"X-MEXC-APIKEY": key or self.key}) as r:
            return r.status, await r.json(content_type=None), r.headers

    async def get(self, path: str) -> tuple[int, Any, Any]:
        async with self.session.get(self.base + path) as r:
            return r.status, await r.json(content_type=None), r.headers


def seed_book(ex: VenueExchange, maker: Account, levels: int = 5) -> None:
    for i in range(levels):
        ex.place(maker, "BTCUSDT", "buy", "limit", "gtc", Decimal("0.5"), Decimal(65000 - i))
        ex.place(maker, "BTCUSDT", "sell", "limit", "gtc", Decimal("0.5"), Decimal(65001 + i))


def clear_books(ex: VenueExchange) -> None:
    """Remove the market's initial maker levels so each test starts from its own known book."""
    for book in ex.books.values():
        for o in list(book.orders()):
            ex.cancel_internal(o)


async def start(cfg: SimConfig | None = None, clock: ManualClock | None = None) -> AsyncIterator[Venue_]:
    """SimServer in-process on free ports, market task off, books cleared and seeded deterministically."""
    cfg = cfg or SimConfig()
    async with bounded_context(SimServer(msgspec.structs.replace(cfg, ports=PortsConfig(mexc=0, gateio=0, admin=0)),
                                         clock=clock, run_market=False), 30, "simulator") as sim:
        ctx = sim.ctx
        ex = ctx.exchanges[(Venue.MEXC, Market.SPOT)]
        clear_books(ex)
        maker = Account("maker", "mexc", "makerkey", "makersecret", internal=True)
        seed_book(ex, maker)
        acct = next(a for a in ctx.accounts if a.venue is Venue.MEXC)
        async with bounded_context(aiohttp.ClientSession(timeout=HTTP_TIMEOUT), 10, "http session") as session:
            yield Venue_(ctx, ws_limits(ctx), sim.urls["mexc_rest"].removesuffix("/api/v3"), sim.urls["mexc_ws"],
                         session, ex, maker, acct.api_key, acct.api_secret)


@pytest.fixture
async def venue() -> AsyncIterator[Venue_]:
    async for v in start():
        yield v


async def next_push(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3.0,
                    want: Callable[[PushDataV3ApiWrapper], bool] = lambda m: True) -> PushDataV3ApiWrapper:
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if msg.type == WSMsgType.BINARY:
            m = PushDataV3ApiWrapper.FromString(msg.data)
            if want(m):
                return m
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            raise AssertionError(f"socket closed: {msg}")


async def next_text(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if msg.type == WSMsgType.TEXT:
            return msgspec.json.decode(msg.data)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            raise AssertionError(f"socket closed: {msg}")


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *channels: str) -> dict:
    await send(ws, {"method": "SUBSCRIPTION", "params": list(channels)})
    return await next_text(ws)


async def wait_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR, WSMsgType.CLOSING):
            return
    raise AssertionError("socket still open")


@contextlib.asynccontextmanager
async def churn(v: Venue_, period: float = 0.003) -> AsyncIterator[None]:
    """Background maker activity: adds and cancels levels so the book changes every few ms."""
    stop = asyncio.Event()

    async def run() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            side = "buy" if i % 2 else "sell"
            px = Decimal(64990 - i % 7) if side == "buy" else Decimal(65011 + i % 7)
            o = v.ex.place(v.maker, "BTCUSDT", side, "limit", "gtc", Decimal("0.01") * (1 + i % 3), px)
            if i % 3 == 0:
                v.ex.cancel_internal(o)
            await asyncio.sleep(period)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await bounded(task, 5, "churn task")


# ---- signing ---------------------------------------------------------------------------------------

def test_signature_vectors_from_docs() -> None:
    """HMAC over the documented query (and the mixed query+body form) gives the documented signatures."""
    assert sign(DOC_SECRET, DOC_QUERY) == "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
    mixed = "symbol=BTCUSDT&side=BUY&type=LIMIT" + "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
    assert sign(DOC_SECRET, mixed) == "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"


async def test_documented_request_is_accepted_at_its_timestamp() -> None:
    """The docs' signed POST /api/v3/order (fd3e4e85...) places an order when the venue clock is at its time."""
    cfg = SimConfig(accounts=[AccountConfig(name="doc", venue="mexc", api_key=DOC_KEY, api_secret=DOC_SECRET,
                                            balances={"USDT": Decimal(1000)})])
    async for v in start(cfg, ManualClock((1644489390087 + 200) * 1_000_000)):
        url = (f"{v.base}/api/v3/order?{DOC_QUERY}"
               "&signature=fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a")
        async with v.session.post(url, headers={"X-MEXC-APIKEY": DOC_KEY}) as r:
            body = await r.json()
            assert r.status == 200, body
        assert (body["symbol"], body["price"], body["origQty"], body["type"], body["side"]) == \
            ("BTCUSDT", "11", "1", "LIMIT", "BUY")
        assert body["orderId"].startswith("C02__") and body["orderListId"] == -1


async def test_mixed_query_and_body_signature_is_accepted() -> None:
    """Params split between query and form body are signed as query+body with no separator (docs example 2)."""
    cfg = SimConfig(accounts=[AccountConfig(name="doc", venue="mexc", api_key=DOC_KEY, api_secret=DOC_SECRET,
                                            balances={"USDT": Decimal(1000)})])
    async for v in start(cfg, ManualClock((1644489390087 + 200) * 1_000_000)):
        body = ("quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
                "&signature=d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592")
        async with v.session.post(f"{v.base}/api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT", data=body,
                                  headers={"X-MEXC-APIKEY": DOC_KEY,
                                           "Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status == 200, await r.text()


async def test_signing_errors(venue: Venue_) -> None:
    """Bad signature 700002, stale timestamp 700003, recvWindow > 60000 700005, unknown key 10072, no key 400."""
    v = venue
    st, body, _ = await v.signed("GET", "/api/v3/account", secret="wrong")
    assert (st, body) == (400, {"code": 700002, "msg": "Signature for this request is not valid."})
    st, body, _ = await v.signed("GET", "/api/v3/account", ts=int(time.time() * 1000) - 10_000)
    assert (st, body["code"]) == (400, 700003)
    assert body["msg"] == "Timestamp for this request is outside of the recvWindow."
    st, body, _ = await v.signed("GET", "/api/v3/account", ts=int(time.time() * 1000) + 2_000)
    assert body["code"] == 700003
    st, body, _ = await v.signed("GET", "/api/v3/account", "recvWindow=60001")
    assert body["code"] == 700005
    st, body, _ = await v.signed("GET", "/api/v3/account", key="nosuchkey")
    assert body["code"] == 10072
    async with v.session.get(f"{v.base}/api/v3/account?timestamp=1&signature=x") as r:
        assert (r.status, (await r.json())["code"]) == (400, 400)


# ---- REST ------------------------------------------------------------------------------------------

async def test_public_endpoints(venue: Venue_) -> None:
    """ping {}, time, exchangeInfo rules, depth with lastUpdateId, bookTicker, invalid symbol -1121."""
    v = venue
    assert (await v.get("/api/v3/ping"))[1] == {}
    assert abs((await v.get("/api/v3/time"))[1]["serverTime"] - time.time() * 1000) < 5000
    _, info, _ = await v.get("/api/v3/exchangeInfo?symbols=BTCUSDT,NEIROETH")
    s = {x["symbol"]: x for x in info["symbols"]}
    assert s["BTCUSDT"]["baseAsset"] == "BTC" and s["BTCUSDT"]["quoteAssetPrecision"] == 2
    assert s["BTCUSDT"]["baseSizePrecision"] == "0.000001" and s["BTCUSDT"]["quoteAmountPrecision"] == "1"
    assert s["NEIROETH"]["baseAsset"] == "NEIRO" and s["NEIROETH"]["quoteAsset"] == "ETH"
    _, depth, _ = await v.get("/api/v3/depth?symbol=BTCUSDT&limit=2")
    assert depth["lastUpdateId"] == v.ex.book("BTCUSDT").update_id
    assert depth["bids"] == [["65000", "0.5"], ["64999", "0.5"]] and depth["asks"][0] == ["65001", "0.5"]
    _, bt, _ = await v.get("/api/v3/ticker/bookTicker?symbol=BTCUSDT")
    assert bt == {"symbol": "BTCUSDT", "bidPrice": "65000", "bidQty": "0.5", "askPrice": "65001", "askQty": "0.5"}
    st, e, _ = await v.get("/api/v3/depth?symbol=NOPEUSDT")
    assert (st, e["code"]) == (400, -1121)


async def test_order_lifecycle_and_account(venue: Venue_) -> None:
    """LIMIT rests (NEW), GET order / openOrders see it, DELETE cancels it, balances move and come back."""
    v = venue
    st, o, _ = await v.signed("POST", "/api/v3/order",
                              "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.1&price=60000&newClientOrderId=c1")
    assert st == 200 and o["type"] == "LIMIT" and o["price"] == "60000" and o["origQty"] == "0.1"
    _, acct, _ = await v.signed("GET", "/api/v3/account")
    usdt = next(b for b in acct["balances"] if b["asset"] == "USDT")
    assert (usdt["free"], usdt["locked"]) == ("94000", "6000")
    _, q, _ = await v.signed("GET", "/api/v3/order", f"symbol=BTCUSDT&orderId={o['orderId']}")
    assert (q["status"], q["clientOrderId"], q["executedQty"]) == ("NEW", "c1", "0")
    _, oo, _ = await v.signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT")
    assert [x["orderId"] for x in oo] == [o["orderId"]]
    _, c, _ = await v.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=c1")
    assert (c["status"], c["orderId"], c["origClientOrderId"]) == ("CANCELED", o["orderId"], "c1")
    _, acct, _ = await v.signed("GET", "/api/v3/account")
    assert next(b for b in acct["balances"] if b["asset"] == "USDT")["free"] == "100000"


@pytest.mark.parametrize("typ,price,status,filled", [
    ("IMMEDIATE_OR_CANCEL", "65001", "PARTIALLY_CANCELED", "0.5"),
    ("FILL_OR_KILL", "65002", "FILLED", "1"),
    ("MARKET", None, "FILLED", "1"),
    ("LIMIT_MAKER", "64000", "NEW", "0"),
])
async def test_order_types(venue: Venue_, typ: str, price: str | None, status: str, filled: str) -> None:
    """IOC/FOK/MARKET/LIMIT_MAKER end in the documented statuses; myTrades lists the fills."""
    v = venue
    q = f"symbol=BTCUSDT&side=BUY&type={typ}&quantity=1" + (f"&price={price}" if price else "")
    st, o, _ = await v.signed("POST", "/api/v3/order", q)
    assert st == 200, o
    _, got, _ = await v.signed("GET", "/api/v3/order", f"symbol=BTCUSDT&orderId={o['orderId']}")
    assert (got["status"], got["executedQty"]) == (status, filled)
    _, trades, _ = await v.signed("GET", "/api/v3/myTrades", f"symbol=BTCUSDT&orderId={o['orderId']}")
    assert sum(Decimal(t["qty"]) for t in trades) == Decimal(filled)
    assert all(t["isBuyer"] and not t["isMaker"] and t["commissionAsset"] == "BTC" for t in trades)


async def test_my_trades_honours_start_end_and_limit() -> None:
    """myTrades: startTime/endTime bound the window (ms, inclusive), limit defaults to 100 and is capped at 100,
    a fuller window yields its newest trades; startTime after endTime is a parameter error."""
    t0 = int(time.time() * 1000)
    clock = ManualClock(t0 * 1_000_000)
    async for v in start(clock=clock):
        acct = next(a for a in v.ctx.accounts if a.venue is Venue.MEXC)
        for _ in range(150):  # one fill per millisecond, t0 .. t0+149
            v.ex.place(acct, "BTCUSDT", "buy", "market", "ioc", Decimal("0.001"))
            clock.advance(0.001)
        _, all_, _ = await v.signed("GET", "/api/v3/myTrades", "symbol=BTCUSDT", ts=t0 + 150)
        _, capped, _ = await v.signed("GET", "/api/v3/myTrades", "symbol=BTCUSDT&limit=500", ts=t0 + 150)
        _, window, _ = await v.signed("GET", "/api/v3/myTrades",
                                      f"symbol=BTCUSDT&startTime={t0 + 10}&endTime={t0 + 19}", ts=t0 + 150)
        _, few, _ = await v.signed("GET", "/api/v3/myTrades",
                                   f"symbol=BTCUSDT&startTime={t0 + 10}&endTime={t0 + 19}&limit=3", ts=t0 + 150)
        _, since, _ = await v.signed("GET", "/api/v3/myTrades", f"symbol=BTCUSDT&startTime={t0 + 140}",
                                     ts=t0 + 150)
        st, bad, _ = await v.signed("GET", "/api/v3/myTrades",
                                    f"symbol=BTCUSDT&startTime={t0 + 20}&endTime={t0 + 10}", ts=t0 + 150)
    assert len(all_) == len(capped) == 100
    assert sorted(t["time"] for t in window) == list(range(t0 + 10, t0 + 20))
    assert sorted(t["time"] for t in few) == [t0 + 17, t0 + 18, t0 + 19]
    assert sorted(t["time"] for t in since) == list(range(t0 + 140, t0 + 150))
    assert (st, bad["code"]) == (400, 33333)


async def test_cancel_all_open_orders(venue: Venue_) -> None:
    """DELETE /api/v3/openOrders cancels every open order of the symbol and returns them."""
    v = venue
    for px in ("60000", "60001"):
        await v.signed("POST", "/api/v3/order", f"symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price={px}")
    st, out, _ = await v.signed("DELETE", "/api/v3/openOrders", "symbol=BTCUSDT")
    assert st == 200 and sorted(x["price"] for x in out) == ["60000", "60001"]
    assert all(x["status"] == "CANCELED" and x["orderListId"] == -1 for x in out)
    assert (await v.signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT"))[1] == []


@pytest.mark.parametrize("query,code", [
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=100&price=65000", 10101),
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.00001&price=60000", 30002),
    ("symbol=NOPE&side=BUY&type=LIMIT&quantity=1&price=1", 10007),
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1", 44444),
    ("symbol=BTCUSDT&side=BUY&type=STOP&quantity=1&price=1", 33333),
])
async def test_order_rejections(venue: Venue_, query: str, code: int) -> None:
    """Engine rejects map to MEXC codes: 10101 balance, 30002 minimum, 10007 symbol, 44444/33333 params."""
    st, body, _ = await venue.signed("POST", "/api/v3/order", query)
    assert (st, body["code"]) == (400, code), body


async def test_unknown_order_errors(venue: Venue_) -> None:
    """Cancel unknown -2011, query unknown -2013, neither id 700004."""
    v = venue
    assert (await v.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT&orderId=C02__1"))[1]["code"] == -2011
    assert (await v.signed("GET", "/api/v3/order", "symbol=BTCUSDT&orderId=C02__1"))[1]["code"] == -2013
    assert (await v.signed("DELETE", "/api/v3/order", "symbol=BTCUSDT"))[1]["code"] == 700004


async def test_user_data_stream_lifecycle(venue: Venue_) -> None:
    """POST creates a 64-char listenKey, GET lists it, PUT extends it, DELETE closes it (then PUT fails)."""
    v = venue
    _, created, _ = await v.signed("POST", "/api/v3/userDataStream")
    key = created["listenKey"]
    assert len(key) == 64
    assert key in (await v.signed("GET", "/api/v3/userDataStream"))[1]["listenKey"]
    assert (await v.signed("PUT", "/api/v3/userDataStream", f"listenKey={key}"))[1] == {"listenKey": key}
    assert (await v.signed("DELETE", "/api/v3/userDataStream", f"listenKey={key}"))[1] == {"listenKey": key}
    st, body, _ = await v.signed("PUT", "/api/v3/userDataStream", f"listenKey={key}")
    assert st == 400 and body["code"] == 730002


# ---- WebSocket -------------------------------------------------------------------------------------

async def test_ws_control_acks(venue: Venue_) -> None:
    """SUBSCRIPTION echoes params, PING answers PONG, UNSUBSCRIPTION echoes, unknown channel is Blocked."""
    async with ws_connect(venue) as ws:
        assert await subscribe(ws, DEPTH) == {"id": 0, "code": 0, "msg": DEPTH}
        await send(ws, {"method": "PING"})
        assert await next_text(ws) == {"id": 0, "code": 0, "msg": "PONG"}
        await send(ws, {"method": "UNSUBSCRIPTION", "params": [DEPTH]})
        assert await next_text(ws) == {"id": 0, "code": 0, "msg": DEPTH}
        bad = "spot@public.miniTicker.v3.api@BTCUSDT@UTC+0"
        assert (await subscribe(ws, bad))["msg"] == f"Not Subscribed successfully! [{bad}].  Reason： Blocked!"


async def test_public_pushes_are_binary_protobuf(venue: Venue_) -> None:
    """After a trade: aggre deals (314), aggre bookTicker (315), limit depth (303) arrive as binary wrappers."""
    v = venue
    chans = ["spot@public.aggre.deals.v3.api.pb@10ms@BTCUSDT", "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
             "spot@public.limit.depth.v3.api.pb@BTCUSDT@5"]
    async with ws_connect(v) as ws:
        await subscribe(ws, *chans)
        await v.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.2")
        deal = await next_push(ws, want=lambda m: m.WhichOneof("body") == "publicAggreDeals")
        d = deal.publicAggreDeals.deals[0]
        assert (deal.channel, deal.symbol, d.price, d.quantity, d.tradeType) == (chans[0], "BTCUSDT", "65000", "0.2", 2)
        assert deal.publicAggreDeals.eventType == "spot@public.aggre.deals.v3.api.pb@10ms" and d.tradeId
        bbo = await next_push(ws, want=lambda m: m.WhichOneof("body") == "publicAggreBookTicker")
        b = bbo.publicAggreBookTicker
        assert (b.bidPrice, b.bidQuantity, b.askPrice) == ("65000", "0.3", "65001")
        assert int(b.version) == v.ex.book("BTCUSDT").update_id
        lim = await next_push(ws, want=lambda m: m.WhichOneof("body") == "publicLimitDepths")
        assert len(lim.publicLimitDepths.bids) == 5 and lim.publicLimitDepths.eventType == \
            "spot@public.limit.depth.v3.api.pb"


def apply(book: dict[str, dict[Decimal, Decimal]], m: PushDataV3ApiWrapper) -> None:
    for side in ("bids", "asks"):
        for lv in getattr(m.publicAggreDepths, side):
            p, q = Decimal(lv.price), Decimal(lv.quantity)
            if q:
                book[side][p] = q
            else:
                book[side].pop(p, None)


async def test_depth_diffs_rebuild_the_rest_book(venue: Venue_) -> None:
    """Snapshot + aggre depth diffs by the docs' rules (§1.7) give exactly REST's book; versions are contiguous."""
    v = venue
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        async with churn(v):
            first = await next_push(ws)
            _, snap, _ = await v.get("/api/v3/depth?symbol=BTCUSDT&limit=5000")
            book = {"bids": {Decimal(p): Decimal(q) for p, q in snap["bids"]},
                    "asks": {Decimal(p): Decimal(q) for p, q in snap["asks"]}}
            last_to = int(first.publicAggreDepths.toVersion)
            synced = False
            for _ in range(20):
                m = await next_push(ws)
                fv, tv = int(m.publicAggreDepths.fromVersion), int(m.publicAggreDepths.toVersion)
                assert fv == last_to + 1, "versions must be contiguous"
                last_to = tv
                if tv < snap["lastUpdateId"]:
                    continue
                # docs: apply the first push with snapshot version in [from, to]; from == version + 1 is
                # also contiguous (the snapshot was taken exactly between two pushes)
                assert synced or fv <= snap["lastUpdateId"] + 1 <= tv + 1
                synced = True
                apply(book, m)
        uid = v.ex.book("BTCUSDT").update_id
        while last_to < uid:
            m = await next_push(ws)
            assert int(m.publicAggreDepths.fromVersion) == last_to + 1
            last_to = int(m.publicAggreDepths.toVersion)
            apply(book, m)
    _, final, _ = await v.get("/api/v3/depth?symbol=BTCUSDT&limit=5000")
    assert final["lastUpdateId"] == last_to
    assert sorted(book["bids"].items(), reverse=True) == [(Decimal(p), Decimal(q)) for p, q in final["bids"]]
    assert sorted(book["asks"].items()) == [(Decimal(p), Decimal(q)) for p, q in final["asks"]]


async def private_ws(v: Venue_) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    key = (await v.signed("POST", "/api/v3/userDataStream"))[1]["listenKey"]
    ws = await bounded(v.session.ws_connect(f"{v.ws_url}?listenKey={key}",
                                            timeout=aiohttp.ClientWSTimeout(ws_receive=10, ws_close=5)), 15, "connect")
    ack = await subscribe(ws, "spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb",
                          "spot@private.account.v3.api.pb")
    assert ack["msg"].count("spot@private") == 3
    return ws, key


async def test_private_pushes_after_a_taker_order(venue: Venue_) -> None:
    """orders (304: NEW then FILLED), deals (306) and account (307) pushes follow one marketable order."""
    v = venue
    ws, _ = await private_ws(v)
    async with ws:
        _, o, _ = await v.signed("POST", "/api/v3/order",
                                 "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.1&price=65001&newClientOrderId=t1")
        got = [await next_push(ws) for _ in range(4)]
        kinds = [m.WhichOneof("body") for m in got]
        assert kinds[:3] == ["privateOrders", "privateDeals", "privateOrders"] and kinds[3] == "privateAccount"
        ack, deal, fin = got[0].privateOrders, got[1].privateDeals, got[2].privateOrders
        assert (ack.id, ack.clientId, ack.status, ack.orderType, ack.tradeType) == (o["orderId"], "t1", 1, 1, 1)
        assert (deal.orderId, deal.price, deal.quantity, deal.feeCurrency, deal.isMaker) == \
            (o["orderId"], "65001", "0.1", "BTC", False)
        assert (fin.status, fin.cumulativeQuantity, fin.lastDealQuantity, fin.avgPrice) == (2, "0.1", "0.1", "65001")
        assert got[0].channel == "spot@private.orders.v3.api.pb" and got[0].symbol == "BTCUSDT"
        acc = got[3]
        assert acc.channel == "spot@private.account.v3.api.pb" and acc.privateAccount.vcoinName in ("USDT", "BTC")


async def test_private_channels_refused_without_listen_key(venue: Venue_) -> None:
    """A public connection cannot subscribe private channels; a bad listenKey gets 'Invalid listen key'."""
    v = venue
    async with ws_connect(v) as ws:
        assert "Blocked" in (await subscribe(ws, "spot@private.orders.v3.api.pb"))["msg"]
    async with ws_connect(v, v.ws_url + "?listenKey=nope") as ws:
        msg = await ws.receive(timeout=3)
        assert (msg.type, msg.data) == (WSMsgType.TEXT, "Invalid listen key")
        await wait_closed(ws)


async def test_thirty_subscription_limit() -> None:
    """30 subscriptions per connection; the 31st is refused (Blocked) and never served on that connection."""
    sol = SymbolConfig(symbol="SOL-USDT", start_price=Decimal(150), instruments=[InstrumentConfig(
        venue="mexc", market="spot", venue_symbol="SOLUSDT", tick=Decimal("0.01"), step=Decimal("0.001"),
        min_qty=Decimal("0.001"))])
    async for v in start(SimConfig(symbols=[*SimConfig().symbols, sol])):
        chans = [f"spot@public.aggre.{k}.v3.api.pb@{i}@{s}" for k in ("depth", "deals", "bookTicker")
                 for i in ("100ms", "10ms") for s in ("BTCUSDT", "ETHUSDT", "NEIROETH")]
        chans += [f"spot@public.limit.depth.v3.api.pb@{s}@{n}" for s in ("BTCUSDT", "ETHUSDT", "NEIROETH")
                  for n in ("5", "10", "20")]
        over = "spot@public.aggre.deals.v3.api.pb@10ms@SOLUSDT"
        ws, _ = await private_ws(v)  # 3 private subscriptions
        async with ws, ws_connect(v) as other:
            assert (await subscribe(ws, *chans))["msg"] == ",".join(chans)  # 30 now
            assert (await subscribe(ws, chans[0]))["msg"] == chans[0]  # already held: not a new one
            assert (await subscribe(ws, over))["msg"] == f"Not Subscribed successfully! [{over}].  Reason： Blocked!"
            assert (await subscribe(other, over))["msg"] == over
            v.ex.place(v.maker, "SOLUSDT", "sell", "limit", "gtc", Decimal(1), Decimal(150))
            v.ex.place(v.maker, "SOLUSDT", "buy", "limit", "ioc", Decimal(1), Decimal(150))
            assert (await next_push(other)).channel == over
            seen = []
            with contextlib.suppress(TimeoutError):
                while True:
                    seen.append((await next_push(ws, timeout=0.3)).channel)
            assert over not in seen


async def test_no_subscription_disconnect(venue: Venue_) -> None:
    """With no valid subscription the venue closes the connection after the (shrunk) 30 s timer, PINGs or not."""
    venue.limits.no_subscription_timeout_s = 0.3
    async with ws_connect(venue) as ws:
        await send(ws, {"method": "PING"})
        assert (await next_text(ws))["msg"] == "PONG"
        await wait_closed(ws, timeout=3)


async def test_idle_disconnect_and_ping_keepalive(venue: Venue_) -> None:
    """Subscribed without data: PING keeps the connection, silence closes it after the (shrunk) 60 s timer."""
    v = venue
    v.limits.idle_timeout_s = 0.5
    async with ws_connect(v) as ws:
        await subscribe(ws, "spot@public.aggre.deals.v3.api.pb@100ms@NEIROETH")
        for _ in range(4):
            await asyncio.sleep(0.25)  # the client's own keepalive cadence, not an assertion
            await send(ws, {"method": "PING"})
            assert (await next_text(ws))["msg"] == "PONG"
        await wait_closed(ws, timeout=3)


async def test_max_connection_age(venue: Venue_) -> None:
    """A connection is closed at the (shrunk) 24 h maximum age even while data flows."""
    venue.limits.max_age_s = 0.5
    async with ws_connect(venue) as ws:
        await subscribe(ws, DEPTH)
        async with churn(venue):
            await wait_closed(ws, timeout=3)


async def test_listen_key_expiry_closes_private_stream() -> None:
    """When the listenKey's validity ends, its private connections are closed and PUT no longer extends it."""
    async for v in start(SimConfig(listen_key_ttl_s=1)):
        ws, key = await private_ws(v)
        async with ws:
            await wait_closed(ws, timeout=4)
        st, _body, _ = await v.signed("PUT", "/api/v3/userDataStream", f"listenKey={key}")
        assert st == 400


# ---- faults ----------------------------------------------------------------------------------------

async def depth_versions(v: Venue_, n: int, fault: str) -> list[tuple[int, int]]:
    """Versions of ``n`` depth pushes; ``fault`` is armed once the stream is flowing."""
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        out = []
        async with churn(v):
            m = await next_push(ws)
            out.append((int(m.publicAggreDepths.fromVersion), int(m.publicAggreDepths.toVersion)))
            v.ctx.faults.arm(fault, "mexc", "spot", count=1)
            while len(out) < n:
                m = await next_push(ws)
                out.append((int(m.publicAggreDepths.fromVersion), int(m.publicAggreDepths.toVersion)))
    return out


def gaps(vs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(a[1], b[0]) for a, b in itertools.pairwise(vs) if b[0] != a[1] + 1]


async def test_fault_book_skip(venue: Venue_) -> None:
    """book_skip drops one depth push: the client sees fromVersion != previous toVersion + 1."""
    vs = await depth_versions(venue, 6, "book_skip")
    assert len(gaps(vs)) == 1 and gaps(vs)[0][1] > gaps(vs)[0][0] + 1


async def test_fault_book_duplicate(venue: Venue_) -> None:
    """book_duplicate sends one depth push twice."""
    vs = await depth_versions(venue, 6, "book_duplicate")
    assert any(a == b for a, b in itertools.pairwise(vs))


async def test_fault_book_reorder(venue: Venue_) -> None:
    """book_reorder swaps a depth push with the next one."""
    vs = await depth_versions(venue, 6, "book_reorder")
    assert any(b[1] < a[0] for a, b in itertools.pairwise(vs))


async def test_fault_malformed_frame(venue: Venue_) -> None:
    """malformed_frame sends one binary frame that does not parse as PushDataV3ApiWrapper."""
    v = venue
    v.ctx.faults.arm("malformed_frame", "mexc", "spot", count=1)
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        async with churn(v):
            msg = await ws.receive(timeout=3)
            while msg.type != WSMsgType.BINARY:
                msg = await ws.receive(timeout=3)
            with pytest.raises(Exception, match="(?i)error|truncated|pars"):
                PushDataV3ApiWrapper.FromString(msg.data)
            assert (await next_push(ws)).channel == DEPTH  # the stream goes on


async def test_fault_ws_drop(venue: Venue_) -> None:
    """ws_drop cuts the connection without a close handshake."""
    v = venue
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        v.ctx.faults.arm("ws_drop", "mexc", "spot", count=1)
        await wait_closed(ws, timeout=3)
        assert ws.close_code in (None, 1006)


async def test_fault_ws_stall(venue: Venue_) -> None:
    """ws_stall keeps the socket open but sends no data for params.seconds, then data resumes."""
    v = venue
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        async with churn(v):
            await next_push(ws)
            v.ctx.faults.arm("ws_stall", "mexc", "spot", count=1, params={"seconds": 0.8})
            await eventually(lambda: not v.ctx.faults.armed(), timeout=2)
            while True:  # drain what was queued before the stall began
                try:
                    await next_push(ws, timeout=0.3)
                except TimeoutError:
                    break
            t0 = time.monotonic()
            await next_push(ws, timeout=3)
            assert time.monotonic() - t0 > 0.2 and not ws.closed


async def test_fault_ws_stall_answers_no_ping(venue: Venue_) -> None:
    """A stalled socket is silent: a PING during ws_stall gets no PONG (nothing may prove it live), and PINGs are
    answered again once the stall is over."""
    v = venue
    async with ws_connect(v) as ws:
        await subscribe(ws, DEPTH)
        v.ctx.faults.arm("ws_stall", "mexc", "spot", count=1, params={"seconds": 1.5})
        await eventually(lambda: not v.ctx.faults.armed(), timeout=2, what="the stall began")
        t0 = time.monotonic()
        await send(ws, {"method": "PING"})
        with pytest.raises(TimeoutError):
            await next_text(ws, timeout=0.8)
        assert time.monotonic() - t0 < 1.5  # still inside the stall: that PING was not answered

        async def answered() -> bool:
            await send(ws, {"method": "PING"})
            try:
                return (await next_text(ws, timeout=0.3))["msg"] == "PONG"
            except TimeoutError:
                return False

        await eventually(answered, timeout=5, what="PONG after the stall")
        assert time.monotonic() - t0 >= 1.0 and not ws.closed


async def test_fault_rest_429_5xx_slow(venue: Venue_) -> None:
    """rest_429: 429 + MEXC body + Retry-After; rest_5xx: 503; rest_slow: the answer is delayed."""
    v = venue
    f = v.ctx.faults
    f.arm("rest_429", "mexc", "spot", count=1, params={"retry_after": 7})
    st, body, headers = await v.get("/api/v3/depth?symbol=BTCUSDT")
    assert (st, body, headers["Retry-After"]) == (429, {"code": 429, "msg": "Too Many Requests"}, "7")
    f.arm("rest_5xx", "mexc", "spot", count=1)
    st, body, _ = await v.get("/api/v3/ping")
    assert st == 503 and body["code"] == 503
    f.arm("rest_slow", "mexc", "spot", count=1, params={"ms": 400})
    t0 = time.monotonic()
    assert (await v.get("/api/v3/ping"))[0] == 200
    assert time.monotonic() - t0 >= 0.4


async def test_fault_rest_5xx_after_execution(venue: Venue_) -> None:
    """rest_5xx with params.after: the order IS placed but the client sees 503 (outcome unknown)."""
    v = venue
    v.ctx.faults.arm("rest_5xx", "mexc", "spot", count=1, params={"after": 1})
    st, _, _ = await v.signed("POST", "/api/v3/order",
                              "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=60000&newClientOrderId=u1")
    assert st == 503
    _, o, _ = await v.signed("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=u1")
    assert o["status"] == "NEW"


async def test_fault_order_reject(venue: Venue_) -> None:
    """order_reject refuses one valid order with the mapped MEXC code (default: 10101 insufficient balance)."""
    v = venue
    v.ctx.faults.arm("order_reject", "mexc", "spot", count=1)
    q = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=60000"
    assert (await v.signed("POST", "/api/v3/order", q))[1]["code"] == 10101
    assert (await v.signed("POST", "/api/v3/order", q))[0] == 200


async def test_fault_listenkey_expire(venue: Venue_) -> None:
    """listenkey_expire invalidates the listenKey and closes its private connection."""
    v = venue
    ws, key = await private_ws(v)
    async with ws:
        v.ctx.faults.arm("listenkey_expire", "mexc", "spot", count=1)
        await wait_closed(ws, timeout=3)
    assert (await v.signed("PUT", "/api/v3/userDataStream", f"listenKey={key}"))[0] == 400


async def test_fault_fill_before_ack(venue: Venue_) -> None:
    """fill_before_ack delivers the private deal push before the order's NEW push."""
    v = venue
    ws, _ = await private_ws(v)
    async with ws:
        v.ctx.faults.arm("fill_before_ack", "mexc", "spot", count=1)
        await v.signed("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.1&price=65001")
        got = [await next_push(ws) for _ in range(3)]
        assert [m.WhichOneof("body") for m in got] == ["privateDeals", "privateOrders", "privateOrders"]
        assert [got[1].privateOrders.status, got[2].privateOrders.status] == [1, 2]
