"""NATS connection lifecycle: connect (bounded), count reconnects, publish one encoded struct, drain on shutdown.

Typed helpers: ``request_typed`` decodes a reply as the given type(s) only (the catalogue ``arb.bus.contract``
says which), ``subscribe_typed`` hands a handler only messages of the given type(s) and counts the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from ..config.checks import redact_url
from ..core.errors import BusUnavailable
from . import codec

Handler = Callable[[Any, Msg], Awaitable[None]]
T = TypeVar("T")


class TypedSubscription(Generic[T]):
    """A subscription that delivers only ``types``: ``delivered`` counts what the handler got, ``dropped`` the
    messages of other registered types (a subject carrying more than the subscriber expects), and ``undecodable``
    payloads that are not bus messages at all (also reported to the bus's ``on_decode_error``)."""

    def __init__(self, subject: str, types: tuple[type, ...]) -> None:
        self.subject = subject
        self.types = types
        self.delivered = 0
        self.dropped = 0
        self.undecodable = 0
        self.sub: Any = None

    async def unsubscribe(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()


class Bus:
    """One NATS client per process. Publishing costs one encode and one publish, nothing else."""

    def __init__(self, nc: Client, on_decode_error: Callable[[str, Exception], None] | None = None) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.reconnects = 0
        self.disconnects = 0
        self._on_decode_error = on_decode_error
        self._encode = codec.encode

    @classmethod
    async def connect(cls, url: str, name: str, connect_timeout: float = 5.0, **kw: Any) -> Bus:
        """Connect within ``connect_timeout`` seconds overall, or raise BusUnavailable naming the URL (password
        masked) and the last failure. nats-py with ``max_reconnect_attempts=-1`` would retry the first connect
        for ever, silently; once connected, the client still reconnects for ever."""
        servers = [u.strip() for u in url.split(",")]
        holder: dict[str, Bus] = {}
        failures: list[BaseException] = []

        async def disconnected() -> None:
            if "bus" in holder:
                holder["bus"].disconnects += 1

        async def reconnected() -> None:
            if "bus" in holder:
                holder["bus"].reconnects += 1

        async def error(e: Exception) -> None:  # nats-py logs nothing by itself; keep the loop alive
            if "bus" not in holder:
                failures[:] = [e]  # the reason the first connect has not succeeded yet

        nc = Client()
        try:
            await asyncio.wait_for(
                nc.connect(
                    servers=servers,
                    name=name,
                    connect_timeout=connect_timeout / len(servers),  # per attempt: every server gets its turn
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=kw.pop("reconnect_time_wait", 0.5),
                    disconnected_cb=disconnected,
                    reconnected_cb=reconnected,
                    error_cb=error,
                    **kw,
                ),
                connect_timeout,
            )
        except BaseException as e:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 1.0)
            if not isinstance(e, (TimeoutError, OSError, ValueError, nats.errors.Error)):
                raise  # cancelled (a stop during start-up) or a bug
            cause = failures[-1] if failures else e
            why = f"{type(cause).__name__}: {cause}" if str(cause) else "no answer"
            raise BusUnavailable(
                f"NATS unreachable at {redact_url(url)} within {connect_timeout:g}s ({redact_url(why)})"
            ) from None
        bus = cls(nc)
        holder["bus"] = bus
        return bus

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    async def publish(self, subject: str, event: Any) -> None:
        """Core publish (market data): fire and forget; a stream bound to the subject still stores it."""
        await self.nc.publish(subject, self._encode(event))

    async def publish_acked(self, subject: str, event: Any, timeout: float = 2.0) -> None:
        """JetStream publish that waits for the stream's ack (execution events: losing one matters)."""
        await self.js.publish(subject, self._encode(event), timeout=timeout)

    async def request(self, subject: str, command: Any, timeout: float = 5.0) -> Any:
        msg = await self.nc.request(subject, self._encode(command), timeout=timeout)
        return codec.decode(msg.data)

    async def request_typed(self, subject: str, command: Any, decoder: msgspec.msgpack.Decoder[T],
                            timeout: float = 5.0) -> T:
        """Request and decode the reply with ``decoder`` (e.g. ``Decoder(OrderReply | ErrorReply)``, built once by
        the caller). Raises what nats-py raises (TimeoutError, NoRespondersError, ...) and msgspec's error for a
        reply of another type; ``arb.bus.trading_client`` turns those into typed replies under one policy."""
        msg = await self.nc.request(subject, self._encode(command), timeout=timeout)
        return decoder.decode(msg.data)

    async def reply(self, msg: Msg, reply: Any) -> None:
        if msg.reply:
            await self.nc.publish(msg.reply, self._encode(reply))

    async def subscribe(self, subject: str, handler: Handler, queue: str = "") -> Any:
        """Decode every message with the one codec; an undecodable payload is reported, never fatal."""
        decode = codec.decode

        async def cb(msg: Msg) -> None:
            try:
                event = decode(msg.data)
            except Exception as e:  # noqa: BLE001 -- malformed payload from a foreign publisher
                if self._on_decode_error is not None:
                    self._on_decode_error(msg.subject, e)
                return
            await handler(event, msg)

        return await self.nc.subscribe(subject, queue=queue, cb=cb)

    async def subscribe_typed(self, subject: str, types: type[T] | tuple[type, ...],
                              handler: Callable[[T, Msg], Awaitable[None]], queue: str = "") -> TypedSubscription[T]:
        """Subscribe for messages of ``types`` only (one type or a tuple): others are dropped and counted on the
        returned TypedSubscription, never handed to ``handler``; an undecodable payload is reported and counted."""
        want = types if isinstance(types, tuple) else (types,)
        ts: TypedSubscription[T] = TypedSubscription(subject, want)
        decode = codec.decode

        async def cb(msg: Msg) -> None:
            try:
                event = decode(msg.data)
            except Exception as e:  # noqa: BLE001 -- malformed payload from a foreign publisher
                ts.undecodable += 1
                if self._on_decode_error is not None:
                    self._on_decode_error(msg.subject, e)
                return
            if not isinstance(event, want):
                ts.dropped += 1
                return
            ts.delivered += 1
            await handler(event, msg)

        ts.sub = await self.nc.subscribe(subject, queue=queue, cb=cb)
        return ts

    async def drain(self, timeout: float = 5.0) -> None:
        if self.nc.is_closed:
            return
        try:
            await asyncio.wait_for(self.nc.drain(), timeout)
        except Exception:  # noqa: BLE001 -- a drain that fails or hangs still ends in a closed connection
            await self.nc.close()
