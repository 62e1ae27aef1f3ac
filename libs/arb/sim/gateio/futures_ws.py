"""Gate.io USDT perpetual WebSocket (``/v4/ws/usdt``), exchange-facts §2.9.

Public: ``futures.book_ticker`` [contracts], ``futures.order_book_update`` [contract, "100ms"|"20ms",
level "100"|"50"|"20" (20ms: "20" only; default 100 / 20)], ``futures.trades`` [contracts],
``futures.tickers`` [contracts] (mark, index, funding_rate), ``futures.public_liquidates`` [contracts | "!all"]
(each liquidation pushed at once: the venue aggregates per contract per second), ``futures.candlesticks``
[interval, contract] (every trade pushes its window; the window a trade closed is pushed first with ``w`` true).
No initial full push on
order_book_update (docs: sync from REST ``order_book?with_id=true``); levels are ``{p, s}``.
Private (``auth``): ``futures.orders`` / ``futures.usertrades`` / ``futures.positions``
[user_id, contract... | "!all"], ``futures.balances`` [user_id]. The leading user id is Gate's uid
(docs call it a deprecated placeholder for some channels); any value is accepted.

Sizes are contracts: JSON integers, or decimal strings when the connection was opened with
``X-Gate-Size-Decimal: 1`` (ccxt sends it on the upgrade request).

Samples [docs]::

    {"time":1615366381,"time_ms":1615366381123,"channel":"futures.order_book_update","event":"update","result":
     {"t":1615366381417,"s":"BTC_USD","U":2517661101,"u":2517661113,"b":[{"p":"54672.1","s":0},
      {"p":"54664.5","s":58794}],"a":[{"p":"54743.6","s":0},{"p":"54742","s":95}],"l":"100"}}
    futures.orders on creation (captured live frame): ..."finish_as":"_new","status":"open",...
"""

from __future__ import annotations

import time
from typing import Any

from arb.core.enums import Market, Venue
from arb.sim import derivs
from arb.sim.gateio.book_feed import BookView, fmt
from arb.sim.gateio.channels import GateChannels, private_sub, private_unsub
from arb.sim.gateio.common import CANDLE_INTERVALS, ms, sec, user_id
from arb.sim.gateio.futures_rest import DEFAULT_TEXT, FuturesRest, size_out
from arb.sim.gateio.ws import CODE_BAD_ARG, Connection, WsReject, WsRequest, push_frame

_FREQ = {"100ms": 100, "20ms": 20}
_IV_NAME = {v: k for k, v in CANDLE_INTERVALS.items()}


class FuturesChannels(GateChannels):
    prefix = "futures"
    market = Market.FUTURES

    def __init__(self, g: Any) -> None:
        super().__init__(g, g.futures)
        self._rest = FuturesRest(g)
        self._derivs()  # candles are counted from the first trade on, subscribed or not
        self.subscribers = {
            "futures.book_ticker": self.sub_book_ticker,
            "futures.order_book_update": self.sub_order_book_update,
            "futures.trades": lambda c, r: self._sub_plain(c, r, "trades"),
            "futures.tickers": lambda c, r: self._sub_plain(c, r, "tickers"),
            "futures.public_liquidates": self.sub_liquidates,
            "futures.candlesticks": self.sub_candles,
            "futures.orders": lambda c, r: self._sub_private(c, r, "futures.orders"),
            "futures.usertrades": lambda c, r: self._sub_private(c, r, "futures.usertrades"),
            "futures.positions": lambda c, r: self._sub_private(c, r, "futures.positions"),
            "futures.balances": lambda c, r: self._sub_private(c, r, "futures.balances", account_only=True),
        }
        self.unsubscribers = {
            "futures.book_ticker": self.unsub_book_ticker,
            "futures.order_book_update": self.unsub_order_book_update,
            "futures.trades": lambda c, r: self._unsub_plain(c, r, "trades"),
            "futures.tickers": lambda c, r: self._unsub_plain(c, r, "tickers"),
            "futures.public_liquidates": lambda c, r: self._unsub_set(c, "liquidates", self._symbols(r, True)),
            "futures.candlesticks": self.unsub_candles,
            "futures.orders": lambda c, r: self._unsub_private(c, r, "futures.orders"),
            "futures.usertrades": lambda c, r: self._unsub_private(c, r, "futures.usertrades"),
            "futures.positions": lambda c, r: self._unsub_private(c, r, "futures.positions"),
            "futures.balances": lambda c, r: self._unsub_private(c, r, "futures.balances"),
        }

    def unknown_symbol_message(self, sym: str) -> str:
        return f"unknown contract {sym}"

    # -- liquidations and candles (sim/derivs.py) --------------------------------------------------
    def _derivs(self) -> derivs.DerivStats:
        st = derivs.of(self.ex)
        if self.on_liquidation not in st.liq_listeners:
            st.liq_listeners.append(self.on_liquidation)
            st.candle_listeners.append(self.on_candle)
        return st

    async def sub_liquidates(self, conn: Connection, req: WsRequest) -> None:
        self._sub_set(conn, "liquidates", self._symbols(req, allow_all=True))

    def on_liquidation(self, liq: Any) -> None:
        sym = liq.inst.venue_symbol
        for c in self.connections:
            subs = c.state.get("liquidates")
            if c.closed or not subs or (sym not in subs and "!all" not in subs):
                continue
            c.push("futures.public_liquidates", [{"price": fmt(liq.order_price),
                                                  "size": size_out(liq.order_size, c.size_decimal),
                                                  "time": ms(liq.ts_ns), "contract": sym}])

    def on_candle(self, inst: Any, step: int, cur: Any, closed: Any) -> None:
        sym = inst.venue_symbol
        key = (step, sym)
        conns = [c for c in self.connections if not c.closed and key in c.state.get("candles", ())]
        if not conns:
            return
        iv = _IV_NAME[step]
        no_w = closed is not None and self.faults.take("kline_no_w", Venue.GATEIO, Market.FUTURES) is not None
        for c in conns:
            out = []
            if closed is not None:
                k = self._candle_json(inst, iv, closed, True, c.size_decimal)
                if no_w:
                    del k["w"]
                out.append(k)
            out.append(self._candle_json(inst, iv, cur, False, c.size_decimal))
            for k in out:  # one candle per frame, as the venue sends them
                c.push("futures.candlesticks", [k])

    @staticmethod
    def _candle_json(inst: Any, iv: str, k: Any, closed: bool, sd: bool) -> dict[str, Any]:
        return {"t": k.t, "v": size_out(k.v, sd), "c": fmt(k.c), "h": fmt(k.h), "l": fmt(k.l), "o": fmt(k.o),
                "n": f"{iv}_{inst.venue_symbol}", "a": fmt(k.v * inst.multiplier), "w": closed}

    # -- public ----------------------------------------------------------------------------------
    async def sub_book_ticker(self, conn: Connection, req: WsRequest) -> None:
        bt = conn.state.setdefault("book_ticker", {})
        for sym in self._symbols(req):
            bt.setdefault(sym, -1)

    async def unsub_book_ticker(self, conn: Connection, req: WsRequest) -> None:
        bt = conn.state.get("book_ticker", {})
        for sym in self._symbols(req):
            bt.pop(sym, None)

    def _book_args(self, req: WsRequest) -> tuple[str, str, int]:
        p = req.payload
        if not isinstance(p, list) or len(p) not in (2, 3) or not all(isinstance(x, str) for x in p):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        sym, freq = p[0], p[1]
        if sym not in self.ex.instruments:
            raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(sym))
        if freq not in _FREQ:
            raise WsReject(CODE_BAD_ARG, f"invalid frequency {freq}")
        level = p[2] if len(p) == 3 else ("20" if freq == "20ms" else "100")
        if level not in ("100", "50", "20") or (freq == "20ms" and level != "20"):
            raise WsReject(CODE_BAD_ARG, f"invalid level {level}")
        return sym, freq, int(level)

    async def sub_order_book_update(self, conn: Connection, req: WsRequest) -> None:
        sym, freq, level = self._book_args(req)
        key = f"obu:{sym}:{freq}:{level}"
        view = BookView(sym, level, _FREQ[freq], key)
        view.reset(self.ex.book(sym))  # told view = the book at subscribe time; pushes start after it
        view.next_due = time.monotonic() + view.interval_ms / 1000.0
        conn.state.setdefault("books", {})[key] = view

    async def unsub_order_book_update(self, conn: Connection, req: WsRequest) -> None:
        sym, freq, level = self._book_args(req)
        conn.state.get("books", {}).pop(f"obu:{sym}:{freq}:{level}", None)

    async def _sub_plain(self, conn: Connection, req: WsRequest, name: str) -> None:
        self._sub_set(conn, name, self._symbols(req))

    async def _unsub_plain(self, conn: Connection, req: WsRequest, name: str) -> None:
        self._unsub_set(conn, name, self._symbols(req))

    # -- private ---------------------------------------------------------------------------------
    def _private_payload(self, req: WsRequest, account_only: bool) -> list[str]:
        p = req.payload
        if not isinstance(p, list) or not p or not all(isinstance(x, str) for x in p):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        if account_only:
            return ["!all"]
        rest = p[1:]
        if not rest:
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        for sym in rest:
            if sym != "!all" and sym not in self.ex.instruments:
                raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(sym))
        return rest

    async def _sub_private(self, conn: Connection, req: WsRequest, name: str, account_only: bool = False) -> None:
        syms = self._private_payload(req, account_only)
        private_sub(self, conn, req, name, syms)

    async def _unsub_private(self, conn: Connection, req: WsRequest, name: str) -> None:
        p = req.payload
        syms = p[1:] if isinstance(p, list) and len(p) > 1 else None
        private_unsub(conn, name, syms if name != "futures.balances" else None)

    # -- frames ----------------------------------------------------------------------------------
    def book_ticker_json(self, sym: str, book: Any, conn: Connection) -> dict[str, Any]:
        bp, bq, ap, aq = book.best()
        sd = conn.size_decimal
        return {"t": time.time_ns() // 1_000_000, "u": book.update_id, "s": sym,
                "b": fmt(bp) if bp is not None else "", "B": size_out(bq, sd),
                "a": fmt(ap) if ap is not None else "", "A": size_out(aq, sd)}

    def book_update_frame(self, view: BookView, conn: Connection, first: int, last: int,
                          bids: list, asks: list) -> bytes:
        sd = conn.size_decimal
        return push_frame("futures.order_book_update", {
            "t": time.time_ns() // 1_000_000, "s": view.symbol, "U": first, "u": last,
            "b": [{"p": fmt(p), "s": size_out(q, sd)} for p, q in bids],
            "a": [{"p": fmt(p), "s": size_out(q, sd)} for p, q in asks],
            "l": str(view.depth)})

    def push_tickers(self, conn: Connection, syms: list[str]) -> None:
        out = []
        for sym in syms:
            tk = self._rest.ticker_json(self.ex.instruments[sym], conn.size_decimal)
            for k in ("highest_bid", "highest_size", "lowest_ask", "lowest_size"):
                tk.pop(k, None)
            tk["quanto_base_rate"] = ""
            out.append(tk)
        conn.push("futures.tickers", out)

    # -- engine listener -------------------------------------------------------------------------
    def on_trade(self, t: Any) -> None:
        sym = t.inst.venue_symbol
        conns = [c for c in self.connections if sym in c.state.get("trades", ())]
        for c in conns:
            q = t.qty if t.taker_side == "buy" else -t.qty
            c.push("futures.trades", [{"size": size_out(q, c.size_decimal), "id": t.trade_id,
                                       "create_time": sec(t.ts_ns), "create_time_ms": ms(t.ts_ns),
                                       "price": fmt(t.price), "contract": sym}])

    def on_order(self, o: Any) -> None:
        self.emit_order(o, self._order_ws)

    def _order_ws(self, o: Any, event: str, conn: Connection) -> dict[str, Any]:
        sd = conn.size_decimal
        sign = 1 if o.is_buy else -1
        finished = o.status != "open"
        finish_as = o.finish_as if finished else ("_new" if event == "put" else "_update")
        return {
            "contract": o.inst.venue_symbol, "create_time": sec(o.create_ns), "create_time_ms": ms(o.create_ns),
            "fill_price": float(o.avg_price) if o.filled else 0, "finish_as": finish_as,
            "finish_time": sec(o.update_ns), "finish_time_ms": ms(o.update_ns), "iceberg": 0,
            "id": int(o.id), "is_close": o.is_close, "is_liq": False, "is_reduce_only": o.reduce_only,
            "left": size_out(o.left * sign, sd), "mkfr": float(o.inst.maker_fee),
            "price": float(o.price) if o.price is not None else 0, "refr": 0, "refu": 0,
            "size": size_out(o.qty * sign, sd), "status": "finished" if finished else "open",
            "text": o.client_id or DEFAULT_TEXT, "tif": o.tif, "tkfr": float(o.inst.taker_fee),
            "user": str(user_id(o.account)), "update_id": 1, "stop_loss_price": "", "stop_profit_price": "",
            "amend_text": "-", "biz_info": "-", "stp_act": "-", "stp_id": 0,
        }

    def on_fill(self, f: Any) -> None:
        self._fill_ctx.add(f.account.name)
        conns = self._private_conns("futures.usertrades", f.account, f.inst.venue_symbol)
        for c in conns:
            q = f.qty if f.side == "buy" else -f.qty
            c.push("futures.usertrades", [{
                "id": str(f.trade_id), "create_time": sec(f.ts_ns), "create_time_ms": ms(f.ts_ns),
                "contract": f.inst.venue_symbol, "order_id": f.order_id, "size": size_out(q, c.size_decimal),
                "price": fmt(f.price), "role": "maker" if f.is_maker else "taker",
                "text": f.client_id or DEFAULT_TEXT, "fee": float(f.fee), "point_fee": 0}])
        self.release_put(f.order_id)

    def on_balance(self, account: Any, asset: str, bal: Any) -> None:
        if account.internal:
            return
        key = (account.name, asset)
        prev = self._last_bal.get(key)
        self._last_bal[key] = bal
        change = bal.total - (prev.total if prev is not None else bal.total)
        if not change:
            return  # margin moves do not change the futures balance
        ctype = "fee" if account.name in self._fill_ctx else "fund"
        conns = self._private_conns("futures.balances", account, None)
        ns = time.time_ns()
        for c in conns:
            c.push("futures.balances", [{
                "balance": float(bal.total), "change": float(change), "text": "", "time": ns // 1_000_000_000,
                "time_ms": ns // 1_000_000, "type": ctype, "user": str(user_id(account)),
                "currency": asset.lower()}])

    def on_position(self, account: Any, p: Any) -> None:
        self._fill_ctx.discard(account.name)
        if account.internal:
            return
        conns = self._private_conns("futures.positions", account, p.inst.venue_symbol)
        ns = time.time_ns()
        for c in conns:
            c.push("futures.positions", [{
                "contract": p.inst.venue_symbol,
                "cross_leverage_limit": p.cross_leverage if p.leverage == 0 else 0,
                "entry_price": float(p.entry_price), "history_pnl": float(p.realised_pnl), "history_point": 0,
                "last_close_pnl": float(p.last_close_pnl), "leverage": p.leverage,
                "leverage_max": p.inst.leverage_max, "liq_price": float(p.liq_price),
                "maintenance_rate": float(p.inst.maintenance_rate), "margin": float(p.margin), "mode": "single",
                "realised_pnl": float(p.realised_pnl), "realised_point": 0, "risk_limit": 1000000,
                "size": size_out(p.size, c.size_decimal), "time": ns // 1_000_000_000, "time_ms": ns // 1_000_000,
                "user": str(user_id(account)), "update_id": p.update_id}])

    def on_book(self, change: Any) -> None:
        """Book pushes are built from the engine book at each interval (see book_feed)."""


__all__ = ["FuturesChannels"]
