"""Gate.io signing: the documented vectors (exchange-facts §2.2) and equality with Gate's official SDKs."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote_plus, urlencode

import pytest
from arb.config.credentials import Credentials, Secret
from arb.venues.gateio.auth import EMPTY_BODY_SHA512, Signer, rest_sign, ws_sign

pytestmark = pytest.mark.unit

VECTOR1 = ("55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd"
           "01029199cc4fcc522418b8a")
VECTOR2 = ("eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d78"
           "8d802e2c306c37636389f0")
BODY2 = b'{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}'


def test_get_vector_from_the_docs():
    """GET with a query string signs to the documented vector 1."""
    q = "contract=BTC_USD&status=finished&limit=50"
    assert rest_sign("secret", "GET", "/api/v4/futures/orders", q, b"", "1541993715") == VECTOR1


def test_post_vector_from_the_docs():
    """POST with a JSON body signs to the documented vector 2 (body hash included)."""
    assert hashlib.sha512(BODY2).hexdigest().startswith("ad3c169203dc3026558f01b4df307641")
    assert rest_sign("secret", "POST", "/api/v4/futures/orders", "", BODY2, "1541993715") == VECTOR2


def test_empty_body_hash_is_sha512_of_nothing():
    """An empty body is hashed as SHA512 of the empty string."""
    assert EMPTY_BODY_SHA512.startswith("cf83e1357eefb8bdf1542850d66d8007")


def test_rest_signature_equals_gate_api_sdk(monkeypatch):
    """Our REST SIGN equals gate_api.ApiClient.gen_sign for the same method, path, query, body and time."""
    gate_api = pytest.importorskip("gate_api")
    cfg = gate_api.Configuration(key="k3y", secret="s3cr3t")
    client = gate_api.ApiClient(cfg)
    body = {"contract": "BTC_USDT", "size": -3, "price": "65000.1", "tif": "poc", "text": "t-abc"}
    raw = json.dumps(body).encode()  # the SDK hashes json.dumps(body)
    query = unquote_plus(urlencode([("contract", "BTC_USDT"), ("status", "open")]))
    monkeypatch.setattr("time.time", lambda: 1700000000)
    sdk = client.gen_sign("POST", "/api/v4/futures/usdt/orders", query, body)
    ours = Signer(Credentials("a", "k3y", Secret("s3cr3t")), clock=lambda: 1700000000).rest_headers(
        "POST", "/api/v4/futures/usdt/orders", query, raw)
    assert ours == sdk


def test_ws_signature_equals_gate_ws_sdk(monkeypatch):
    """Our WS auth equals the official gatews SDK's (channel=..&event=..&time=..) for the same request."""
    gate_ws = pytest.importorskip("gate_ws.client")
    monkeypatch.setattr("time.time", lambda: 1700000123.7)
    cfg = gate_ws.Configuration(app="futures", api_key="k3y", api_secret="s3cr3t")
    req = json.loads(str(gate_ws.WebSocketRequest(cfg, "futures.orders", "subscribe", ["1", "!all"], True)))
    ours = Signer(Credentials("a", "k3y", Secret("s3cr3t"))).ws_auth("futures.orders", "subscribe", req["time"])
    assert ours == req["auth"]


def test_ws_signature_is_hmac_of_the_documented_string():
    """WS SIGN is HMAC-SHA512 over channel=<c>&event=<e>&time=<t>."""
    import hmac

    expected = hmac.new(b"secret", b"channel=spot.orders&event=subscribe&time=1611541000", hashlib.sha512).hexdigest()
    assert ws_sign("secret", "spot.orders", "subscribe", 1611541000) == expected


def test_signer_never_shows_the_secret():
    """The signer's repr holds no key material."""
    s = Signer(Credentials("a", "publickey", Secret("topsecret")))
    assert "topsecret" not in repr(s) and "publickey" not in repr(s)
