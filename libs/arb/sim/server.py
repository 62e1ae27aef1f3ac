"""SimServer: the engines, the market task, the venue apps and the admin app in one process.

    async with SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))) as sim:
        sim.urls["mexc_rest"]      # http://127.0.0.1:P/api/v3 ... see URL_KEYS

Venue apps come from ``arb.sim.mexc.app.build_app(ctx)`` and ``arb.sim.gateio.app.build_app(ctx)``; a venue
whose wire layer is not importable is skipped with a warning (``missing`` names it). Port 0 picks a free
port; ``urls`` holds the actual ones once started.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from typing import Self

from aiohttp import web

from ..obs.log import get_logger
from .admin import build_admin_app
from .config import SimConfig
from .context import SimContext, build_context
from .market import Clock, Market, SystemClock

log = get_logger("arb.sim")

URL_KEYS = ("mexc_rest", "mexc_ws", "gateio_rest", "gateio_spot_ws", "gateio_futures_ws", "admin")


class SimServer:
    def __init__(self, cfg: SimConfig | None = None, clock: Clock | None = None, run_market: bool = True) -> None:
        self.cfg = cfg or SimConfig()
        self.clock = clock or SystemClock()
        self.ctx: SimContext = build_context(self.cfg, clock_ns=self.clock.now_ns)
        self.market = Market(self.ctx, self.clock)
        self.run_market = run_market
        self.urls: dict[str, str] = {}
        self.ports: dict[str, int] = {}
        self.missing: list[str] = []
        self._runners: list[web.AppRunner] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.cfg.host, port, reuse_address=True)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _venue_app(self, venue: str) -> web.Application | None:
        """The venue's wire app, or None (logged) when its wire layer cannot be imported yet."""
        module = f"arb.sim.{venue}.app"
        try:
            return importlib.import_module(module).build_app(self.ctx)
        except ImportError as e:
            log.warning("sim: %s wire layer unavailable (%s); %s is not served", venue, e, venue)
            self.missing.append(venue)
            return None

    async def start(self) -> SimServer:
        """Place the initial books, serve every venue and the admin app, start the market task."""
        self.market.start()
        host = self.cfg.host
        ports = self.cfg.ports
        try:
            app = self._venue_app("mexc")
            if app is not None:
                p = self.ports["mexc"] = await self._serve(app, ports.mexc)
                self.urls["mexc_rest"] = f"http://{host}:{p}/api/v3"
                self.urls["mexc_ws"] = f"ws://{host}:{p}/ws"
            app = self._venue_app("gateio")
            if app is not None:
                p = self.ports["gateio"] = await self._serve(app, ports.gateio)
                self.urls["gateio_rest"] = f"http://{host}:{p}/api/v4"
                self.urls["gateio_spot_ws"] = f"ws://{host}:{p}/ws/v4/"
                self.urls["gateio_futures_ws"] = f"ws://{host}:{p}/v4/ws/usdt"
            p = self.ports["admin"] = await self._serve(build_admin_app(self.ctx, self.market), ports.admin)
            self.urls["admin"] = f"http://{host}:{p}/admin"
        except BaseException:
            await self.stop()
            raise
        if self.run_market:
            self._task = asyncio.get_running_loop().create_task(self.market.run(), name="sim-market")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    @property
    def market_task_alive(self) -> bool:
        return self._task is not None and not self._task.done()
