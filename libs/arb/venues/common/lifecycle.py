"""Stopping a gateway's background tasks, the same way everywhere: cancel, wait a bounded time, collect.

A cancel can be lost inside a library call (Python 3.11's ``wait_for`` drops one that lands in the same loop step
as the result), so waiting for cancelled tasks is bounded; an exception a task ended with is retrieved so the loop
does not log "exception was never retrieved" at exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def cancel_tasks(tasks: Iterable[asyncio.Task | None], timeout: float = 2.0) -> None:
    live = [t for t in tasks if t is not None]
    for t in live:
        t.cancel()
    if not live:
        return
    await asyncio.wait(live, timeout=timeout)
    for t in live:
        if t.done() and not t.cancelled():
            t.exception()  # mark retrieved


__all__ = ["cancel_tasks"]
