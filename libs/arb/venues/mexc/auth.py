"""MEXC Spot v3 request signing (exchange-facts 1.8).

``signature`` = lowercase hex ``HMAC_SHA256(secretKey, totalParams)``, where totalParams is the query
string concatenated with the request body with NO separator. ``timestamp`` (ms, corrected by the tracked
server-time offset) and ``recvWindow`` are appended to the query before signing; the API key travels in
the ``X-MEXC-APIKEY`` header.

What is signed is exactly what goes on the wire: the query string as sent, still percent-encoded with
uppercase hex (the docs: special characters such as the comma of a batch parameter are URL-encoded when
signing, uppercase only), so ``symbol=BTCUSDT,ETHUSDT`` is sent and signed as ``symbol=BTCUSDT%2CETHUSDT``;
then the body bytes as sent. ccxt's mexc signs the same way (urlencode, sign that string, append it after
``?``). ``RestClient`` sends ``RestRequest.query`` untouched (``yarl.URL(..., encoded=True)``): a URL given
to aiohttp as a plain string would be re-quoted, ``%2C`` back to ``,``, and no longer match the signature.
See specs/sim-deviations.md, "MEXC signing: what is signed".

Docs' test vector (key ``mx0aBYs33eIilxBWC5``, secret ``45d0b3c26f2644f19bfb98b07741b2f5``)::

    symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087
    -> fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from ...config.credentials import Credentials, Secret
from ..common.rest import RestRequest

API_KEY_HEADER = "X-MEXC-APIKEY"


def sign(secret: Secret | str, total_params: str | bytes) -> str:
    key = (secret.reveal() if isinstance(secret, Secret) else secret).encode()
    msg = total_params.encode() if isinstance(total_params, str) else total_params
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


class ServerClock:
    """Local wall clock corrected by the venue's: ``offset_ms`` = serverTime - local midpoint of the request."""

    __slots__ = ("_now_ms", "offset_ms", "synced")

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        self.offset_ms = 0
        self.synced = False
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)

    def local_ms(self) -> int:
        return self._now_ms()

    def update(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        self.offset_ms = server_ms - (sent_ms + received_ms) // 2
        self.synced = True

    def now_ms(self) -> int:
        return self._now_ms() + self.offset_ms


class Signer:
    """``RestClient`` signer hook: appends recvWindow + timestamp, signs query+body, sets the key header."""

    __slots__ = ("_key", "_secret", "clock", "recv_window_ms")

    def __init__(self, credentials: Credentials, clock: ServerClock, recv_window_ms: int = 5000) -> None:
        if not 0 < recv_window_ms <= 60000:
            raise ValueError("recv_window_ms: MEXC accepts 1..60000")
        self._key = credentials.api_key
        self._secret = credentials.api_secret
        self.clock = clock
        self.recv_window_ms = recv_window_ms

    def __call__(self, req: RestRequest) -> None:
        req.add_query("recvWindow", self.recv_window_ms)
        req.add_query("timestamp", self.clock.now_ms())
        total = req.query.encode() + req.body  # the encoded query and the body exactly as they will be sent
        req.add_query("signature", sign(self._secret, total))
        req.headers[API_KEY_HEADER] = self._key

    def __repr__(self) -> str:
        return "MexcSigner(****)"


__all__ = ["API_KEY_HEADER", "ServerClock", "Signer", "sign"]
