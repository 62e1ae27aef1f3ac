"""MEXC Spot v3 request signing, as the VENUE checks it (written from the docs, not from our gateway).

Docs (exchange-facts §1.8):
* header ``X-MEXC-APIKEY: <access key>``;
* ``signature`` = lowercase hex ``HMAC_SHA256(secretKey, totalParams)`` where totalParams is the query
  string concatenated with the request body with NO separator; the signature itself rides in the query
  or the body and is not part of what is signed;
* timing: accept iff ``timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow``;
  recvWindow default 5000, max 60000.

What is signed is what was sent: totalParams is the query string exactly as it arrived on the request
line (still percent-encoded: ``symbol=BTCUSDT%2CETHUSDT``) followed by the body bytes exactly as they
arrived. The docs ask clients to URL-encode special characters such as the comma (uppercase hex) when
signing, and ccxt signs the very string it puts after ``?``; so a server that decoded first (``,``)
would refuse every correctly signed request carrying one. Parameters are decoded only afterwards, for
use. See specs/sim-deviations.md, "MEXC signing: what is signed".

Test vector (key ``mx0aBYs33eIilxBWC5``, secret ``45d0b3c26f2644f19bfb98b07741b2f5``)::

    symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087
    -> fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from .errors import MexcError, err

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000


def sign(secret: str, total_params: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``total_params`` under ``secret``."""
    msg = total_params.encode() if isinstance(total_params, str) else total_params
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def strip_signature(raw: bytes) -> tuple[bytes, bytes | None]:
    """Split ``a=1&signature=xx&b=2`` into (``a=1&b=2``, ``xx``), keeping the rest byte-exact (still encoded)."""
    if b"signature=" not in raw:
        return raw, None
    kept: list[bytes] = []
    found: bytes | None = None
    for part in raw.split(b"&"):
        if part.startswith(b"signature="):
            found = part[len(b"signature="):]
        else:
            kept.append(part)
    return b"&".join(kept), found


def parse_body(body: str, content_type: str) -> dict[str, str]:
    """Body params: form-encoded (``a=1&b=2``) or a JSON object, as the docs allow both."""
    if not body:
        return {}
    text = body.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            raise err(700008) from None
        if not isinstance(obj, dict):
            raise err(33333)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def verify(
    *,
    secret: str,
    raw_query: str,
    raw_body: bytes,
    params: dict[str, str],
    server_ms: int,
) -> None:
    """Check timestamp/recvWindow and the signature; raise MexcError (code 700002/700003/700005) if not valid.

    ``raw_query`` is the request line's query exactly as received (percent-encoding untouched, never a
    decoded or re-encoded form) and ``raw_body`` the body bytes as received: the signature is checked
    over those. ``params`` is the merged, decoded parameter dict (query wins over body on duplicates, as
    the docs say), used for the timing fields only.
    """
    recv_raw = params.get("recvWindow")
    if recv_raw is None or recv_raw == "":
        recv_window = DEFAULT_RECV_WINDOW_MS
    else:
        try:
            recv_window = int(recv_raw)
        except ValueError:
            raise err(33333) from None
        if recv_window > MAX_RECV_WINDOW_MS:
            raise err(700005)
    ts_raw = params.get("timestamp")
    try:
        ts = int(ts_raw) if ts_raw else None
    except ValueError:
        ts = None
    if ts is None or not (ts < server_ms + 1000 and server_ms - ts <= recv_window):
        raise err(700003)
    query, sig_q = strip_signature(raw_query.encode("utf-8", "surrogateescape"))
    body, sig_b = strip_signature(raw_body)
    given = sig_q if sig_q is not None else sig_b
    if not given:
        raise err(700002)
    expected = sign(secret, query + body)
    if not hmac.compare_digest(expected.encode(), given):
        raise err(700002)


__all__ = ["MexcError", "parse_body", "sign", "strip_signature", "verify"]
