"""REST client around an injected ``aiohttp.ClientSession``: rate limiting, signing hook, typed errors.

* Rate limits are enforced locally with token buckets, one per endpoint group (e.g. MEXC: 500 requests /
  10 s per endpoint, with weights; Gate: 200 / 10 s public, 10 / s spot order placement). A request
  declares its cost as ``[(group, weight), ...]`` and takes from every bucket at once or waits; if the wait
  would exceed ``max_wait_s`` it raises ``RateLimited`` without sending. So we stay within the documented
  limits instead of collecting 429s (MEXC bans IPs for repeated 429s).
* 429 / 418 (MEXC IP ban) -> ``RateLimited`` with the wait the venue asked for: ``Retry-After`` by default,
  or the venue's own header through the ``retry_after`` hook (Gate: ``X-Gate-RateLimit-Reset-Timestamp``).
  The limiter is then blocked for that long, so nothing else is sent before the venue allows it; a limiter
  with ``others_share < 1`` (Gate: limits per endpoint) blocks only the refused request's groups for the
  whole wait and every other group for that share of it.
* 5xx, timeouts and transport failures -> ``VenueServerError`` (for a write: outcome unknown; reconcile,
  never resend blindly). 4xx -> ``VenueClientError`` with the venue's own code / message, produced by the
  venue's ``error_parser`` hook; a 4xx whose code is in ``server_codes`` (Gate ``TOO_BUSY``) is a server
  error. ``venue_error`` is that one mapping, also for venue code that builds errors itself.
* Reads (GET) may be retried (``read_attempts``) on those retryable errors, after the venue's wait or a
  jittered backoff; writes never are: a failed write raises and the caller reconciles by client order id.
* The ``signer`` hook sees the exact query string and body bytes that will be sent, and may add query
  parameters (MEXC ``signature``) or headers (Gate ``KEY``/``SIGN``/``Timestamp``).
* Responses are decoded with msgspec into the caller's type; decoders are built once per type.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from yarl import URL

from ...core.errors import (
    ProtocolError,
    RateLimited,
    VenueClientError,
    VenueError,
    VenueServerError,
    is_retryable,
)

T = TypeVar("T")

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
Cost = Sequence[tuple[str, float]]


# ---------------------------------------------------------------------- rate limiting


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``capacity / window_s`` per second."""

    __slots__ = ("blocked_until", "capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError("capacity and window_s must be > 0")
        self.capacity = float(capacity)
        self.rate = self.capacity / window_s
        self.tokens = self.capacity
        self.stamp = now
        self.blocked_until = 0.0  # this group only (the venue refused a request of this group)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, weight: float, now: float) -> float:
        """Seconds until ``weight`` tokens are available (0 when available now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self.refill(now)
        missing = weight - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class RateLimiter:
    """Token buckets per endpoint group, e.g. ``{"public": (500, 10.0), "order": (10, 1.0)}``.

    ``others_share``: when the venue refuses a request (429), the groups that request used are blocked
    for the whole wait and every group for ``others_share`` of it (1.0, the default: everything waits,
    as MEXC's IP bans demand; Gate, whose limits are per endpoint, uses 0.3).
    ``clock`` and ``sleep`` are injectable so tests run without real time.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[float, float]],
        *,
        venue: str = "",
        others_share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.venue = venue
        self.others_share = others_share
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self.buckets = {name: TokenBucket(cap, win, now) for name, (cap, win) in limits.items()}
        self.blocked_until = 0.0
        self.waits = 0  # requests that had to wait for tokens
        self.refused = 0  # requests refused locally (wait longer than allowed)

    def block(self, seconds: float, cost: Cost = ()) -> None:
        """The venue said stop (429/418) to a request costing ``cost``: hold back for ``seconds``.

        Every group waits ``seconds * others_share``; the groups in ``cost`` wait the whole ``seconds``.
        """
        now = self._clock()
        seconds = max(0.0, seconds)
        if self.others_share >= 1.0 or not cost:
            self.blocked_until = max(self.blocked_until, now + seconds)
            return
        self.blocked_until = max(self.blocked_until, now + seconds * self.others_share)
        for group, _ in cost:
            bucket = self.buckets.get(group)
            if bucket is not None:
                bucket.blocked_until = max(bucket.blocked_until, now + seconds)

    def hold(self, seconds: float, cost: Cost) -> None:
        """The venue said a request costing ``cost`` used its groups' last request (no 429 yet): hold back only
        those groups for ``seconds``; the others still have their own quota."""
        until = self._clock() + max(0.0, seconds)
        for group, _ in cost:
            bucket = self.buckets.get(group)
            if bucket is not None:
                bucket.blocked_until = max(bucket.blocked_until, until)

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
# response headers of a success -> seconds until the venue would refuse this group (0: quota left)
Exhausted = Callable[[Mapping[str, str]], float]
# (HTTP status, response headers) -> seconds the venue wants us to wait; called on 429/418 only
RetryAfter = Callable[[int, Mapping[str, str]], float]


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


RATE_LIMIT_STATUSES = (429, 418)  # 418: MEXC's IP ban after repeated 429s


def venue_error(
    venue: str,
    status: int,
    code: str,
    message: str,
    retry_after_s: float,
    server_codes: frozenset[str] = frozenset(),
) -> VenueError:
    """The one HTTP-status -> typed-error mapping: 429/418 rate limited, 5xx (or a ``server_codes`` code)
    server error (for a write: outcome unknown), any other 4xx client error."""
    if status in RATE_LIMIT_STATUSES:
        return RateLimited(venue, code, message, status, retry_after_s)
    if status >= 500 or code in server_codes:
        return VenueServerError(venue, code, message, status)
    return VenueClientError(venue, code, message, status)


class RestClient:
    """One venue's REST endpoint. Construct once per (venue, base URL); share the injected session.

    Venue hooks (all optional; the defaults are MEXC's behaviour): ``signer``, ``error_parser``,
    ``retry_after`` (which header says how long to wait after a 429), ``exhausted`` (which header of a
    success says the quota is used up, so the group holds back before the venue refuses), ``server_codes`` (4xx codes that
    mean server trouble), ``read_attempts`` (GETs tried this often on retryable errors, with ``rng``
    jitter), ``max_wait_s`` (how long a request may wait locally for tokens; ``math.inf``: always wait).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        venue: str,
        limiter: RateLimiter | None = None,
        signer: Signer | None = None,
        error_parser: ErrorParser = default_error_parser,
        retry_after: RetryAfter | None = None,
        exhausted: Exhausted | None = None,
        server_codes: frozenset[str] = frozenset(),
        timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
        default_retry_after_s: float = 1.0,
        read_attempts: int = 1,
        max_wait_s: float = 5.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self.limiter = limiter
        self.signer = signer
        self.error_parser = error_parser
        self.retry_after = retry_after or self._retry_after_header
        self.exhausted = exhausted
        self.held = 0  # successes after which the venue said the group's quota was used up
        self.server_codes = server_codes
        self.timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.headers = dict(headers or {})
        self.default_retry_after_s = default_retry_after_s
        self.read_attempts = max(1, read_attempts)
        self.max_wait_s = max_wait_s
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._json = msgspec.json.Encoder()
        self.requests = 0
        self.rate_limited = 0
        self.server_errors = 0
        self.client_errors = 0
        self.retried = 0  # reads sent again after a retryable error

    @property
    def errors(self) -> int:
        """Every failed request: transport, 5xx, 4xx and 429/418."""
        return self.server_errors + self.client_errors + self.rate_limited

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
        decoder: msgspec.json.Decoder[Any] | None = None,
        timeout_s: float | None = None,
        max_wait_s: float | None = None,
    ) -> Any:
        """Send one request and decode the 2xx body into ``type`` (``None`` for an empty body).

        ``decoder`` (a module-level ``msgspec.json.Decoder``, e.g. with ``strict=False``) replaces ``type``.
        A GET is tried up to ``read_attempts`` times while the error is retryable; anything else once.
        Raises ``RateLimited`` (locally or 429/418), ``VenueServerError`` (5xx, timeout, transport),
        ``VenueClientError`` (other 4xx) or ``ProtocolError`` (a 2xx body that does not decode).
        """
        method = method.upper()
        attempts = self.read_attempts if method == "GET" else 1
        wait_s = self.max_wait_s if max_wait_s is None else max_wait_s
        attempt = 1
        while True:
            try:
                return await self._once(
                    method, path, params, json, body, headers, signed, cost, type, decoder, timeout_s, wait_s
                )
            except Exception as e:
                if attempt >= attempts or not is_retryable(e):
                    raise
                pause = e.retry_after if isinstance(e, RateLimited) else self.backoff(attempt)
            self.retried += 1
            attempt += 1
            await self._sleep(pause)

    def backoff(self, attempt: int) -> float:
        """Jittered pause before retrying a read after its ``attempt``-th failure (no venue-given wait)."""
        return self._rng.uniform(0.05, 0.25 * 2 ** (attempt - 1))

    async def _once(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        signed: bool,
        cost: Cost,
        type: Any,
        decoder: msgspec.json.Decoder[Any] | None,
        timeout_s: float | None,
        max_wait_s: float,
    ) -> Any:
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
        req = RestRequest(method, path, encode_query(params), payload, hdrs)
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
        timeout = self._timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s)
        self.requests += 1
        try:
            async with self.session.request(
                req.method, url, data=req.body or None, headers=req.headers, timeout=timeout
            ) as resp:
                status = resp.status
                data = await resp.read()
                resp_headers = resp.headers
        except (TimeoutError, aiohttp.ServerTimeoutError):
            self.server_errors += 1
            raise VenueServerError(
                self.venue, "TIMEOUT", f"{req.method} {req.path}: no response in time"
            ) from None
        except (aiohttp.ClientError, OSError) as e:
            self.server_errors += 1
            raise VenueServerError(self.venue, "TRANSPORT", f"{req.method} {req.path}: {type_name(e)}") from e
        if status < 300:
            if self.exhausted is not None and self.limiter is not None:
                wait = self.exhausted(resp_headers)
                if wait > 0.0:
                    self.held += 1
                    self.limiter.hold(wait, cost)
            if not data:
                return None
            dec = decoder or self._decoders.get(type)
            if dec is None:
                dec = self._decoders[type] = msgspec.json.Decoder(type)
            try:
                return dec.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise ProtocolError(
                    f"{self.venue} {req.method} {req.path}: unexpected response: {e}"
                ) from None
        code, message = self._parse_error(status, data)
        wait = 0.0
        if status in RATE_LIMIT_STATUSES:
            self.rate_limited += 1
            wait = self.retry_after(status, resp_headers)
            if self.limiter is not None:
                self.limiter.block(wait, cost)
        err = venue_error(self.venue, status, code, message, wait, self.server_codes)
        if isinstance(err, VenueServerError):
            self.server_errors += 1
        elif isinstance(err, VenueClientError):
            self.client_errors += 1
        raise err

    def _retry_after_header(self, status: int, headers: Mapping[str, str]) -> float:
        """``Retry-After`` (seconds or HTTP date); else 1 s after a 429, 120 s after a 418 (MEXC IP ban)."""
        default = self.default_retry_after_s if status == 429 else max(self.default_retry_after_s, 120.0)
        return parse_retry_after(headers.get("Retry-After"), default)

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
    "RetryAfter",
    "Signer",
    "TokenBucket",
    "default_error_parser",
    "encode_query",
    "parse_retry_after",
    "venue_error",
]
