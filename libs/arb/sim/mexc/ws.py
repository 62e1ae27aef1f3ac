"""MEXC Spot v3 WebSocket (``/ws``, protobuf API): control frames, public and private pushes, limits, faults.

Control (text JSON, exchange-facts §1.2)::

    -> {"method":"SUBSCRIPTION","params":["spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"]}
    <- {"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}
    -> {"method":"UNSUBSCRIPTION","params":[...]}   <- {"id":0,"code":0,"msg":"<params joined by ,>"}
    -> {"method":"PING"}                            <- {"id":0,"code":0,"msg":"PONG"}

A channel the venue does not serve is answered as live MEXC does (Mexc.Net#35)::

    {"id":0,"code":0,"msg":"Not Subscribed successfully! [spot@public.miniTicker.v3.api@BTCUSDT@UTC+0].  Reason： Blocked!"}

Data pushes are BINARY ``PushDataV3ApiWrapper`` frames (see ``frames``). Limits (§1.1): 30 subscriptions
per connection (subscriptions past the limit are refused and never served), no valid subscription ->
disconnect after 30 s, subscribed but no data and no PING for 60 s -> disconnect, 24 h max connection
age, 100 client messages/s. Private channels only on a ``?listenKey=`` connection, at most 5 per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from ...obs.log import get_logger
from . import frames as F

if TYPE_CHECKING:
    from .state import MexcState

log = get_logger("arb.sim.mexc.ws")

VENUE, MARKET = "mexc", "spot"
BLOCKED = "Not Subscribed successfully! [{}].  Reason： Blocked!"
INVALID_LISTEN_KEY = "Invalid listen key"


@dataclass
class WsLimits:
    """Connection rules (live values in the docstrings); mutable so tests can shrink the timers."""

    max_subscriptions: int = 30
    no_subscription_timeout_s: float = 30.0
    idle_timeout_s: float = 60.0  # subscribed, but neither data nor a client PING for this long
    max_age_s: float = 24 * 3600.0
    max_client_msgs_per_s: int = 100
    max_conns_per_listen_key: int = 5
    send_queue: int = 10_000  # frames queued for one slow client before it is disconnected


class _Control(msgspec.Struct):
    method: str = ""
    params: list[str] = []
    id: int | None = None


_decode_control = msgspec.json.Decoder(_Control).decode
_encode = msgspec.json.encode


@dataclass(eq=False)
class Conn:
    """One client WebSocket. Frames go through a queue to one writer task, so a fan-out never awaits."""

    ws: web.WebSocketResponse
    account: Any = None  # set on a ?listenKey= connection
    listen_key: str = ""
    subs: set[str] = field(default_factory=set)
    opened: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    no_sub_since: float | None = field(default_factory=time.monotonic)  # None while subscribed
    stalled_until: float = 0.0
    closing: bool = False
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue())
    msg_times: deque = field(default_factory=deque)

    def push(self, frame: bytes | str, data: bool = True) -> None:
        """Queue one frame. While a ws_stall fault holds this connection every frame is dropped, control replies
        (PONG, acks) included: a stalled socket is silent, so a client's PING cannot prove it live."""
        if self.closing:
            return
        now = time.monotonic()
        if now < self.stalled_until:
            return
        if data:
            self.last_activity = now
        self.queue.put_nowait(frame)


def parse_channel(ch: str, symbols: dict[str, Any]) -> tuple[str, str, str] | None:
    """``spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT`` -> (base, interval_or_level, symbol); None if invalid."""
    if ch in F.PRIVATE_CHANNELS:
        return ch, "", ""
    parts = ch.split("@")
    if len(parts) != 4 or parts[0] != "spot":
        return None
    base = "spot@" + parts[1]
    if base in (F.CH_DEPTH, F.CH_BBO, F.CH_DEALS):
        interval, sym = parts[2], parts[3]
        if interval not in F.INTERVALS or sym not in symbols:
            return None
        return base, interval, sym
    if base == F.CH_KLINE:  # symbol BEFORE interval
        sym, interval = parts[2], parts[3]
        if interval not in F.KLINE_INTERVALS or sym not in symbols:
            return None
        return base, interval, sym
    if base == F.CH_LIMIT:  # symbol BEFORE level
        sym, level = parts[2], parts[3]
        if level not in F.LIMIT_LEVELS or sym not in symbols:
            return None
        return base, level, sym
    return None


class WsHub:
    """All MEXC connections and channel subscriber sets; flush loops build each frame once per channel."""

    def __init__(self, state: MexcState, limits: WsLimits) -> None:
        self.state = state
        self.limits = limits
        self.conns: set[Conn] = set()
        self.subscribers: dict[str, set[Conn]] = {}
        self._tasks: list[asyncio.Task] = []

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._flush_loop("100ms", 0.1), name="mexc-flush-100ms"),
            loop.create_task(self._flush_loop("10ms", 0.01), name="mexc-flush-10ms"),
            loop.create_task(self._housekeeping(), name="mexc-ws-housekeeping"),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for c in list(self.conns):
            await self._close(c, abort=True)

    # ---- connection handler ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Conn(ws=ws, queue=asyncio.Queue(maxsize=self.limits.send_queue))
        key = request.query.get("listenKey")
        if key is not None:
            account = self.state.listen_keys.account_for(key)
            if account is None or self.state.listen_keys.conn_count(key) >= self.limits.max_conns_per_listen_key:
                await ws.send_str(INVALID_LISTEN_KEY)
                await ws.close()
                return ws
            conn.account, conn.listen_key = account, key
            self.state.listen_keys.attach(key, conn)
        self.conns.add(conn)
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    if not self._rate_ok(conn):
                        break
                    self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    if not self._rate_ok(conn):
                        break
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self._forget(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if not ws.closed:
                await ws.close()
        return ws

    def _rate_ok(self, conn: Conn) -> bool:
        now = time.monotonic()
        q = conn.msg_times
        q.append(now)
        while q and now - q[0] > 1.0:
            q.popleft()
        return len(q) <= self.limits.max_client_msgs_per_s

    async def _writer(self, conn: Conn) -> None:
        ws = conn.ws
        try:
            while True:
                frame = await conn.queue.get()
                if frame is None:
                    return
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
        except (ConnectionResetError, RuntimeError):
            pass

    def _forget(self, conn: Conn) -> None:
        conn.closing = True
        self.conns.discard(conn)
        for ch in conn.subs:
            s = self.subscribers.get(ch)
            if s is not None:
                s.discard(conn)
                if not s:
                    del self.subscribers[ch]
        conn.subs.clear()
        if conn.listen_key:
            self.state.listen_keys.detach(conn.listen_key, conn)

    async def _close(self, conn: Conn, abort: bool = False) -> None:
        self._forget(conn)
        with contextlib.suppress(ConnectionError, RuntimeError):  # already gone
            if abort:
                # ws_drop: no close frame, the TCP connection just goes away
                transport = conn.ws._req.transport if conn.ws._req is not None else None
                if transport is not None:
                    transport.abort()
                else:
                    await conn.ws.close()
            else:
                await conn.ws.close()

    # ---- control frames ----------------------------------------------------------------------------
    def _reply(self, conn: Conn, req_id: int | None, msg: str, code: int = 0) -> None:
        conn.push(_encode({"id": req_id or 0, "code": code, "msg": msg}).decode(), data=False)

    def _on_text(self, conn: Conn, text: str) -> None:
        try:
            ctl = _decode_control(text)
        except msgspec.DecodeError:
            return  # live MEXC ignores frames it cannot read (no documented error reply)
        method = ctl.method.upper()  # ccxt sends {"method":"ping"} in production; MEXC answers PONG
        if method == "PING":
            conn.last_activity = time.monotonic()
            self._reply(conn, ctl.id, "PONG")
        elif method == "SUBSCRIPTION":
            self._subscribe(conn, ctl)
        elif method == "UNSUBSCRIPTION":
            for ch in ctl.params:
                if ch in conn.subs:
                    conn.subs.discard(ch)
                    s = self.subscribers.get(ch)
                    if s is not None:
                        s.discard(conn)
                        if not s:
                            del self.subscribers[ch]
            if not conn.subs and conn.no_sub_since is None:
                conn.no_sub_since = time.monotonic()
            self._reply(conn, ctl.id, ",".join(ctl.params))

    def _subscribe(self, conn: Conn, ctl: _Control) -> None:
        ok: list[str] = []
        bad: list[str] = []
        symbols = self.state.instruments
        for ch in ctl.params:
            parsed = parse_channel(ch, symbols)
            if parsed is None or (parsed[0] in F.PRIVATE_CHANNELS and conn.account is None):
                bad.append(ch)
                continue
            if ch in conn.subs:
                ok.append(ch)
                continue
            if len(conn.subs) >= self.limits.max_subscriptions:
                bad.append(ch)  # "Any subscription will be invalid after the limit is exceeded"
                continue
            conn.subs.add(ch)
            if parsed[0] == F.CH_LIMIT:
                self.state.last_limit.pop(ch, None)  # a new subscriber gets the current top N at the next flush
            conn.no_sub_since = None
            conn.last_activity = time.monotonic()
            self.subscribers.setdefault(ch, set()).add(conn)
            ok.append(ch)
        if ok:
            self._reply(conn, ctl.id, ",".join(ok))
        if bad:
            self._reply(conn, ctl.id, BLOCKED.format(",".join(bad)))

    # ---- fan-out -----------------------------------------------------------------------------------
    def fanout(self, channel: str, frame: bytes) -> None:
        subs = self.subscribers.get(channel)
        if not subs:
            return
        for conn in tuple(subs):
            try:
                conn.push(frame)
            except asyncio.QueueFull:
                log.warning("mexc ws: client too slow, disconnecting")
                asyncio.get_running_loop().create_task(self._close(conn))

    def push_private(self, account: Any, channel: str, frame: bytes) -> None:
        for conn in tuple(self.state.listen_keys.conns_of(account)):
            if channel in conn.subs:
                try:
                    conn.push(frame)
                except asyncio.QueueFull:
                    asyncio.get_running_loop().create_task(self._close(conn))

    def _book_fanout(self, channel: str, frame: bytes) -> None:
        """Depth frames pass the sequence faults: skip, duplicate, reorder (hold until the next one)."""
        faults = self.state.faults
        held = self.state.held_depth.pop(channel, None)
        if faults.take("book_skip", VENUE, MARKET) is not None:
            if held is not None:
                self.fanout(channel, held)
            return
        if faults.take("book_reorder", VENUE, MARKET) is not None and held is None:
            self.state.held_depth[channel] = frame
            return
        self._public_fanout(channel, frame)
        if held is not None:
            self._public_fanout(channel, held)
        if faults.take("book_duplicate", VENUE, MARKET) is not None:
            self._public_fanout(channel, frame)

    def _public_fanout(self, channel: str, frame: bytes) -> None:
        if self.state.faults.take("malformed_frame", VENUE, MARKET) is not None:
            frame = b"\x0a\xff\xff" + frame[:7]  # length prefix runs past the end: does not parse
        self.fanout(channel, frame)

    async def _flush_loop(self, interval: str, period: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += period
            if next_at < loop.time():  # fell behind (GC, slow host): skip, do not burst
                next_at = loop.time() + period
            try:
                self._flush(interval)
            except Exception:
                log.exception("mexc ws flush %s failed", interval)

    def _flush(self, interval: str) -> None:
        st = self.state
        send_ms = time.time_ns() // 1_000_000
        acc = st.pending[interval]
        st.pending[interval] = {}
        trades = st.pending_trades[interval]
        st.pending_trades[interval] = {}
        subs = self.subscribers
        for sym, (first, last, bids, asks) in acc.items():
            ch = f"{F.CH_DEPTH}@{interval}@{sym}"
            if ch in subs:
                frame = F.aggre_depth(
                    ch, f"{F.CH_DEPTH}@{interval}", sym,
                    sorted(bids.items(), reverse=True), sorted(asks.items()), first, last, send_ms,
                )
                self._book_fanout(ch, frame)
            ch = f"{F.CH_BBO}@{interval}@{sym}"
            if ch in subs:
                book = st.exchange.book(sym)
                best = book.best()
                key = (ch,)
                if best != st.last_bbo.get(key):
                    st.last_bbo[key] = best
                    bp, bq, ap, aq = best
                    self._public_fanout(ch, F.aggre_book_ticker(
                        ch, sym, bp or Decimal(0), bq or Decimal(0), ap or Decimal(0), aq or Decimal(0),
                        last, send_ms,
                    ))
        for sym, tlist in trades.items():
            ch = f"{F.CH_DEALS}@{interval}@{sym}"
            if ch in subs:
                self._public_fanout(ch, F.aggre_deals(ch, f"{F.CH_DEALS}@{interval}", sym, tlist, send_ms))
        if interval == "100ms":
            for ch in [c for c in subs if c.startswith(F.CH_LIMIT)]:
                _, sym, level = ch.rsplit("@", 2)
                book = st.exchange.book(sym)
                uid, bids, asks = book.depth(int(level))
                if st.last_limit.get(ch) == uid:
                    continue
                st.last_limit[ch] = uid
                self._public_fanout(ch, F.limit_depth(ch, sym, bids, asks, uid, send_ms))

    # ---- timers and connection faults --------------------------------------------------------------
    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            try:
                await self._tick()
            except Exception:
                log.exception("mexc ws housekeeping failed")

    async def _tick(self) -> None:
        now = time.monotonic()
        lim = self.limits
        faults = self.state.faults
        if faults.take("listenkey_expire", VENUE, MARKET) is not None:
            for key in self.state.listen_keys.all_keys():
                self.state.listen_keys.expire(key)
        for key in self.state.listen_keys.sweep():
            for conn in list(self.state.listen_keys.conns_for_key(key)):
                await self._close(conn)
        for conn in list(self.conns):
            if conn.closing:
                continue
            if faults.take("ws_drop", VENUE, MARKET) is not None:
                await self._close(conn, abort=True)
                continue
            spec = faults.take("ws_stall", VENUE, MARKET)
            if spec is not None:
                conn.stalled_until = now + float(spec.param("seconds", 10))
            age = now - conn.opened
            if age > lim.max_age_s:
                await self._close(conn)
            elif conn.no_sub_since is not None and now - conn.no_sub_since > lim.no_subscription_timeout_s:
                await self._close(conn)  # a PING does not count: only a valid subscription does
            elif conn.subs and now - conn.last_activity > lim.idle_timeout_s:
                await self._close(conn)


__all__ = ["BLOCKED", "INVALID_LISTEN_KEY", "Conn", "WsHub", "WsLimits", "parse_channel"]
