"""Service runtime in-process: readiness follows the NATS connection, stop hooks run newest first.

Every await is bounded (``bounded``, or the HTTP session's timeout)."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest
from arb.bus.streams import ensure_streams
from arb.config.loader import parse_config
from arb.obs import runtime
from arb.obs.runtime import Runtime
from arb.testing import bounded, bounded_context

pytestmark = pytest.mark.integration


async def test_not_ready_until_bus_connected_then_ready(nats_url: str, subject_prefix: str):
    """/readyz is 503 before NATS is connected and 200 after; /healthz is 200 throughout."""
    cfg = parse_config({"http": {"port": 0}, "nats": {"url": nats_url, "subject_prefix": subject_prefix}})
    rt = Runtime("rt-test", cfg, None)
    port = await bounded(rt.start_http(), 10, "http start")
    try:
        async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10,
                                   "http session") as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 503 and (await r.json())["checks"]["nats"] is False
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
            await bounded(rt.connect_bus(streams=False), 15, "connect")
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                body = msgspec.json.decode(await r.read())
                assert r.status == 200 and body == {"ready": True, "checks": {"nats": True}, "nats_reconnects": 0}
            rt.ready_check("venue", lambda: False)
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 503 and (await r.json())["checks"]["venue"] is False
    finally:
        await bounded(rt.shutdown(), 15, "shutdown")


async def test_stop_hooks_run_newest_first_and_failures_do_not_stop_the_rest():
    """Shutdown stops intake in reverse order of registration; a failing hook is logged, not fatal."""
    cfg = parse_config({"http": {"port": 0}})
    rt = Runtime("rt-hooks", cfg, None)
    order: list[str] = []
    rt.on_stop(lambda: order.append("first"))

    async def boom() -> None:
        order.append("boom")
        raise RuntimeError("hook failed")

    rt.on_stop(boom)
    rt.on_stop(lambda: order.append("last"))
    await bounded(rt.shutdown(), 15, "shutdown")
    assert order == ["last", "boom", "first"]


async def test_not_ready_while_the_streams_are_being_declared(nats_url: str, subject_prefix: str, js_streams,
                                                              monkeypatch: pytest.MonkeyPatch):
    """/readyz stays 503 until connect_bus() has declared the streams, so nothing is sent to a half-started service."""
    cfg = parse_config({"http": {"port": 0}, "nats": {"url": nats_url, "subject_prefix": subject_prefix}})
    rt = Runtime("rt-streams", cfg, None)
    seen: list[dict[str, bool]] = []

    async def declare_streams(js, limits, prefix):  # the real declaration, noting readiness as it starts
        seen.append(rt.readiness())
        return await ensure_streams(js, limits, prefix)

    monkeypatch.setattr(runtime, "ensure_streams", declare_streams)
    try:
        await bounded(rt.connect_bus(), 15, "connect")
        assert seen == [{"nats": False}] and rt.readiness() == {"nats": True}
    finally:
        await bounded(rt.shutdown(), 15, "shutdown")
