"""MEXC Spot v3 REST (``/api/v3``), as the venue answers it (exchange-facts §1.8).

Public: ``GET ping``, ``time``, ``defaultSymbols``, ``exchangeInfo``, ``depth``, ``ticker/bookTicker``.
SIGNED (``X-MEXC-APIKEY`` + ``timestamp`` [+ ``recvWindow``] + ``signature``): ``order`` POST/GET/DELETE,
``order/test`` POST, ``openOrders`` GET/DELETE, ``account``, ``myTrades``, ``userDataStream``
POST/PUT/DELETE/GET, and ``capital/config/getall`` (ccxt's load_markets asks for it when it has keys).
Errors: ``{"code": <int>, "msg": "<text>"}`` (see ``errors``).

Samples (docs)::

    GET /api/v3/depth      {"lastUpdateId": 1112416, "bids": [["15.00000", "49999.00000"]], "asks": [["14.0000", "1.0000"]]}
    POST /api/v3/order     {"symbol":"MXUSDT","orderId":"06a480e69e604477bfb48dddd5f0b750","orderListId":-1,"price":"0.1",
                            "origQty":"50","type":"LIMIT","side":"BUY","transactTime":1666676533741}
    GET /api/v3/account    {"canTrade":true,"canWithdraw":true,"canDeposit":true,"updateTime":null,"accountType":"SPOT",
                            "balances":[{"asset":"NBNTEST","free":"1111078","locked":"33"}],"permissions":["SPOT"]}
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from .. import derivs
from . import auth
from . import frames as F
from .errors import MexcError, err, from_reject
from .frames import fmt

if TYPE_CHECKING:
    from .state import MexcState

VENUE, MARKET = "mexc", "spot"
_json = msgspec.json.encode

# MEXC order type -> engine (kind, tif) and back
TYPE_TO_ENGINE = {
    "LIMIT": ("limit", "gtc"),
    "LIMIT_MAKER": ("limit", "poc"),
    "IMMEDIATE_OR_CANCEL": ("limit", "ioc"),
    "FILL_OR_KILL": ("limit", "fok"),
    "MARKET": ("market", "ioc"),
}


def mexc_type(order: Any) -> str:
    if order.kind == "market":
        return "MARKET"
    return {"gtc": "LIMIT", "poc": "LIMIT_MAKER", "ioc": "IMMEDIATE_OR_CANCEL", "fok": "FILL_OR_KILL"}.get(
        order.tif, "LIMIT"
    )


def mexc_status(order: Any) -> str:
    if order.status == "open":
        return "PARTIALLY_FILLED" if order.filled > 0 else "NEW"
    if order.status == "filled":
        return "FILLED"
    return "PARTIALLY_CANCELED" if order.filled > 0 else "CANCELED"


def ok(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_json(body), status=status, content_type="application/json")


def error_response(e: MexcError) -> web.Response:
    return web.Response(body=e.body(), status=e.status, content_type="application/json", headers=e.headers)


# an instrument's status (POST /admin/rules) as exchangeInfo's ``status``: "1" online, "2" pause, "3" offline (docs)
_MEXC_STATUS = {"trading": "1", "halted": "2", "delisted": "3"}


def _decimals(step: Decimal) -> int:
    """Decimals of a power-of-ten step: 0.01 -> 2, 1 -> 0 (MEXC expresses precisions as digit counts)."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


def _dec(params: dict[str, str], name: str, required: bool = False) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise err(44444, f"{name} cannot be null")
        return None
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise err(33333, f"Parameter error: {name}") from None
    if not d.is_finite() or d <= 0:
        raise err(33333, f"Parameter error: {name}")
    return d


class Rest:
    """Route table + handlers; every handler is sync engine work wrapped in faults and signing checks."""

    def __init__(self, state: MexcState) -> None:
        self.s = state

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v3/"
        return [
            web.get(p + "ping", self._public(self.ping)),
            web.get(p + "time", self._public(self.time)),
            web.get(p + "defaultSymbols", self._public(self.default_symbols)),
            web.get(p + "exchangeInfo", self._public(self.exchange_info)),
            web.get(p + "depth", self._public(self.depth)),
            web.get(p + "klines", self._public(self.klines)),
            web.get(p + "ticker/bookTicker", self._public(self.book_ticker)),
            web.post(p + "order", self._signed(self.place)),
            web.post(p + "order/test", self._signed(self.place_test)),
            web.get(p + "order", self._signed(self.query)),
            web.delete(p + "order", self._signed(self.cancel)),
            web.get(p + "openOrders", self._signed(self.open_orders)),
            web.delete(p + "openOrders", self._signed(self.cancel_all)),
            web.get(p + "account", self._signed(self.account)),
            web.get(p + "myTrades", self._signed(self.my_trades)),
            web.post(p + "userDataStream", self._signed(self.uds_create)),
            web.put(p + "userDataStream", self._signed(self.uds_keepalive)),
            web.delete(p + "userDataStream", self._signed(self.uds_delete)),
            web.get(p + "userDataStream", self._signed(self.uds_list)),
            web.get(p + "capital/config/getall", self._signed(self.capital_config)),
            # ccxt's mexc.load_markets also fetches futures contracts; MEXC futures are not simulated
            web.get("/api/v1/contract/detail", self._public(self.contract_detail)),
        ]

    # ---- plumbing ----------------------------------------------------------------------------------
    async def _faults(self) -> tuple[web.Response | None, Any, float]:
        """(an early answer, a 5xx spec to apply after running, ms to hold the answer after running: rest_slow
        with ``params.after``, the client's crash window between the venue acting and the answer arriving)."""
        f = self.s.faults
        spec = f.take("rest_slow", VENUE, MARKET)
        if spec is not None and not spec.param("after", False):
            await asyncio.sleep(float(spec.param("ms", 2000)) / 1000.0)
        late_ms = float(spec.param("ms", 2000)) if spec is not None and spec.param("after", False) else 0.0
        spec = f.take("rest_429", VENUE, MARKET)
        if spec is not None:
            retry = str(spec.param("retry_after", 1))
            return error_response(err(429, **{"Retry-After": retry})), None, 0.0
        spec = f.take("rest_5xx", VENUE, MARKET)
        if spec is not None and not spec.param("after", False):
            status = int(spec.param("status", 503))
            return error_response(MexcError(status, err(503).msg if status == 503 else "Internal error", status)), None, 0.0
        return None, spec, late_ms  # a 5xx "after" spec: the request runs, the client still sees 5xx

    def _after_5xx(self, spec: Any, resp: web.Response) -> web.Response:
        if spec is None:
            return resp
        status = int(spec.param("status", 503))
        return error_response(MexcError(status, err(503).msg if status == 503 else "Internal error", status))

    def _public(self, fn: Callable[[dict[str, str]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            early, late, late_ms = await self._faults()
            if early is not None:
                return early
            try:
                resp = ok(fn(dict(request.query)))
            except MexcError as e:
                resp = error_response(e)
            if late_ms:
                await asyncio.sleep(late_ms / 1000.0)
            return self._after_5xx(late, resp)

        return handler

    def _signed(self, fn: Callable[[Any, dict[str, str]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            early, late, late_ms = await self._faults()
            if early is not None:
                return early
            raw_body = await request.read() if request.can_read_body else b""
            try:
                account, params = self._authenticate(request, raw_body)
                params.pop("signature", None)
                resp = ok(fn(account, params))
            except MexcError as e:
                resp = error_response(e)
            if late_ms:
                await asyncio.sleep(late_ms / 1000.0)
            return self._after_5xx(late, resp)

        return handler

    def _authenticate(self, request: web.Request, raw_body: bytes) -> tuple[Any, dict[str, str]]:
        """(account of the key, decoded params), once the signature checks over the query and body AS SENT:
        the request target's query still percent-encoded (``raw_path``; ``request.query_string`` is the
        decoded form, ``%2C`` -> ``,``) and the body bytes. A real server can only verify what it received."""
        key = request.headers.get("X-MEXC-APIKEY", "")
        if not key:
            raise err(400)
        account = self.s.account_by_key(key)
        if account is None:
            raise err(10072)
        params = auth.parse_body(raw_body.decode("utf-8", "replace"), request.content_type)
        params.update(request.query)  # decoded, for use; query wins on duplicates (docs)
        auth.verify(
            secret=self.s.secret_of(account),
            raw_query=request.raw_path.partition("?")[2],
            raw_body=raw_body,
            params=params,
            server_ms=self.s.clock_ms(),
        )
        return account, params

    def _inst(self, params: dict[str, str], public: bool = False) -> Any:
        sym = params.get("symbol")
        if not sym:
            raise err(44444, "symbol cannot be null")
        inst = self.s.instruments.get(sym)
        if inst is None:
            raise err(-1121) if public else err(10007)
        return inst

    # ---- public ------------------------------------------------------------------------------------
    def ping(self, params: dict[str, str]) -> Any:
        return {}

    def time(self, params: dict[str, str]) -> Any:
        return {"serverTime": self.s.clock_ms()}

    def default_symbols(self, params: dict[str, str]) -> Any:
        return {"code": 200, "data": sorted(self.s.instruments), "msg": None}

    def _symbol_info(self, inst: Any) -> dict[str, Any]:
        bp, qp = _decimals(inst.step), _decimals(inst.tick)
        return {
            "symbol": inst.venue_symbol,
            "status": _MEXC_STATUS[inst.status],
            "baseAsset": inst.base,
            "baseAssetPrecision": bp,
            "quoteAsset": inst.quote,
            "quotePrecision": qp,
            "quoteAssetPrecision": qp,
            "baseCommissionPrecision": bp,
            "quoteCommissionPrecision": qp,
            "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
            "isSpotTradingAllowed": inst.status == "trading",
            "isMarginTradingAllowed": False,
            "quoteAmountPrecision": fmt(inst.min_notional),
            "baseSizePrecision": fmt(inst.min_qty),
            "permissions": ["SPOT"],
            "filters": [],
            "maxQuoteAmount": "2000000",
            "makerCommission": fmt(inst.maker_fee),
            "takerCommission": fmt(inst.taker_fee),
            "quoteAmountPrecisionMarket": fmt(inst.min_notional),
            "maxQuoteAmountMarket": "100000",
            "fullName": inst.base,
            "tradeSideType": "1",
        }

    def exchange_info(self, params: dict[str, str]) -> Any:
        names: list[str]
        if params.get("symbol"):
            names = [params["symbol"]]
        elif params.get("symbols"):
            names = params["symbols"].split(",")
        else:
            names = sorted(self.s.instruments)
        infos = []
        for n in names:
            inst = self.s.instruments.get(n)
            if inst is None:
                raise err(-1121)
            infos.append(self._symbol_info(inst))
        return {
            "timezone": "CST",
            "serverTime": time.time_ns() // 1_000_000,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": infos,
        }

    def depth(self, params: dict[str, str]) -> Any:
        inst = self._inst(params, public=True)
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise err(33333) from None
        limit = max(1, min(limit, 5000))
        uid, bids, asks = self.s.exchange.book(inst.venue_symbol).depth(limit)
        return {
            "lastUpdateId": uid,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
            "timestamp": time.time_ns() // 1_000_000,
        }

    def klines(self, params: dict[str, str]) -> Any:
        """GET /api/v3/klines (docs, "Kline/Candlestick Data"): rows [open time ms, open, high, low, close, volume,
        close time ms, quote asset volume], oldest first; the newest ``limit`` (default 500, max 1000) unless
        ``startTime`` / ``endTime`` (ms) bound them. Candles are built from the engine's trades (``sim/derivs.py``)."""
        inst = self._inst(params, public=True)
        step = F.REST_KLINE_INTERVALS.get(params.get("interval") or "")
        if step is None:
            raise err(33333) if params.get("interval") else err(44444, "interval cannot be null")
        try:
            limit = max(1, min(int(params.get("limit") or 500), 1000))
            start_ms = int(params.get("startTime") or 0)
            end_ms = int(params.get("endTime") or 0)
        except ValueError:
            raise err(33333) from None
        rows = derivs.of(self.s.exchange).latest(inst.venue_symbol, step, derivs.CANDLE_KEEP)
        rows = [k for k in rows if k.t * 1000 >= start_ms and (not end_ms or k.t * 1000 <= end_ms)]
        rows = rows[:limit] if start_ms else rows[-limit:]
        return [[k.t * 1000, fmt(k.o), fmt(k.h), fmt(k.l), fmt(k.c), fmt(k.v), (k.t + step) * 1000,
                 fmt(round(k.quote, 8))] for k in rows]

    def _bt(self, inst: Any) -> dict[str, Any]:
        bp, bq, ap, aq = self.s.exchange.book(inst.venue_symbol).best()
        return {
            "symbol": inst.venue_symbol,
            "bidPrice": fmt(bp), "bidQty": fmt(bq), "askPrice": fmt(ap), "askQty": fmt(aq),
        }

    def book_ticker(self, params: dict[str, str]) -> Any:
        if params.get("symbol"):
            return self._bt(self._inst(params, public=True))
        return [self._bt(i) for _, i in sorted(self.s.instruments.items())]

    def contract_detail(self, params: dict[str, str]) -> Any:
        return {"success": True, "code": 0, "data": []}

    # ---- orders ------------------------------------------------------------------------------------
    def _order_obj(self, o: Any) -> dict[str, Any]:
        """GET /api/v3/order and openOrders item (docs; ``origQty`` as openOrders/allOrders spell it)."""
        typ = mexc_type(o)
        return {
            "symbol": o.inst.venue_symbol,
            "orderId": o.id,
            "orderListId": -1,
            "clientOrderId": o.client_id or None,
            "price": fmt(o.price),
            "origQty": fmt(o.qty),
            "executedQty": fmt(o.filled),
            "cummulativeQuoteQty": fmt(o.filled_quote),
            "status": mexc_status(o),
            "timeInForce": "GTC" if typ in ("LIMIT", "LIMIT_MAKER") else None,
            "type": typ,
            "side": o.side.upper(),
            "stopPrice": None,
            "icebergQty": None,
            "time": o.create_ns // 1_000_000,
            "updateTime": o.update_ns // 1_000_000,
            "isWorking": o.status == "open",
            "origQuoteOrderQty": fmt(o.quote_qty),
        }

    def _validate_order(self, params: dict[str, str]) -> dict[str, Any]:
        inst = self._inst(params)
        side = params.get("side", "")
        if not side:
            raise err(44444, "side cannot be null")
        if side not in ("BUY", "SELL"):
            raise err(33333, "Parameter error: side")
        typ = params.get("type", "")
        if not typ:
            raise err(44444, "type cannot be null")
        if typ not in TYPE_TO_ENGINE:
            raise err(33333, "Parameter error: type")
        kind, tif = TYPE_TO_ENGINE[typ]
        qty = _dec(params, "quantity")
        quote_qty = _dec(params, "quoteOrderQty")
        price = _dec(params, "price")
        if kind == "limit":
            if qty is None:
                raise err(44444, "quantity cannot be null")
            if price is None:
                raise err(44444, "price cannot be null")
        elif qty is None and quote_qty is None:
            raise err(44444, "quantity or quoteOrderQty cannot be null")
        cid = params.get("newClientOrderId", "")
        return {
            "inst": inst, "side": side.lower(), "kind": kind, "tif": tif, "qty": qty,
            "price": price if kind == "limit" else None, "client_id": cid,
            "quote_qty": quote_qty if qty is None else None,
        }

    def _reject_ctx(self, inst: Any) -> dict[str, Any]:
        return {"min_notional": fmt(inst.min_notional), "min_qty": fmt(inst.min_qty),
                "max_qty": fmt(inst.max_qty), "quote": inst.quote, "base": inst.base}

    def place(self, account: Any, params: dict[str, str]) -> Any:
        a = self._validate_order(params)
        inst = a["inst"]
        spec = self.s.faults.take("order_reject", VENUE, MARKET)
        if spec is not None:
            reason = str(spec.param("reason", "INSUFFICIENT_BALANCE"))
            raise from_reject(reason, "", self._reject_ctx(inst))
        if self.s.faults.take("fill_before_ack", VENUE, MARKET) is not None:
            self.s.swap_next_ack = True
        try:
            o = self.s.exchange.place(
                account, inst, a["side"], a["kind"], a["tif"], a["qty"] if a["qty"] is not None else Decimal(0),
                price=a["price"], client_id=a["client_id"], quote_qty=a["quote_qty"],
            )
        except self.s.SimReject as r:
            raise from_reject(r.reason, getattr(r, "message", ""), self._reject_ctx(inst)) from None
        finally:
            self.s.swap_next_ack = False
        return {
            "symbol": inst.venue_symbol,
            "orderId": o.id,
            "orderListId": -1,
            "price": fmt(o.price),
            "origQty": fmt(o.qty),
            "type": mexc_type(o),
            "side": o.side.upper(),
            "transactTime": o.create_ns // 1_000_000,
        }

    def place_test(self, account: Any, params: dict[str, str]) -> Any:
        self._validate_order(params)
        return {}

    def _ids(self, params: dict[str, str]) -> tuple[str, str]:
        oid = params.get("orderId", "")
        cid = params.get("origClientOrderId", "")
        if not oid and not cid:
            raise err(700004)
        return oid, cid

    def query(self, account: Any, params: dict[str, str]) -> Any:
        inst = self._inst(params)
        oid, cid = self._ids(params)
        try:
            o = self.s.exchange.get_order(account, inst, order_id=oid, client_id=cid)
        except self.s.SimReject:
            raise err(-2013) from None
        return self._order_obj(o)

    def _cancel_obj(self, o: Any, new_cid: str = "") -> dict[str, Any]:
        typ = mexc_type(o)
        return {
            "symbol": o.inst.venue_symbol,
            "origClientOrderId": o.client_id or None,
            "orderId": o.id,
            "clientOrderId": new_cid or o.client_id or None,
            "price": fmt(o.price),
            "origQty": fmt(o.qty),
            "executedQty": fmt(o.filled),
            "cummulativeQuoteQty": fmt(o.filled_quote),
            "status": mexc_status(o),
            "timeInForce": "GTC" if typ in ("LIMIT", "LIMIT_MAKER") else None,
            "type": typ,
            "side": o.side.upper(),
        }

    def cancel(self, account: Any, params: dict[str, str]) -> Any:
        inst = self._inst(params)
        oid, cid = self._ids(params)
        try:
            o = self.s.exchange.cancel(account, inst, order_id=oid, client_id=cid)
        except self.s.SimReject as r:
            raise from_reject(r.reason, getattr(r, "message", "")) from None
        return self._cancel_obj(o, params.get("newClientOrderId", ""))

    def open_orders(self, account: Any, params: dict[str, str]) -> Any:
        inst = self._inst(params)
        return [self._order_obj(o) for o in self.s.exchange.open_orders(account, inst)]

    def cancel_all(self, account: Any, params: dict[str, str]) -> Any:
        raw = params.get("symbol", "")
        if not raw:
            raise err(44444, "symbol cannot be null")
        names = raw.split(",")
        if len(names) > 5:
            raise err(33333, "Parameter error: symbol")
        out = []
        for n in names:
            inst = self._inst({"symbol": n})
            for o in self.s.exchange.cancel_all(account, inst):
                d = self._cancel_obj(o)
                d["orderListId"] = -1
                out.append(d)
        return out

    # ---- account -----------------------------------------------------------------------------------
    def account(self, account: Any, params: dict[str, str]) -> Any:
        bals = self.s.exchange.balances(account)
        return {
            "makerCommission": None,
            "takerCommission": None,
            "buyerCommission": None,
            "sellerCommission": None,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": None,
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": fmt(b.available), "locked": fmt(b.locked)}
                for asset, b in sorted(bals.items())
                if b.available or b.locked
            ],
            "permissions": ["SPOT"],
        }

    def my_trades(self, account: Any, params: dict[str, str]) -> Any:
        """``symbol`` (mandatory), ``orderId``, ``startTime``/``endTime`` (ms, both inclusive), ``limit`` (default
        100, clamped to 1..100). When more trades match than ``limit``, the newest ``limit`` are returned, newest
        first (live order and choice are not documented: see specs/sim-deviations.md)."""
        inst = self._inst(params)
        try:
            limit = int(params.get("limit") or 100)
            start = int(params["startTime"]) if params.get("startTime") else None
            end = int(params["endTime"]) if params.get("endTime") else None
        except ValueError:
            raise err(33333) from None
        if start is not None and end is not None and start > end:
            raise err(33333, "Parameter error: startTime > endTime")
        limit = max(1, min(limit, 100))
        fills = []
        for f in self.s.exchange.my_trades(account, inst, order_id=params.get("orderId", ""),
                                           limit=max(1, len(account.fills))):  # newest first
            ms = f.ts_ns // 1_000_000
            if (end is not None and ms > end) or (start is not None and ms < start):
                continue
            fills.append(f)
            if len(fills) >= limit:
                break
        return [
            {
                "symbol": f.inst.venue_symbol,
                "id": str(f.trade_id),
                "orderId": f.order_id,
                "orderListId": -1,
                "price": fmt(f.price),
                "qty": fmt(f.qty),
                "quoteQty": fmt(f.quote_qty),
                "commission": fmt(f.fee),
                "commissionAsset": f.fee_asset,
                "time": f.ts_ns // 1_000_000,
                "isBuyer": f.side == "buy",
                "isMaker": bool(f.is_maker),
                "isBestMatch": True,
                "isSelfTrade": False,
                "clientOrderId": f.client_id or None,
            }
            for f in fills
        ]

    def capital_config(self, account: Any, params: dict[str, str]) -> Any:
        assets = sorted({i.base for i in self.s.instruments.values()} | {i.quote for i in self.s.instruments.values()})
        return [{"coin": a, "name": a, "networkList": []} for a in assets]

    # ---- user data stream --------------------------------------------------------------------------
    def uds_create(self, account: Any, params: dict[str, str]) -> Any:
        key = self.s.listen_keys.create(account)
        if key is None:
            raise err(33333, "listenKey limit reached")
        return {"listenKey": key}

    def uds_keepalive(self, account: Any, params: dict[str, str]) -> Any:
        key = params.get("listenKey", "")
        if not key:
            raise err(44444, "listenKey cannot be null")
        if not self.s.listen_keys.keep_alive(account, key):
            raise err(730002)
        return {"listenKey": key}

    def uds_delete(self, account: Any, params: dict[str, str]) -> Any:
        key = params.get("listenKey", "")
        if not key:
            raise err(44444, "listenKey cannot be null")
        if not self.s.listen_keys.delete(account, key):
            raise err(730002)
        return {"listenKey": key}

    def uds_list(self, account: Any, params: dict[str, str]) -> Any:
        return {"listenKey": self.s.listen_keys.of_account(account)}


__all__ = ["TYPE_TO_ENGINE", "Rest", "mexc_status", "mexc_type"]
