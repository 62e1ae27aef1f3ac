"""Small helpers shared by the Gate spot and futures handlers (request parsing, client ids, time)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from aiohttp import web

from arb.sim.gateio.errors import GateError, invalid_body, invalid_param, missing_param

# Gate's candle intervals -> seconds: the same set for spot.candlesticks / futures.candlesticks and both REST
# candlesticks endpoints (API v4 docs: 10s 1m 5m 15m 30m 1h 4h 8h 1d 7d; REST spot also lists 1s and 30d, a calendar
# month: not served).
CANDLE_INTERVALS = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400,
                    "8h": 28800, "1d": 86400, "7d": 604800}

_DEC = msgspec.json.Decoder()

# docs (Order.text): "prefixed with t-; no longer than 28 bytes without t- prefix; can only include
# 0-9, A-Z, a-z, underscore(_), hyphen(-) or dot(.)"
_TEXT_RE = re.compile(r"^t-[0-9A-Za-z_.\-]{1,28}$")


def check_text(text: Any) -> str:
    """Validate a user ``text`` (client order id); "" when absent."""
    if text is None or text == "":
        return ""
    if not isinstance(text, str) or not _TEXT_RE.match(text) or len(text.encode()) > 30:
        raise invalid_param("text", text)
    return text


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        raise invalid_body("request body is empty")
    try:
        body = _DEC.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_body(f"Invalid request body: {exc}") from None
    if not isinstance(body, dict):
        raise invalid_body("request body must be a JSON object")
    return body


def dec(name: str, value: Any, *, required: bool = True) -> Decimal | None:
    """A decimal parameter given as string or number."""
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if isinstance(value, bool):
        raise invalid_param(name, value)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise invalid_param(name, value) from None
    if not d.is_finite():
        raise invalid_param(name, value)
    return d


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    v = request.query.get(name)
    if v is None:
        return default
    if v.lower() in ("true", "1"):
        return True
    if v.lower() in ("false", "0"):
        return False
    raise invalid_param(name, v)


def qint(request: web.Request, name: str, default: int, lo: int = 0, hi: int = 1 << 62) -> int:
    v = request.query.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise invalid_param(name, v) from None
    if n < lo or n > hi:
        raise invalid_param(name, v)
    return n


def qreq(request: web.Request, name: str) -> str:
    v = request.query.get(name)
    if not v:
        raise missing_param(name)
    return v


def sec(ns: int) -> int:
    return ns // 1_000_000_000


def ms(ns: int) -> int:
    return ns // 1_000_000


def ms_frac(ns: int) -> str:
    """"1606292218213.4578"-style millisecond string with a fraction (spot trades/usertrades)."""
    return f"{ns // 1_000_000}.{(ns // 1000) % 1000:03d}"


def sec_float(ns: int) -> float:
    return round(ns / 1e9, 3)


def precision_of(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp)) if isinstance(exp, int) else 0


def user_id(account: Any) -> int:
    """A stable numeric Gate user id for an account (Gate uids are ints)."""
    for attr in ("uid", "user_id"):
        v = getattr(account, attr, None)
        if isinstance(v, int):
            return v
    name = str(getattr(account, "name", account))
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % 9_000_000
    return 10_000_000 + h


__all__ = [
    "GateError",
    "check_text",
    "dec",
    "json_body",
    "ms",
    "ms_frac",
    "precision_of",
    "qbool",
    "qint",
    "qreq",
    "sec",
    "sec_float",
    "user_id",
]
