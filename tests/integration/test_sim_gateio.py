"""The Gate.io simulator over the wire: REST /api/v4 (spot + futures/usdt) and WS v4, against Gate's docs.

The simulator runs in-process (``SimServer``, ports 0, market task on); requests are signed here from the
documented recipe (exchange-facts §2.2), independently of the simulator's own checker. Every await is bounded:
HTTP by the session's timeout, WebSocket reads by their ``timeout=``, the rest by ``bounded``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arb.core.enums import Market, Venue
from arb.sim.gateio import auth
from arb.sim.server import SimServer
from arb.testing import bounded, bounded_context, eventually

pytestmark = pytest.mark.integration

ACCOUNT = "gateio-demo"


def ws_connect(gate: Gate, key: str) -> Any:
    """``async with ws_connect(gate, "gateio_spot_ws") as ws``: handshake and close bounded; bare reads time out."""
    return bounded_context(gate.s.ws_connect(gate.sim.urls[key], timeout=aiohttp.ClientWSTimeout(ws_receive=10,
                                                                                                ws_close=5)),
                           15, "websocket")


async def send(ws: aiohttp.ClientWebSocketResponse, obj: Any) -> None:
    await bounded(ws.send_json(obj), 5, "websocket send")


# -- helpers ------------------------------------------------------------------------------------------
def sign(secret: str, method: str, path: str, query: str, body: bytes, ts: str) -> str:
    payload = "\n".join([method, path, query, hashlib.sha512(body).hexdigest(), ts])
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def ws_sig(secret: str, channel: str, event: str, t: int) -> str:
    return hmac.new(secret.encode(), f"channel={channel}&event={event}&time={t}".encode(),
                    hashlib.sha512).hexdigest()


class Gate:
    """A tiny signed client written from the docs (not from the simulator's or the gateway's code)."""

    def __init__(self, sim: SimServer, session: aiohttp.ClientSession) -> None:
        acc = sim.ctx.accounts.by_name(ACCOUNT)
        self.sim, self.s, self.key, self.secret = sim, session, acc.api_key, acc.api_secret
        self.base = sim.urls["gateio_rest"]
        self.account = acc

    async def public(self, path: str, query: str = "", headers: dict[str, str] | None = None
                     ) -> tuple[int, Any, Any]:
        url = self.base + path + ("?" + query if query else "")
        async with self.s.get(url, headers=headers or {}) as r:
            return r.status, json.loads(await r.text()), r.headers

    async def private(self, method: str, path: str, query: str = "", body: Any = None, *,
                      ts: str | None = None, key: str | None = None, secret: str | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        ts = ts or str(int(time.time()))
        sig = sign(secret or self.secret, method, "/api/v4" + path, query, raw, ts)
        h = {"KEY": key or self.key, "SIGN": sig, "Timestamp": ts, "Content-Type": "application/json"}
        h.update(headers or {})
        url = self.base + path + ("?" + query if query else "")
        async with self.s.request(method, url, data=raw or None, headers=h) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else None), r.headers


@pytest.fixture
async def gate(sim: SimServer) -> AsyncIterator[Gate]:
    async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10,
                               "http session") as s:
        yield Gate(sim, s)


async def recv_json(ws: aiohttp.ClientWebSocketResponse, pred: Callable[[dict], bool], timeout: float = 5.0
                    ) -> dict:
    """The next JSON frame matching ``pred`` (others skipped), or AssertionError after ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        left = end - loop.time()
        if left <= 0:
            raise AssertionError("no matching frame before the deadline")
        msg = await ws.receive(timeout=left)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type}")
        try:
            frame = json.loads(msg.data)
        except ValueError:
            continue
        if pred(frame):
            return frame


def is_update(channel: str) -> Callable[[dict], bool]:
    return lambda f: f.get("channel") == channel and f.get("event") == "update"


async def subscribe(ws: aiohttp.ClientWebSocketResponse, channel: str, payload: Any = None,
                    secret: str | None = None, key: str | None = None, req_id: int = 7) -> dict:
    t = int(time.time())
    req: dict[str, Any] = {"time": t, "id": req_id, "channel": channel, "event": "subscribe"}
    if payload is not None:
        req["payload"] = payload
    if key is not None:
        req["auth"] = {"method": "api_key", "KEY": key, "SIGN": ws_sig(secret or "", channel, "subscribe", t)}
    await send(ws, req)
    return await recv_json(ws, lambda f: f.get("event") == "subscribe" and f.get("id") == req_id)


def apply(book: dict[str, dict[Decimal, Decimal]], bids: list, asks: list) -> None:
    for side, levels in (("b", bids), ("a", asks)):
        for lv in levels:
            p, q = (lv["p"], lv["s"]) if isinstance(lv, dict) else (lv[0], lv[1])
            p, q = Decimal(str(p)), Decimal(str(q))
            if q == 0:
                book[side].pop(p, None)
            else:
                book[side][p] = q


def top(book: dict[str, dict[Decimal, Decimal]], n: int) -> tuple[list, list]:
    bids = sorted(book["b"].items(), key=lambda x: -x[0])[:n]
    asks = sorted(book["a"].items())[:n]
    return bids, asks


# -- signing ------------------------------------------------------------------------------------------
def test_signature_vectors_from_the_docs_verify() -> None:
    """Both documented REST vectors verify with the simulator's checker (GET with query, POST with body)."""
    secrets = {"key": "secret"}.get
    v1 = "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
    assert auth.verify_rest(method="GET", path="/api/v4/futures/orders",
                            raw_query="contract=BTC_USD&status=finished&limit=50", body=b"",
                            headers={"KEY": "key", "SIGN": v1, "Timestamp": "1541993715"}, secret_of=secrets,
                            now_s=1541993715.0) == "key"
    body = b'{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}'
    assert hashlib.sha512(body).hexdigest().startswith("ad3c169203dc3026558f01b4df307641")
    v2 = "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
    assert auth.verify_rest(method="POST", path="/api/v4/futures/orders", raw_query="", body=body,
                            headers={"KEY": "key", "SIGN": v2, "Timestamp": "1541993715"}, secret_of=secrets,
                            now_s=1541993720.0) == "key"


async def test_int_and_float_timestamps_are_accepted(gate: Gate) -> None:
    """A private call signs with an int Timestamp (docs) or a float one (official SDK) and succeeds."""
    now = time.time()
    for ts in (str(int(now)), f"{now:.6f}"):
        status, body, _ = await gate.private("GET", "/spot/accounts", "currency=USDT", ts=ts)
        assert status == 200 and body[0]["currency"] == "USDT" and body[0]["available"] == "100000"


@pytest.mark.parametrize(("change", "label"), [
    ({"secret": "wrong"}, "INVALID_SIGNATURE"),
    ({"key": "nokey", "secret": "x"}, "INVALID_KEY"),
    ({"ts_offset": -3600}, "REQUEST_EXPIRED"),
    ({"ts_offset": 61}, "REQUEST_EXPIRED"),
])
async def test_auth_failures_answer_401_with_gate_labels(gate: Gate, change: dict, label: str) -> None:
    """A bad signature, an unknown key or a Timestamp more than 60 s off is a 401 with Gate's label."""
    if "ts_offset" in change:
        change = {"ts": str(int(time.time()) + change["ts_offset"])}
    status, body, _ = await gate.private("GET", "/spot/accounts", **change)
    assert status == 401 and body["label"] == label and body["message"]


async def test_missing_auth_header_is_missing_required_header(gate: Gate) -> None:
    """A private endpoint without KEY/SIGN/Timestamp answers MISSING_REQUIRED_HEADER."""
    async with gate.s.get(gate.base + "/spot/accounts") as r:
        body = await r.json()
    assert r.status == 401 and body["label"] == "MISSING_REQUIRED_HEADER"


# -- spot REST ----------------------------------------------------------------------------------------
async def test_spot_public_endpoints_serve_documented_shapes(gate: Gate) -> None:
    """currency_pairs, tickers, order_book (with_id) and trades carry the documented fields."""
    _, pairs, headers = await gate.public("/spot/currency_pairs")
    btc = {p["id"]: p for p in pairs}["BTC_USDT"]
    assert btc["precision"] == 1 and btc["amount_precision"] == 6 and btc["min_quote_amount"] == "3"
    assert headers["X-Gate-RateLimit-Limit"] == "200" and "X-Gate-RateLimit-Reset-Timestamp" in headers
    _, tick, _ = await gate.public("/spot/tickers", "currency_pair=BTC_USDT")
    assert Decimal(tick[0]["highest_bid"]) < Decimal(tick[0]["lowest_ask"])
    _, ob, _ = await gate.public("/spot/order_book", "currency_pair=BTC_USDT&limit=5&with_id=true")
    assert isinstance(ob["id"], int) and isinstance(ob["current"], int) and len(ob["bids"]) == 5
    _, ob2, _ = await gate.public("/spot/order_book", "currency_pair=BTC_USDT&limit=5")
    assert "id" not in ob2
    await eventually(lambda: gate.sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)].recent_trades("BTC_USDT", 1),
                     what="a background trade")
    _, trades, _ = await gate.public("/spot/trades", "currency_pair=BTC_USDT&limit=3")
    assert trades and trades[0]["side"] in ("buy", "sell") and "." in trades[0]["create_time_ms"]


async def test_spot_order_lifecycle_create_get_list_cancel(gate: Gate) -> None:
    """A resting limit order is created (201), found by id and by text, listed, cancelled, then closed."""
    status, o, _ = await gate.private("POST", "/spot/orders", body={
        "currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "50000", "text": "t-life1"})
    assert status == 201 and o["status"] == "open" and o["text"] == "t-life1" and o["finish_as"] == "open"
    _, by_text, _ = await gate.private("GET", "/spot/orders/t-life1", "currency_pair=BTC_USDT")
    assert by_text["id"] == o["id"]
    _, listed, _ = await gate.private("GET", "/spot/orders", "currency_pair=BTC_USDT&status=open")
    assert [x["id"] for x in listed] == [o["id"]]
    _, cancelled, _ = await gate.private("DELETE", f"/spot/orders/{o['id']}", "currency_pair=BTC_USDT")
    assert cancelled["status"] == "cancelled" and cancelled["finish_as"] == "cancelled"
    status, again, _ = await gate.private("DELETE", f"/spot/orders/{o['id']}", "currency_pair=BTC_USDT")
    assert status == 400 and again["label"] == "ORDER_CLOSED"


async def test_spot_market_buy_fills_and_shows_in_my_trades(gate: Gate) -> None:
    """A market buy spends its quote amount; my_trades lists the fills with role taker."""
    status, o, _ = await gate.private("POST", "/spot/orders", body={
        "currency_pair": "BTC_USDT", "side": "buy", "type": "market", "amount": "100", "time_in_force": "ioc"})
    assert status == 201 and o["status"] == "closed" and Decimal(o["filled_amount"]) > 0
    _, fills, _ = await gate.private("GET", "/spot/my_trades", f"currency_pair=BTC_USDT&order_id={o['id']}")
    assert fills and all(f["role"] == "taker" and f["order_id"] == o["id"] for f in fills)


async def test_spot_cancel_all_cancels_every_open_order_of_the_pair(gate: Gate) -> None:
    """DELETE /spot/orders cancels all open orders of the pair and returns them."""
    for px in ("50000", "50001"):
        await gate.private("POST", "/spot/orders", body={"currency_pair": "BTC_USDT", "side": "buy",
                                                          "amount": "0.001", "price": px})
    status, out, _ = await gate.private("DELETE", "/spot/orders", "currency_pair=BTC_USDT")
    assert status == 200 and len(out) == 2 and {x["status"] for x in out} == {"cancelled"}


@pytest.mark.parametrize(("order", "status", "label"), [
    ({"amount": "1000", "price": "60000"}, 400, "BALANCE_NOT_ENOUGH"),
    ({"amount": "0.001", "price": "60000.05"}, 400, "INVALID_PRECISION"),
    ({"amount": "0.00001", "price": "60000"}, 400, "INVALID_PARAM_VALUE"),
    ({"amount": "0.001", "price": "60000", "text": "no-prefix"}, 400, "INVALID_PARAM_VALUE"),
    ({"amount": "0.001", "price": "60000", "currency_pair": "XXX_USDT"}, 400, "INVALID_CURRENCY_PAIR"),
    ({"amount": "0.001", "price": "99000", "time_in_force": "poc"}, 400, "POC_FILL_IMMEDIATELY"),
])
async def test_spot_order_rejections_carry_gate_labels(gate: Gate, order: dict, status: int, label: str) -> None:
    """Engine rejects and request errors come back as Gate's {label, message}."""
    body = {"currency_pair": "BTC_USDT", "side": "buy", **order}
    got, err, _ = await gate.private("POST", "/spot/orders", body=body)
    assert got == status and err["label"] == label and err["message"]
    if order["amount"] == "0.00001":
        assert "is too small. The minimum is 3 USDT" in err["message"]


async def test_unknown_order_is_order_not_found(gate: Gate) -> None:
    """GET of an unknown order id is 404 ORDER_NOT_FOUND."""
    status, err, _ = await gate.private("GET", "/spot/orders/123", "currency_pair=BTC_USDT")
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"


# -- futures REST -------------------------------------------------------------------------------------
async def test_futures_contract_carries_rules_fees_and_funding(gate: Gate) -> None:
    """contracts/{c} has quanto_multiplier, order_price_round, size limits, funding and fee rates."""
    _, c, _ = await gate.public("/futures/usdt/contracts/BTC_USDT")
    assert c["quanto_multiplier"] == "0.0001" and c["order_price_round"] == "0.1"
    assert c["order_size_min"] == 1 and isinstance(c["order_size_max"], int)
    assert c["funding_interval"] == 60 and c["funding_next_apply"] > time.time() - 1
    assert Decimal(c["mark_price"]) > 0 and Decimal(c["index_price"]) > 0
    assert c["maker_fee_rate"] == "0.0002" and c["taker_fee_rate"] == "0.0005" and "funding_rate" in c


async def test_futures_order_book_has_float_second_times_and_p_s_levels(gate: Gate) -> None:
    """order_book?with_id: float-second current/update, {p, s} levels with integer contract sizes."""
    _, ob, _ = await gate.public("/futures/usdt/order_book", "contract=BTC_USDT&limit=3&with_id=true")
    assert isinstance(ob["id"], int) and isinstance(ob["current"], float) and ob["current"] < 1e11
    assert all(isinstance(lv["s"], int) and isinstance(lv["p"], str) for lv in ob["bids"] + ob["asks"])


async def test_size_decimal_header_switches_sizes_to_strings(gate: Gate) -> None:
    """With X-Gate-Size-Decimal: 1 sizes are decimal strings; without it a fractional size is refused."""
    _, ob, _ = await gate.public("/futures/usdt/order_book", "contract=BTC_USDT&limit=3",
                                 headers={"X-Gate-Size-Decimal": "1"})
    assert all(isinstance(lv["s"], str) for lv in ob["bids"] + ob["asks"])
    _, c, _ = await gate.public("/futures/usdt/contracts/BTC_USDT", headers={"X-Gate-Size-Decimal": "1"})
    assert c["order_size_min"] == "1"
    status, err, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": "1.5", "price": "50000", "tif": "gtc"})
    assert status == 400 and err["label"] == "INVALID_ARGUMENT" and err["detail"] == "invalid size"


async def test_futures_market_order_opens_a_position_and_leverage_changes_it(gate: Gate) -> None:
    """price "0" + ioc is a market order; the position has signed contracts; leverage re-margins it."""
    status, o, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": -5, "price": "0", "tif": "ioc", "text": "t-short1"})
    assert status == 201 and o["size"] == -5 and o["left"] == 0 and o["finish_as"] == "filled"
    assert o["status"] == "finished" and o["text"] == "t-short1" and isinstance(o["id"], int)
    _, p, _ = await gate.private("GET", "/futures/usdt/positions/BTC_USDT")
    assert p["size"] == -5 and p["leverage"] == "10" and Decimal(p["margin"]) > 0
    _, p2, _ = await gate.private("POST", "/futures/usdt/positions/BTC_USDT/leverage", "leverage=5")
    assert p2["leverage"] == "5" and Decimal(p2["margin"]) > Decimal(p["margin"])
    status, err, _ = await gate.private("POST", "/futures/usdt/positions/BTC_USDT/leverage", "leverage=500")
    assert status == 400 and err["label"] == "LEVERAGE_TOO_HIGH"
    _, acct, _ = await gate.private("GET", "/futures/usdt/accounts")
    assert Decimal(acct["position_margin"]) == Decimal(p2["margin"]) and acct["currency"] == "USDT"
    _, held, _ = await gate.private("GET", "/futures/usdt/positions", "holding=true")
    assert [x["contract"] for x in held] == ["BTC_USDT"]
    status, closed, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": 0, "close": True, "price": "0", "tif": "ioc"})
    assert status == 201 and closed["is_close"] and closed["size"] == 5
    _, p3, _ = await gate.private("GET", "/futures/usdt/positions/BTC_USDT")
    assert p3["size"] == 0


async def test_futures_orders_cancel_and_cancel_all(gate: Gate) -> None:
    """Resting futures orders are listed with pagination headers, cancelled by text and by cancel-all."""
    for size, text in ((2, "t-f1"), (3, "t-f2")):
        status, _, _ = await gate.private("POST", "/futures/usdt/orders", body={
            "contract": "BTC_USDT", "size": size, "price": "40000", "tif": "gtc", "text": text})
        assert status == 201
    _, listed, headers = await gate.private("GET", "/futures/usdt/orders", "status=open&contract=BTC_USDT")
    assert len(listed) == 2 and "finish_as" not in listed[0] and headers["X-Pagination-Total"] == "2"
    _, one, _ = await gate.private("DELETE", "/futures/usdt/orders/t-f1")
    assert one["status"] == "finished" and one["finish_as"] == "cancelled" and one["text"] == "t-f1"
    _, rest, _ = await gate.private("DELETE", "/futures/usdt/orders", "contract=BTC_USDT&side=bid")
    assert [x["text"] for x in rest] == ["t-f2"]
    status, err, _ = await gate.private("GET", "/futures/usdt/orders/99")
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"


async def test_futures_reject_labels(gate: Gate) -> None:
    """Futures rejects: reduce-only that would increase, post-only that would take, no balance."""
    status, err, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc", "reduce_only": True})
    assert status == 400 and err["label"] == "INCREASE_POSITION" and err["detail"]
    status, err, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": 1, "price": "99000", "tif": "poc"})
    assert status == 400 and err["label"] == "ORDER_POC_IMMEDIATE"
    status, err, _ = await gate.private("POST", "/futures/usdt/orders", body={
        "contract": "BTC_USDT", "size": 10_000_000, "price": "60000", "tif": "gtc"})
    assert status == 400 and err["label"] in ("INSUFFICIENT_AVAILABLE", "SIZE_TOO_LARGE")


async def test_funding_settlement_shows_in_history_and_tickers(gate: Gate) -> None:
    """A funding settlement appears in funding_rate history; tickers carry mark, index and funding rate."""
    ex = gate.sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    ex.set_funding("BTC_USDT", Decimal("0.00025"))
    ex.apply_funding("BTC_USDT")
    _, hist, _ = await gate.public("/futures/usdt/funding_rate", "contract=BTC_USDT")
    assert hist[0]["r"] == "0.00025" and isinstance(hist[0]["t"], int)
    _, tk, _ = await gate.public("/futures/usdt/tickers", "contract=BTC_USDT")
    assert tk[0]["funding_rate"] == "0.00025" and Decimal(tk[0]["mark_price"]) > 0
    assert Decimal(tk[0]["index_price"]) > 0


# -- WebSocket envelope ---------------------------------------------------------------------------------
async def test_ws_subscribe_ack_ping_and_errors(gate: Gate) -> None:
    """Subscribe acks echo id/channel/payload with result.status success; ping gets pong; bad pair code 2."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        ack = await subscribe(ws, "spot.trades", ["BTC_USDT"], req_id=11)
        assert ack["result"] == {"status": "success"} and ack["error"] is None
        assert ack["channel"] == "spot.trades" and ack["payload"] == ["BTC_USDT"] and "time_ms" in ack
        await send(ws, {"time": int(time.time()), "channel": "spot.ping"})
        pong = await recv_json(ws, lambda f: f.get("channel") == "spot.pong")
        assert pong["event"] == "" and pong["error"] is None and pong["result"] is None
        err = await subscribe(ws, "spot.trades", ["GIBBERISH_USD"], req_id=12)
        assert err["result"] is None and err["error"] == {"code": 2, "message": "unknown currency pair GIBBERISH_USD"}
        trade = await recv_json(ws, is_update("spot.trades"))
        assert trade["result"]["currency_pair"] == "BTC_USDT" and isinstance(trade["result"]["id"], int)


async def test_ws_private_auth_failure_is_code_4(gate: Gate) -> None:
    """A private subscribe with a wrong SIGN fails with code 4 and Gate's REST error as the message."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        err = await subscribe(ws, "spot.orders", ["BTC_USDT"], secret="wrong", key=gate.key, req_id=3)
        assert err["error"]["code"] == 4 and json.loads(err["error"]["message"])["label"] == "INVALID_SIGNATURE"
    async with ws_connect(gate, "gateio_futures_ws") as ws:
        ok = await subscribe(ws, "futures.orders", ["1", "!all"], secret=gate.secret, key=gate.key, req_id=4)
        assert ok["result"] == {"status": "success"}


async def test_ws_book_ticker_and_tickers(gate: Gate) -> None:
    """spot.book_ticker pushes b/B/a/A with u; futures.tickers pushes mark, index and funding rate."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.book_ticker", ["BTC_USDT"])
        bt = (await recv_json(ws, is_update("spot.book_ticker")))["result"]
        assert Decimal(bt["b"]) < Decimal(bt["a"]) and isinstance(bt["u"], int) and bt["s"] == "BTC_USDT"
    async with ws_connect(gate, "gateio_futures_ws") as ws:
        await subscribe(ws, "futures.tickers", ["BTC_USDT"])
        tk = (await recv_json(ws, is_update("futures.tickers")))["result"][0]
        assert tk["contract"] == "BTC_USDT" and "funding_rate" in tk and Decimal(tk["mark_price"]) > 0
        await subscribe(ws, "futures.book_ticker", ["BTC_USDT"], req_id=8)
        fbt = (await recv_json(ws, is_update("futures.book_ticker")))["result"]
        assert isinstance(fbt["B"], int) and isinstance(fbt["A"], int)


# -- order books: WS U/u against REST with_id -----------------------------------------------------------
async def test_spot_order_book_update_full_first_then_contiguous_and_equal_to_rest(gate: Gate) -> None:
    """spot.order_book_update: first push full, then U == local + 1; the rebuilt book equals REST at that id."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.order_book_update", ["BTC_USDT", "100ms"])
        first = (await recv_json(ws, is_update("spot.order_book_update")))["result"]
        assert first["full"] is True and first["l"] == "100"
        book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
        apply(book, first["b"], first["a"])
        local = first["u"]
        matched = 0
        for _ in range(30):
            r = (await recv_json(ws, is_update("spot.order_book_update")))["result"]
            assert "full" not in r and r["U"] == local + 1 and r["u"] >= r["U"]
            apply(book, r["b"], r["a"])
            local = r["u"]
            _, snap, _ = await gate.public("/spot/order_book", "currency_pair=BTC_USDT&limit=100&with_id=true")
            if snap["id"] != local:
                continue
            bids, asks = top(book, 100)
            assert bids == [(Decimal(p), Decimal(q)) for p, q in snap["bids"]]
            assert asks == [(Decimal(p), Decimal(q)) for p, q in snap["asks"]]
            matched += 1
            if matched >= 3:
                break
        assert matched >= 1


async def test_futures_order_book_update_syncs_from_rest_snapshot(gate: Gate) -> None:
    """futures.order_book_update + REST with_id: the docs' U/u algorithm rebuilds the engine's book."""
    ex = gate.sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    async with ws_connect(gate, "gateio_futures_ws") as ws:
        await subscribe(ws, "futures.order_book_update", ["BTC_USDT", "100ms", "20"])
        cached = [(await recv_json(ws, is_update("futures.order_book_update")))["result"]]
        _, snap, _ = await gate.public("/futures/usdt/order_book", "contract=BTC_USDT&limit=20&with_id=true")
        base = snap["id"]
        book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
        apply(book, snap["bids"], snap["asks"])
        local = base
        checked = 0
        while checked < 3:
            r = cached.pop(0) if cached else (await recv_json(ws, is_update("futures.order_book_update")))["result"]
            assert r["l"] == "20" and all(isinstance(lv["s"], int) for lv in r["b"] + r["a"])
            if r["u"] < local + 1:
                continue
            assert r["U"] <= local + 1, "lost updates"
            apply(book, r["b"], r["a"])
            local = r["u"]
            uid, bids, asks = ex.book("BTC_USDT").depth(20)
            if uid == local:
                assert top(book, 20) == (bids, asks)
                checked += 1


async def test_spot_obu_first_push_full_then_increments(gate: Gate) -> None:
    """spot.obu ob.BTC_USDT.50: full first push with u, then U/u increments; a duplicate sub is refused."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.obu", ["ob.BTC_USDT.50"])
        first = (await recv_json(ws, is_update("spot.obu")))["result"]
        assert first["full"] is True and first["s"] == "ob.BTC_USDT.50"
        nxt = (await recv_json(ws, is_update("spot.obu")))["result"]
        assert nxt["U"] == first["u"] + 1
        err = await subscribe(ws, "spot.obu", ["ob.BTC_USDT.50"], req_id=9)
        assert err["error"] == {"code": 2, "message": "Alert sub ob.BTC_USDT.50"}


# -- private pushes -----------------------------------------------------------------------------------
async def test_spot_private_pushes_after_a_market_order(gate: Gate) -> None:
    """A filled market buy pushes spot.orders put then finish, spot.usertrades and spot.balances."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        for i, ch in enumerate(("spot.orders", "spot.usertrades")):
            ack = await subscribe(ws, ch, ["BTC_USDT"], secret=gate.secret, key=gate.key, req_id=20 + i)
            assert ack["result"] == {"status": "success"}
        await subscribe(ws, "spot.balances", None, secret=gate.secret, key=gate.key, req_id=30)
        _, o, _ = await gate.private("POST", "/spot/orders", body={
            "currency_pair": "BTC_USDT", "side": "buy", "type": "market", "amount": "50", "time_in_force": "ioc",
            "text": "t-push1"})
        seen: list[tuple[str, Any]] = []
        while not any(c == "spot.orders" and e == "finish" for c, e in seen):
            f = await recv_json(ws, lambda f: f.get("event") == "update")
            for item in f["result"]:
                if f["channel"] == "spot.orders" and item["id"] == o["id"]:
                    seen.append(("spot.orders", item["event"]))
                elif f["channel"] == "spot.usertrades" and item["order_id"] == o["id"]:
                    seen.append(("spot.usertrades", item["role"]))
        assert seen[0] == ("spot.orders", "put") and ("spot.usertrades", "taker") in seen
        bal = await recv_json(ws, is_update("spot.balances"))
        assert bal["result"][0]["currency"] in ("USDT", "BTC") and "change_type" in bal["result"][0]


async def test_futures_private_pushes_orders_usertrades_positions_balances(gate: Gate) -> None:
    """A futures market order pushes futures.orders (_new, filled), usertrades, positions and balances."""
    async with ws_connect(gate, "gateio_futures_ws") as ws:
        for i, (ch, payload) in enumerate((("futures.orders", ["1", "BTC_USDT"]),
                                           ("futures.usertrades", ["1", "BTC_USDT"]),
                                           ("futures.positions", ["1", "BTC_USDT"]),
                                           ("futures.balances", ["1"]))):
            ack = await subscribe(ws, ch, payload, secret=gate.secret, key=gate.key, req_id=40 + i)
            assert ack["result"] == {"status": "success"}, ack
        _, o, _ = await gate.private("POST", "/futures/usdt/orders", body={
            "contract": "BTC_USDT", "size": 4, "price": "0", "tif": "ioc"})
        got: dict[str, Any] = {}
        want = {"orders_first", "orders", "futures.usertrades", "futures.positions", "futures.balances"}
        while not want <= got.keys():
            f = await recv_json(ws, lambda f: f.get("event") == "update")
            item = f["result"][0]
            if f["channel"] == "futures.orders" and item["id"] == o["id"]:
                got.setdefault("orders_first", item["finish_as"])
                if item["status"] == "finished":
                    got["orders"] = item
            elif f["channel"] in ("futures.usertrades", "futures.positions", "futures.balances"):
                got[f["channel"]] = item
        assert got["orders_first"] == "_new" and got["orders"]["finish_as"] == "filled" and got["orders"]["size"] == 4
        assert got["futures.usertrades"]["size"] > 0 and got["futures.positions"]["size"] == 4
        assert got["futures.balances"]["change"] < 0 and got["futures.balances"]["currency"] == "usdt"


# -- faults -------------------------------------------------------------------------------------------
def arm(sim: SimServer, name: str, market: Market, **params: Any) -> None:
    sim.ctx.faults.arm(name, Venue.GATEIO, market, count=1, params=params)


async def test_fault_rest_429_has_gate_body_and_headers(gate: Gate) -> None:
    """rest_429 answers 429 TOO_MANY_REQUESTS with remaining 0 and a reset in the future."""
    arm(gate.sim, "rest_429", Market.SPOT, retry_after=2)
    status, body, headers = await gate.public("/spot/tickers")
    assert status == 429 and body["label"] == "TOO_MANY_REQUESTS"
    assert headers["X-Gate-RateLimit-Requests-Remain"] == "0"
    assert int(headers["X-Gate-RateLimit-Reset-Timestamp"]) > time.time() * 1000
    status, _, _ = await gate.public("/spot/tickers")
    assert status == 200


async def test_fault_rest_5xx_and_rest_slow(gate: Gate) -> None:
    """rest_5xx answers the configured status with a server label; rest_slow delays the answer."""
    arm(gate.sim, "rest_5xx", Market.FUTURES, status=500)
    status, body, _ = await gate.public("/futures/usdt/tickers")
    assert status == 500 and body["label"] == "SERVER_ERROR"
    arm(gate.sim, "rest_slow", Market.SPOT, ms=400)
    t0 = time.monotonic()
    status, _, _ = await gate.public("/spot/tickers")
    assert status == 200 and time.monotonic() - t0 >= 0.4


async def test_fault_order_reject(gate: Gate) -> None:
    """order_reject refuses the next placement with the mapped label; the one after goes through."""
    arm(gate.sim, "order_reject", Market.SPOT)
    order = {"currency_pair": "BTC_USDT", "side": "buy", "amount": "0.001", "price": "50000"}
    status, err, _ = await gate.private("POST", "/spot/orders", body=order)
    assert status == 400 and err["label"] == "BALANCE_NOT_ENOUGH"
    status, _, _ = await gate.private("POST", "/spot/orders", body=order)
    assert status == 201


async def test_fault_fill_before_ack_pushes_usertrade_before_put(gate: Gate) -> None:
    """fill_before_ack: spot.usertrades of an order arrives before its spot.orders put."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.orders", ["!all"], secret=gate.secret, key=gate.key, req_id=1)
        await subscribe(ws, "spot.usertrades", ["!all"], secret=gate.secret, key=gate.key, req_id=2)
        arm(gate.sim, "fill_before_ack", Market.SPOT)
        _, o, _ = await gate.private("POST", "/spot/orders", body={
            "currency_pair": "BTC_USDT", "side": "buy", "type": "market", "amount": "20", "time_in_force": "ioc"})
        order: list[str] = []
        while "orders:put" not in order:
            f = await recv_json(ws, lambda f: f.get("event") == "update")
            for item in f["result"]:
                if f["channel"] == "spot.orders" and item["id"] == o["id"]:
                    order.append(f"orders:{item['event']}")
                elif f["channel"] == "spot.usertrades" and item["order_id"] == o["id"]:
                    order.append("usertrades")
        assert order[0] == "usertrades"


async def test_fault_ws_drop_cuts_the_connection(gate: Gate) -> None:
    """ws_drop ends the socket without a close frame."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.book_ticker", ["BTC_USDT"])
        arm(gate.sim, "ws_drop", Market.SPOT)
        msg = await ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)


async def test_fault_ws_stall_pauses_then_resumes(gate: Gate) -> None:
    """ws_stall: no frame for params.seconds, then the stream resumes on the same socket."""
    async with ws_connect(gate, "gateio_futures_ws") as ws:
        await subscribe(ws, "futures.book_ticker", ["BTC_USDT"])
        await recv_json(ws, is_update("futures.book_ticker"))
        arm(gate.sim, "ws_stall", Market.FUTURES, seconds=1.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        gaps = []
        last = t0
        while loop.time() - t0 < 2.5:
            await recv_json(ws, is_update("futures.book_ticker"))
            gaps.append(loop.time() - last)
            last = loop.time()
        assert max(gaps) >= 0.9


async def test_fault_ws_stall_holds_pongs_too(gate: Gate) -> None:
    """A stalled socket is silent: a spot.ping sent when the stall begins is answered only after params.seconds."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        arm(gate.sim, "ws_stall", Market.SPOT, seconds=1.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await send(ws, {"time": int(time.time()), "channel": "spot.ping"})
        await recv_json(ws, lambda f: f.get("channel") == "spot.pong", timeout=5)
        assert loop.time() - t0 >= 0.9 and not ws.closed


async def test_fault_malformed_frame_is_not_json(gate: Gate) -> None:
    """malformed_frame writes one text frame that does not parse, then the stream goes on."""
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.book_ticker", ["BTC_USDT"])
        arm(gate.sim, "malformed_frame", Market.SPOT)
        bad = 0
        good_after = False
        for _ in range(50):
            msg = await ws.receive(timeout=5)
            try:
                json.loads(msg.data)
                good_after = bad > 0
            except ValueError:
                bad += 1
            if good_after:
                break
        assert bad == 1 and good_after


async def _obu_frames(gate: Gate, fault: str, n: int) -> list[tuple[int, int]]:
    async with ws_connect(gate, "gateio_spot_ws") as ws:
        await subscribe(ws, "spot.order_book_update", ["BTC_USDT", "20ms"])
        first = (await recv_json(ws, is_update("spot.order_book_update")))["result"]
        arm(gate.sim, fault, Market.SPOT)
        out = [(first["U"], first["u"])]
        while len(out) < n:
            r = (await recv_json(ws, is_update("spot.order_book_update")))["result"]
            out.append((r["U"], r["u"]))
        return out


async def test_fault_book_skip_leaves_a_gap(gate: Gate) -> None:
    """book_skip drops one update: some U is greater than the previous u + 1."""
    frames = await _obu_frames(gate, "book_skip", 8)
    assert any(b[0] > a[1] + 1 for a, b in itertools.pairwise(frames))


async def test_fault_book_duplicate_repeats_an_update(gate: Gate) -> None:
    """book_duplicate sends one update twice (same U/u)."""
    frames = await _obu_frames(gate, "book_duplicate", 8)
    assert any(a == b for a, b in itertools.pairwise(frames))


async def test_fault_book_reorder_swaps_two_updates(gate: Gate) -> None:
    """book_reorder sends one update after the next one (U goes backwards once)."""
    frames = await _obu_frames(gate, "book_reorder", 8)
    assert any(b[0] < a[0] for a, b in itertools.pairwise(frames))
    assert sorted(frames) == sorted(set(frames))  # nothing lost or repeated


async def test_spot_paging_open_orders_per_pair_and_my_trades_window(gate: Gate) -> None:
    """/spot/open_orders pages per pair; /spot/my_trades honours page, from/to and refuses deep pages and wide windows."""
    ex = gate.sim.ctx.exchanges[(Venue.GATEIO, Market.SPOT)]
    for i in range(5):
        ex.place(gate.account, "BTC_USDT", "buy", "limit", "gtc", qty=Decimal("0.0001"), price=Decimal(40000 + i))
    ex.place(gate.account, "ETH_USDT", "buy", "limit", "gtc", qty=Decimal("0.01"), price=Decimal(2000))
    for i in range(5):
        ex.place(gate.account, "BTC_USDT", "buy" if i % 2 == 0 else "sell", "market", "ioc", qty=Decimal("0.0001"))
    _, p1, _ = await gate.private("GET", "/spot/open_orders", "page=1&limit=2")
    _, p3, _ = await gate.private("GET", "/spot/open_orders", "page=3&limit=2")
    assert {g["currency_pair"]: len(g["orders"]) for g in p1} == {"BTC_USDT": 2, "ETH_USDT": 1}
    assert [(g["currency_pair"], g["total"]) for g in p3] == [("BTC_USDT", 1)]
    _, t1, _ = await gate.private("GET", "/spot/my_trades", "currency_pair=BTC_USDT&limit=2")
    _, t2, _ = await gate.private("GET", "/spot/my_trades", "currency_pair=BTC_USDT&limit=2&page=2")
    ids = [int(t["id"]) for t in t1 + t2]
    assert len(t1) == len(t2) == 2 and ids == sorted(ids, reverse=True)
    now = int(time.time())
    _, old, _ = await gate.private("GET", "/spot/my_trades", f"currency_pair=BTC_USDT&to={now - 3600}")
    assert old == []
    status, deep, _ = await gate.private("GET", "/spot/my_trades", "currency_pair=BTC_USDT&limit=1000&page=3")
    assert status == 400 and deep["label"] == "INVALID_PARAM_VALUE"
    status, wide, _ = await gate.private("GET", "/spot/my_trades",
                                         f"currency_pair=BTC_USDT&from={now - 31 * 86400}&to={now}")
    assert status == 400 and wide["label"] == "INVALID_PARAM_VALUE"


async def test_futures_paging_last_id_continues_below_the_last_row(gate: Gate) -> None:
    """/futures/usdt/orders and /my_trades: last_id continues strictly below the last id read, newest first."""
    ex = gate.sim.ctx.exchanges[(Venue.GATEIO, Market.FUTURES)]
    for i in range(5):
        ex.place(gate.account, "BTC_USDT", "buy", "limit", "gtc", qty=Decimal(1), price=Decimal(40000 + i))
    for i in range(5):
        ex.place(gate.account, "BTC_USDT", "buy" if i % 2 == 0 else "sell", "market", "ioc", qty=Decimal(1))
    _, o1, h = await gate.private("GET", "/futures/usdt/orders", "status=open&limit=3")
    _, o2, _ = await gate.private("GET", "/futures/usdt/orders", f"status=open&limit=3&last_id={o1[-1]['id']}")
    ids = [o["id"] for o in o1 + o2]
    assert h["X-Pagination-Total"] == "5" and len(ids) == 5 == len(set(ids)) and ids == sorted(ids, reverse=True)
    _, t1, _ = await gate.private("GET", "/futures/usdt/my_trades", "contract=BTC_USDT&limit=3")
    _, t2, _ = await gate.private("GET", "/futures/usdt/my_trades", f"contract=BTC_USDT&limit=3&last_id={t1[-1]['id']}")
    _, t3, _ = await gate.private("GET", "/futures/usdt/my_trades", "contract=BTC_USDT&limit=3&offset=3")
    tids = [t["id"] for t in t1 + t2]
    assert tids == sorted(tids, reverse=True) and len(tids) == len(set(tids)) and t2[:len(t3)] == t3
