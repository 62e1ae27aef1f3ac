"""Gate.io USDT perpetual REST (/api/v4/futures/usdt/...), exchange-facts §2.6; shapes from Gate's docs.

Sizes are **contracts** (engine quantities for futures are contracts); ``amount = size x quanto_multiplier``.
Sizes are signed on orders and positions: > 0 buy/long, < 0 sell/short; ``price "0"`` with ``tif`` ioc/fok
is a market order; ``size 0`` + ``close: true`` closes the position.

``X-Gate-Size-Decimal: 1`` (docs 2025, §2.6 "Decimal contract sizes"): with the header, every size field
(``size``, ``left``, order book ``s``, ``order_size_min/max``, trade ``size``, position ``size``) is a decimal
string and decimal sizes may be sent; without it, legacy integer semantics apply: sizes are JSON integers
(truncated toward zero) and a fractional size in a request is refused.

Paging (docs; assumptions where they are silent are in specs/sim-deviations.md, "Gate.io REST paging"):
``/orders`` and ``/my_trades`` are newest first with ``limit`` (max 1000), ``offset`` and ``last_id`` (rows
strictly below that id, then ``offset``); ``/positions`` takes ``limit``/``offset``; ``/my_trades`` has no time
window (that is ``/my_trades_timerange``, not served).

Order [docs]::

    {"id":15675394,"user":100000,"contract":"BTC_USDT","create_time":1546569968,"size":6024,"iceberg":0,
     "left":6024,"price":"3765","fill_price":"0","mkfr":"-0.00025","tkfr":"0.00075","tif":"gtc","refu":0,
     "is_reduce_only":false,"is_close":false,"is_liq":false,"text":"t-my-custom-id","status":"finished",
     "finish_time":1514764900,"finish_as":"cancelled","stp_id":0,"stp_act":"-","amend_text":"-"}
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from arb.core.enums import Market, Venue
from arb.sim import derivs
from arb.sim.engine import Pos, SimFill, SimOrder, SimReject
from arb.sim.gateio.book_feed import fmt
from arb.sim.gateio.common import (
    CANDLE_INTERVALS,
    check_text,
    dec,
    json_body,
    qbool,
    qint,
    qreq,
    sec,
    sec_float,
    user_id,
)
from arb.sim.gateio.context import API, GateContext, json_response
from arb.sim.gateio.errors import GateError, from_reject, invalid_param, missing_param

# contract_stats intervals (API v4 docs: 5m..1d) -> seconds; candlesticks: common.CANDLE_INTERVALS
STAT_INTERVALS = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
DEFAULT_TEXT = "api"  # Gate's `text` for an API order placed without one (captured futures.orders frames)
MAX_ORDER_SIZE = Decimal(1_000_000)
# an instrument's status (POST /admin/rules) as the contract's ``status`` (docs: prelaunch|trading|delisting|delisted);
# a halted contract is served as one in delisting (``in_delisting`` true: only reducing orders are taken)
_CONTRACT_STATUS = {"trading": "trading", "halted": "delisting", "delisted": "delisted"}
F = f"{API}/futures/usdt"


def size_decimal(request: web.Request) -> bool:
    return request.headers.get("X-Gate-Size-Decimal", "") == "1"


def size_out(q: Decimal, decimal_mode: bool) -> int | str:
    """A contract size as the wire carries it: decimal string under X-Gate-Size-Decimal, else an int."""
    return fmt(q) if decimal_mode else int(q)


def signed(o: SimOrder, q: Decimal) -> Decimal:
    return q if o.is_buy else -q


def order_json(o: SimOrder, sd: bool) -> dict[str, Any]:
    inst = o.inst
    body: dict[str, Any] = {
        "id": int(o.id),
        "user": user_id(o.account),
        "contract": inst.venue_symbol,
        "create_time": sec_float(o.create_ns),
        "update_time": sec_float(o.update_ns),
        "size": size_out(signed(o, o.qty), sd),
        "iceberg": size_out(Decimal(0), sd),
        "left": size_out(signed(o, o.left), sd),
        "price": fmt(o.price) if o.price is not None else "0",
        "fill_price": fmt(o.avg_price) if o.filled else "0",
        "mkfr": fmt(inst.maker_fee),
        "tkfr": fmt(inst.taker_fee),
        "tif": o.tif,
        "refu": 0,
        "is_reduce_only": o.reduce_only,
        "is_close": o.is_close,
        "is_liq": False,
        "text": o.client_id or DEFAULT_TEXT,
        "status": "open" if o.status == "open" else "finished",
        "stp_id": 0,
        "stp_act": "-",
        "amend_text": "-",
    }
    if o.status != "open":
        body["finish_time"] = sec_float(o.update_ns)
        body["finish_as"] = o.finish_as
    return body


def trade_json(f: SimFill, sd: bool) -> dict[str, Any]:
    q = f.qty if f.side == "buy" else -f.qty
    return {
        "id": f.trade_id,
        "create_time": sec_float(f.ts_ns),
        "contract": f.inst.venue_symbol,
        "order_id": f.order_id,
        "size": size_out(q, sd),
        "close_size": size_out(Decimal(0), sd),
        "price": fmt(f.price),
        "role": "maker" if f.is_maker else "taker",
        "text": f.client_id or DEFAULT_TEXT,
        "fee": fmt(f.fee),
        "point_fee": "0",
    }


def position_json(p: Pos, sd: bool, pending: int = 0) -> dict[str, Any]:
    inst = p.inst
    mark = p.mark_price
    lev = Decimal(p.effective_leverage)
    value = p.value
    return {
        "user": user_id(p.account),
        "contract": inst.venue_symbol,
        "size": size_out(p.size, sd),
        "leverage": str(p.leverage),
        "risk_limit": "1000000",
        "leverage_max": str(inst.leverage_max),
        "maintenance_rate": fmt(inst.maintenance_rate),
        "value": fmt(round(value, 8)),
        "margin": fmt(round(p.margin, 8)),
        "entry_price": fmt(round(p.entry_price, 8)),
        "liq_price": fmt(round(p.liq_price, 8)),
        "mark_price": fmt(mark),
        "initial_margin": fmt(round(value / lev, 8)) if value else "0",
        "maintenance_margin": fmt(round(value * inst.maintenance_rate, 8)) if value else "0",
        "unrealised_pnl": fmt(round(p.unrealised_pnl, 8)),
        "realised_pnl": fmt(round(p.realised_pnl, 8)),
        "pnl_pnl": fmt(round(p.pnl_pnl, 8)),
        "pnl_fund": fmt(round(p.pnl_fund, 8)),
        "pnl_fee": fmt(round(p.pnl_fee, 8)),
        "history_pnl": fmt(round(p.realised_pnl, 8)),
        "last_close_pnl": fmt(round(p.last_close_pnl, 8)),
        "realised_point": "0",
        "history_point": "0",
        "adl_ranking": 5,
        "pending_orders": pending,
        "close_order": None,
        "mode": "single",
        "cross_leverage_limit": str(p.cross_leverage) if p.leverage == 0 else "0",
        "update_time": sec(p.update_ns),
        "update_id": p.update_id,
        "open_time": sec(p.open_ns) if p.size else 0,
    }


class FuturesRest:
    def __init__(self, g: GateContext) -> None:
        self.g = g
        self.ex = g.futures
        self.dual: set[str] = set()  # account names switched to dual (hedge) position mode

    def _inst(self, contract: str) -> Any:
        inst = self.ex.instruments.get(contract)
        if inst is None:
            raise GateError(400, "CONTRACT_NOT_FOUND", f"Contract {contract} not found")
        return inst

    # -- public ----------------------------------------------------------------------------------
    def contract_json(self, inst: Any, sd: bool) -> dict[str, Any]:
        sym = inst.venue_symbol
        ex = self.ex
        mark = ex.mark_price(inst)
        last = ex.last_price.get(sym) or mark
        nxt = ex.next_funding_ns(inst)
        interval = inst.funding_interval_s or ex.funding_interval_s  # a rule change sets the contract's own
        if not nxt:
            nxt = ((int(time.time()) // interval) + 1) * interval * 1_000_000_000
        rate = ex.funding_rate(inst)
        enable_decimal = inst.step < 1
        positions = ex._positions_by_inst.get(sym, {}) if hasattr(ex, "_positions_by_inst") else {}
        return {
            "name": sym,
            "type": "direct",
            "quanto_multiplier": fmt(inst.multiplier),
            "ref_discount_rate": "0",
            "order_price_deviate": "0.5",
            "maintenance_rate": fmt(inst.maintenance_rate),
            "mark_type": "index",
            "last_price": fmt(last),
            "mark_price": fmt(mark),
            "index_price": fmt(ex.index_price(inst)),
            "funding_rate_indicative": fmt(rate),
            "mark_price_round": fmt(inst.tick / 10),
            "funding_offset": 0,
            "in_delisting": inst.status != "trading",
            "risk_limit_base": "1000000",
            "interest_rate": "0.0003",
            "order_price_round": fmt(inst.tick),
            "order_size_min": size_out(inst.min_qty, sd) if sd or not enable_decimal else int(max(inst.min_qty, 1)),
            "ref_rebate_rate": "0.2",
            "funding_interval": int(interval),
            "risk_limit_step": "1000000",
            "leverage_min": "1",
            "leverage_max": str(inst.leverage_max),
            "risk_limit_max": "8000000",
            "maker_fee_rate": fmt(inst.maker_fee),
            "taker_fee_rate": fmt(inst.taker_fee),
            "funding_rate": fmt(rate),
            "order_size_max": size_out(inst.max_qty or MAX_ORDER_SIZE, sd),
            "funding_next_apply": nxt // 1_000_000_000,
            "short_users": sum(1 for p in positions.values() if p.size < 0),
            "config_change_time": 1609899548,
            "trade_size": size_out(ex.volume_24h.get(sym, Decimal(0)), sd),
            "position_size": size_out(sum((abs(p.size) for p in positions.values()), Decimal(0)), sd),
            "long_users": sum(1 for p in positions.values() if p.size > 0),
            "funding_impact_value": "60000",
            "orders_limit": 50,
            "trade_id": ex.last_trade_id.get(sym, 0),
            "orderbook_id": ex.book(inst).update_id,
            "enable_bonus": True,
            "enable_credit": True,
            "create_time": 1669688556,
            "funding_cap_ratio": "0.75",
            "status": _CONTRACT_STATUS[inst.status],
            "launch_time": 1609899548,
            "enable_decimal": enable_decimal,
        }

    async def contracts(self, request: web.Request) -> web.Response:
        sd = size_decimal(request)
        limit = qint(request, "limit", 1000, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        insts = list(self.ex.instruments.values())[offset: offset + limit]
        return json_response([self.contract_json(i, sd) for i in insts])

    async def contract(self, request: web.Request) -> web.Response:
        return json_response(self.contract_json(self._inst(request.match_info["contract"]), size_decimal(request)))

    async def order_book(self, request: web.Request) -> web.Response:
        sd = size_decimal(request)
        inst = self._inst(qreq(request, "contract"))
        limit = qint(request, "limit", 10, 1, 300)
        with_id = qbool(request, "with_id")
        book = self.ex.book(inst)
        uid, bids, asks = book.depth(limit)
        now = time.time()
        body: dict[str, Any] = {}
        if with_id:
            body["id"] = uid
        body["current"] = round(now, 3)
        body["update"] = round(book.update_ns / 1e9, 3) if book.update_ns else round(now, 3)
        body["asks"] = [{"p": fmt(p), "s": size_out(q, sd)} for p, q in asks]
        body["bids"] = [{"p": fmt(p), "s": size_out(q, sd)} for p, q in bids]
        return json_response(body)

    async def trades(self, request: web.Request) -> web.Response:
        sd = size_decimal(request)
        inst = self._inst(qreq(request, "contract"))
        limit = qint(request, "limit", 100, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        trades = self.ex.recent_trades(inst, 1000)
        last_id = request.query.get("last_id")
        if last_id:
            try:
                lid = int(last_id)
            except ValueError:
                raise invalid_param("last_id", last_id) from None
            trades = [t for t in trades if t.trade_id < lid]
        trades = trades[offset: offset + limit]
        return json_response([{
            "id": t.trade_id,
            "create_time": sec_float(t.ts_ns),
            "create_time_ms": round(t.ts_ns / 1e6, 3),
            "contract": inst.venue_symbol,
            "size": size_out(t.qty if t.taker_side == "buy" else -t.qty, sd),
            "price": fmt(t.price),
        } for t in trades])

    def ticker_json(self, inst: Any, sd: bool) -> dict[str, Any]:
        sym = inst.venue_symbol
        ex = self.ex
        book = ex.book(inst)
        bp, bq, ap, aq = book.best()
        mark = ex.mark_price(inst)
        last = ex.last_price.get(sym) or mark
        prices = [t.price for t in ex.trades.get(sym) or ()]
        first = prices[0] if prices else last
        vol = ex.volume_24h.get(sym, Decimal(0))
        base_vol = vol * inst.multiplier
        change = ((last - first) / first * 100) if first else Decimal(0)
        rate = ex.funding_rate(inst)
        positions = ex._positions_by_inst.get(sym, {}) if hasattr(ex, "_positions_by_inst") else {}
        return {
            "contract": sym,
            "last": fmt(last),
            "low_24h": fmt(min(prices) if prices else last),
            "high_24h": fmt(max(prices) if prices else last),
            "change_percentage": fmt(round(change, 2)),
            "total_size": fmt(sum((abs(p.size) for p in positions.values()), Decimal(0))),
            "volume_24h": fmt(vol),
            "volume_24h_btc": "0",
            "volume_24h_usd": fmt(round(base_vol * last, 4)),
            "volume_24h_base": fmt(base_vol),
            "volume_24h_quote": fmt(round(base_vol * last, 4)),
            "volume_24h_settle": fmt(round(base_vol * last, 4)),
            "mark_price": fmt(mark),
            "funding_rate": fmt(rate),
            "funding_rate_indicative": fmt(rate),
            "index_price": fmt(ex.index_price(inst)),
            "highest_bid": fmt(bp) if bp is not None else "",
            "highest_size": fmt(bq) if bp is not None else "",
            "lowest_ask": fmt(ap) if ap is not None else "",
            "lowest_size": fmt(aq) if ap is not None else "",
        }

    async def tickers(self, request: web.Request) -> web.Response:
        sd = size_decimal(request)
        c = request.query.get("contract")
        insts = [self._inst(c)] if c else list(self.ex.instruments.values())
        return json_response([self.ticker_json(i, sd) for i in insts])

    async def funding_rate(self, request: web.Request) -> web.Response:
        inst = self._inst(qreq(request, "contract"))
        limit = qint(request, "limit", 100, 1, 1000)
        hist = list(self.ex.funding_history.get(inst.venue_symbol, ()))
        out = [{"t": ts // 1_000_000_000, "r": fmt(r)} for ts, r in reversed(hist)][:limit]
        return json_response(out)

    # -- contract statistics, liquidations, candles (sim/derivs.py) ----------------------------------
    async def contract_stats(self, request: web.Request) -> web.Response:
        """GET /futures/usdt/contract_stats: the current bucket of ``interval`` only (the simulator keeps no
        statistics history: specs/sim-deviations.md), with open interest and the bucket's liquidations."""
        sd = size_decimal(request)
        inst = self._inst(qreq(request, "contract"))
        step = STAT_INTERVALS.get(request.query.get("interval") or "5m")
        if step is None:
            raise invalid_param("interval", request.query.get("interval", ""))
        qint(request, "limit", 30, 1, 100)
        sym = inst.venue_symbol
        st = derivs.of(self.ex)
        now = time.time_ns()
        start = sec(now) - sec(now) % step
        longs = shorts = Decimal(0)
        for liq in st.history(sym, start * 1_000_000_000, now, derivs.LIQ_KEEP):
            if liq.order_size < 0:
                longs -= liq.order_size
            else:
                shorts += liq.order_size
        oi = st.open_interest(sym)
        mark = self.ex.mark_price(inst)
        usd = oi * inst.multiplier * mark
        return json_response([{
            "time": start, "lsr_taker": 1, "lsr_account": 1,
            "long_liq_size": size_out(longs, sd), "long_liq_amount": float(longs * inst.multiplier),
            "long_liq_usd": float(longs * inst.multiplier * mark),
            "short_liq_size": size_out(shorts, sd), "short_liq_amount": float(shorts * inst.multiplier),
            "short_liq_usd": float(shorts * inst.multiplier * mark),
            "open_interest": size_out(oi, sd), "open_interest_usd": float(round(usd, 8)),
            "top_lsr_account": 1, "top_lsr_size": 1, "mark_price": float(mark),
        }])

    async def liq_orders(self, request: web.Request) -> web.Response:
        """GET /futures/usdt/liq_orders: newest first, ``from <= time <= to`` (unix s); ``size`` is the liquidated
        position (> 0 long), the negation of the liquidation order's."""
        sd = size_decimal(request)
        c = request.query.get("contract")
        insts = [self._inst(c)] if c else list(self.ex.instruments.values())
        now_s = sec(time.time_ns())
        to_s = qint(request, "to", now_s)
        from_s = qint(request, "from", to_s - 3600)
        limit = qint(request, "limit", 100, 1, 1000)
        st = derivs.of(self.ex)
        rows = []
        for inst in insts:
            rows += st.history(inst.venue_symbol, from_s * 1_000_000_000, to_s * 1_000_000_000 + 999_999_999, limit)
        rows.sort(key=lambda x: x.ts_ns, reverse=True)
        return json_response([{"time": sec(x.ts_ns), "contract": x.inst.venue_symbol,
                               "size": size_out(-x.order_size, sd), "order_price": fmt(x.order_price),
                               "fill_price": fmt(x.fill_price), "left": size_out(Decimal(0), sd)}
                              for x in rows[:limit]])

    async def candlesticks(self, request: web.Request) -> web.Response:
        """GET /futures/usdt/candlesticks: the newest ``limit`` candles of ``interval`` (from trades), oldest first."""
        sd = size_decimal(request)
        inst = self._inst(qreq(request, "contract"))
        iv = request.query.get("interval") or "5m"
        step = CANDLE_INTERVALS.get(iv)
        if step is None:
            raise invalid_param("interval", iv)
        limit = qint(request, "limit", 100, 1, 2000)
        candles = derivs.of(self.ex).latest(inst.venue_symbol, step, limit)
        return json_response([{"t": k.t, "v": size_out(k.v, sd), "c": fmt(k.c), "h": fmt(k.h), "l": fmt(k.l),
                               "o": fmt(k.o), "sum": fmt(round(k.quote, 8))} for k in candles])

    # -- private ---------------------------------------------------------------------------------
    async def accounts(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        ex = self.ex
        b = ex.balance(acc, "USDT")
        positions = [p for p in ex.positions(acc)]
        pos_margin = sum((p.margin for p in positions), Decimal(0))
        upnl = sum((p.unrealised_pnl for p in positions), Decimal(0))
        order_margin = max(Decimal(0), b.locked - pos_margin)
        hist_pnl = sum((p.pnl_pnl for p in positions), Decimal(0))
        hist_fee = sum((p.pnl_fee for p in positions), Decimal(0))
        hist_fund = sum((p.pnl_fund for p in positions), Decimal(0))
        total = b.total
        maint = sum((p.value * p.inst.maintenance_rate for p in positions if p.size), Decimal(0))
        r8 = lambda d: fmt(round(d, 8))
        return json_response({
            "user": user_id(acc),
            "currency": "USDT",
            "total": r8(total),
            "unrealised_pnl": r8(upnl),
            "position_margin": r8(pos_margin),
            "order_margin": r8(order_margin),
            "available": r8(b.available),
            "point": "0",
            "bonus": "0",
            "in_dual_mode": acc.name in self.dual,
            "enable_credit": False,
            "position_initial_margin": r8(pos_margin),
            "maintenance_margin": r8(maint),
            "enable_evolved_classic": False,
            "cross_initial_margin": "0",
            "cross_maintenance_margin": "0",
            "cross_order_margin": "0",
            "cross_unrealised_pnl": "0",
            "cross_available": r8(b.available),
            "cross_margin_balance": r8(total + upnl),
            "isolated_position_margin": r8(pos_margin),
            "history": {"dnw": r8(total - hist_pnl - hist_fee - hist_fund), "pnl": r8(hist_pnl),
                        "fee": r8(hist_fee), "refr": "0", "fund": r8(hist_fund), "point_dnw": "0",
                        "point_fee": "0", "point_refr": "0", "bonus_dnw": "0", "bonus_offset": "0"},
            "enable_tiered_mm": False,
        })

    async def account_book(self, request: web.Request) -> web.Response:
        """GET /futures/usdt/account_book (gateapi ``list_futures_account_book``: ``contract``, ``limit`` (default 100,
        max 1000), ``offset``, ``from``/``to`` unix s inclusive, ``type``): the account's wallet changes, newest first.
        Only funding settlements (``type`` fund) are recorded by the simulator (specs/sim-deviations.md)."""
        acc = await self.g.authenticate(request)
        c = request.query.get("contract")
        inst = self._inst(c) if c else None
        kind = request.query.get("type", "")
        if kind not in ("", "dnw", "pnl", "fee", "refr", "fund", "point_dnw", "point_fee", "point_refr",
                        "bonus_offset"):
            raise invalid_param("type", kind)
        limit = qint(request, "limit", 100, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        from_s = qint(request, "from", 0, 0)
        to_s = qint(request, "to", 0, 0)
        rows = [e for e in reversed(acc.futures_book)
                if (not kind or e.kind == kind) and (inst is None or e.contract == inst.venue_symbol)
                and e.ts_ns >= from_s * 1_000_000_000 and (not to_s or e.ts_ns < (to_s + 1) * 1_000_000_000)]
        return json_response([{"time": round(e.ts_ns / 1e9, 3), "change": fmt(round(e.change, 8)),
                               "balance": fmt(round(e.balance, 8)), "type": e.kind, "text": f"{e.contract}:{e.kind}",
                               "contract": e.contract, "trade_id": "", "id": str(e.id)}
                              for e in rows[offset: offset + limit]])

    def _pending(self, acc: Any, inst: Any) -> int:
        return len(self.ex.open_orders(acc, inst))

    async def positions(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        sd = size_decimal(request)
        holding = qbool(request, "holding")
        limit = qint(request, "limit", 100, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        rows = [p for p in self.ex.positions(acc) if not holding or p.size][offset: offset + limit]
        return json_response([position_json(p, sd, self._pending(acc, p.inst)) for p in rows])

    async def position(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        inst = self._inst(request.match_info["contract"])
        p = self.ex.position(acc, inst)
        return json_response(position_json(p, size_decimal(request), self._pending(acc, inst)))

    async def set_dual_mode(self, request: web.Request) -> web.Response:
        """``POST /futures/usdt/dual_mode?dual_mode=true|false`` -> the account. Only the flag is kept (positions
        stay one-way); switching needs no position and no open order."""
        acc = await self.g.authenticate(request)
        raw = request.query.get("dual_mode", "")
        if raw not in ("true", "false"):
            raise missing_param("dual_mode") if raw == "" else invalid_param("dual_mode", raw)
        if any(p.size != 0 for p in self.ex.positions(acc)) or self.ex.open_orders(acc):
            raise GateError(400, "POSITION_NOT_EMPTY", "close positions and cancel orders before switching mode")
        if raw == "true":
            self.dual.add(acc.name)
        else:
            self.dual.discard(acc.name)
        return await self.accounts(request)

    async def set_leverage(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        inst = self._inst(request.match_info["contract"])
        raw = request.query.get("leverage")
        if raw is None or raw == "":
            raise missing_param("leverage")
        lev_d = dec("leverage", raw)
        assert lev_d is not None
        if lev_d != lev_d.to_integral_value() or lev_d < 0:
            raise invalid_param("leverage", raw)
        lev = int(lev_d)
        if lev > inst.leverage_max:
            raise GateError(400, "LEVERAGE_TOO_HIGH", f"leverage {lev} exceeds {inst.leverage_max}")
        try:
            p = self.ex.set_leverage(acc, inst, lev)
        except SimReject as exc:
            raise from_reject(Market.FUTURES, exc.reason, exc.message) from None
        return json_response(position_json(p, size_decimal(request), self._pending(acc, inst)))

    async def create_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        sd = size_decimal(request)
        body = await json_body(request)
        contract = body.get("contract")
        if not contract:
            raise missing_param("contract")
        inst = self._inst(str(contract))
        raw_size = body.get("size")
        size = dec("size", raw_size)
        assert size is not None
        if not sd and size != size.to_integral_value():
            raise GateError(400, "INVALID_ARGUMENT", "invalid size", use_detail=True)
        close = bool(body.get("close", False))
        reduce_only = bool(body.get("reduce_only", False))
        if size == 0 and not close:
            raise invalid_param("size", raw_size)
        tif = body.get("tif", "gtc") or "gtc"
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise invalid_param("tif", tif)
        price = dec("price", body.get("price"))
        assert price is not None
        if price < 0:
            raise invalid_param("price", body.get("price"))
        if price == 0:
            if tif not in ("ioc", "fok"):
                raise invalid_param("price", body.get("price"))
            kind = "market"
            limit_price = None
        else:
            kind = "limit"
            limit_price = price
        text = check_text(body.get("text")) or ""
        spec = self.g.faults.take("order_reject", Venue.GATEIO, Market.FUTURES)
        if spec is not None:
            raise from_reject(Market.FUTURES, str(spec.param("reason", "INSUFFICIENT_BALANCE")),
                              "order rejected (fault)")
        side = "buy" if size > 0 else "sell"
        try:
            o = self.ex.place(acc, inst, side, kind, tif, qty=abs(size) if size else Decimal(0),
                              price=limit_price, client_id=text, reduce_only=reduce_only, close=close)
        except SimReject as exc:
            raise from_reject(Market.FUTURES, exc.reason, exc.message) from None
        return json_response(order_json(o, sd), status=201)

    def _find(self, acc: Any, oid: str) -> SimOrder:
        try:
            if oid.startswith("t-"):
                return self.ex.get_order(acc, None, client_id=oid)
            return self.ex.get_order(acc, None, order_id=oid)
        except SimReject as exc:
            raise from_reject(Market.FUTURES, exc.reason, exc.message) from None

    async def get_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        return json_response(order_json(self._find(acc, request.match_info["order_id"]), size_decimal(request)))

    async def cancel_order(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        oid = request.match_info["order_id"]
        try:
            if oid.startswith("t-"):
                o = self.ex.cancel(acc, None, client_id=oid)
            else:
                o = self.ex.cancel(acc, None, order_id=oid)
        except SimReject as exc:
            raise from_reject(Market.FUTURES, exc.reason, exc.message) from None
        return json_response(order_json(o, size_decimal(request)))

    async def cancel_all(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        inst = self._inst(qreq(request, "contract"))
        side = request.query.get("side")
        if side not in (None, "bid", "ask"):
            raise invalid_param("side", side)
        eside = None if side is None else ("buy" if side == "bid" else "sell")
        cancelled = self.ex.cancel_all(acc, inst, eside)
        sd = size_decimal(request)
        return json_response([order_json(o, sd) for o in cancelled])

    async def list_orders(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        sd = size_decimal(request)
        status = qreq(request, "status")
        if status not in ("open", "finished"):
            raise invalid_param("status", status)
        c = request.query.get("contract")
        inst = self._inst(c) if c else None
        limit = qint(request, "limit", 100, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        last_id = qint(request, "last_id", 0, 0)
        if status == "open":
            orders = sorted(self.ex.open_orders(acc, inst), key=lambda o: o.seq, reverse=True)
        else:
            orders = self.ex.finished_orders(acc, inst, limit=len(acc.finished))
        if last_id:
            orders = [o for o in orders if int(o.id) < last_id]
        total = len(orders)
        page = orders[offset: offset + limit]
        return json_response([order_json(o, sd) for o in page], headers={
            "X-Pagination-Limit": str(limit), "X-Pagination-Offset": str(offset),
            "X-Pagination-Total": str(total)})

    async def my_trades(self, request: web.Request) -> web.Response:
        acc = await self.g.authenticate(request)
        sd = size_decimal(request)
        c = request.query.get("contract")
        inst = self._inst(c) if c else None
        limit = qint(request, "limit", 100, 1, 1000)
        offset = qint(request, "offset", 0, 0)
        last_id = qint(request, "last_id", 0, 0)
        oid = request.query.get("order", "")
        fills = self.ex.my_trades(acc, inst, order_id=oid, limit=len(acc.fills))
        if last_id:
            fills = [f for f in fills if f.trade_id < last_id]
        return json_response([trade_json(f, sd) for f in fills[offset: offset + limit]],
                             headers={"X-Pagination-Limit": str(limit), "X-Pagination-Offset": str(offset)})


def add_routes(app: web.Application, g: GateContext) -> None:
    h = FuturesRest(g)
    r = app.router
    r.add_get(f"{F}/contracts", h.contracts)
    r.add_get(f"{F}/contracts/{{contract}}", h.contract)
    r.add_get(f"{F}/order_book", h.order_book)
    r.add_get(f"{F}/trades", h.trades)
    r.add_get(f"{F}/tickers", h.tickers)
    r.add_get(f"{F}/funding_rate", h.funding_rate)
    r.add_get(f"{F}/contract_stats", h.contract_stats)
    r.add_get(f"{F}/liq_orders", h.liq_orders)
    r.add_get(f"{F}/candlesticks", h.candlesticks)
    r.add_get(f"{F}/accounts", h.accounts)
    r.add_get(f"{F}/account_book", h.account_book)
    r.add_get(f"{F}/positions", h.positions)
    r.add_get(f"{F}/positions/{{contract}}", h.position)
    r.add_post(f"{F}/positions/{{contract}}/leverage", h.set_leverage)
    r.add_post(f"{F}/dual_mode", h.set_dual_mode)
    r.add_post(f"{F}/orders", h.create_order)
    r.add_get(f"{F}/orders", h.list_orders)
    r.add_delete(f"{F}/orders", h.cancel_all)
    r.add_get(f"{F}/orders/{{order_id}}", h.get_order)
    r.add_delete(f"{F}/orders/{{order_id}}", h.cancel_order)
    r.add_get(f"{F}/my_trades", h.my_trades)
