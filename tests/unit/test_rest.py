"""RestClient against a local aiohttp server: errors, Retry-After, signing hook, typed decode, rate limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
from aiohttp import web
from arb.core.errors import ProtocolError, RateLimited, VenueClientError, VenueServerError
from arb.venues.common.rest import RateLimiter, RestClient, RestRequest, encode_query, parse_retry_after

pytestmark = pytest.mark.unit


class Depth(msgspec.Struct):
    lastUpdateId: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


def _mexc_error(status: int, body: bytes) -> tuple[str, str]:
    err = msgspec.json.decode(body)
    return str(err["code"]), err["msg"]


class FakeClock:
    """Manual time for the limiter: sleep advances the clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def depth(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response(
            {
                "lastUpdateId": 43296363240,
                "bids": [["117053.41", "1.86837271"]],
                "asks": [["117145.49", "0.3"]],
            }
        )

    async def limited(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 429, "msg": "Too Many Requests"}, status=429, headers={"Retry-After": "7"}
        )

    async def banned(request: web.Request) -> web.Response:
        return web.Response(status=418, body=b"", headers={"Retry-After": "120"})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>Service Unavailable</html>")

    async def bad_sig(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 700002, "msg": "Signature for this request is not valid."}, status=400
        )

    async def gate_err(request: web.Request) -> web.Response:
        body = {"label": "INVALID_PARAM_VALUE", "message": "Invalid parameter `text` with value: abc"}
        return web.json_response(body, status=400)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def echo(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response(
            {
                "query": request.query_string,
                "body": (await request.read()).decode(),
                "sig": request.headers.get("SIGN"),
            }
        )

    app = web.Application()
    app.router.add_get("/api/v3/depth", depth)
    app.router.add_get("/limited", limited)
    app.router.add_get("/banned", banned)
    app.router.add_get("/broken", broken)
    app.router.add_post("/api/v3/order", bad_sig)
    app.router.add_post("/gate", gate_err)
    app.router.add_get("/slow", slow)
    app.router.add_delete("/empty", empty)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_get_decodes_into_type(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """A 2xx JSON body is decoded into the caller's msgspec type; the query is sent as encoded."""
    base, seen = server
    rc = RestClient(session, base, venue="mexc")
    d = await rc.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 1000}, type=Depth)
    assert d == Depth(43296363240, [("117053.41", "1.86837271")], [("117145.49", "0.3")])
    assert seen[-1].query_string == "symbol=BTCUSDT&limit=1000"


async def test_unexpected_body_is_protocol_error(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """A 2xx body that does not match the type raises ProtocolError."""
    base, _ = server
    rc = RestClient(session, base, venue="mexc")
    with pytest.raises(ProtocolError):
        await rc.get("/api/v3/depth", type=list[int])


async def test_empty_body_returns_none(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """A 204 / empty body returns None."""
    base, _ = server
    assert await RestClient(session, base, venue="gateio").delete("/empty") is None


async def test_429_raises_rate_limited_with_retry_after_and_blocks(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """429 raises RateLimited with the venue's Retry-After, and the limiter then refuses to send."""
    base, seen = server
    limiter = RateLimiter({"ip": (500, 10.0)}, venue="mexc")
    rc = RestClient(session, base, venue="mexc", limiter=limiter, error_parser=_mexc_error)
    with pytest.raises(RateLimited) as ei:
        await rc.get("/limited", cost=[("ip", 1)])
    assert (ei.value.http_status, ei.value.retry_after, ei.value.code) == (429, 7.0, "429")
    assert 6.0 < limiter.blocked_for() <= 7.0
    n = len(seen)
    with pytest.raises(RateLimited) as ei2:
        await rc.get("/api/v3/depth", cost=[("ip", 1)], max_wait_s=1.0)
    assert ei2.value.code == "LOCAL_RATE_LIMIT" and len(seen) == n  # not sent


async def test_418_is_rate_limited(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """418 (IP ban) with an empty body raises RateLimited with its Retry-After."""
    base, _ = server
    rc = RestClient(session, base, venue="mexc")
    with pytest.raises(RateLimited) as ei:
        await rc.get("/banned")
    assert (ei.value.http_status, ei.value.retry_after, ei.value.code) == (418, 120.0, "HTTP_418")


async def test_5xx_is_server_error(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """5xx raises VenueServerError even when the body is not JSON."""
    base, _ = server
    rc = RestClient(session, base, venue="mexc", error_parser=_mexc_error)
    with pytest.raises(VenueServerError) as ei:
        await rc.get("/broken")
    assert ei.value.http_status == 503 and ei.value.code == "HTTP_503"


async def test_timeout_is_server_error(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """No response within the timeout raises VenueServerError TIMEOUT."""
    base, _ = server
    rc = RestClient(session, base, venue="gateio", timeout_s=0.2)
    with pytest.raises(VenueServerError) as ei:
        await rc.get("/slow")
    assert ei.value.code == "TIMEOUT"


async def test_connection_refused_is_server_error(session: aiohttp.ClientSession) -> None:
    """A transport failure raises VenueServerError, never a raw aiohttp error."""
    probe = web.AppRunner(web.Application())
    await probe.setup()
    await web.TCPSite(probe, "127.0.0.1", 0).start()
    port = probe.addresses[0][1]
    await probe.cleanup()
    with pytest.raises(VenueServerError) as ei:
        await RestClient(session, f"http://127.0.0.1:{port}", venue="mexc").get("/x")
    assert ei.value.code == "TRANSPORT"


async def test_4xx_uses_venue_error_parser(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """4xx raises VenueClientError with the venue's code and message (MEXC code/msg)."""
    base, _ = server
    rc = RestClient(session, base, venue="mexc", error_parser=_mexc_error)
    with pytest.raises(VenueClientError) as ei:
        await rc.post("/api/v3/order", params={"symbol": "BTCUSDT"})
    assert (ei.value.code, ei.value.message, ei.value.http_status) == (
        "700002",
        "Signature for this request is not valid.",
        400,
    )


async def test_default_error_parser_reads_gate_label(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """The default parser reads Gate's label/message body."""
    base, _ = server
    with pytest.raises(VenueClientError) as ei:
        await RestClient(session, base, venue="gateio").post("/gate", json={"text": "abc"})
    assert ei.value.code == "INVALID_PARAM_VALUE"
    assert ei.value.message == "Invalid parameter `text` with value: abc"


async def test_signer_sees_exact_query_and_body(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """The signer gets the exact encoded query and body and can add a query parameter and headers."""
    base, _ = server
    captured: list[tuple[str, bytes]] = []

    def signer(req: RestRequest) -> None:
        captured.append((req.query, req.body))
        req.add_query("signature", "abc")
        req.headers["SIGN"] = "s1"

    rc = RestClient(session, base, venue="mexc", signer=signer)
    out = await rc.post(
        "/echo",
        params=[("symbol", "BTCUSDT"), ("side", "BUY"), ("with_id", True)],
        json={"a": 1},
        signed=True,
        type=dict,
    )
    assert captured == [("symbol=BTCUSDT&side=BUY&with_id=true", b'{"a":1}')]
    assert out == {
        "query": "symbol=BTCUSDT&side=BUY&with_id=true&signature=abc",
        "body": '{"a":1}',
        "sig": "s1",
    }


async def test_signed_without_signer_is_refused(
    server: tuple[str, list[web.Request]], session: aiohttp.ClientSession
) -> None:
    """A signed request without a signer fails before sending."""
    base, seen = server
    with pytest.raises(ValueError):
        await RestClient(session, base, venue="mexc").post("/echo", signed=True)
    assert seen == []


async def test_limiter_waits_for_tokens_with_weights() -> None:
    """Weights take from the bucket; an empty bucket waits for the refill rather than sending."""
    clock = FakeClock()
    lim = RateLimiter({"ip": (500, 10.0)}, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        await lim.acquire([("ip", 10)])  # e.g. MEXC exchangeInfo weight 10
    assert clock.slept == []
    await lim.acquire([("ip", 10)])  # refill 50/s -> 0.2 s for 10 tokens
    assert clock.slept == [pytest.approx(0.2)]


async def test_limiter_takes_all_buckets_or_none() -> None:
    """A request costing several groups takes from all of them at once or from none."""
    clock = FakeClock()
    lim = RateLimiter({"ip": (500, 10.0), "order": (2, 1.0)}, clock=clock, sleep=clock.sleep)
    await lim.acquire([("ip", 1), ("order", 1)])
    await lim.acquire([("ip", 1), ("order", 1)])
    assert lim.try_acquire([("ip", 1), ("order", 1)]) == pytest.approx(0.5)
    assert lim.buckets["ip"].tokens == pytest.approx(498)  # nothing taken on refusal
    with pytest.raises(RateLimited) as ei:
        await lim.acquire([("ip", 1), ("order", 1)], max_wait_s=0.1)
    assert ei.value.code == "LOCAL_RATE_LIMIT" and lim.refused == 1


async def test_limiter_rejects_unknown_group_and_oversized_weight() -> None:
    """Unknown groups and weights above a bucket's capacity are programming errors."""
    lim = RateLimiter({"ip": (5, 1.0)})
    with pytest.raises(KeyError):
        lim.try_acquire([("nope", 1)])
    with pytest.raises(ValueError):
        lim.try_acquire([("ip", 6)])


def test_encode_query_and_retry_after() -> None:
    """Queries keep order and percent-encode; Retry-After accepts seconds or an HTTP date."""
    assert encode_query({"a": "x y", "b": None, "c": False, "d": 1.5}) == "a=x%20y&c=false&d=1.5"
    assert encode_query(None) == ""
    assert parse_retry_after("3", 1.0) == 3.0
    assert parse_retry_after(None, 1.0) == 1.0
    assert parse_retry_after("garbage", 2.0) == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1.0) == 0.0  # in the past
