"""Gate.io APIv4 signature checks, written from Gate's docs (never from our gateway's signing code).

REST (docs "Authentication", exchange-facts §2.2)::

    SIGN = hex(HMAC_SHA512(secret, METHOD + "\\n" + URL_PATH + "\\n" + QUERY_STRING + "\\n"
                                   + hex(SHA512(body)) + "\\n" + Timestamp))

* URL_PATH includes ``/api/v4``; QUERY_STRING is the query as sent, *not* URL-encoded ("" if none);
  the body hash is over the raw received bytes (empty body -> SHA512 of "").
* ``Timestamp`` is unix seconds; the official Python SDK sends ``str(time.time())`` (a float) and signs
  that exact string, so an int or a float is accepted as long as it is within 60 s of server time.
* Optional ``x-gate-exptime`` (ms): a request received after it is refused.

Vector 1 (key ``key``, secret ``secret``)::

    GET /api/v4/futures/orders  contract=BTC_USD&status=finished&limit=50  Timestamp 1541993715
    -> 55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a

WebSocket (docs "Authentication" in WS v4)::

    SIGN = hex(HMAC_SHA512(secret, "channel=<channel>&event=<event>&time=<time>"))
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Mapping
from urllib.parse import unquote_plus

from arb.sim.gateio.errors import GateError

EMPTY_BODY_SHA512 = hashlib.sha512(b"").hexdigest()
MAX_SKEW_S = 60.0


def body_hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest()


def rest_payload(method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    return "\n".join((method.upper(), path, query, body_hash(body), timestamp))


def rest_sign(secret: str, method: str, path: str, query: str, body: bytes, timestamp: str) -> str:
    payload = rest_payload(method, path, query, body, timestamp)
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def ws_sign(secret: str, channel: str, event: str, time_s: int | str) -> str:
    payload = f"channel={channel}&event={event}&time={time_s}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def _parse_ts(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def verify_rest(
    *,
    method: str,
    path: str,
    raw_query: str,
    body: bytes,
    headers: Mapping[str, str],
    secret_of: Callable[[str], str | None],
    now_s: float,
) -> str:
    """Check KEY/SIGN/Timestamp on a private request; returns the api key or raises GateError (401)."""
    key = headers.get("KEY")
    sign = headers.get("SIGN")
    ts = headers.get("Timestamp")
    for name, value in (("KEY", key), ("SIGN", sign), ("Timestamp", ts)):
        if not value:
            raise GateError(401, "MISSING_REQUIRED_HEADER", f"Missing required header: {name}")
    assert key is not None and sign is not None and ts is not None
    ts_value = _parse_ts(ts)
    if ts_value is None:
        raise GateError(401, "REQUEST_EXPIRED", f"Invalid Timestamp {ts}")
    if abs(now_s - ts_value) > MAX_SKEW_S:
        raise GateError(
            401, "REQUEST_EXPIRED", f"gap between request Timestamp and server time exceeds {int(MAX_SKEW_S)}"
        )
    exptime = headers.get("x-gate-exptime")
    if exptime:
        exp = _parse_ts(exptime)
        if exp is None or now_s * 1000.0 > exp:
            raise GateError(401, "REQUEST_EXPIRED", "Request expired: x-gate-exptime passed")
    secret = secret_of(key)
    if secret is None:
        raise GateError(401, "INVALID_KEY", "Invalid key provided")
    # The docs sign the query "as sent, not URL-encoded"; the SDK signs unquote_plus(urlencode(q)) while
    # putting the encoded form on the wire, ccxt signs its raw form. Both spellings are accepted.
    candidates = {raw_query, unquote_plus(raw_query)}
    for query in candidates:
        expected = rest_sign(secret, method, path, query, body, ts)
        if hmac.compare_digest(expected, sign.lower()):
            return key
    raise GateError(401, "INVALID_SIGNATURE", "Signature mismatch")


__all__ = ["EMPTY_BODY_SHA512", "body_hash", "rest_payload", "rest_sign", "verify_rest", "ws_sign"]
