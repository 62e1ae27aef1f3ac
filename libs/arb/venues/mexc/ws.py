"""MEXC Spot WebSocket adapter for ``arb.venues.common.ws.WsManager`` (exchange-facts 1.1-1.3).

* URL ``wss://wbs-api.mexc.com/ws`` (public) or ``...?listenKey=<key>`` (private).
* Control frames are JSON text: ``{"method":"SUBSCRIPTION","params":[...]}``, ``{"method":"PING"}``; the
  venue answers ``{"id":0,"code":0,"msg":"<params>"}`` / ``{"id":0,"code":0,"msg":"PONG"}``. A channel it
  refuses is answered ``{"id":0,"code":0,"msg":"Not Subscribed successfully! [...].  Reason： Blocked!"}``.
* Data pushes are BINARY protobuf frames, handed to the composite's ``on_binary``.
* Limits: 30 subscriptions per connection (beyond that they are silently invalid), no data for 60 s or no
  subscription for 30 s -> disconnect (a PING keeps it alive), 24 h max connection age, 100 messages/s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from ...config.schema import GatewayOptions
from ...core.errors import ProtocolError
from ..common.ws import WsConfig, WsConnection
from . import parse
from .schemas import Subscribe

MAX_SUBS_PER_CONN = 30  # venue limit
MAX_AGE_S = 24 * 3600.0  # venue limit
PARAMS_PER_MESSAGE = 10  # subscriptions per SUBSCRIPTION message (3 messages for a full connection)
PING = '{"method":"PING"}'
REFUSED = "Not Subscribed successfully"

_encode = msgspec.json.Encoder().encode


def refused_channels(msg: str) -> list[str]:
    """The channels a refusal names: ``Not Subscribed successfully! [a,b].  Reason： Blocked!`` -> [a, b]."""
    start, end = msg.find("["), msg.rfind("]")
    if start < 0 or end <= start:
        return []
    return [c.strip() for c in msg[start + 1:end].split(",") if c.strip()]


def subscribe_message(params: list[str] | tuple[str, ...]) -> str:
    return _encode(Subscribe("SUBSCRIPTION", list(params))).decode()


def ws_config(url: str, options: GatewayOptions, *, stale_after_s: float = 0.0) -> WsConfig:
    """The connection manager's settings for MEXC: <= 30 subscriptions each, rotate before 24 h.

    ``stale_after_s`` (market data: ``options.stale_after_s``; the user stream keeps 0) turns on the liveness check:
    PING at least every stale_after_s / 3, and a socket with no frame (data or PONG) that long is reported silent."""
    age = min(options.max_connection_age_s, MAX_AGE_S - 60.0)
    return WsConfig(
        url=url,
        max_subs_per_conn=MAX_SUBS_PER_CONN,
        watchdog_s=options.watchdog_s,
        keepalive_s=options.ping_interval_s,
        backoff_initial_s=options.backoff_initial_s,
        backoff_max_s=options.backoff_max_s,
        max_age_s=MAX_AGE_S,
        rotate_before_s=MAX_AGE_S - age,
        connect_timeout_s=options.request_timeout_s,
        stale_after_s=stale_after_s,
    )


class MexcWsAdapter:
    """Subscribes a connection's channels, keeps it alive with PING, reads control replies, forwards binary.

    ``on_binary`` is the composite's router (sync, hot path). Counters are plain ints read by the metrics loop.
    """

    def __init__(self, on_binary: Callable[[bytes], None], on_refused: Callable[[str], None] | None = None,
                 on_text_push: Callable[[str], None] | None = None,
                 on_ack: Callable[[str], None] | None = None) -> None:
        self.on_binary = on_binary
        self._on_refused = on_refused
        self._on_ack = on_ack
        self._on_text_push = on_text_push
        self.acks = 0
        self.pongs = 0
        self.refused = 0
        self.control_errors = 0
        self.last_refusal = ""

    async def on_open(self, conn: WsConnection) -> None:
        subs = list(conn.subscriptions)
        for i in range(0, len(subs), PARAMS_PER_MESSAGE):
            await conn.send_str(subscribe_message(subs[i:i + PARAMS_PER_MESSAGE]))
            if i + PARAMS_PER_MESSAGE < len(subs):
                await asyncio.sleep(0.02)  # far under the 100 messages/s limit

    def on_text(self, data: str) -> None:
        try:
            c = parse.control(data)
        except ProtocolError:
            self.control_errors += 1
            if self._on_text_push is not None:
                self._on_text_push(data)  # e.g. "Invalid listen key" (plain text)
            return
        msg = c.msg
        if msg == "PONG":
            self.pongs += 1
        elif msg.startswith(REFUSED) or c.code != 0:
            self.refused += 1
            self.last_refusal = msg
            if self._on_refused is not None:
                self._on_refused(msg)
        else:
            self.acks += 1
            if self._on_ack is not None:
                self._on_ack(msg)

    def keepalive(self) -> str:
        return PING


__all__ = ["MAX_SUBS_PER_CONN", "PING", "MexcWsAdapter", "refused_channels", "subscribe_message", "ws_config"]
