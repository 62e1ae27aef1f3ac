"""Gate.io API v4 signing (facts §2.2 REST, §2.7 WS), written from Gate's docs.

REST::

    SIGN = hex(HMAC_SHA512(secret, METHOD + "\\n" + URL_PATH + "\\n" + QUERY_STRING + "\\n" + hex(SHA512(body)) + "\\n" + Timestamp))

URL_PATH includes ``/api/v4``; QUERY_STRING is exactly what is sent (we build it ourselves from plain
tokens that need no escaping, so the signed and the sent string are the same); the body hash is over the
exact bytes sent. Headers ``KEY``, ``Timestamp``, ``SIGN``. Timestamp: integer unix seconds (the docs' form).

WS (channel subscription auth)::

    SIGN = hex(HMAC_SHA512(secret, "channel=<channel>&event=<event>&time=<time>"))

Vectors (key ``key``, secret ``secret``) are in tests/unit/test_gateio_auth.py. The secret is revealed only
inside these functions and never stored in a printable attribute.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from ...config.credentials import Credentials, Secret

EMPTY_BODY_SHA512 = hashlib.sha512(b"").hexdigest()


def sign_payload(method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    h = hashlib.sha512(body).hexdigest() if body else EMPTY_BODY_SHA512
    return f"{method.upper()}\n{path}\n{query}\n{h}\n{timestamp}"


def rest_sign(secret: str, method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    payload = sign_payload(method, path, query, body, timestamp)
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def ws_sign(secret: str, channel: str, event: str, time_s: int) -> str:
    payload = f"channel={channel}&event={event}&time={time_s}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


class Signer:
    """Signs requests for one account's key."""

    __slots__ = ("_clock", "_secret", "key")

    def __init__(self, credentials: Credentials, clock=time.time) -> None:
        self.key = credentials.api_key
        self._secret: Secret = credentials.api_secret
        self._clock = clock

    def rest_headers(self, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        ts = str(int(self._clock()))
        sign = rest_sign(self._secret.reveal(), method, path, query, body, ts)
        return {"KEY": self.key, "Timestamp": ts, "SIGN": sign}

    def ws_auth(self, channel: str, event: str, time_s: int) -> dict[str, str]:
        return {"method": "api_key", "KEY": self.key, "SIGN": ws_sign(self._secret.reveal(), channel, event, time_s)}

    def __repr__(self) -> str:
        return "Signer(key=****)"


__all__ = ["EMPTY_BODY_SHA512", "Signer", "rest_sign", "sign_payload", "ws_sign"]
