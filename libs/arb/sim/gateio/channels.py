"""What spot and futures WS channels share: the push loop, book streams, auth, private fan-out.

``GateChannels`` is both the venue market's ``ChannelSet`` (control protocol, see ``ws``) and an engine
listener. Listener callbacks only serialise and enqueue frames (cheap, synchronous); one loop per
market (every 10 ms) emits book_ticker changes, due order-book pushes (100 ms / 20 ms) and tickers (1 s).

Private pushes for one client action keep the engine's order (orders put, usertrades, orders
update/finish, balances, positions); ``fill_before_ack`` holds the ``put`` push of one order back until
its first usertrade has been sent (or its next order push, if it never fills).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal
from typing import Any

import msgspec

from arb.core.enums import Market, Venue
from arb.obs.log import get_logger
from arb.sim.gateio.auth import ws_sign
from arb.sim.gateio.book_feed import BookView
from arb.sim.gateio.common import CANDLE_INTERVALS
from arb.sim.gateio.ws import CODE_AUTH, CODE_BAD_ARG, ChannelSet, Connection, WsReject, WsRequest, push_frame

_ENC = msgspec.json.Encoder()
log = get_logger("arb.sim.gateio")
TICK_S = 0.01
TICKER_EVERY_S = 1.0


class GateChannels(ChannelSet):
    market: Market = Market.SPOT

    def __init__(self, g: Any, ex: Any) -> None:
        super().__init__()
        self.g = g
        self.ex = ex
        self.faults = g.faults
        self._task: asyncio.Task | None = None
        self._order_state: dict[str, tuple[str, Decimal]] = {}  # order id -> (status, filled) last pushed
        self._held_put: dict[str, list[tuple[Connection, bytes]]] = {}
        self._last_bal: dict[tuple[str, str], Any] = {}
        self._fill_ctx: set[str] = set()
        for acc in g.ctx.accounts:
            if acc.venue is Venue.GATEIO and not acc.internal:
                for asset, bal in ex.balances(acc).items():
                    self._last_bal[(acc.name, asset)] = bal
        ex.add_listener(self)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        for conn in list(self.connections):
            await conn.close()

    async def _loop(self) -> None:
        next_ticker = time.monotonic() + TICKER_EVERY_S
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            tickers_due = now >= next_ticker
            if tickers_due:
                next_ticker = now + TICKER_EVERY_S
            for conn in list(self.connections):
                if conn.closed:
                    continue
                try:
                    self._tick_conn(conn, now, tickers_due)
                except Exception:  # one bad connection must not stop the market's pushes
                    log.exception("gateio %s ws: push failed; dropping connection", self.prefix)
                    conn.drop()

    def _tick_conn(self, conn: Connection, now: float, tickers_due: bool) -> None:
        st = conn.state
        bt: dict[str, int] | None = st.get("book_ticker")
        if bt:
            for sym in bt:
                book = self.ex.book(sym)
                if book.update_id != bt[sym]:
                    bt[sym] = book.update_id
                    conn.push(f"{self.prefix}.book_ticker", self.book_ticker_json(sym, book, conn))
        views: dict[str, BookView] | None = st.get("books")
        if views:
            for view in views.values():
                if now < view.next_due:
                    continue
                view.next_due = now + view.interval_ms / 1000.0
                d = view.diff(self.ex.book(view.symbol))
                if d is None:
                    continue
                frame = self.book_update_frame(view, conn, *d)
                self._send_book(conn, view, frame)
        if tickers_due and st.get("tickers"):
            self.push_tickers(conn, sorted(st["tickers"]))

    def _send_book(self, conn: Connection, view: BookView, frame: bytes) -> None:
        v, m = Venue.GATEIO, self.market
        if self.faults.take("book_skip", v, m) is not None:
            return
        if view.held is not None:
            held, view.held = view.held, None
            conn.send(frame)
            conn.send(held)
            return
        if self.faults.take("book_reorder", v, m) is not None:
            view.held = frame
            return
        conn.send(frame)
        if self.faults.take("book_duplicate", v, m) is not None:
            conn.send(frame)

    # -- subclass hooks --------------------------------------------------------------------------
    def book_ticker_json(self, sym: str, book: Any, conn: Connection) -> dict[str, Any]:
        raise NotImplementedError

    def book_update_frame(self, view: BookView, conn: Connection, first: int, last: int,
                          bids: list, asks: list) -> bytes:
        raise NotImplementedError

    def push_tickers(self, conn: Connection, syms: list[str]) -> None:
        raise NotImplementedError

    # -- subscription helpers --------------------------------------------------------------------
    def _symbols(self, req: WsRequest, allow_all: bool = False) -> list[str]:
        payload = req.payload
        if not isinstance(payload, list) or not payload or not all(isinstance(x, str) for x in payload):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        out = []
        for sym in payload:
            if allow_all and sym == "!all":
                out.append(sym)
                continue
            if sym not in self.ex.instruments:
                raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(sym))
            out.append(sym)
        return out

    def unknown_symbol_message(self, sym: str) -> str:
        return f"unknown currency pair {sym}"

    def authenticate(self, conn: Connection, req: WsRequest) -> Any:
        """Check ``auth`` = {method: api_key, KEY, SIGN}: SIGN = HMAC_SHA512(secret, channel=..&event=..&time=..)."""
        auth = req.auth
        if not isinstance(auth, dict) or auth.get("method") != "api_key" or not auth.get("KEY"):
            raise WsReject(CODE_AUTH, _auth_error("MISSING_REQUIRED_HEADER", "Missing required header: KEY"))
        key = str(auth.get("KEY"))
        acc = self.g.account_by_key(key)
        if acc is None:
            raise WsReject(CODE_AUTH, _auth_error("INVALID_KEY", "Invalid key provided"))
        if req.time is None:
            raise WsReject(CODE_AUTH, _auth_error("INVALID_SIGNATURE", "Signature mismatch"))
        t = req.time
        t_str = str(int(t)) if isinstance(t, float) and t.is_integer() else str(t)
        expected = ws_sign(acc.api_secret, req.channel, req.event, t_str)
        if str(auth.get("SIGN", "")).lower() != expected:
            raise WsReject(CODE_AUTH, _auth_error("INVALID_SIGNATURE", "Signature mismatch"))
        return acc

    def _sub_set(self, conn: Connection, name: str, syms: list[str]) -> None:
        conn.state.setdefault(name, set()).update(syms)

    def _unsub_set(self, conn: Connection, name: str, syms: list[str]) -> None:
        s = conn.state.get(name)
        if s:
            s.difference_update(syms)

    def _candle_args(self, req: WsRequest) -> tuple[int, str]:
        """Payload ``[interval, contract or pair]`` (docs: "From left to right, interval, cp") -> (seconds, symbol)."""
        p = req.payload
        if not isinstance(p, list) or len(p) != 2 or not all(isinstance(x, str) for x in p):
            raise WsReject(CODE_BAD_ARG, "invalid argument: payload")
        iv, sym = p
        if iv not in CANDLE_INTERVALS:
            raise WsReject(CODE_BAD_ARG, f"invalid interval {iv}")
        if sym not in self.ex.instruments:
            raise WsReject(CODE_BAD_ARG, self.unknown_symbol_message(sym))
        return CANDLE_INTERVALS[iv], sym

    async def sub_candles(self, conn: Connection, req: WsRequest) -> None:
        conn.state.setdefault("candles", set()).add(self._candle_args(req))

    async def unsub_candles(self, conn: Connection, req: WsRequest) -> None:
        conn.state.get("candles", set()).discard(self._candle_args(req))

    def _private_conns(self, channel: str, account: Any, sym: str | None) -> list[Connection]:
        out = []
        for conn in self.connections:
            sub = conn.state.get(channel)
            if sub is None or conn.closed:
                continue
            acc, syms = sub
            if acc is not account:
                continue
            if sym is None or "!all" in syms or sym in syms:
                out.append(conn)
        return out

    # -- private fan-out used by both markets ----------------------------------------------------
    def order_event(self, o: Any) -> str | None:
        """put / update / finish for this engine on_order call; None when nothing changed since last push."""
        prev = self._order_state.get(o.id)
        if o.status != "open":
            self._order_state.pop(o.id, None)
            return "finish"
        state = (o.status, o.filled)
        if prev is None:
            self._order_state[o.id] = state
            return "put"
        if prev == state:
            return None
        self._order_state[o.id] = state
        return "update"

    def emit_order(self, o: Any, build: Any) -> None:
        if o.account.internal:
            return
        event = self.order_event(o)
        if event is None:
            return
        conns = self._private_conns(f"{self.prefix}.orders", o.account, o.inst.venue_symbol)
        channel = f"{self.prefix}.orders"
        if event == "put" and conns and self.faults.take("fill_before_ack", Venue.GATEIO, self.market) is not None:
            self._held_put[o.id] = [(c, push_frame(channel, [build(o, event, c)])) for c in conns]
            return
        self.release_put(o.id)
        for c in conns:
            c.push(channel, [build(o, event, c)])

    def release_put(self, order_id: str) -> None:
        held = self._held_put.pop(order_id, None)
        if held:
            for c, frame in held:
                c.send(frame)

    def on_close(self, conn: Connection) -> None:
        conn.state.clear()


def _auth_error(label: str, message: str) -> str:
    # real frame: "message": "{\"label\":\"INVALID_KEY\",\"message\":\"Invalid key provided\"}\n"
    return _ENC.encode({"label": label, "message": message}).decode() + "\n"


def private_sub(channels: GateChannels, conn: Connection, req: WsRequest, name: str, syms: list[str]) -> None:
    acc = channels.authenticate(conn, req)
    cur = conn.state.get(name)
    if cur is not None and cur[0] is acc:
        cur[1].update(syms)
    else:
        conn.state[name] = (acc, set(syms))


def private_unsub(conn: Connection, name: str, syms: list[str] | None) -> None:
    cur = conn.state.get(name)
    if cur is None:
        return
    if syms is None:
        conn.state.pop(name, None)
        return
    cur[1].difference_update(syms)
    if not cur[1]:
        conn.state.pop(name, None)


__all__ = ["GateChannels", "private_sub", "private_unsub"]
