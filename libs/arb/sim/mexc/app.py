"""MEXC Spot v3 on one aiohttp app: REST under ``/api/v3`` (real host api.mexc.com) and the protobuf
WebSocket at ``/ws`` (real host wbs-api.mexc.com). A client needs only its base URLs changed.

Cross-cutting REST behaviour (exchange-facts §1.8): every endpoint has its own limit of 500 requests per
10 s, counted per API key for signed calls and per IP for keyless ones; over it -> HTTP 429
``{"code":429,"msg":"Too Many Requests"}`` with ``Retry-After``.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from aiohttp import web

from .errors import err
from .rest import Rest, error_response
from .state import MexcState
from .ws import WsHub, WsLimits

_LIMITS: weakref.WeakKeyDictionary[Any, WsLimits] = weakref.WeakKeyDictionary()

STATE_KEY = web.AppKey("mexc_state", MexcState)
HUB_KEY = web.AppKey("mexc_hub", WsHub)
LIMITS_KEY = web.AppKey("mexc_ws_limits", WsLimits)


class EndpointLimiter:
    """Fixed 10 s windows per (who, method, path): 500 requests each (docs: independent per endpoint)."""

    def __init__(self, limit: int = 500, window_s: float = 10.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._w: dict[tuple[str, str, str], tuple[float, int]] = {}

    def hit(self, who: str, method: str, path: str, now: float) -> float:
        """0 when allowed, else seconds until the window resets."""
        k = (who, method, path)
        start, n = self._w.get(k, (now, 0))
        if now - start >= self.window_s:
            start, n = now, 0
        n += 1
        self._w[k] = (start, n)
        if len(self._w) > 100_000:
            self._w.clear()
        return 0.0 if n <= self.limit else max(1.0, start + self.window_s - now)


def _limit_middleware(limiter: EndpointLimiter):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.path.startswith("/api/"):
            who = request.headers.get("X-MEXC-APIKEY") or (request.remote or "?")
            wait = limiter.hit(who, request.method, request.path, time.monotonic())
            if wait:
                return error_response(err(429, **{"Retry-After": str(int(wait + 0.999))}))
        return await handler(request)

    return middleware


def build_app(ctx: Any, limits: WsLimits | None = None) -> web.Application:
    """The MEXC spot app over ``ctx.exchanges[(MEXC, SPOT)]``; starts its WS loops with the app."""
    state = MexcState(ctx)
    hub = WsHub(state, limits or WsLimits())
    state.hub = hub
    limiter = EndpointLimiter()
    app = web.Application(middlewares=[_limit_middleware(limiter)])
    app[STATE_KEY] = state
    app[HUB_KEY] = hub
    app[LIMITS_KEY] = hub.limits
    _LIMITS[ctx] = hub.limits
    app.router.add_routes(Rest(state).routes())
    app.router.add_get("/ws", hub.handle)

    async def on_startup(app: web.Application) -> None:
        state.exchange.add_listener(state)
        hub.start()

    async def on_shutdown(app: web.Application) -> None:
        state.exchange.remove_listener(state)
        await hub.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app


def ws_limits(ctx: Any) -> WsLimits:
    """The live WS connection rules of the MEXC app built on ``ctx`` (mutable: tests shrink the timers)."""
    return _LIMITS[ctx]


__all__ = ["HUB_KEY", "LIMITS_KEY", "STATE_KEY", "WsLimits", "build_app", "ws_limits"]
