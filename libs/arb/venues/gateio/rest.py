"""Gate.io API v4 REST clients: ``PublicRest`` (no key) and ``PrivateRest`` (one account's signed calls).

Rate limits (facts §2.4) are enforced client-side by token buckets below the documented limits:
public 200 r/10 s per endpoint; spot placement 10 r/s; futures placement 100 r/s; cancellation 200 r/s;
other private endpoints 200 r/10 s each. A 429 blocks the bucket (and, for 30 % of the wait, every
bucket) until Gate's ``X-Gate-RateLimit-Reset-Timestamp``. Reads (GET) are retried on 5xx/429/transport
errors with jittered backoff; writes (POST/DELETE) never are: a failed write raises and the caller
reconciles (``CommandHandler`` resolves "status unknown" by querying).

Query strings are built here from plain tokens, so the string signed is byte for byte the one sent.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from ...core.errors import RateLimited, VenueError, VenueServerError, is_retryable
from .auth import Signer
from .errors import VENUE, to_error
from .schemas import (
    Contract,
    CurrencyPair,
    FundingPoint,
    FuturesAccount,
    FuturesOrder,
    FuturesOrderBook,
    FuturesPosition,
    FuturesTradeRow,
    SpotAccount,
    SpotOpenOrders,
    SpotOrder,
    SpotOrderBook,
    SpotTradeRow,
)

_SAFE = re.compile(r"^[0-9A-Za-z_.\-!]*$")
Params = Sequence[tuple[str, str]]


class TokenBucket:
    """``rate`` tokens/s up to ``burst``; ``acquire()`` waits for a token; ``block(s)`` pauses it (429)."""

    __slots__ = ("blocked_until", "burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.blocked_until = 0.0

    def delay(self, now: float) -> float:
        """Seconds to wait before a token is available (takes it when 0)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    async def acquire(self) -> None:
        while True:
            d = self.delay(time.monotonic())
            if d <= 0:
                return
            await asyncio.sleep(d)

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)
        self.tokens = 0.0


class Limits:
    """Buckets per endpoint group, 90 % of Gate's documented limits."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, group: str) -> TokenBucket:
        b = self._buckets.get(group)
        if b is None:
            rate, burst = _limit_of(group)
            b = self._buckets[group] = TokenBucket(rate, burst)
        return b

    def block_all(self, seconds: float) -> None:
        for b in self._buckets.values():
            b.block(seconds)


def _limit_of(group: str) -> tuple[float, float]:
    if group == "spot:place":
        return 9.0, 9.0
    if group == "futures:place":
        return 90.0, 90.0
    if group.endswith(":cancel"):
        return 180.0, 180.0
    return 18.0, 50.0  # 200 r/10 s per endpoint, public or private


class GateHttp:
    """Transport: one aiohttp session, base URL ``.../api/v4``, optional signer, limits, error mapping."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout_s: float = 10.0,
                 signer: Signer | None = None, retries: int = 3, rng: random.Random | None = None) -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.base_path = URL(self.base).path.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.signer = signer
        self.retries = retries
        self.limits = Limits()
        self.rng = rng or random.Random()
        self.requests = 0
        self.errors = 0
        self.rate_limited = 0

    async def call(self, method: str, path: str, params: Params = (), body: Any = None, *, group: str = "",
                   signed: bool = False, headers: Mapping[str, str] | None = None) -> bytes:
        attempts = self.retries if method == "GET" else 1
        last: BaseException | None = None
        for attempt in range(attempts):
            try:
                return await self._once(method, path, params, body, group or f"{method}:{path}", signed, headers)
            except Exception as e:
                if not is_retryable(e) or attempt == attempts - 1:
                    raise
                last = e
                wait = e.retry_after if isinstance(e, RateLimited) else self.rng.uniform(0.05, 0.25 * 2**attempt)
                await asyncio.sleep(wait)
        raise last  # type: ignore[misc]  # pragma: no cover

    async def _once(self, method: str, path: str, params: Params, body: Any, group: str, signed: bool,
                    headers: Mapping[str, str] | None) -> bytes:
        query = "&".join(f"{k}={v}" for k, v in params)
        if not _SAFE.match(query.replace("=", "").replace("&", "")):
            raise ValueError(f"query value needs escaping: {query!r}")
        raw = b"" if body is None else (body if isinstance(body, bytes) else msgspec.json.encode(body))
        hdrs: dict[str, str] = {"Accept": "application/json"}
        if raw:
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if signed:
            if self.signer is None:
                raise RuntimeError("signed call without a signer")
            hdrs.update(self.signer.rest_headers(method, self.base_path + path, query, raw))
        bucket = self.limits.bucket(group)
        await bucket.acquire()
        url = URL(self.base + path + ("?" + query if query else ""), encoded=True)
        self.requests += 1
        try:
            async with self.session.request(method, url, data=raw or None, headers=hdrs, timeout=self.timeout) as r:
                data = await r.read()
                status = r.status
                rh = r.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            self.errors += 1
            raise VenueServerError(VENUE, "TRANSPORT", f"{method} {path}: {type(e).__name__}: {e}") from e
        if status < 300:
            return data
        self.errors += 1
        err: VenueError = to_error(status, data, rh)
        if isinstance(err, RateLimited):
            self.rate_limited += 1
            bucket.block(err.retry_after)
            self.limits.block_all(err.retry_after * 0.3)
        raise err


_pairs = msgspec.json.Decoder(list[CurrencyPair])
_contracts = msgspec.json.Decoder(list[Contract])
_spot_book = msgspec.json.Decoder(SpotOrderBook, strict=False)
_fut_book = msgspec.json.Decoder(FuturesOrderBook, strict=False)
_funding = msgspec.json.Decoder(list[FundingPoint])


class PublicRest:
    """Public endpoints of one market (``spot`` or ``futures`` under settle ``usdt``)."""

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def currency_pairs(self) -> list[CurrencyPair]:
        return _pairs.decode(await self.http.call("GET", "/spot/currency_pairs", group="pub:pairs"))

    async def contracts(self) -> list[Contract]:
        return _contracts.decode(await self.http.call("GET", "/futures/usdt/contracts", group="pub:contracts"))

    async def spot_order_book(self, pair: str, limit: int) -> SpotOrderBook:
        raw = await self.http.call("GET", "/spot/order_book",
                                   [("currency_pair", pair), ("limit", str(limit)), ("with_id", "true")],
                                   group="pub:spot_book")
        return _spot_book.decode(raw)

    async def futures_order_book(self, contract: str, limit: int) -> FuturesOrderBook:
        raw = await self.http.call("GET", "/futures/usdt/order_book",
                                   [("contract", contract), ("limit", str(limit)), ("with_id", "true")],
                                   group="pub:fut_book")
        return _fut_book.decode(raw)

    async def funding_history(self, contract: str, limit: int = 100) -> list[FundingPoint]:
        raw = await self.http.call("GET", "/futures/usdt/funding_rate", [("contract", contract), ("limit", str(limit))],
                                   group="pub:funding")
        return _funding.decode(raw)


_spot_order = msgspec.json.Decoder(SpotOrder)
_spot_orders = msgspec.json.Decoder(list[SpotOrder])
_spot_open = msgspec.json.Decoder(list[SpotOpenOrders])
_spot_trades = msgspec.json.Decoder(list[SpotTradeRow])
_spot_accounts = msgspec.json.Decoder(list[SpotAccount])
_fut_order = msgspec.json.Decoder(FuturesOrder)
_fut_orders = msgspec.json.Decoder(list[FuturesOrder])
_fut_trades = msgspec.json.Decoder(list[FuturesTradeRow])
_fut_account = msgspec.json.Decoder(FuturesAccount)
_fut_position = msgspec.json.Decoder(FuturesPosition)
_fut_positions = msgspec.json.Decoder(list[FuturesPosition])

DECIMAL_SIZE = {"X-Gate-Size-Decimal": "1"}


class SpotPrivateRest:
    """Signed spot endpoints (facts §2.5)."""

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def place(self, body: dict[str, Any]) -> SpotOrder:
        return _spot_order.decode(await self.http.call("POST", "/spot/orders", body=body, group="spot:place", signed=True))

    async def get_order(self, order_id: str, pair: str) -> SpotOrder:
        raw = await self.http.call("GET", f"/spot/orders/{order_id}", [("currency_pair", pair)], group="spot:get_order",
                                   signed=True)
        return _spot_order.decode(raw)

    async def list_orders(self, pair: str, status: str, limit: int = 100) -> list[SpotOrder]:
        raw = await self.http.call("GET", "/spot/orders", [("currency_pair", pair), ("status", status),
                                                          ("limit", str(limit))], group="spot:list_orders", signed=True)
        return _spot_orders.decode(raw)

    async def open_orders_all(self) -> list[SpotOpenOrders]:
        raw = await self.http.call("GET", "/spot/open_orders", [("limit", "100")], group="spot:open_orders", signed=True)
        return _spot_open.decode(raw)

    async def cancel(self, order_id: str, pair: str) -> SpotOrder:
        raw = await self.http.call("DELETE", f"/spot/orders/{order_id}", [("currency_pair", pair)], group="spot:cancel",
                                   signed=True)
        return _spot_order.decode(raw)

    async def cancel_all(self, pair: str) -> list[SpotOrder]:
        raw = await self.http.call("DELETE", "/spot/orders", [("currency_pair", pair)], group="spot:cancel", signed=True)
        return _spot_orders.decode(raw)

    async def my_trades(self, pair: str, since_s: int = 0, limit: int = 1000) -> list[SpotTradeRow]:
        params = [("currency_pair", pair), ("limit", str(limit))]
        if since_s:
            params.append(("from", str(since_s)))
        raw = await self.http.call("GET", "/spot/my_trades", params, group="spot:my_trades", signed=True)
        return _spot_trades.decode(raw)

    async def accounts(self) -> list[SpotAccount]:
        return _spot_accounts.decode(await self.http.call("GET", "/spot/accounts", group="spot:accounts", signed=True))


class FuturesPrivateRest:
    """Signed USDT-settled futures endpoints (facts §2.6). ``decimal`` sends ``X-Gate-Size-Decimal: 1``."""

    P = "/futures/usdt"

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def place(self, body: dict[str, Any], decimal: bool = False) -> FuturesOrder:
        raw = await self.http.call("POST", self.P + "/orders", body=body, group="futures:place", signed=True,
                                   headers=DECIMAL_SIZE if decimal else None)
        return _fut_order.decode(raw)

    async def get_order(self, order_id: str) -> FuturesOrder:
        raw = await self.http.call("GET", f"{self.P}/orders/{order_id}", group="futures:get_order", signed=True,
                                   headers=DECIMAL_SIZE)
        return _fut_order.decode(raw)

    async def list_orders(self, status: str, contract: str = "", limit: int = 100) -> list[FuturesOrder]:
        params = [("status", status), ("limit", str(limit))]
        if contract:
            params.insert(0, ("contract", contract))
        raw = await self.http.call("GET", self.P + "/orders", params, group="futures:list_orders", signed=True,
                                   headers=DECIMAL_SIZE)
        return _fut_orders.decode(raw)

    async def cancel(self, order_id: str) -> FuturesOrder:
        raw = await self.http.call("DELETE", f"{self.P}/orders/{order_id}", group="futures:cancel", signed=True,
                                   headers=DECIMAL_SIZE)
        return _fut_order.decode(raw)

    async def cancel_all(self, contract: str) -> list[FuturesOrder]:
        raw = await self.http.call("DELETE", self.P + "/orders", [("contract", contract)], group="futures:cancel",
                                   signed=True, headers=DECIMAL_SIZE)
        return _fut_orders.decode(raw)

    async def my_trades(self, contract: str, since_s: int = 0, limit: int = 1000) -> list[FuturesTradeRow]:
        params = [("contract", contract), ("limit", str(limit))]
        if since_s:
            params.append(("from", str(since_s)))
        raw = await self.http.call("GET", self.P + "/my_trades", params, group="futures:my_trades", signed=True,
                                   headers=DECIMAL_SIZE)
        return _fut_trades.decode(raw)

    async def account(self) -> FuturesAccount:
        return _fut_account.decode(await self.http.call("GET", self.P + "/accounts", group="futures:accounts",
                                                        signed=True))

    async def positions(self) -> list[FuturesPosition]:
        raw = await self.http.call("GET", self.P + "/positions", group="futures:positions", signed=True,
                                   headers=DECIMAL_SIZE)
        return _fut_positions.decode(raw)

    async def set_leverage(self, contract: str, leverage: int) -> FuturesPosition:
        params = [("leverage", str(leverage))]
        if leverage == 0:
            params.append(("cross_leverage_limit", "0"))
        raw = await self.http.call("POST", f"{self.P}/positions/{contract}/leverage", params,
                                   group="futures:leverage", signed=True, headers=DECIMAL_SIZE)
        return _fut_position.decode(raw)


__all__ = ["FuturesPrivateRest", "GateHttp", "Limits", "PublicRest", "SpotPrivateRest", "TokenBucket"]
