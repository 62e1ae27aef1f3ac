"""Gate.io spot REST (/api/v4/spot/...), exchange-facts §2.5; payload shapes from Gate's docs.

Public: currency_pairs, currency_pairs/{pair}, currencies, tickers, order_book (``with_id``), trades, time.
Private (signed): accounts, orders (create/get/list/cancel/cancel all), open_orders, my_trades, fee.
Stubs that clients call while loading (documented in specs/sim-deviations.md): ``/margin/currency_pairs``
(no margin markets: ``[]``) and ``/account/detail`` (classic account, key mode 1).

Paging (docs; assumptions where they are silent are in specs/sim-deviations.md, "Gate.io REST paging"):

* ``/spot/open_orders``: ``page`` (from 1) and ``limit`` (max 100) apply *per currency pair*; a pair with no
  orders on that page is left out; ``total`` is the pair's count on the page;
* ``/spot/orders``: newest first; ``page``/``limit`` (max 100 for open, 1000 for finished); for finished orders
  ``from``/``to`` (unix s, both inclusive) filter on the order's end time; open orders ignore them;
* ``/spot/my_trades``: newest first; ``from``/``to`` inclusive on the trade time; neither given = the last 7 days,
  one given = 7 days from (to) it; a window over 30 days is refused, and so is ``limit * (page - 1) > 1000``.

Order (FULL) [docs]::

    {"id":"1852454420","text":"t-abc123","amend_text":"-","create_time":"1710488334","update_time":"1710488334",
     "create_time_ms":1710488334073,"update_time_ms":1710488334074,"status":"closed","currency_pair":"BTC_USDT",
     "type":"limit","account":"unified","side":"buy","amount":"0.001","price":"65000","time_in_force":"gtc",
     "iceberg":"0","left":"0","filled_amount":"0.001","fill_price":"63.4693","filled_total":"63.4693",
     "avg_deal_price":"63469.3","fee":"0.00000022","fee_currency":"BTC","point_fee":"0","gt_fee":"0",
     "gt_maker_fee":"0","gt_taker_fee":"0","gt_discount":false,"rebated_fee":"0","rebated_fee_currency":"USDT",
     "finish_as":"filled"}
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from arb.core.enums import Market, Venue
from arb.sim import derivs
from arb.sim.engine import SimFill, SimOrder, SimReject
from arb.sim.gateio.book_feed import fmt
from arb.sim.gateio.common import (
    CANDLE_INTERVALS,
    check_text,
    dec,
    json_body,
    ms,
    ms_frac,
    precision_of,
    qbool,
    qint,
    qreq,
    sec,
    user_id,
)
from arb.sim.gateio.context import API, GateContext, json_response
from arb.sim.gateio.errors import GateError, from_reject, invalid_param, missing_param

DEFAULT_TEXT = "apiv4"
WEEK_S = 7 * 86400
MAX_TRADES_SPAN_S = 30 * 86400
MAX_TRADES_DEPTH = 1000  # my_trades: limit * (page - 1) <= 1000 (docs "100,0", read strictly)  # what Gate puts in `text` for an API order placed without one (docs sample)

_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether", "NEIRO": "Neiro"}




def candle_json(k: Any) -> list[str]:
    """A ``derivs.SimCandle`` as GET /spot/candlesticks's first seven columns (APIv4 docs, "Market K-line chart"):
    unix s, quote volume, close, high, low, open, base volume."""
    return [str(k.t), fmt(round(k.quote, 8)), fmt(k.c), fmt(k.h), fmt(k.l), fmt(k.o), fmt(k.v)]


def spot_status(o: SimOrder) -> str:
    if o.status == "open":
        return "open"
    return "closed" if o.status == "filled" else "cancelled"


def order_json(o: SimOrder, mode: str = "FULL") -> dict[str, Any]:
    """A SimOrder as Gate's spot Order object (ACK / RESULT / FULL)."""
    text = o.client_id or DEFAULT_TEXT
    if mode == "ACK":
        return {"id": o.id, "text": text, "amend_text": "-"}
    inst = o.inst
    by_quote = o.quote_qty is not None
    amount = o.quote_qty if by_quote else o.qty
    if by_quote:
        left = Decimal(0) if o.status == "filled" else max(Decimal(0), o.quote_qty - o.filled_quote)
    else:
        left = o.left
    avg = o.avg_price
    body: dict[str, Any] = {
        "id": o.id,
        "text": text,
        "amend_text": "-",
        "create_time": str(sec(o.create_ns)),
        "update_time": str(sec(o.update_ns)),
        "create_time_ms": ms(o.create_ns),
        "update_time_ms": ms(o.update_ns),
        "status": spot_status(o),
        "currency_pair": inst.venue_symbol,
        "type": o.kind,
        "account": "spot",
        "side": o.side,
        "amount": fmt(amount),
        "price": fmt(o.price) if o.price is not None else "0",
        "time_in_force": o.tif,
        "iceberg": "0",
        "left": fmt(left),
        "filled_amount": fmt(o.filled),
        "fill_price": fmt(o.filled_quote),
        "filled_total": fmt(o.filled_quote),
        "avg_deal_price": fmt(avg) if avg else "0",
        "finish_as": o.finish_as,
    }
    if mode == "FULL":
        body.update({
            "fee": fmt(o.fee),
            "fee_currency": o.fee_asset,
            "point_fee": "0",
            "gt_fee": "0",
            "gt_maker_fee": "0",
            "gt_taker_fee": "0",
            "gt_discount": False,
            "rebated_fee": "0",
            "rebated_fee_currency": inst.quote,
        })
    return body


def trade_json(f: SimFill) -> dict[str, Any]:
    """A SimFill as Gate's spot my_trades entry."""
    return {
        "id": str(f.trade_id),
        "create_time": str(sec(f.ts_ns)),
        "create_time_ms": ms_frac(f.ts_ns),
        "currency_pair": f.inst.venue_symbol,
        "side": f.side,
        "role": "maker" if f.is_maker else "taker",
        "amount": fmt(f.qty),
        "price": fmt(f.price),
        "order_id": f.order_id,
        "fee": fmt(f.fee),
        "fee_currency": f.fee_asset,
        "point_fee": "0",
        "gt_fee": "0",
        "amend_text": "-",
        "sequence_id": str(f.trade_id),
        "text": f.client_id or DEFAULT_TEXT,
    }


class SpotRest:
    def __init__(self, g: GateContext) -> None:
        self.g = g
        self.ex = g.spot

    def _inst(self, pair: str) -> Any:
        inst = self.ex.instruments.get(pair)
        if inst is None:
            raise GateError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")
        return inst

    # -- public ----------------------------------------------------------------------------------
    def _pair_json(self, inst: Any) -> dict[str, Any]:
        return {
            "id": inst.venue_symbol,
            "base": inst.base,
            "base_name": _NAMES.get(inst.base, inst.base),
            "quote": inst.quote,
            "quote_name": _NAMES.get(inst.quote, inst.quote),
            "fee": fmt(inst.taker_fee * 100),
            "min_base_amount": fmt(inst.min_qty),
            "min_quote_amount": fmt(inst.min_notional) if inst.min_notional else None,
            "max_base_amount": fmt(inst.max_qty) if inst.max_qty else None,
            "max_quote_amount": None,
            "amount_precision": precision_of(inst.step),
            "precision": precision_of(inst.tick),
            "trade_status": "tradable" if inst.status == "trading" else "untradable",
            "sell_start": 1516378650,
            "buy_start": 1516378650,
            "delisting_time": inst.status_ns // 1_000_000_000 if inst.status == "delisted" else 0,
            "type": "normal",
            "trade_url": f"https://www.gate.io/trade/{inst.venue_symbol}",
            "st_tag": False,
        }

    async def currency_pairs(self, request: web.Request) -> web.Response:
        return json_response([self._pair_json(i) for i in self.ex.instruments.values()])

    async def currency_pair(self, request: web.Request) -> web.Response:
        return json_response(self._pair_json(self._inst(request.match_info["pair"])))

    async def currencies(self, request: web.Request) -> web.Response:
        assets = sorted({a for i in self.ex.instruments.values() for a in (i.base, i.quote)})
        out = []
        for a in assets:
            out.append({
                "currency": a, "name": _NAMES.get(a, a), "delisted": False, "withdraw_disabled": False,
                "withdraw_delayed": False, "deposit_disabled": False, "trade_disabled": False,
                "fixed_rate": "", "chain": a,
                "chains": [{"name": a, "addr": "", "withdraw_disabled": False, "withdraw_delayed": False,
                            "deposit_disabled": False}],
            })
        return json_response(out)

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"server_time": time.time_ns() // 1_000_000})

    def _ticker(self, inst: Any) -> dict[str, Any]:
        book = self.ex.book(inst)
        bp, bq, ap, aq = book.best()
        sym = inst.venue_symbol
        last = self.ex.last_price.get(sym) or book.mid() or Decimal(0)
        trades = self.ex.trades.get(sym) or ()
        prices = [t.price for t in trades]
        base_vol = self.ex.volume_24h.get(sym, Decimal(0))
        first = prices[0] if prices else last
        change = ((last - first) / first * 100) if first else Decimal(0)
        return {
            "currency_pair": sym,
            "last": fmt(last),
            "lowest_ask": fmt(ap) if ap is not None else "",
            "lowest_size": fmt(aq) if ap is not None else "",
            "highest_bid": fmt(bp) if bp is not None else "",
            "highest_size": fmt(bq) if bp is not None else "",
            "change_percentage": fmt(round(change, 2)),
            "base_volume": fmt(base_vol),
            "quote_volume": fmt(round(base_vol * last, 8)),
            "high_24h": fmt(max(prices) if prices else last),
            "low_24h": fmt(min(prices) if prices else last),
        }

    async def tickers(self, request: web.Request) -> web.Response:
        pair = request.query.get("currency_pair")
        insts = [self._inst(pair)] if pair else list(self.ex.instruments.values())
        return json_response([self._ticker(i) for i in insts])

    async def order_book(self, request: web.Request) -> web.Response:
        inst = self._inst(qreq(request, "currency_pair"))
        limit = qint(request, "limit", 10, 1, 1000)
        interval = request.query.get("interval", "0")
        if interval not in ("0", ""):
            try:
                Decimal(interval)
            except ArithmeticError:
                raise invalid_param("interval", interval) from None
        with_id = qbool(request, "with_id")
        book = self.ex.book(inst)
        uid, bids, asks = book.depth(limit)
        now = time.time_ns() // 1_000_000
        body: dict[str, Any] = {}
        if with_id:
            body["id"] = uid
        body["current"] = now
        body["update"] = (book.update_ns // 1_000_000) or now
        body["asks"] = [[fmt(p), fmt(q)] for p, q in asks]
        body["bids"] = [[fmt(p), fmt(q)] for p, q in bids]
        return json_response(body)

    async def trades(self, request: web.Request) -> web.Response:
        inst = self._inst(qreq(request, "currency_pair"))
        limit = qint(request, "limit", 100, 1, 1000)
        last_id = request.query.get("last_id")
        trades = self.ex.recent_trades(inst, 1000)
        if last_id:
            try:
                lid = int(last_id)
            except ValueError:
                raise invalid_param("last_id", last_id) from None
            trades = [t for t in trades if t.trade_id < lid]
        out = [{
            "id": str(t.trade_id),
            "create_time": str(sec(t.ts_ns)),
            "create_time_ms": ms_frac(t.ts_ns),
            "currency_pair": inst.venue_symbol,
            "side": t.taker_side,
            "amount": fmt(t.qty),
            "price": fmt(t.price),
            "sequence_id": str(t.trade_id),
        } for t in trades[:limit]]
        return json_response(out)

    async def candlesticks(self, request: web.Request) -> web.Response:
        """GET /spot/candlesticks: the newest ``limit`` candles of ``interval`` (from trades, ``sim/derivs.py``),
        oldest first, each with its eighth column "true" once its window is over (the newest is usually "false")."""
        inst = self._inst(qreq(request, "currency_pair"))
        iv = request.query.get("interval") or "30m"
        step = CANDLE_INTERVALS.get(iv)
        if step is None:
            raise invalid_param("interval", iv)
        limit = qint(request, "limit", 100, 1, 1000)
        now_s = sec(time.time_ns())
        rows = []
        for k in derivs.of(self.ex).latest(inst.venue_symbol, step, limit):
            rows.append([*candle_json(k), "true" if k.t + step <= now_s else "false"])
        return json_response(rows)

    async def margin_pairs(self, request: web.Request) -> web.Response:
        return json_response([])

    async def account_detail(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        return json_response({"user_id": user_id(acc), "ip_whitelist": [], "currency_pairs": [],
                              "key": {"mode": 1}, "tier": 0, "tier_expire_time": "0001-01-01T00:00:00Z",
                              "copy_trading_role": 0})

    # -- private ---------------------------------------------------------------------------------
    async def accounts(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        cur = request.query.get("currency")
        bals = self.ex.balances(acc)
        out = []
        for asset in sorted(bals):
            if cur and asset != cur:
                continue
            b = bals[asset]
            out.append({"currency": asset, "available": fmt(b.available), "locked": fmt(b.locked),
                        "update_id": self.g.balance_update_id(acc, asset)})
        if cur and not out:
            out.append({"currency": cur, "available": "0", "locked": "0", "update_id": 0})
        return json_response(out)

    async def create_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        body = await json_body(request)
        pair = body.get("currency_pair")
        if not pair:
            raise missing_param("currency_pair")
        inst = self._inst(str(pair))
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise (missing_param("side") if side is None else invalid_param("side", side))
        kind = body.get("type", "limit") or "limit"
        if kind not in ("limit", "market"):
            raise invalid_param("type", kind)
        account = body.get("account", "spot") or "spot"
        if account != "spot":
            raise invalid_param("account", account)
        tif = body.get("time_in_force", "gtc" if kind == "limit" else "ioc") or "gtc"
        if tif not in ("gtc", "ioc", "poc", "fok") or (kind == "market" and tif not in ("ioc", "fok")):
            raise invalid_param("time_in_force", tif)
        text = check_text(body.get("text"))
        mode = body.get("action_mode", "FULL") or "FULL"
        if mode not in ("ACK", "RESULT", "FULL"):
            raise invalid_param("action_mode", mode)
        amount = dec("amount", body.get("amount"))
        assert amount is not None
        if amount <= 0:
            raise invalid_param("amount", body.get("amount"))
        price = None
        if kind == "limit":
            price = dec("price", body.get("price"))
            assert price is not None
            if price <= 0:
                raise invalid_param("price", body.get("price"))
            if price % inst.tick:
                raise GateError(400, "INVALID_PRECISION", f"Invalid precision: price {body.get('price')}")
        if not (kind == "market" and side == "buy") and amount % inst.step:
            raise GateError(400, "INVALID_PRECISION", f"Invalid precision: amount {body.get('amount')}")
        spec = self.g.faults.take("order_reject", Venue.GATEIO, Market.SPOT)
        if spec is not None:
            reason = str(spec.param("reason", "INSUFFICIENT_BALANCE"))
            raise from_reject(Market.SPOT, reason, "order rejected (fault)")
        try:
            if kind == "market" and side == "buy":
                o = self.ex.place(acc, inst, side, kind, tif, quote_qty=amount, client_id=text)
            else:
                o = self.ex.place(acc, inst, side, kind, tif, qty=amount, price=price, client_id=text)
        except SimReject as exc:
            raise self._reject(exc, inst, amount, price) from None
        return json_response(order_json(o, mode), status=201)

    def _reject(self, exc: SimReject, inst: Any, amount: Decimal, price: Decimal | None) -> GateError:
        if exc.reason in ("BELOW_MIN_NOTIONAL", "BELOW_MIN_QTY"):
            # real answer (ccxt gate.py): "Your order size 0.003749448 USDT is too small. The minimum is 3 USDT"
            if exc.reason == "BELOW_MIN_NOTIONAL" and inst.min_notional:
                size = amount * price if price is not None else amount
                msg = f"Your order size {fmt(size)} {inst.quote} is too small. The minimum is {fmt(inst.min_notional)} {inst.quote}"
            else:
                msg = f"Your order size {fmt(amount)} {inst.base} is too small. The minimum is {fmt(inst.min_qty)} {inst.base}"
            return GateError(400, "INVALID_PARAM_VALUE", msg)
        return from_reject(Market.SPOT, exc.reason, exc.message)

    def _lookup(self, request: web.Request, acc: Any) -> SimOrder:
        oid = request.match_info["order_id"]
        pair = request.query.get("currency_pair")
        inst = self._inst(pair) if pair else None
        try:
            if oid.startswith("t-"):
                return self.ex.get_order(acc, inst, client_id=oid)
            return self.ex.get_order(acc, inst, order_id=oid)
        except SimReject as exc:
            raise from_reject(Market.SPOT, exc.reason, exc.message) from None

    async def get_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        if not request.query.get("currency_pair"):
            raise missing_param("currency_pair")
        return json_response(order_json(self._lookup(request, acc)))

    async def cancel_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        pair = request.query.get("currency_pair")
        if not pair:
            raise missing_param("currency_pair")
        inst = self._inst(pair)
        oid = request.match_info["order_id"]
        try:
            if oid.startswith("t-"):
                o = self.ex.cancel(acc, inst, client_id=oid)
            else:
                o = self.ex.cancel(acc, inst, order_id=oid)
        except SimReject as exc:
            raise from_reject(Market.SPOT, exc.reason, exc.message) from None
        mode = request.query.get("action_mode", "FULL")
        return json_response(order_json(o, mode if mode in ("ACK", "RESULT", "FULL") else "FULL"))

    async def list_orders(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        pair = qreq(request, "currency_pair")
        status = qreq(request, "status")
        if status not in ("open", "finished"):
            raise invalid_param("status", status)
        inst = self._inst(pair)
        limit = qint(request, "limit", 100, 1, 100 if status == "open" else 1000)
        page = qint(request, "page", 1, 1)
        side = request.query.get("side")
        if status == "open":
            orders = sorted(self.ex.open_orders(acc, inst), key=lambda o: o.seq, reverse=True)
        else:
            lo = qint(request, "from", 0, 0)
            hi = qint(request, "to", 0, 0)
            orders = self.ex.finished_orders(acc, inst, limit=len(acc.finished))
            if lo or hi:  # on the order's end time (docs), both ends inclusive
                orders = [o for o in orders if sec(o.update_ns) >= lo and (not hi or sec(o.update_ns) <= hi)]
        if side:
            orders = [o for o in orders if o.side == side]
        orders = orders[(page - 1) * limit: page * limit]
        return json_response([order_json(o) for o in orders])

    async def open_orders(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        page = qint(request, "page", 1, 1)
        limit = qint(request, "limit", 100, 1, 100)  # per currency pair (docs)
        by_pair: dict[str, list[SimOrder]] = {}
        for o in sorted(self.ex.open_orders(acc), key=lambda o: o.seq, reverse=True):
            by_pair.setdefault(o.inst.venue_symbol, []).append(o)
        out = []
        for p, os in by_pair.items():
            chunk = os[(page - 1) * limit: page * limit]
            if chunk:
                out.append({"currency_pair": p, "total": len(chunk), "orders": [order_json(o) for o in chunk]})
        return json_response(out)

    async def cancel_all(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        pair = request.query.get("currency_pair")
        inst = self._inst(pair) if pair else None
        side = request.query.get("side")
        if side is not None and side not in ("buy", "sell"):
            raise invalid_param("side", side)
        cancelled = self.ex.cancel_all(acc, inst, side)
        return json_response([order_json(o) for o in cancelled])

    async def my_trades(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        pair = request.query.get("currency_pair")
        inst = self._inst(pair) if pair else None
        limit = qint(request, "limit", 100, 1, 1000)
        page = qint(request, "page", 1, 1)
        if limit * (page - 1) > MAX_TRADES_DEPTH:
            raise invalid_param("page", request.query.get("page"))
        lo = qint(request, "from", 0, 0)
        hi = qint(request, "to", 0, 0)
        if not lo and not hi:
            hi = int(time.time())
            lo = hi - WEEK_S
        elif not hi:
            hi = lo + WEEK_S
        elif not lo:
            lo = hi - WEEK_S
        if hi - lo > MAX_TRADES_SPAN_S:
            raise GateError(400, "INVALID_PARAM_VALUE", "time range can not exceed 30 days")
        oid = request.query.get("order_id", "")
        fills = [f for f in self.ex.my_trades(acc, inst, order_id=oid, limit=len(acc.fills))
                 if lo <= sec(f.ts_ns) <= hi]
        return json_response([trade_json(f) for f in fills[(page - 1) * limit: page * limit]])

    async def fee(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        pair = request.query.get("currency_pair")
        inst = self._inst(pair) if pair else next(iter(self.ex.instruments.values()))
        return json_response({"user_id": user_id(acc), "taker_fee": fmt(inst.taker_fee),
                              "maker_fee": fmt(inst.maker_fee), "gt_discount": False, "gt_taker_fee": "0",
                              "gt_maker_fee": "0", "loan_fee": "0", "point_type": "1",
                              "currency_pair": pair or "", "debit_fee": 3})


def add_routes(app: web.Application, g: GateContext) -> None:
    h = SpotRest(g)
    r = app.router
    s = f"{API}/spot"
    r.add_get(f"{s}/currency_pairs", h.currency_pairs)
    r.add_get(f"{s}/currency_pairs/{{pair}}", h.currency_pair)
    r.add_get(f"{s}/currencies", h.currencies)
    r.add_get(f"{s}/tickers", h.tickers)
    r.add_get(f"{s}/order_book", h.order_book)
    r.add_get(f"{s}/trades", h.trades)
    r.add_get(f"{s}/candlesticks", h.candlesticks)
    r.add_get(f"{s}/time", h.time)
    r.add_get(f"{s}/accounts", h.accounts)
    r.add_post(f"{s}/orders", h.create_order)
    r.add_get(f"{s}/orders", h.list_orders)
    r.add_delete(f"{s}/orders", h.cancel_all)
    r.add_get(f"{s}/orders/{{order_id}}", h.get_order)
    r.add_delete(f"{s}/orders/{{order_id}}", h.cancel_order)
    r.add_get(f"{s}/open_orders", h.open_orders)
    r.add_get(f"{s}/my_trades", h.my_trades)
    r.add_get(f"{s}/fee", h.fee)
    r.add_get(f"{API}/margin/currency_pairs", h.margin_pairs)
    r.add_get(f"{API}/account/detail", h.account_detail)
