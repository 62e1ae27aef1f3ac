"""Gate.io APIv4 on one aiohttp app: REST under ``/api/v4``, spot WS at ``/ws/v4/``, USDT futures WS at
``/v4/ws/usdt`` (real hosts: api.gateio.ws and fx-ws.gateio.ws; here one host, as both clients only
need base URLs changed).

Cross-cutting REST behaviour (docs "Frequency limit rule", "Return Format", exchange-facts §2.3/2.4):

* every answer carries ``X-Gate-RateLimit-Requests-Remain``, ``X-Gate-RateLimit-Limit`` and
  ``X-Gate-RateLimit-Reset-Timestamp`` (ms; "now" unless the limit is exceeded) and ``X-Gate-Trace-ID``;
  limits are counted and enforced per endpoint: public 200 r/10 s per IP; spot order placement
  10 r/s per account and pair; futures placement 100 r/s; cancellations 200 r/s; other private
  200 r/10 s per endpoint;
* errors are ``{"label", "message"}`` JSON with the documented status (401 auth, 4xx request, 5xx);
* faults ``rest_slow`` (delay ``params.ms``), ``rest_429`` (Gate's TOO_MANY_REQUESTS body + headers,
  ``params.retry_after`` s), ``rest_5xx`` (``params.status``, default 503) apply to every REST call of
  the market the path belongs to (``/futures/...`` = futures, the rest = spot).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import web

from arb.core.enums import Market, Venue
from arb.obs.log import get_logger
from arb.sim.gateio import futures_rest, futures_ws, spot_rest, spot_ws
from arb.sim.gateio.context import API, GateContext, json_response
from arb.sim.gateio.errors import GateError, not_found, server_error, too_many_requests

log = get_logger("arb.sim.gateio")
SPOT_WS_PATH = "/ws/v4/"
FUTURES_WS_PATH = "/v4/ws/usdt"

GATE_KEY: web.AppKey[GateContext] = web.AppKey("gate", object)  # type: ignore[arg-type]
CHANNELS_KEY: web.AppKey[list] = web.AppKey("gate_channels", list)


def market_of(path: str) -> Market:
    return Market.FUTURES if path.startswith(f"{API}/futures/") else Market.SPOT


def _limit_for(request: web.Request, private: bool) -> tuple[str, int, float]:
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
    method = request.method
    if not private:
        return f"pub:{path}", 200, 10.0
    if method == "POST" and path.endswith("/orders"):
        if path.startswith(f"{API}/futures/"):
            return "futures:place", 100, 1.0
        return "spot:place", 10, 1.0
    if method == "DELETE":
        return "cancel", 200, 1.0
    return f"priv:{method}:{path}", 200, 10.0


def _make_middleware(gctx: GateContext):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if not request.path.startswith(API):
            return await handler(request)
        market = market_of(request.path)
        extra = {"X-Gate-Trace-ID": uuid.uuid4().hex}
        if rid := request.headers.get("X-Client-Request-Id"):
            extra["X-Client-Request-Id"] = rid
        try:
            spec = gctx.faults.take("rest_slow", Venue.GATEIO, market)
            late_s = 0.0
            if spec is not None and spec.param("after", False):  # runs now, answers late: the client's crash window
                late_s = float(spec.param("ms", 2000)) / 1000.0
            elif spec is not None:
                await asyncio.sleep(float(spec.param("ms", 2000)) / 1000.0)
            now = time.time()
            private = bool(request.headers.get("KEY"))
            group, limit, window = _limit_for(request, private)
            who = request.headers.get("KEY") or (request.remote or "?")
            lim, remain, reset, exceeded = gctx.limiter.hit(who, group, limit, window, now)
            rl = {
                "X-Gate-RateLimit-Requests-Remain": str(remain),
                "X-Gate-RateLimit-Limit": str(lim),
                "X-Gate-RateLimit-Reset-Timestamp": str(int((reset if exceeded else now) * 1000)),
            }
            extra.update(rl)
            spec = gctx.faults.take("rest_429", Venue.GATEIO, market)
            if spec is not None or exceeded:
                retry = float(spec.param("retry_after", 1)) if spec is not None else max(0.0, reset - now)
                extra.update({
                    "X-Gate-RateLimit-Requests-Remain": "0",
                    "X-Gate-RateLimit-Reset-Timestamp": str(int((now + retry) * 1000)),
                })
                raise too_many_requests()
            spec = gctx.faults.take("rest_5xx", Venue.GATEIO, market)
            if spec is not None:
                raise server_error(int(spec.param("status", 503)))
            resp = await handler(request)
            if late_s:
                await asyncio.sleep(late_s)
        except GateError as exc:
            resp = web.Response(body=exc.body(), status=exc.status, content_type="application/json")
        except web.HTTPNotFound:
            exc = not_found(request.path)
            resp = web.Response(body=exc.body(), status=404, content_type="application/json")
        except web.HTTPMethodNotAllowed:
            exc = GateError(405, "METHOD_NOT_ALLOWED", f"Method {request.method} not allowed")
            resp = web.Response(body=exc.body(), status=405, content_type="application/json")
        except Exception:  # a simulator bug still answers like the venue's 500, and is logged
            log.exception("gateio REST %s %s failed", request.method, request.path)
            exc = server_error(500)
            resp = web.Response(body=exc.body(), status=500, content_type="application/json")
        for k, v in extra.items():
            resp.headers[k] = v
        return resp

    return middleware


def build_app(ctx: Any) -> web.Application:
    """The Gate.io venue app: REST /api/v4 (spot + futures/usdt), WS /ws/v4/ and /v4/ws/usdt."""
    gctx = GateContext(ctx)
    app = web.Application(middlewares=[_make_middleware(gctx)])
    app[GATE_KEY] = gctx
    spot_rest.add_routes(app, gctx)
    spot_channels = spot_ws.SpotChannels(gctx)

    async def spot_ws_handler(request: web.Request) -> web.StreamResponse:
        return await spot_channels.serve(request, gctx, Venue.GATEIO, Market.SPOT)

    app.router.add_get(SPOT_WS_PATH, spot_ws_handler)
    app.router.add_get(SPOT_WS_PATH.rstrip("/"), spot_ws_handler)
    tasks: list[Any] = [spot_channels]
    if gctx.futures is not None:
        futures_rest.add_routes(app, gctx)
        fut_channels = futures_ws.FuturesChannels(gctx)

        async def futures_ws_handler(request: web.Request) -> web.StreamResponse:
            return await fut_channels.serve(request, gctx, Venue.GATEIO, Market.FUTURES)

        app.router.add_get(FUTURES_WS_PATH, futures_ws_handler)
        tasks.append(fut_channels)
    app[CHANNELS_KEY] = tasks

    async def _start(app_: web.Application) -> None:
        for ch in tasks:
            ch.start()

    async def _stop(app_: web.Application) -> None:
        for ch in tasks:
            await ch.stop()

    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
    return app


__all__ = ["API", "FUTURES_WS_PATH", "SPOT_WS_PATH", "GateContext", "build_app", "json_response"]
