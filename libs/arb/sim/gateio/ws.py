"""Gate.io WebSocket v4 envelope, shared by spot (/ws/v4/) and USDT futures (/v4/ws/usdt).

Request (text JSON) [docs]::

    {"time": 1611541000, "id": 123456789, "channel": "spot.orders", "event": "subscribe",
     "payload": ["BTC_USDT"], "auth": {"method": "api_key", "KEY": "xxxx", "SIGN": "xxxx"}}

Subscribe ack [docs]::

    {"time":1611541000,"time_ms":1611541000001,"id":123456789,"conn_id":"...","trace_id":"...",
     "channel":"spot.orders","event":"subscribe","payload":["BTC_USDT"],"error":null,"result":{"status":"success"}}

Error [docs]: ``"error":{"code":2,"message":"unknown currency pair GIBBERISH_USD"},"result":null``; codes
1 invalid body, 2 invalid argument, 3 server error, 4 authentication fail. An auth failure carries
the REST error body as its message (real frame kept in ccxt pro/gate.py)::

    "error": {"code": 4, "message": "{\\"label\\":\\"INVALID_KEY\\",\\"message\\":\\"Invalid key provided\\"}\\n"}

Ping: ``{"time": 1545404023, "channel": "spot.ping"}`` -> ``{"time":..,"time_ms":..,"channel":"spot.pong",
"event":"","error":null,"result":null}`` (futures: futures.ping / futures.pong).

Update push: ``{"time":..,"time_ms":..,"channel":..,"event":"update","result":..}``.

This module owns the connection: one reader (control protocol), one writer task draining a queue
(so engine listener callbacks only enqueue), and the connection-level faults: ``ws_drop`` (the TCP
connection is cut without a close frame), ``ws_stall`` (nothing is written for ``params.seconds``, starting
with the next frame to send: pongs wait in the same queue, so a stalled socket answers no ``*.ping``),
``malformed_frame`` (a truncated JSON text frame is written before the next push).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

ENC = msgspec.json.Encoder(decimal_format="string")
_DEC = msgspec.json.Decoder()

CODE_BAD_BODY = 1
CODE_BAD_ARG = 2
CODE_SERVER = 3
CODE_AUTH = 4

_conn_ids = itertools.count(1)


class WsRequest(msgspec.Struct, frozen=True):
    """The client's control frame; unknown fields ignored (clients add their own)."""

    channel: str = ""
    event: str = ""
    time: int | float | None = None
    id: Any = None
    payload: Any = None
    auth: dict[str, Any] | None = None


_REQ_DEC = msgspec.json.Decoder(WsRequest)


class WsReject(Exception):
    """A subscribe/unsubscribe that the venue answers with an ``error`` object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def now_pair() -> tuple[int, int]:
    ns = time.time_ns()
    return ns // 1_000_000_000, ns // 1_000_000


def push_frame(channel: str, result: Any, event: str = "update") -> bytes:
    t, tms = now_pair()
    return ENC.encode({"time": t, "time_ms": tms, "channel": channel, "event": event, "result": result})


def reply_frame(
    req: WsRequest, conn_id: str, *, result: Any = None, error: tuple[int, str] | None = None
) -> bytes:
    t, tms = now_pair()
    body: dict[str, Any] = {"time": t, "time_ms": tms}
    if req.id is not None:
        body["id"] = req.id
    body["conn_id"] = conn_id
    body["trace_id"] = uuid.uuid4().hex
    body["channel"] = req.channel
    body["event"] = req.event
    if req.payload is not None:
        body["payload"] = req.payload
    if error is not None:
        body["error"] = {"code": error[0], "message": error[1]}
        body["result"] = None
    else:
        body["error"] = None
        body["result"] = result
    return ENC.encode(body)


class Connection:
    """One client socket. Channel logic lives in the market's ``ChannelSet``; this is transport only."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, prefix: str, ctx: Any,
                 venue: Any, market: Any) -> None:
        self.request = request
        self.ws = ws
        self.prefix = prefix
        self.ctx = ctx
        self.venue = venue
        self.market = market
        self.conn_id = f"{next(_conn_ids):08x}{uuid.uuid4().hex[:8]}"
        self.size_decimal = request.headers.get("X-Gate-Size-Decimal", "") == "1"
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self.state: dict[str, Any] = {}  # per-channel state owned by the ChannelSet
        self._stall_until = 0.0

    # -- sending ---------------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        if not self.closed:
            self.queue.put_nowait(frame)

    def push(self, channel: str, result: Any, event: str = "update") -> None:
        if not self.closed:
            self.queue.put_nowait(push_frame(channel, result, event))

    async def writer(self) -> None:
        faults = self.ctx.faults
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    return
                spec = faults.take("ws_stall", self.venue, self.market)
                if spec is not None:
                    seconds = float(spec.param("seconds", 10))
                    await asyncio.sleep(seconds)
                if faults.take("malformed_frame", self.venue, self.market) is not None:
                    await self.ws.send_str(frame[: max(1, len(frame) // 2)].decode(errors="ignore"))
                if faults.take("ws_drop", self.venue, self.market) is not None:
                    self.drop()
                    return
                await self.ws.send_str(frame.decode())
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            return

    def drop(self) -> None:
        """Cut the TCP connection without a close frame (what a venue-side drop looks like)."""
        self.closed = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close()


Handler = Callable[[Connection, WsRequest], Awaitable[Any]]


class ChannelSet:
    """Base for spot/futures channel logic: subclasses fill ``subscribe``/``unsubscribe`` tables."""

    prefix = "spot"

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.subscribers: dict[str, Handler] = {}
        self.unsubscribers: dict[str, Handler] = {}

    def on_close(self, conn: Connection) -> None:
        """Drop every subscription the connection held."""

    async def handle(self, conn: Connection, raw: str | bytes) -> None:
        try:
            req = _REQ_DEC.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            t, tms = now_pair()
            conn.send(ENC.encode({"time": t, "time_ms": tms, "channel": "", "event": "",
                                  "error": {"code": CODE_BAD_BODY, "message": "invalid request body format"},
                                  "result": None}))
            return
        if req.channel == f"{self.prefix}.ping":
            t, tms = now_pair()
            body: dict[str, Any] = {"time": t, "time_ms": tms}
            if req.id is not None:
                body["id"] = req.id
            body.update({"conn_id": conn.conn_id, "channel": f"{self.prefix}.pong", "event": "",
                         "error": None, "result": None})
            conn.send(ENC.encode(body))
            return
        table = {"subscribe": self.subscribers, "unsubscribe": self.unsubscribers}.get(req.event)
        if table is None:
            conn.send(reply_frame(req, conn.conn_id, error=(CODE_BAD_ARG, f"unknown event {req.event}")))
            return
        handler = table.get(req.channel)
        if handler is None:
            conn.send(reply_frame(req, conn.conn_id, error=(CODE_BAD_ARG, f"unknown channel {req.channel}")))
            return
        if req.time is not None and abs(time.time() - float(req.time)) > 60:
            conn.send(reply_frame(req, conn.conn_id, error=(CODE_BAD_ARG, "time expired")))
            return
        try:
            after = await handler(conn, req)
        except WsReject as exc:
            conn.send(reply_frame(req, conn.conn_id, error=(exc.code, exc.message)))
            return
        conn.send(reply_frame(req, conn.conn_id, result={"status": "success"}))
        if callable(after):
            after()  # e.g. the first full order book push goes out right after the ack

    async def serve(self, request: web.Request, ctx: Any, venue: Any, market: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=1 << 20, compress=False)
        await ws.prepare(request)
        conn = Connection(request, ws, self.prefix, ctx, venue, market)
        self.connections.add(conn)
        writer = asyncio.create_task(conn.writer())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT or msg.type == WSMsgType.BINARY:
                    await self.handle(conn, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
                if conn.closed:
                    break
        finally:
            self.connections.discard(conn)
            self.on_close(conn)
            conn.closed = True
            conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
        return ws


def decode_json(raw: bytes | str) -> Any:
    return _DEC.decode(raw)


__all__ = [
    "CODE_AUTH",
    "CODE_BAD_ARG",
    "CODE_BAD_BODY",
    "CODE_SERVER",
    "ENC",
    "ChannelSet",
    "Connection",
    "WsReject",
    "WsRequest",
    "decode_json",
    "now_pair",
    "push_frame",
    "reply_frame",
]
