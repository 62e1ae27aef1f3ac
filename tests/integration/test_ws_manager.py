"""WsManager against a local aiohttp WebSocket server: reconnect + replay, watchdog, liveness, rotation, sharding,
bounded stop. Every await of a test is bounded (``bounded`` or its own timeout)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from arb.testing import bounded
from arb.venues.common.ws import WsConfig, WsConnection, WsManager

pytestmark = pytest.mark.integration


async def eventually(cond: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(interval)


class FakeVenue:
    """A MEXC-like control protocol: SUBSCRIPTION/PING JSON text, data pushed as text to subscribed sockets."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.subs: dict[web.WebSocketResponse, list[str]] = {}
        self.connections = 0
        self.pings = 0
        self.stall_next = 0  # this many next connections never answer nor push
        self.stalled: set[web.WebSocketResponse] = set()
        self.mute = False  # while set, no socket answers PING (a silent but open socket)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        if self.stall_next > 0:
            self.stall_next -= 1
            self.stalled.add(ws)
        self.sockets.append(ws)
        self.subs[ws] = []
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT or ws in self.stalled:
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "SUBSCRIPTION":
                    self.subs[ws].extend(req["params"])
                    await ws.send_str(json.dumps({"id": 0, "code": 0, "msg": ",".join(req["params"])}))
                elif req.get("method") == "PING":
                    self.pings += 1
                    if not self.mute:
                        await ws.send_str('{"id":0,"code":0,"msg":"PONG"}')
        finally:
            self.sockets.remove(ws)
            self.subs.pop(ws, None)
        return ws

    def live(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self.sockets if not ws.closed]

    async def push_all(self, text: str) -> None:
        for ws in list(self.sockets):
            if self.subs.get(ws) and ws not in self.stalled and not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    pass

    async def drop_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close()


class Adapter:
    """Test adapter: subscribes conn.subscriptions in one SUBSCRIPTION, records data frames."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.opened: list[tuple[str, ...]] = []

    async def on_open(self, conn: WsConnection) -> None:
        self.opened.append(conn.subscriptions)
        if conn.subscriptions:
            await conn.send_json({"method": "SUBSCRIPTION", "params": list(conn.subscriptions)})

    def on_text(self, data: str) -> None:
        self.texts.append(data)

    def on_binary(self, data: bytes) -> None:
        raise AssertionError("no binary frames expected")

    def keepalive(self) -> str:
        return '{"method":"PING"}'

    def seqs(self) -> list[int]:
        return [int(t[4:]) for t in self.texts if t.startswith("seq:")]


@pytest.fixture
async def venue() -> AsyncIterator[tuple[FakeVenue, str]]:
    fv = FakeVenue()
    app = web.Application()
    app.router.add_get("/ws", fv.handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await bounded(runner.setup(), 5, "server setup")
    try:
        await bounded(web.TCPSite(runner, "127.0.0.1", 0).start(), 5, "server start")
        host, port = runner.addresses[0][:2]
        yield fv, f"http://{host}:{port}/ws"
    finally:
        await bounded(runner.cleanup(), 10, "server cleanup")


def _cfg(url: str, **kw: Any) -> WsConfig:
    base: dict[str, Any] = {
        "url": url,
        "watchdog_s": 2.0,
        "keepalive_s": 0.1,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.1,
        "healthy_after_s": 0.5,
        "close_timeout_s": 0.5,
    }
    base.update(kw)
    return WsConfig(**base)


async def test_drop_reconnects_and_replays_subscriptions(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """When the venue drops the socket, the shard reconnects, resubscribes and calls both hooks."""
    fv, url = venue
    ad = Adapter()
    events: list[str] = []

    async def on_reconnect(conn: WsConnection) -> None:
        events.append("reconnect")

    mgr = WsManager(
        session,
        _cfg(url),
        ad,
        ["spot@a@BTCUSDT", "spot@b@BTCUSDT"],
        on_reconnect=on_reconnect,
        on_disconnect=lambda c: events.append("disconnect"),
        rng=random.Random(1),
    )
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: any(fv.subs.values()))
        await bounded(fv.drop_all(), 5, "drop")
        await eventually(lambda: mgr.reconnects == 1 and any(fv.subs.values()))
        assert fv.connections == 2
        assert list(fv.subs.values()) == [["spot@a@BTCUSDT", "spot@b@BTCUSDT"]]
        assert events == ["disconnect", "reconnect"]
        await bounded(fv.push_all("seq:1"), 5, "push")
        await eventually(lambda: ad.seqs() == [1])
        await eventually(lambda: fv.pings > 0)  # app-level keepalive flows on the new socket
    finally:
        await bounded(mgr.stop(), 10, "stop")
    await eventually(lambda: not fv.live())


async def test_stall_triggers_watchdog_reconnect(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """A socket that delivers nothing (not even pong replies) for watchdog_s is replaced."""
    fv, url = venue
    fv.stall_next = 1
    ad = Adapter()
    mgr = WsManager(session, _cfg(url, watchdog_s=0.3), ad, ["spot@a@BTCUSDT"], rng=random.Random(2))
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: mgr.stalls == 1 and mgr.reconnects == 1 and any(fv.subs.values()))
        assert fv.connections == 2
        await bounded(fv.push_all("seq:7"), 5, "push")
        await eventually(lambda: ad.seqs() == [7])
        assert mgr.stalls == 1  # the healthy socket (pongs flowing) is not flagged
    finally:
        await bounded(mgr.stop(), 10, "stop")


async def test_rotation_has_no_hole(venue: tuple[FakeVenue, str], session: aiohttp.ClientSession) -> None:
    """Planned rotation subscribes the replacement before closing the old socket: every pushed seq arrives."""
    fv, url = venue
    ad = Adapter()
    cfg = _cfg(url, max_age_s=0.6, rotate_before_s=0.3, rotation_overlap_s=0.05, watchdog_s=5.0)
    mgr = WsManager(session, cfg, ad, ["spot@a@BTCUSDT"], rng=random.Random(3))
    await bounded(mgr.start(), 5, "start")
    stop = asyncio.Event()
    pushed: list[int] = []

    async def pusher() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            pushed.append(n)
            await bounded(fv.push_all(f"seq:{n}"), 5, "push")
            await asyncio.sleep(0.002)

    try:
        await eventually(lambda: any(fv.subs.values()))
        task = asyncio.create_task(pusher())
        await eventually(lambda: mgr.rotations >= 2, timeout=10)
        stop.set()
        await bounded(task, 5, "pusher")
        last = pushed[-1]
        await eventually(lambda: last in ad.seqs())
        got = set(ad.seqs())
        first = min(got)
        assert first <= 3
        assert set(range(first, last + 1)) <= got, "hole during rotation"
        assert mgr.reconnects == 0
        await eventually(lambda: len(fv.live()) == 1)
    finally:
        await bounded(mgr.stop(), 10, "stop")


async def test_callbacks_see_the_delivering_connection(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """During a callback ``manager.current`` is the socket that delivered the frame; a replacement has a larger serial."""
    fv, url = venue
    seen: list[tuple[int, str]] = []

    class Attributing(Adapter):
        def on_text(self, data: str) -> None:
            conn = mgr.current
            assert conn is not None
            seen.append((conn.serial, data))

    cfg = _cfg(url, max_age_s=0.6, rotate_before_s=0.3, rotation_overlap_s=0.2, watchdog_s=5.0)
    mgr = WsManager(session, cfg, Attributing(), ["spot@a@BTCUSDT"], rng=random.Random(4))
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: any(fv.subs.values()))
        first = mgr.shards[0].conn
        assert first is not None
        await eventually(lambda: len(fv.live()) == 2 and all(fv.subs.get(ws) for ws in fv.live()), timeout=5)
        await bounded(fv.push_all("seq:1"), 5, "push")  # both sockets of the overlap deliver it
        await eventually(lambda: len({s for s, d in seen if d == "seq:1"}) == 2)
        serials = sorted(s for s, d in seen if d == "seq:1")
        assert serials[0] == first.serial and serials[1] > first.serial
    finally:
        await bounded(mgr.stop(), 10, "stop")


async def test_sharding_65_subscriptions_cap_30(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """65 subscriptions with a cap of 30 open 3 connections holding 30, 30 and 5."""
    fv, url = venue
    ad = Adapter()
    subs = [f"spot@public.aggre.depth.v3.api.pb@100ms@SYM{i}USDT" for i in range(65)]
    mgr = WsManager(session, _cfg(url, max_subs_per_conn=30), ad, subs, rng=random.Random(4))
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: sum(len(v) for v in fv.subs.values()) == 65)
        assert sorted(len(v) for v in fv.subs.values()) == [5, 30, 30]
        assert sorted(x for v in fv.subs.values() for x in v) == sorted(subs)
        assert await mgr.wait_connected(1.0) and mgr.connected == 3
    finally:
        await bounded(mgr.stop(), 10, "stop")
    await eventually(lambda: not fv.live())


async def test_connect_failure_backs_off_and_recovers(session: aiohttp.ClientSession) -> None:
    """While nothing listens the shard keeps retrying with backoff; once the server is up it connects."""
    probe = web.AppRunner(web.Application())
    await bounded(probe.setup(), 5, "probe setup")
    await bounded(web.TCPSite(probe, "127.0.0.1", 0).start(), 5, "probe start")
    port = probe.addresses[0][1]
    await bounded(probe.cleanup(), 5, "probe cleanup")  # the port is now closed
    ad = Adapter()
    mgr = WsManager(session, _cfg(f"http://127.0.0.1:{port}/ws"), ad, ["x"], rng=random.Random(5))
    await bounded(mgr.start(), 5, "start")
    fv = FakeVenue()
    app = web.Application()
    app.router.add_get("/ws", fv.handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    try:
        await eventually(lambda: mgr.connect_failures >= 2)
        await bounded(runner.setup(), 5, "server setup")
        await bounded(web.TCPSite(runner, "127.0.0.1", port).start(), 5, "server start")
        await eventually(lambda: fv.subs and list(fv.subs.values()) == [["x"]])
        assert mgr.reconnects == 0  # the first successful connect is not a reconnect
    finally:
        await bounded(mgr.stop(), 10, "stop")
        await bounded(runner.cleanup(), 10, "server cleanup")


async def test_silent_socket_is_reported_once_within_stale_after_s_and_resumed(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """With stale_after_s the keepalive goes out every stale_after_s / 3 and pongs keep a quiet socket live; a socket
    that stops answering is reported silent once, within stale_after_s, without a reconnect; on_resumed follows
    its next frame."""
    fv, url = venue
    loop = asyncio.get_running_loop()
    seen: list[tuple[str, float]] = []
    cfg = _cfg(url, keepalive_s=15.0, watchdog_s=30.0, stale_after_s=0.5)
    mgr = WsManager(session, cfg, Adapter(), ["spot@a@BTCUSDT"], rng=random.Random(6),
                    on_silent=lambda c: seen.append(("silent", loop.time())),
                    on_resumed=lambda c: seen.append(("resumed", loop.time())))
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: any(fv.subs.values()))
        t_quiet, pings = loop.time(), fv.pings
        await eventually(lambda: fv.pings >= pings + 8, timeout=5)  # no data at all: only pongs come back
        assert loop.time() - t_quiet > 1.0 and seen == [] and mgr.silences == 0
        fv.mute = True
        t0 = loop.time()
        await eventually(lambda: seen, timeout=3)
        assert seen[0][0] == "silent" and seen[0][1] - t0 <= 0.5 + 0.1, seen
        assert not mgr.shards[0].live and mgr.shards[0].connected
        pings = fv.pings
        await eventually(lambda: fv.pings >= pings + 3, timeout=5)  # still pinging, still silent: no second report
        assert [k for k, _ in seen] == ["silent"] and mgr.silences == 1
        fv.mute = False
        await eventually(lambda: len(seen) == 2, timeout=3)
        assert seen[1][0] == "resumed" and mgr.shards[0].live
        assert mgr.reconnects == 0 and mgr.stalls == 0
    finally:
        await bounded(mgr.stop(), 10, "stop")


class _StopOnConnect:
    """A session whose WebSocket handshake completes in the same loop step as a ``stop()`` of the shard."""

    def __init__(self, real: aiohttp.ClientSession) -> None:
        self.real = real
        self.mgr: WsManager | None = None
        self.stopping: asyncio.Future[None] | None = None

    def ws_connect(self, url: str, **kw: Any) -> Any:
        async def connect() -> aiohttp.ClientWebSocketResponse:
            ws = await self.real.ws_connect(url, **kw)
            if self.mgr is not None and self.stopping is None:
                self.stopping = asyncio.ensure_future(self.mgr.shards[0].stop())
            return ws

        return connect()


async def test_stop_ends_a_shard_whose_connect_completes_with_the_stop(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """A stop() whose cancel lands in the step the connect completes still ends the shard (Python 3.11's
    asyncio.wait_for returned the connection and dropped that cancel: stop() then waited forever)."""
    fv, url = venue
    fake = _StopOnConnect(session)
    mgr = WsManager(fake, _cfg(url), Adapter(), ["spot@a@BTCUSDT"], rng=random.Random(7))  # type: ignore[arg-type]
    fake.mgr = mgr
    await bounded(mgr.start(), 5, "start")
    try:
        await eventually(lambda: fake.stopping is not None)
        assert fake.stopping is not None
        await bounded(fake.stopping, 5, "stop() racing the connect")
        assert mgr.shards[0]._task is None and mgr.connected == 0
    finally:
        await bounded(mgr.stop(), 10, "stop")
    await eventually(lambda: not fv.live())


class _LosesOneCancel(Adapter):
    """An on_open that loses one cancel, as adapter code can (a wait_for whose call completes with the cancel)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.lost = 0

    async def on_open(self, conn: WsConnection) -> None:
        await super().on_open(conn)
        if self.lost == 0:
            self.entered.set()
            try:
                await asyncio.sleep(2.0)
            except asyncio.CancelledError:
                self.lost += 1


async def test_stop_ends_a_shard_that_lost_a_cancel(
    venue: tuple[FakeVenue, str], session: aiohttp.ClientSession
) -> None:
    """stop() cancels again until the shard task has ended: one lost cancel cannot keep it running."""
    fv, url = venue
    ad = _LosesOneCancel()
    mgr = WsManager(session, _cfg(url), ad, ["spot@a@BTCUSDT"], rng=random.Random(8))
    await bounded(mgr.start(), 5, "start")
    try:
        await bounded(ad.entered.wait(), 5, "on_open entered")
        await bounded(mgr.stop(), 5, "stop")
        assert ad.lost == 1 and mgr.shards[0]._task is None
    finally:
        await bounded(mgr.stop(), 10, "stop")
    await eventually(lambda: not fv.live())
