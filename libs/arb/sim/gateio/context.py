"""What the Gate REST and WS handlers share: ``GateContext`` (the SimContext plus Gate-only state: rate limits,
balance update ids, account lookups), the REST prefix and the JSON response helper.

Its own module so that the handler modules (spot_rest, futures_rest, ...) and ``app`` (which wires them) import
it, not each other: ``app`` imports the handlers, the handlers never import ``app``.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from aiohttp import web

from arb.core.enums import Market, Venue
from arb.sim.gateio.auth import verify_rest

API = "/api/v4"

_ENC = msgspec.json.Encoder(decimal_format="string")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_ENC.encode(body), status=status, content_type="application/json", headers=headers)


class RateLimiter:
    """Fixed windows per (who, endpoint group); enough to report and enforce Gate's documented limits."""

    def __init__(self) -> None:
        self._w: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, who: str, group: str, limit: int, window_s: float, now: float) -> tuple[int, int, float, bool]:
        start, n = self._w.get((who, group), (now, 0))
        if now - start >= window_s:
            start, n = now, 0
        n += 1
        self._w[(who, group)] = (start, n)
        remain = max(0, limit - n)
        return limit, remain, start + window_s, n > limit


class GateContext:
    """What the REST/WS handlers share: the SimContext plus Gate-only state (limits, account lookups)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.faults = ctx.faults
        self.limiter = RateLimiter()
        self.spot = ctx.exchanges[(Venue.GATEIO, Market.SPOT)]
        self.futures = ctx.exchanges.get((Venue.GATEIO, Market.FUTURES))
        self._bal_ids: dict[tuple[str, str], int] = {}
        self.spot.add_listener(self)

    # -- engine listener: SpotAccount.update_id counts changes per (account, currency) ----------------
    def on_balance(self, account: Any, asset: str, bal: Any) -> None:
        k = (account.name, asset)
        self._bal_ids[k] = self._bal_ids.get(k, 0) + 1

    def balance_update_id(self, account: Any, asset: str) -> int:
        return self._bal_ids.get((account.name, asset), 0)

    # -- accounts --------------------------------------------------------------------------------
    def account_by_key(self, key: str) -> Any | None:
        return self.ctx.accounts.get(Venue.GATEIO, key)

    def secret_of(self, key: str) -> str | None:
        acc = self.account_by_key(key)
        return None if acc is None else acc.api_secret

    async def authenticate(self, request: web.Request) -> Any:
        body = await request.read()
        key = verify_rest(
            method=request.method,
            path=request.path,
            raw_query=request.raw_path.partition("?")[2],
            body=body,
            headers=request.headers,
            secret_of=self.secret_of,
            now_s=time.time(),
        )
        acc = self.account_by_key(key)
        assert acc is not None
        return acc


__all__ = ["API", "GateContext", "RateLimiter", "json_response"]
