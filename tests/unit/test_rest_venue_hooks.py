"""RestClient venue hooks: Gate's reset-timestamp header, per-group blocks, read retries, signing.

MEXC keeps the defaults (Retry-After, the whole limiter blocked, no retries); Gate plugs in its adapters
(``arb.venues.gateio.rest``). Gate payloads and headers are the documented ones (exchange-facts §2.2-2.4).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from arb.config.credentials import Credentials, Secret
from arb.core.errors import RateLimited, VenueServerError
from arb.venues.common.rest import RateLimiter
from arb.venues.gateio.auth import Signer
from arb.venues.gateio.rest import COST, GateHttp, PublicRest, SpotPrivateRest
from arb.venues.mexc.rest import MexcPublicRest

pytestmark = pytest.mark.unit

GATE_429 = {"label": "TOO_MANY_REQUESTS", "message": "Request Rate Limit Exceeded"}
PAIR = {"id": "ETH_USDT", "base": "ETH", "quote": "USDT", "fee": "0.2", "min_base_amount": "0.001",
        "min_quote_amount": "1.0", "amount_precision": 3, "precision": 6, "trade_status": "tradable",
        "sell_start": 1516378650, "buy_start": 1516378650}
# exchange-facts §2.2, vector 1 (key "key", secret "secret", Timestamp 1541993715)
VECTOR1 = ("55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd"
           "01029199cc4fcc522418b8a")


class FakeClock:
    """Manual monotonic time for a RateLimiter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += s


class Venue:
    """A local server answering like Gate (under /api/v4) and MEXC (under /api/v3)."""

    def __init__(self) -> None:
        self.reset_in_s = 8.0
        self.calls: dict[str, int] = {}
        self.seen: list[web.Request] = []

    def count(self, request: web.Request) -> int:
        key = f"{request.method} {request.path}"
        self.calls[key] = self.calls.get(key, 0) + 1
        self.seen.append(request)
        return self.calls[key]

    async def gate_book_429(self, request: web.Request) -> web.Response:
        self.count(request)
        reset_ms = int((time.time() + self.reset_in_s) * 1000)
        return web.json_response(GATE_429, status=429, headers={
            "X-Gate-RateLimit-Requests-Remain": "0", "X-Gate-RateLimit-Limit": "200",
            "X-Gate-RateLimit-Reset-Timestamp": str(reset_ms), "Retry-After": "1"})

    async def mexc_depth_429(self, request: web.Request) -> web.Response:
        self.count(request)
        far = int((time.time() + 50) * 1000)
        return web.json_response({"code": 429, "msg": "Too Many Requests"}, status=429,
                                 headers={"Retry-After": "7", "X-Gate-RateLimit-Reset-Timestamp": str(far)})

    async def gate_pairs_flaky(self, request: web.Request) -> web.Response:
        if self.count(request) == 1:
            return web.json_response({"label": "SERVER_ERROR", "message": "internal"}, status=503)
        return web.json_response([PAIR])

    async def gate_place_503(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(status=503, text="<html>Service Unavailable</html>")

    async def gate_too_busy(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.json_response({"label": "TOO_BUSY", "message": "busy"}, status=400)

    async def gate_orders(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.json_response([])

    async def gate_tickers_last_of_quota(self, request: web.Request) -> web.Response:
        self.count(request)
        reset_ms = int((time.time() + self.reset_in_s) * 1000)
        remain = "0" if self.calls[f"{request.method} {request.path}"] == 1 else "199"
        return web.json_response([], headers={
            "X-Gate-RateLimit-Requests-Remain": remain, "X-Gate-RateLimit-Limit": "200",
            "X-Gate-RateLimit-Reset-Timestamp": str(reset_ms)})


@pytest.fixture
async def venue() -> AsyncIterator[tuple[str, Venue]]:
    v = Venue()
    app = web.Application()
    app.router.add_get("/api/v4/spot/order_book", v.gate_book_429)
    app.router.add_get("/api/v4/spot/currency_pairs", v.gate_pairs_flaky)
    app.router.add_post("/api/v4/spot/orders", v.gate_place_503)
    app.router.add_get("/api/v4/spot/accounts", v.gate_too_busy)
    app.router.add_get("/api/v4/spot/orders/{oid}", v.gate_orders)
    app.router.add_get("/api/v4/futures/orders", v.gate_orders)
    app.router.add_get("/api/v4/spot/tickers", v.gate_tickers_last_of_quota)
    app.router.add_get("/api/v3/depth", v.mexc_depth_429)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/"), v


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _blocked(limiter: RateLimiter, group: str) -> float:
    """Seconds a one-token request of ``group`` would wait now."""
    return limiter.try_acquire(((group, 1.0),))


async def test_gate_429_waits_until_the_reset_timestamp(venue, session) -> None:
    """Gate's 429 waits until X-Gate-RateLimit-Reset-Timestamp (not Retry-After); that group waits it all,
    the other groups 30 % of it."""
    base, _ = venue
    http = GateHttp(session, base + "/api/v4", read_attempts=1)
    with pytest.raises(RateLimited) as ei:
        await PublicRest(http).spot_order_book("BTC_USDT", 100)
    assert ei.value.code == "TOO_MANY_REQUESTS" and ei.value.http_status == 429
    assert 7.0 < ei.value.retry_after <= 8.0
    assert 7.0 < _blocked(http.limiter, "pub:spot_book") <= 8.0
    assert 0.3 * 7.0 < _blocked(http.limiter, "spot:place") <= 0.3 * 8.0
    assert http.rate_limited == 1 and http.errors == 1


async def test_mexc_429_ignores_gate_headers_and_blocks_everything(venue, session) -> None:
    """MEXC keeps Retry-After (a Gate reset header is ignored) and blocks every group for the whole wait."""
    base, _ = venue
    rest = MexcPublicRest(session, base)
    with pytest.raises(RateLimited) as ei:
        await rest.depth("BTCUSDT", 100)
    assert ei.value.retry_after == 7.0
    assert 6.0 < rest.limiter.blocked_for() <= 7.0
    assert all(6.0 < _blocked(rest.limiter, g) <= 7.0 for g in ("depth", "time", "exchangeInfo"))


async def test_limiter_blocks_the_refused_groups_longest() -> None:
    """others_share < 1 blocks the refused request's groups for the whole wait and the rest for that share."""
    clock = FakeClock()
    gate = RateLimiter({"a": (10, 1.0), "b": (10, 1.0)}, others_share=0.3, clock=clock, sleep=clock.sleep)
    mexc = RateLimiter({"a": (10, 1.0), "b": (10, 1.0)}, clock=clock, sleep=clock.sleep)
    gate.block(10.0, (("a", 1.0),))
    mexc.block(10.0, (("a", 1.0),))
    assert (_blocked(gate, "a"), _blocked(gate, "b")) == (pytest.approx(10.0), pytest.approx(3.0))
    assert (_blocked(mexc, "a"), _blocked(mexc, "b")) == (pytest.approx(10.0), pytest.approx(10.0))
    clock.now += 10.0
    assert _blocked(gate, "a") == 0.0 and _blocked(mexc, "b") == 0.0


async def test_gate_read_is_retried_after_a_5xx(venue, session) -> None:
    """A GET that meets a 5xx is tried again and returns the decoded answer."""
    base, v = venue
    http = GateHttp(session, base + "/api/v4")
    pairs = await PublicRest(http).currency_pairs()
    assert [p.id for p in pairs] == ["ETH_USDT"]
    assert v.calls["GET /api/v4/spot/currency_pairs"] == 2 and http.retried == 1


async def test_gate_write_is_never_resent(venue, session) -> None:
    """A POST that meets a 5xx raises VenueServerError (status unknown) and is sent once."""
    base, v = venue
    signer = Signer(Credentials("main", "key", Secret("secret")))
    http = GateHttp(session, base + "/api/v4", signer=signer)
    with pytest.raises(VenueServerError) as ei:
        await SpotPrivateRest(http).place({"text": "t-1", "currency_pair": "BTC_USDT", "side": "buy",
                                           "amount": "0.001", "price": "50000"})
    assert ei.value.http_status == 503 and v.calls["POST /api/v4/spot/orders"] == 1


async def test_gate_server_label_on_a_4xx_is_a_server_error(venue, session) -> None:
    """A 4xx carrying a server label (TOO_BUSY) is a VenueServerError."""
    base, _ = venue
    signer = Signer(Credentials("main", "key", Secret("secret")))
    http = GateHttp(session, base + "/api/v4", signer=signer, read_attempts=1)
    with pytest.raises(VenueServerError) as ei:
        await SpotPrivateRest(http).accounts()
    assert (ei.value.code, ei.value.http_status) == ("TOO_BUSY", 400)


async def test_gate_signs_api_v4_path_and_the_query_as_sent(venue, session) -> None:
    """The signer covers /api/v4 + path and the query exactly as sent (documented vector 1)."""
    base, v = venue
    signer = Signer(Credentials("main", "key", Secret("secret")), clock=lambda: 1541993715)
    http = GateHttp(session, base + "/api/v4", signer=signer)
    params = (("contract", "BTC_USD"), ("status", "finished"), ("limit", 50))
    out = await http.request("GET", "/futures/orders", params=params, signed=True,
                             cost=COST["futures:list_orders"], type=list)
    assert out == []
    req = v.seen[-1]
    assert req.query_string == "contract=BTC_USD&status=finished&limit=50"
    sent = (req.headers["KEY"], req.headers["Timestamp"], req.headers["SIGN"])
    assert sent == ("key", "1541993715", VECTOR1)


async def test_gate_refuses_a_query_that_needs_escaping(venue, session) -> None:
    """A signed query that would be percent-encoded is refused unsent (Gate verifies it un-escaped)."""
    base, v = venue
    http = GateHttp(session, base + "/api/v4", signer=Signer(Credentials("main", "key", Secret("secret"))))
    with pytest.raises(ValueError):
        await SpotPrivateRest(http).get_order("1", "BTC USDT")
    assert v.seen == []


async def test_gate_success_that_used_the_last_of_the_quota_holds_that_group(venue, session) -> None:
    """A 200 with ``X-Gate-RateLimit-Requests-Remain: 0`` holds that endpoint group until the reset timestamp
    (no 429 needed); other groups keep their own quota; a later success with quota left holds nothing."""
    base, v = venue
    v.reset_in_s = 5.0
    http = GateHttp(session, base + "/api/v4", read_attempts=1)
    cost = COST["pub:pairs"]
    assert await http.request("GET", "/spot/tickers", cost=cost, type=list) == []
    assert 4.0 < _blocked(http.limiter, "pub:pairs") <= 5.0
    assert _blocked(http.limiter, "spot:place") == 0.0 and http.held == 1 and http.rate_limited == 0
    http.limiter.buckets["pub:pairs"].blocked_until = 0.0
    assert await http.request("GET", "/spot/tickers", cost=cost, type=list) == []
    assert _blocked(http.limiter, "pub:pairs") == 0.0 and http.held == 1

