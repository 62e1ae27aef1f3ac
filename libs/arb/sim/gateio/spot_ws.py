"""Gate.io spot WebSocket v4 channels (``/ws/v4/``), exchange-facts §2.8.

Public: ``spot.book_ticker`` [pairs], ``spot.order_book_update`` [pair, "100ms"|"20ms"] (100 / 20 levels;
first push after subscribe is ``full: true``), ``spot.obu`` ["ob.<pair>.400"|"ob.<pair>.50"] (Order Book V2:
400 levels / 100 ms, 50 levels / 20 ms; first push full), ``spot.trades`` [pairs], ``spot.tickers`` [pairs],
``spot.candlesticks`` [interval, pair] (candles from trades, ``sim/derivs.py``: every trade pushes its window; the
window a trade closed is pushed first with ``w`` true).
Private (``auth`` on the subscribe request): ``spot.orders`` / ``spot.usertrades`` [pairs | "!all"],
``spot.balances`` (no payload).

Samples [docs]::

    {"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update","event":"update","result":
     {"t":1606294781123,"full":true,"l":"100","e":"depthUpdate","E":1606294781,"s":"BTC_USDT","U":48776301,
      "u":48776306,"b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}}
    {"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker","event":"update","result":
     {"t":1606293275123,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from arb.core.enums import Market, Venue
from arb.sim import derivs
from arb.sim.gateio.book_feed import BookView, fmt
from arb.sim.gateio.channels import GateChannels, private_sub, private_unsub
from arb.sim.gateio.common import CANDLE_INTERVALS, ms, ms_frac, sec, user_id
from arb.sim.gateio.spot_rest import DEFAULT_TEXT, SpotRest, candle_json, spot_status
from arb.sim.gateio.ws import CODE_BAD_ARG, Connection, WsReject, WsRequest, push_frame

_INTERVALS = {"100ms": (100, 100), "20ms": (20, 20)}  # interval -> (ms, levels)
_OBU_LEVELS = {"400": 100, "50": 20}  # level -> interval ms
_IV_NAME = {v: k for k, v in CANDLE_INTERVALS.items()}


def _lv(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[fmt(p), fmt(q)] for p, q in levels]


def candle_ws(iv: str, sym: str, k: Any, closed: bool) -> dict[str, Any]:
    """One ``spot.candlesticks`` result as the docs show it: ``t`` a string, ``v`` the quote volume ("Total
    volume"), ``a`` the base amount, ``w`` the window closed."""
    j = candle_json(k)
    return {"t": j[0], "v": j[1], "c": j[2], "h": j[3], "l": j[4], "o": j[5], "n": f"{iv}_{sym}", "a": j[6],
            "w": closed}


class SpotChannels(GateChannels):
    prefix = "spot"
    market = Market.SPOT

    def __init__(self, g: Any) -> None:
        super().__init__(g, g.spot)
        st = derivs.of(self.ex)  # candles are counted from the first trade on, subscribed or not
        if self.on_candle not in st.candle_listeners:
            st.candle_listeners.append(self.on_candle)
        self.subscribers = {
            "spot.book_ticker": self.sub_book_ticker,
            "spot.order_book_update": self.sub_order_book_update,
            "spot.obu": self.sub_obu,
            "spot.trades": self.sub_trades,
            "spot.tickers": self.sub_tickers,
            "spot.candlesticks": self.sub_candles,
            "spot.orders": self.sub_orders,
            "spot.usertrades": self.sub_usertrades,
            "spot.balances": self.sub_balances,
        }
        self.unsubscribers = {
            "spot.book_ticker": self.unsub_book_ticker,
            "spot.order_book_update": self.unsub_order_book_update,
            "spot.obu": self.unsub_obu,
            "spot.trades": lambda c, r: self._unsub_plain(c, r, "trades"),
            "spot.tickers": lambda c, r: self._unsub_plain(c, r, "tickers"),
            "spot.candlesticks": self.unsub_candles,
            "spot.orders": lambda c, r: self._unsub_private(c, r, "spot.orders"),
            "spot.usertrades": lambda c, r: self._unsub_private(c, r, "spot.usertrades"),
            "spot.balances": lambda c, r: self._unsub_private(c, r, "spot.balances", all_=True),
        }

    # -- public subscriptions --------------------------------------------------------------------
    async def sub_book_ticker(self, conn: Connection, req: WsRequest) -> None:
        bt = conn.state.setdefault("book_ticker", {})
        for sym in self._symbols(req):
            bt.setdefault(sym, -1)

    async def unsub_book_ticker(self, conn: Connection, req: WsRequest) -> None:
        bt = conn.state.get("book_ticker", {})
        for sym in self._symbols(req):
            bt.pop(sym, None)

    def _book_args(self, req: WsRequest) -> tuple[str, str]:
        p = req.payload
        if not isinstance(p, list) or len(p) != 2 or not all(isinstance(x, str) for x in p):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        sym, interval = p
        if sym not in self.ex.instruments:
            raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(sym))
        if interval not in _INTERVALS:
            raise WsReject(CODE_BAD_ARG, f"invalid interval {interval}")
        return sym, interval

    async def sub_order_book_update(self, conn: Connection, req: WsRequest) -> Any:
        sym, interval = self._book_args(req)
        ms_, levels = _INTERVALS[interval]
        key = f"obu:{sym}:{interval}"
        view = BookView(sym, levels, ms_, key)
        conn.state.setdefault("books", {})[key] = view

        def first_push() -> None:
            uid, bids, asks = view.reset(self.ex.book(sym))
            view.next_due = time.monotonic() + ms_ / 1000.0
            t = time.time_ns()
            conn.push("spot.order_book_update", {
                "t": t // 1_000_000, "full": True, "l": str(levels), "e": "depthUpdate",
                "E": t // 1_000_000_000, "s": sym, "U": uid, "u": uid, "b": _lv(bids), "a": _lv(asks)})

        return first_push

    async def unsub_order_book_update(self, conn: Connection, req: WsRequest) -> None:
        sym, interval = self._book_args(req)
        conn.state.get("books", {}).pop(f"obu:{sym}:{interval}", None)

    def _obu_args(self, req: WsRequest) -> list[tuple[str, str, str]]:
        p = req.payload
        if not isinstance(p, list) or not p or not all(isinstance(x, str) for x in p):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        out = []
        for stream in p:
            parts = stream.split(".")
            if len(parts) != 3 or parts[0] != "ob" or parts[2] not in _OBU_LEVELS:
                raise WsReject(CODE_BAD_ARG, f"invalid argument: {stream}")
            if parts[1] not in self.ex.instruments:
                raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(parts[1]))
            out.append((stream, parts[1], parts[2]))
        return out

    async def sub_obu(self, conn: Connection, req: WsRequest) -> Any:
        books = conn.state.setdefault("books", {})
        streams = self._obu_args(req)
        for stream, _, _ in streams:
            if f"v2:{stream}" in books:
                raise WsReject(CODE_BAD_ARG, f"Alert sub {stream}")
        views = []
        for stream, sym, level in streams:
            view = BookView(sym, int(level), _OBU_LEVELS[level], f"v2:{stream}")
            books[view.key] = view
            views.append((stream, view))

        def first_push() -> None:
            for stream, view in views:
                uid, bids, asks = view.reset(self.ex.book(view.symbol))
                view.next_due = time.monotonic() + view.interval_ms / 1000.0
                conn.push("spot.obu", {"t": time.time_ns() // 1_000_000, "full": True, "s": stream, "u": uid,
                                       "b": _lv(bids), "a": _lv(asks)})

        return first_push

    async def unsub_obu(self, conn: Connection, req: WsRequest) -> None:
        books = conn.state.get("books", {})
        for stream, _, _ in self._obu_args(req):
            books.pop(f"v2:{stream}", None)

    async def sub_trades(self, conn: Connection, req: WsRequest) -> None:
        self._sub_set(conn, "trades", self._symbols(req))

    async def sub_tickers(self, conn: Connection, req: WsRequest) -> None:
        self._sub_set(conn, "tickers", self._symbols(req))

    async def _unsub_plain(self, conn: Connection, req: WsRequest, name: str) -> None:
        self._unsub_set(conn, name, self._symbols(req))

    def on_candle(self, inst: Any, step: int, cur: Any, closed: Any) -> None:
        """``derivs`` listener: the window a trade updated (and the one it closed, first, with ``w`` true), one
        candle per frame as the docs' push shows."""
        sym = inst.venue_symbol
        key = (step, sym)
        conns = [c for c in self.connections if not c.closed and key in c.state.get("candles", ())]
        if not conns:
            return
        iv = _IV_NAME[step]
        frames = []
        if closed is not None:
            k = candle_ws(iv, sym, closed, True)
            if self.faults.take("kline_no_w", Venue.GATEIO, Market.SPOT) is not None:
                del k["w"]
            frames.append(push_frame("spot.candlesticks", k))
        frames.append(push_frame("spot.candlesticks", candle_ws(iv, sym, cur, False)))
        for c in conns:
            for f in frames:
                c.send(f)

    # -- private subscriptions -------------------------------------------------------------------
    async def sub_orders(self, conn: Connection, req: WsRequest) -> None:
        private_sub(self, conn, req, "spot.orders", self._symbols(req, allow_all=True))

    async def sub_usertrades(self, conn: Connection, req: WsRequest) -> None:
        private_sub(self, conn, req, "spot.usertrades", self._symbols(req, allow_all=True))

    async def sub_balances(self, conn: Connection, req: WsRequest) -> None:
        private_sub(self, conn, req, "spot.balances", ["!all"])

    async def _unsub_private(self, conn: Connection, req: WsRequest, name: str, all_: bool = False) -> None:
        private_unsub(conn, name, None if all_ or not req.payload else self._symbols(req, allow_all=True))

    # -- frames ----------------------------------------------------------------------------------
    def book_ticker_json(self, sym: str, book: Any, conn: Connection) -> dict[str, Any]:
        bp, bq, ap, aq = book.best()
        return {"t": time.time_ns() // 1_000_000, "u": book.update_id, "s": sym,
                "b": fmt(bp) if bp is not None else "", "B": fmt(bq) if bp is not None else "",
                "a": fmt(ap) if ap is not None else "", "A": fmt(aq) if ap is not None else ""}

    def book_update_frame(self, view: BookView, conn: Connection, first: int, last: int,
                          bids: list, asks: list) -> bytes:
        t = time.time_ns()
        if view.key.startswith("v2:"):
            stream = view.key[3:]
            return push_frame("spot.obu", {"t": t // 1_000_000, "s": stream, "U": first, "u": last,
                                           "b": _lv(bids), "a": _lv(asks)})
        return push_frame("spot.order_book_update", {
            "t": t // 1_000_000, "l": str(view.depth), "e": "depthUpdate", "E": t // 1_000_000_000,
            "s": view.symbol, "U": first, "u": last, "b": _lv(bids), "a": _lv(asks)})

    def push_tickers(self, conn: Connection, syms: list[str]) -> None:
        rest = SpotRest(self.g)
        for sym in syms:
            tk = rest._ticker(self.ex.instruments[sym])
            tk.pop("lowest_size", None)
            tk.pop("highest_size", None)
            conn.push("spot.tickers", tk)

    # -- engine listener -------------------------------------------------------------------------
    def on_trade(self, t: Any) -> None:
        sym = t.inst.venue_symbol
        conns = [c for c in self.connections if sym in c.state.get("trades", ())]
        if not conns:
            return
        frame = push_frame("spot.trades", {
            "id": t.trade_id, "id_market": t.trade_id, "create_time": sec(t.ts_ns),
            "create_time_ms": ms_frac(t.ts_ns), "side": t.taker_side, "currency_pair": sym,
            "amount": fmt(t.qty), "price": fmt(t.price), "range": f"{t.trade_id}-{t.trade_id}"})
        for c in conns:
            c.send(frame)

    def on_order(self, o: Any) -> None:
        self.emit_order(o, self._order_ws)

    def _order_ws(self, o: Any, event: str, conn: Connection) -> dict[str, Any]:
        by_quote = o.quote_qty is not None
        amount = o.quote_qty if by_quote else o.qty
        left = (Decimal(0) if o.status == "filled" else max(Decimal(0), o.quote_qty - o.filled_quote)) \
            if by_quote else o.left
        avg = o.avg_price
        return {
            "id": o.id, "text": o.client_id or DEFAULT_TEXT, "create_time": str(sec(o.create_ns)),
            "update_time": str(sec(o.update_ns)), "currency_pair": o.inst.venue_symbol, "type": o.kind,
            "account": "spot", "side": o.side, "amount": fmt(amount),
            "price": fmt(o.price) if o.price is not None else "0", "time_in_force": o.tif, "left": fmt(left),
            "filled_amount": fmt(o.filled), "filled_total": fmt(o.filled_quote),
            "avg_deal_price": fmt(avg) if avg else "0", "fee": fmt(o.fee), "fee_currency": o.fee_asset,
            "point_fee": "0", "gt_fee": "0", "rebated_fee": "0", "rebated_fee_currency": o.inst.quote,
            "create_time_ms": str(ms(o.create_ns)), "update_time_ms": str(ms(o.update_ns)),
            "user": user_id(o.account), "event": event, "stp_id": 0, "stp_act": "-",
            "finish_as": o.finish_as, "biz_info": "-", "amend_text": "-", "status": spot_status(o),
        }

    def on_fill(self, f: Any) -> None:
        self._fill_ctx.add(f.account.name)
        conns = self._private_conns("spot.usertrades", f.account, f.inst.venue_symbol)
        for c in conns:
            c.push("spot.usertrades", [{
                "id": f.trade_id, "user_id": user_id(f.account), "order_id": f.order_id,
                "currency_pair": f.inst.venue_symbol, "create_time": sec(f.ts_ns),
                "create_time_ms": ms_frac(f.ts_ns), "side": f.side, "amount": fmt(f.qty),
                "role": "maker" if f.is_maker else "taker", "price": fmt(f.price), "fee": fmt(f.fee),
                "fee_currency": f.fee_asset, "point_fee": "0", "gt_fee": "0",
                "text": f.client_id or DEFAULT_TEXT, "id_market": f.trade_id}])
        self.release_put(f.order_id)

    def on_balance(self, account: Any, asset: str, bal: Any) -> None:
        if account.internal:
            return
        key = (account.name, asset)
        prev = self._last_bal.get(key)
        self._last_bal[key] = bal
        conns = self._private_conns("spot.balances", account, None)
        if not conns:
            return
        prev_total = prev.total if prev is not None else bal.total
        prev_locked = prev.locked if prev is not None else Decimal(0)
        change = bal.total - prev_total
        freeze_change = bal.locked - prev_locked
        if change:
            ctype = "order-match"
        elif freeze_change > 0:
            ctype = "order-create"
        else:
            ctype = "order-update"
        ns = time.time_ns()
        item = {"timestamp": str(ns // 1_000_000_000), "timestamp_ms": str(ns // 1_000_000),
                "user": str(user_id(account)), "currency": asset, "change": fmt(change),
                "total": fmt(bal.total), "available": fmt(bal.available), "freeze": fmt(bal.locked),
                "freeze_change": fmt(freeze_change), "change_type": ctype}
        for c in conns:
            c.push("spot.balances", [item])

    def on_book(self, change: Any) -> None:
        """Book pushes are built from the engine book at each interval (see book_feed)."""


__all__ = ["SpotChannels"]
