"""MEXC signing: the docs' test vectors, and what the signer adds to a request."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from arb.config.credentials import Credentials, Secret
from arb.venues.common.rest import RestRequest, encode_query
from arb.venues.mexc.auth import ServerClock, Signer, sign

pytestmark = pytest.mark.unit

SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"


def test_query_only_vector() -> None:
    """All parameters in the query: the docs' signature fd3e4e85..."""
    q = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
    assert sign(Secret(SECRET), q) == "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"


def test_mixed_query_and_body_vector() -> None:
    """Query + body concatenated with no separator: d1a67661..."""
    total = "symbol=BTCUSDT&side=BUY&type=LIMIT" + "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
    assert sign(SECRET, total) == "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"


def test_signer_appends_recv_window_timestamp_signature_and_key() -> None:
    """The signer adds recvWindow and a server-corrected timestamp, signs query+body, sets X-MEXC-APIKEY."""
    clock = ServerClock(now_ms=lambda: 1644489390000)
    clock.update(server_ms=1644489390100, sent_ms=1644489390000, received_ms=1644489390000)
    signer = Signer(Credentials("a", "mx0aBYs33eIilxBWC5", Secret(SECRET)), clock, 5000)
    req = RestRequest("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11", b"", {})
    signer(req)
    q, _, sig = req.query.rpartition("&signature=")
    assert q.endswith("&recvWindow=5000&timestamp=1644489390100")
    assert sig == hmac.new(SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
    assert req.headers["X-MEXC-APIKEY"] == "mx0aBYs33eIilxBWC5"


def test_signer_never_shows_the_secret() -> None:
    """repr of the signer does not reveal the key material."""
    signer = Signer(Credentials("a", "k", Secret(SECRET)), ServerClock(), 5000)
    assert SECRET not in repr(signer)


def test_recv_window_bounds() -> None:
    """recvWindow above MEXC's 60000 maximum is refused at construction."""
    with pytest.raises(ValueError):
        Signer(Credentials("a", "k", Secret(SECRET)), ServerClock(), 60001)


def test_signer_signs_a_comma_percent_encoded_as_sent() -> None:
    """A comma-separated batch value is sent and signed as %2C (uppercase hex), never as the decoded comma."""
    clock = ServerClock(now_ms=lambda: 1644489390087)
    signer = Signer(Credentials("a", "mx0aBYs33eIilxBWC5", Secret(SECRET)), clock, 5000)
    req = RestRequest("DELETE", "/api/v3/openOrders", encode_query([("symbol", "BTCUSDT,ETHUSDT")]), b"", {})

    signer(req)

    # the literal bytes on the wire, HMAC'd by `openssl dgst -sha256 -hmac <secret>`
    sent = "symbol=BTCUSDT%2CETHUSDT&recvWindow=5000&timestamp=1644489390087"
    assert req.query == f"{sent}&signature=8c1d995d0d1a927a1a232f7a16442258a5700755b2c743aed67c9a3c5f3afa8d"
    # over the decoded form ("symbol=BTCUSDT,ETHUSDT&...") it would have been 303f9621...; never that
    assert "303f9621ffeecaa9818d18de3afa0ed6b12d150d97e3e8f22546f47436d938f2" not in req.query
