"""REST client around an injected ``aiohttp.ClientSession``: rate limiting, signing hook, typed errors.

* Rate limits are enforced locally with token buckets, one per endpoint group (e.g. MEXC: 500 requests /
  10 s per endpoint, with weights; Gate: 200 / 10 s public, 10 / s spot order placement). A request
  declares its cost as ``[(group, weight), ...]`` and takes from every bucket at once or waits; if the wait
  would exceed ``max_wait_s`` it raises ``RateLimited`` without sending. So we stay within the documented
  limits instead of collecting 429s (MEXC bans IPs for repeated 429s).
* 429 / 418 (MEXC IP ban) -> ``RateLimited`` with the venue's ``Retry-After``; the limiter is then blocked
  for that long, so nothing else is sent before the venue allows it.
* 5xx, timeouts and transport failures -> ``VenueServerError`` (for a write: outcome unknown; reconcile,
  never resend blindly). 4xx -> ``VenueClientError`` with the venue's own code / message, produced by the
  venue's ``error_parser`` hook.
* The ``signer`` hook sees the exact query string and body bytes that will be sent, and may add query
  parameters (MEXC ``signature``) or headers (Gate ``KEY``/``SIGN``/``Timestamp``).
* Responses are decoded with msgspec into the caller's type; decoders are built once per type.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from yarl import URL

from ...core.errors import ProtocolError, RateLimited, VenueClientError, VenueServerError

T = TypeVar("T")

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
Cost = Sequence[tuple[str, float]]


# ---------------------------------------------------------------------- rate limiting


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``capacity / window_s`` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError("capacity and window_s must be > 0")
        self.capacity = float(capacity)
        self.rate = self.capacity / window_s
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, weight: float, now: float) -> float:
        """Seconds until ``weight`` tokens are available (0 when available now)."""
        self.refill(now)
        missing = weight - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class RateLimiter:
    """Token buckets per endpoint group, e.g. ``{"public": (500, 10.0), "order": (10, 1.0)}``.

    ``clock`` and ``sleep`` are injectable so tests run without real time.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[float, float]],
        *,
        venue: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.venue = venue
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self.buckets = {name: TokenBucket(cap, win, now) for name, (cap, win) in limits.items()}
        self.blocked_until = 0.0
        self.waits = 0  # requests that had to wait for tokens
        self.refused = 0  # requests refused locally (wait longer than allowed)

    def block(self, seconds: float) -> None:
        """The venue said stop (429/418): send nothing for ``seconds``."""
        self.blocked_until = max(self.blocked_until, self._clock() + max(0.0, seconds))

    def blocked_for(self) -> float:
        return max(0.0, self.blocked_until - self._clock())

    def try_acquire(self, cost: Cost) -> float:
        """Take every bucket's weight at once and return 0, or take nothing and return the seconds to wait."""
        now = self._clock()
        wait = self.blocked_until - now
        for group, weight in cost:
            bucket = self.buckets.get(group)
            if bucket is None:
                raise KeyError(f"unknown rate-limit group {group!r}")
            if weight > bucket.capacity:
                raise ValueError(f"weight {weight} exceeds the capacity of group {group!r}")
            w = bucket.wait_for(weight, now)
            wait = max(wait, w)
        if wait > 0:
            return wait
        for group, weight in cost:
            self.buckets[group].tokens -= weight
        return 0.0

    async def acquire(self, cost: Cost, max_wait_s: float = 5.0) -> None:
        """Wait for the tokens; raise ``RateLimited`` (nothing sent) if that takes longer than ``max_wait_s``."""
        if not cost and self.blocked_until <= 0:
            return
        waited = 0.0
        while True:
            wait = self.try_acquire(cost)
            if wait <= 0:
                return
            if waited + wait > max_wait_s:
                self.refused += 1
                raise RateLimited(
                    self.venue, "LOCAL_RATE_LIMIT", "local rate limit: request not sent", 0, wait
                )
            self.waits += 1
            await self._sleep(wait)
            waited += wait


# ---------------------------------------------------------------------- requests


class RestRequest:
    """What the signer sees and may change: the exact query string and body bytes to be sent."""

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.query = query  # already percent-encoded, without '?'
        self.body = body
        self.headers = headers

    def add_query(self, key: str, value: Any) -> None:
        pair = encode_query([(key, value)])
        self.query = f"{self.query}&{pair}" if self.query else pair


Signer = Callable[[RestRequest], Awaitable[None] | None]
ErrorParser = Callable[[int, bytes], tuple[str, str]]  # (HTTP status, body) -> (venue code, message)


def encode_query(params: Params | None) -> str:
    """Percent-encode in the given order (booleans as ``true``/``false``; ``None`` values skipped)."""
    if not params:
        return ""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = [(k, _qv(v)) for k, v in items if v is not None]
    return urlencode(pairs, quote_via=quote, safe="")


def _qv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def default_error_parser(status: int, body: bytes) -> tuple[str, str]:
    """Reads ``{"code", "msg"}`` (MEXC) or ``{"label", "message"|"detail"}`` (Gate); else the raw text."""
    try:
        obj = msgspec.json.decode(body)
    except msgspec.DecodeError:
        obj = None
    if isinstance(obj, dict):
        code = obj.get("code", obj.get("label"))
        msg = obj.get("msg", obj.get("message", obj.get("detail")))
        if code is not None or msg is not None:
            return str(code if code is not None else f"HTTP_{status}"), str(msg or "")
    return f"HTTP_{status}", body[:200].decode("utf-8", "replace")


def parse_retry_after(value: str | None, default: float) -> float:
    """``Retry-After`` as delta-seconds or an HTTP date; ``default`` when absent or unreadable."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


class RestClient:
    """One venue's REST endpoint. Construct once per (venue, base URL); share the injected session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        venue: str,
        limiter: RateLimiter | None = None,
        signer: Signer | None = None,
        error_parser: ErrorParser = default_error_parser,
        timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
        default_retry_after_s: float = 1.0,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self.limiter = limiter
        self.signer = signer
        self.error_parser = error_parser
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        self.default_retry_after_s = default_retry_after_s
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._json = msgspec.json.Encoder()
        self.requests = 0
        self.rate_limited = 0
        self.server_errors = 0
        self.client_errors = 0

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Any:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Any:
        return await self.request("DELETE", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        signed: bool = False,
        cost: Cost = (),
        type: Any = Any,
        timeout_s: float | None = None,
        max_wait_s: float = 5.0,
    ) -> Any:
        """Send one request and decode the 2xx body into ``type`` (``None`` for an empty body).

        Raises ``RateLimited`` (locally or 429/418), ``VenueServerError`` (5xx, timeout, transport),
        ``VenueClientError`` (other 4xx) or ``ProtocolError`` (a 2xx body that does not decode).
        """
        if self.limiter is not None:
            await self.limiter.acquire(cost, max_wait_s)
        hdrs = dict(self.headers)
        if headers:
            hdrs.update(headers)
        if json is not None:
            payload = self._json.encode(json)
            hdrs.setdefault("Content-Type", "application/json")
        else:
            payload = body or b""
        req = RestRequest(method.upper(), path, encode_query(params), payload, hdrs)
        if signed:
            if self.signer is None:
                raise ValueError(f"{self.venue}: signed request without a signer")
            r = self.signer(req)
            if inspect.isawaitable(r):
                await r
        url = URL(
            f"{self.base_url}{req.path}?{req.query}" if req.query else f"{self.base_url}{req.path}",
            encoded=True,
        )
        timeout = aiohttp.ClientTimeout(total=timeout_s if timeout_s is not None else self.timeout_s)
        self.requests += 1
        try:
            async with self.session.request(
                req.method, url, data=req.body or None, headers=req.headers, timeout=timeout
            ) as resp:
                status = resp.status
                data = await resp.read()
                retry_after = resp.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            self.server_errors += 1
            raise VenueServerError(
                self.venue, "TIMEOUT", f"{req.method} {req.path}: no response in time"
            ) from None
        except aiohttp.ClientError as e:
            self.server_errors += 1
            raise VenueServerError(self.venue, "TRANSPORT", f"{req.method} {req.path}: {type_name(e)}") from e
        if status < 300:
            if not data:
                return None
            dec = self._decoders.get(type)
            if dec is None:
                dec = self._decoders[type] = msgspec.json.Decoder(type)
            try:
                return dec.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise ProtocolError(
                    f"{self.venue} {req.method} {req.path}: unexpected response: {e}"
                ) from None
        code, message = self._parse_error(status, data)
        if status in (429, 418):
            self.rate_limited += 1
            default = self.default_retry_after_s if status == 429 else max(self.default_retry_after_s, 120.0)
            wait = parse_retry_after(retry_after, default)
            if self.limiter is not None:
                self.limiter.block(wait)
            raise RateLimited(self.venue, code, message, status, wait)
        if status >= 500:
            self.server_errors += 1
            raise VenueServerError(self.venue, code, message, status)
        self.client_errors += 1
        raise VenueClientError(self.venue, code, message, status)

    def _parse_error(self, status: int, data: bytes) -> tuple[str, str]:
        try:
            return self.error_parser(status, data)
        except Exception:  # noqa: BLE001 -- a broken error body must still yield a typed error
            return f"HTTP_{status}", data[:200].decode("utf-8", "replace")


def type_name(e: BaseException) -> str:
    return type(e).__name__


__all__ = [
    "Cost",
    "ErrorParser",
    "Params",
    "RateLimiter",
    "RestClient",
    "RestRequest",
    "Signer",
    "TokenBucket",
    "default_error_parser",
    "encode_query",
    "parse_retry_after",
]
