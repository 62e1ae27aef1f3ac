"""Gate.io error answers -> arb.core.errors (facts §2.3, §2.4).

Non-2xx bodies are ``{"label": ..., "message": ...}`` (or ``detail`` instead of ``message``). The HTTP status
decides the class (``arb.venues.common.rest.venue_error``, the one mapping): 429 -> RateLimited (retry after
``X-Gate-RateLimit-Reset-Timestamp`` (ms) or ``Retry-After``), 5xx -> VenueServerError (for a write: outcome
unknown), other 4xx -> VenueClientError. A 4xx whose label is a server label (INTERNAL, SERVER_ERROR,
TOO_BUSY) is treated as a server error. ``parse_error`` and ``retry_after`` are the REST client's hooks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from ...core.errors import VenueClientError, VenueError
from ..common.rest import RATE_LIMIT_STATUSES, venue_error
from .schemas import ErrorBody

VENUE = "gateio"
SERVER_LABELS = frozenset({"INTERNAL", "SERVER_ERROR", "TOO_BUSY"})
NOT_FOUND_LABELS = frozenset({"ORDER_NOT_FOUND", "NOT_FOUND", "POSITION_NOT_FOUND"})
DUPLICATE_LABELS = frozenset({"REPEATED_CREATION"})
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 60.0

_dec = msgspec.json.Decoder(ErrorBody)


def retry_after(headers: Mapping[str, str], now_s: float | None = None) -> float:
    """Seconds to wait after a 429, from Gate's reset timestamp (ms) or a Retry-After header."""
    now = time.time() if now_s is None else now_s
    reset = headers.get("X-Gate-RateLimit-Reset-Timestamp")
    if reset:
        try:
            v = float(reset)
            v = v / 1000.0 if v > 1e11 else v  # ms (documented) or seconds
            if v > now:
                return min(MAX_RETRY_AFTER_S, v - now)
        except ValueError:
            pass
    ra = headers.get("Retry-After")
    if ra:
        try:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(ra)))
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER_S


def parse_body(body: bytes) -> tuple[str, str]:
    try:
        e = _dec.decode(body)
        return e.label or "", e.message or e.detail or ""
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "", body[:200].decode(errors="replace")


def parse_error(status: int, body: bytes) -> tuple[str, str]:
    """(code, message) of an error answer: the label (else ``HTTP_<status>``) and its message or detail."""
    label, message = parse_body(body)
    if not message and status == 429:
        message = "too many requests"
    return label or f"HTTP_{status}", message


def to_error(status: int, body: bytes, headers: Mapping[str, str]) -> VenueError:
    code, message = parse_error(status, body)
    wait = retry_after(headers) if status in RATE_LIMIT_STATUSES else 0.0
    return venue_error(VENUE, status, code, message, wait, SERVER_LABELS)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, VenueClientError) and (exc.code in NOT_FOUND_LABELS or exc.http_status == 404)


def is_duplicate_client_id(exc: BaseException) -> bool:
    """A submit refused because an order with its ``text`` may already exist (spot ``REPEATED_CREATION``; the
    simulator's futures answer ``INVALID_PARAM_VALUE`` "... already in use ..."). Live Gate does not promise
    unique texts at all, so this is a second line only: the trading handler's memory is the first."""
    if not isinstance(exc, VenueClientError):
        return False
    if exc.code in DUPLICATE_LABELS:
        return True
    m = exc.message.lower()
    return "duplicate" in m or "repeated" in m or "already in use" in m


__all__ = ["VENUE", "is_duplicate_client_id", "is_not_found", "parse_body", "parse_error", "retry_after", "to_error"]
