"""Reconciliation runs, the same for every trading gateway: one at a time, never lost, retried until it works.

A reconnect (or an execution-event outbox that overflowed) asks for a reconcile with ``schedule()``. One runs at
a time; a request while one runs makes it run once more when it ends (the request may carry news the running
one started too early to see). A failed run is retried with backoff (0.5 s doubling to 30 s). ``synced_once``
tells readiness that venue truth was published at least once since the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ...obs.log import RateLimitedLog, get_logger

log = get_logger(__name__)


class Reconciler:
    BACKOFF_INITIAL_S = 0.5
    BACKOFF_MAX_S = 30.0

    def __init__(self, run: Callable[[], Awaitable[dict[str, int]]], name: str,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._run = run
        self.name = name
        self._sleep = sleep
        self._rlog = RateLimitedLog(log, 10.0)
        self.task: asyncio.Task | None = None
        self._again = False
        self._closed = False
        self.reconciles = 0
        self.synced_once = False

    def schedule(self) -> None:
        if self._closed:
            return
        if self.task is not None and not self.task.done():
            self._again = True
            return
        self.task = asyncio.get_running_loop().create_task(self._loop(), name=f"{self.name}-reconcile")

    def close(self) -> asyncio.Task | None:
        """No run is scheduled from here on; returns the running one (for the caller to cancel)."""
        self._closed = True
        return self.task

    async def _loop(self) -> None:
        delay = self.BACKOFF_INITIAL_S
        while True:
            self._again = False
            try:
                counts = await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 -- a background loop must survive any failure
                self._rlog(("reconcile",), "%s: reconcile failed, retrying in %.1f s: %r", self.name, delay, e)
                await self._sleep(delay)
                delay = min(self.BACKOFF_MAX_S, delay * 2)
                continue
            self.reconciles += 1
            self.synced_once = True
            log.info("%s: reconciled %s", self.name, counts)
            if not self._again:
                return


__all__ = ["Reconciler"]
