"""MEXC error bodies -> arb.core.errors (exchange-facts 1.8).

Body: ``{"code": <int>, "msg": "<text>"}`` e.g. ``{"code":700002,"msg":"Signature for this request is not valid."}``
(HTTP 400). HTTP 429 = rate limit, 418 = IP ban (both with Retry-After), 5xx = status UNKNOWN.
The HTTP-status split (client/server/rate limited) is made once in ``arb.venues.common.rest``; this module
parses the body and names the codes the trading code has to recognise.
"""

from __future__ import annotations

import msgspec

from ...core.errors import VenueClientError, VenueError
from .schemas import ErrorBody

_decode = msgspec.json.Decoder(ErrorBody).decode

ORDER_NOT_FOUND = frozenset({"-2011", "-2013"})  # "Unknown order sent." / "Order does not exist."
TIMESTAMP_OUTSIDE_RECV_WINDOW = "700003"
INVALID_REQUEST_TIME = "10073"
INSUFFICIENT_BALANCE = "10101"
MIN_TRANSACTION_VOLUME = "30002"
PARAM_ERROR = "33333"

CODES = {
    "-2011": "Unknown order sent",
    "-2013": "Order does not exist",
    "602": "Signature verification failed",
    "10007": "bad symbol",
    "10072": "invalid access key",
    "10073": "invalid Request-Time",
    "10101": "Insufficient balance",
    "30000": "suspended transaction for the symbol",
    "30002": "minimum transaction volume",
    "30004": "Insufficient position",
    "30005": "Oversold",
    "30010": "no valid trade price",
    "30014": "invalid symbol",
    "30016": "trading disabled",
    "30029": "max order limit",
    "700002": "Signature not valid",
    "700003": "Timestamp outside recvWindow",
    "700007": "No permission to access the endpoint",
}


def parse_error(status: int, body: bytes) -> tuple[str, str]:
    """(code, message) from an error response; the HTTP status stands in when the body is not MEXC's JSON."""
    try:
        e = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return f"HTTP_{status}", body[:200].decode("utf-8", "replace")
    code = str(e.code) if e.code is not None else f"HTTP_{status}"
    return code, e.msg or CODES.get(code, "")


def is_order_not_found(exc: BaseException) -> bool:
    """The venue definitively does not know the order (not a transient failure)."""
    return isinstance(exc, VenueClientError) and exc.code in ORDER_NOT_FOUND


def is_duplicate_client_id(exc: BaseException) -> bool:
    """A submit refused because its ``newClientOrderId`` may already be in use.

    MEXC documents no dedicated code for it (the simulator answers ``33333`` "param is error", see
    specs/sim-deviations.md), so any ``33333`` or a message naming a duplicate counts. Over-matching costs one
    query by client id on a refusal path; the refusal stands when the venue knows no such order."""
    if not isinstance(exc, VenueClientError):
        return False
    if exc.code == PARAM_ERROR:
        return True
    m = exc.message.lower()
    return "duplicate" in m or ("client" in m and ("exist" in m or "in use" in m))


def is_clock_error(exc: BaseException) -> bool:
    return isinstance(exc, VenueError) and exc.code in (TIMESTAMP_OUTSIDE_RECV_WINDOW, INVALID_REQUEST_TIME)


__all__ = ["CODES", "ORDER_NOT_FOUND", "is_clock_error", "is_duplicate_client_id", "is_order_not_found", "parse_error"]
