"""WsManager's reconnect and stall warnings reach the project's log (arb.obs.log), not an unconfigured stdlib logger."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest
from aiohttp import web
from arb.config.schema import LogConfig
from arb.obs import log as arblog
from arb.testing import bounded
from arb.venues.common.ws import WsConfig, WsManager

pytestmark = pytest.mark.integration


class ListSink:
    """The project's log lines, as written."""

    name = "list"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.lines.extend(data.decode().splitlines())

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def matching(self, text: str) -> list[str]:
        with self._lock:
            return [line for line in self.lines if text in line]


class Adapter:
    async def on_open(self, conn: object) -> None:
        pass

    def on_text(self, data: str) -> None:
        pass

    def on_binary(self, data: bytes) -> None:
        pass

    def keepalive(self) -> None:
        return None


async def eventually(cond: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


@pytest.fixture
def sink() -> Iterator[ListSink]:
    s = ListSink()
    system = arblog.configure(LogConfig(console=False), "test-ws", sinks=[s])
    try:
        yield s
    finally:
        system.shutdown(5.0)


@pytest.fixture
async def silent_venue() -> AsyncIterator[str]:
    """A WS endpoint that accepts and then never sends a frame."""
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await bounded(runner.setup(), 5, "server setup")
    try:
        await bounded(web.TCPSite(runner, "127.0.0.1", 0).start(), 5, "server start")
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/ws"
    finally:
        await bounded(runner.cleanup(), 10, "server cleanup")


async def test_stall_reconnect_warning_reaches_the_project_log(sink: ListSink, silent_venue: str) -> None:
    """A socket that stays silent for watchdog_s is replaced, and the warning saying so is in the project's log."""
    cfg = WsConfig(url=silent_venue, watchdog_s=0.3, keepalive_s=0, backoff_initial_s=0.02, backoff_max_s=0.1,
                   close_timeout_s=0.5)
    async with aiohttp.ClientSession() as session:
        mgr = WsManager(session, cfg, Adapter(), ["x"], name="logtest", rng=random.Random(1))
        await bounded(mgr.start(), 5, "start")
        try:
            await eventually(lambda: mgr.stalls >= 1 and mgr.reconnects >= 1)
            await eventually(lambda: sink.matching("ws logtest shard 0: no frame for 0.3s, reconnecting"))
        finally:
            await bounded(mgr.stop(), 10, "stop")

    line = sink.matching("reconnecting")[0]
    assert "warning" in line.lower() and "arb.venues.common.ws" in line


async def test_connect_failures_reach_the_project_log_once_per_interval(sink: ListSink) -> None:
    """A shard that cannot connect logs its first failure at once, then no more than one line per interval."""
    probe = web.AppRunner(web.Application())
    await bounded(probe.setup(), 5, "probe setup")
    await bounded(web.TCPSite(probe, "127.0.0.1", 0).start(), 5, "probe start")
    port = probe.addresses[0][1]
    await bounded(probe.cleanup(), 5, "probe cleanup")  # the port is now closed
    cfg = WsConfig(url=f"http://127.0.0.1:{port}/ws", backoff_initial_s=0.01, backoff_max_s=0.02)
    async with aiohttp.ClientSession() as session:
        mgr = WsManager(session, cfg, Adapter(), ["x"], name="refused", rng=random.Random(2))
        await bounded(mgr.start(), 5, "start")
        try:
            await eventually(lambda: mgr.connect_failures >= 5)
            await eventually(lambda: sink.matching("ws refused shard 0: connect failed"))
        finally:
            await bounded(mgr.stop(), 10, "stop")

    assert len(sink.matching("connect failed")) == 1
