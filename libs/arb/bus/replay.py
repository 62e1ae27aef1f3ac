"""Read back what a JetStream stream holds on one subject since a point in time, then stop.

Used at start-up (e.g. a trading gateway rebuilding its client-order-id memory from its own order events in
``ORD``), never on a hot path. One ephemeral pull consumer per call, in the server's memory, no acks
(``AckPolicy.NONE``), filtered to the subject and starting at ``since_ns`` (``DeliverPolicy.BY_START_TIME``);
it is deleted when the read ends (and expires by itself after ``inactive_threshold`` if we die first).
"Then stop" means: up to the last message the stream held for the subject when the consumer was created
(``num_pending`` reaches 0); messages published meanwhile may or may not be included.

Measured here: 2 500 small messages in 0.06 s (batches of 1 000) against a local nats-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from nats.js import api
from nats.js.errors import NotFoundError

from ..core.errors import StorageError
from . import codec


async def replay(js: Any, subject: str, since_ns: int, *, batch: int = 1000, timeout: float = 30.0,
                 on_decode_error: Any = None, decode: Any = None) -> AsyncIterator[Any]:
    """Decoded events stored on ``subject`` from ``since_ns`` (unix ns) on, oldest first.

    Raises ``StorageError`` when no stream captures ``subject`` or the read does not finish within
    ``timeout`` seconds. An undecodable payload is skipped (``on_decode_error(subject, exc)`` if given).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        stream = await asyncio.wait_for(js.find_stream_name_by_subject(subject), timeout)
    except NotFoundError:
        raise StorageError(f"{subject}: no JetStream stream captures this subject") from None
    except TimeoutError:
        raise StorageError(f"{subject}: JetStream did not answer within {timeout:g} s") from None
    start = dt.datetime.fromtimestamp(since_ns / 1e9, tz=dt.UTC)
    cfg = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=start, ack_policy=api.AckPolicy.NONE,
        filter_subject=subject, mem_storage=True, inactive_threshold=max(5.0, timeout),
    )
    psub = await js.pull_subscribe(subject, durable=None, stream=stream, config=cfg)
    name = ""
    decode = decode or codec.decode  # a KV bucket's own encoding (the order journal) may be given
    try:
        info = await psub.consumer_info()
        name = info.name
        pending = info.num_pending
        while pending > 0:
            left = deadline - loop.time()
            if left <= 0:
                raise StorageError(f"{subject}: replay from {stream} did not finish within {timeout:g} s "
                                   f"({pending} messages still pending)")
            try:
                msgs = await psub.fetch(batch, timeout=min(left, 5.0))
            except TimeoutError:
                continue  # nothing delivered in this round; the deadline bounds the wait
            for m in msgs:
                try:
                    ev = decode(m.data)
                except Exception as e:  # noqa: BLE001 -- a foreign publisher's payload: skip, never fatal
                    if on_decode_error is not None:
                        on_decode_error(m.subject, e)
                    continue
                yield ev
            if msgs:
                pending = msgs[-1].metadata.num_pending
    finally:
        with contextlib.suppress(Exception):
            await psub.unsubscribe()
        if name:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)


__all__ = ["replay"]
