"""Process runtime shared by every service: uvloop, health/metrics HTTP, NATS, signals, bounded shutdown.

A service is::

    async def main(rt: Runtime) -> None:
        ...start intake...
        rt.on_stop(stop_intake)           # called first on SIGTERM/SIGINT
        await rt.stopped.wait()

    sys.exit(run_service("md-gateway", cfg, config_path, main))

Shutdown order: stop intake (on_stop hooks, newest first) -> drain NATS -> close HTTP -> flush logs.
The whole sequence is bounded by ``cfg.shutdown_timeout_s``; exit code 0 unless start-up failed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from .. import __version__
from ..bus.connection import Bus
from ..bus.streams import ensure_streams
from ..config.loader import redact_url
from ..config.schema import AppConfig
from ..core.errors import ConfigError, SymbolError
from . import log as logmod
from .metrics import build_info  # noqa: F401  (registers arb_build_info)

ReadyCheck = Callable[[], bool]
StopHook = Callable[[], Awaitable[None] | None]

NATS_RECONNECTS = Counter("arb_nats_reconnects_total", "NATS client reconnections", ["service"])
NATS_CONNECTED = Gauge("arb_nats_connected", "1 while the NATS connection is up", ["service"])
BUS_DECODE_ERRORS = Counter("arb_bus_decode_errors_total", "Bus payloads that failed to decode", ["service"])
UP_SINCE = Gauge("arb_process_start_time_seconds", "Unix time the service started", ["service"])


class Runtime:
    def __init__(self, name: str, cfg: AppConfig, config_path: str | None) -> None:
        self.name = name
        self.cfg = cfg
        self.config_path = config_path
        self.log = logmod.get_logger(name)
        self.bus: Bus | None = None
        self.stopped = asyncio.Event()
        self.http_port = 0
        self._ready_checks: dict[str, ReadyCheck] = {}
        self._stop_hooks: list[StopHook] = []
        self._runner: web.AppRunner | None = None
        # Not ready until connect_bus() is done (connected, streams declared); a service without NATS (the
        # simulator) calls without_bus().
        self.ready_check("nats", lambda: False)

    # -- wiring -----------------------------------------------------------------------------------
    def ready_check(self, name: str, check: ReadyCheck) -> None:
        """Add a dependency to /readyz (e.g. 'venue_ws' -> all shards connected)."""
        self._ready_checks[name] = check

    def without_bus(self) -> None:
        self._ready_checks.pop("nats", None)

    def on_stop(self, hook: StopHook) -> None:
        self._stop_hooks.append(hook)

    def readiness(self) -> dict[str, bool]:
        out = {}
        for name, check in self._ready_checks.items():
            try:
                out[name] = bool(check())
            except Exception:  # noqa: BLE001 -- a check that raises means not ready
                out[name] = False
        return out

    async def connect_bus(self, streams: bool = True) -> Bus:
        nc_cfg = self.cfg.nats
        svc = self.name

        def on_decode_error(subject: str, exc: Exception) -> None:
            BUS_DECODE_ERRORS.labels(svc).inc()

        bus = await Bus.connect(nc_cfg.url, name=f"arb-{svc}", connect_timeout=nc_cfg.connect_timeout_s)
        bus._on_decode_error = on_decode_error
        self.bus = bus
        NATS_CONNECTED.labels(svc).set_function(lambda: 1.0 if bus.connected else 0.0)
        last = [0]

        def reconnects() -> bool:  # also surfaces the count in /metrics
            if bus.reconnects != last[0]:
                NATS_RECONNECTS.labels(svc).inc(bus.reconnects - last[0])
                last[0] = bus.reconnects
            return bus.connected

        if streams:  # before the check below: a service whose streams are missing cannot publish acked yet
            await ensure_streams(bus.js, self.cfg.streams, self.cfg.nats.subject_prefix)
        self.ready_check("nats", reconnects)
        return bus

    # -- HTTP -------------------------------------------------------------------------------------
    async def start_http(self) -> int:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.http.host, self.cfg.http.port, reuse_address=True)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.http_port = sock.getsockname()[1]
        return self.http_port

    async def _metrics(self, request: web.Request) -> web.Response:
        self.readiness()  # refresh counters fed by checks
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive", "service": self.name, "version": __version__})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = self.readiness()
        ok = all(checks.values()) and not self.stopped.is_set()
        reconnects = self.bus.reconnects if self.bus else 0
        body = {"ready": ok, "checks": checks, "nats_reconnects": reconnects}
        return web.json_response(body, status=200 if ok else 503)

    # -- lifecycle --------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self.stopped.set()

    async def shutdown(self) -> None:
        for hook in reversed(self._stop_hooks):
            try:
                res = hook()
                if asyncio.iscoroutine(res):
                    await res
            except Exception:
                self.log.exception("stop hook failed")
        if self.bus is not None:
            await self.bus.drain(self.cfg.nats.drain_timeout_s)
        if self._runner is not None:
            await self._runner.cleanup()


def install_uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a hard dependency on Linux
        pass


async def _serve(rt: Runtime, main: Callable[[Runtime], Awaitable[None]]) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, rt.request_stop)
    UP_SINCE.labels(rt.name).set(time.time())
    await rt.start_http()
    rt.log.info(
        "start %s version=%s config=%s nats=%s http=%s:%d pid=%d host=%s",
        rt.name, __version__, rt.config_path or "<defaults>", redact_url(rt.cfg.nats.url),
        rt.cfg.http.host, rt.http_port, os.getpid(), socket.gethostname(),
    )
    main_task = asyncio.create_task(main(rt), name=f"{rt.name}-main")
    stop_task = asyncio.create_task(rt.stopped.wait())
    done, _ = await asyncio.wait({main_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    rc = 0
    if main_task in done and main_task.exception() is not None:
        exc = main_task.exception()
        rt.log.error("%s failed: %s: %s", rt.name, type(exc).__name__, exc)
        rc = 2 if isinstance(exc, (ConfigError, SymbolError)) else 1
    rt.stopped.set()
    try:
        await asyncio.wait_for(_stop(rt, main_task), rt.cfg.shutdown_timeout_s)
    except TimeoutError:
        rt.log.error("shutdown exceeded %.1fs; exiting anyway", rt.cfg.shutdown_timeout_s)
    rt.log.info("stopped %s rc=%d", rt.name, rc)
    return rc


async def _stop(rt: Runtime, main_task: asyncio.Task) -> None:
    await rt.shutdown()
    if not main_task.done():
        main_task.cancel()
        try:
            await main_task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 -- shutting down: its error was logged
            pass


def run_service(name: str, cfg: AppConfig, config_path: str | None, main: Callable[[Runtime], Awaitable[None]]) -> int:
    """Run a service to completion and return its exit code. Logs are flushed before returning."""
    install_uvloop()
    system = logmod.configure(cfg.log, name)
    try:
        rt = Runtime(name, cfg, config_path)
        return asyncio.run(_serve(rt, main))
    finally:
        system.shutdown(timeout=2.0)
        sys.stderr.flush()
