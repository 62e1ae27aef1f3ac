"""MEXC Spot v3 error bodies: ``{"code": <int>, "msg": "<text>"}``, HTTP 400 unless noted.

Codes and texts are the venue's (exchange-facts §1.8 error table; texts as clients logged them, e.g.
``{"code":700002,"msg":"Signature for this request is not valid."}`` with HTTP 400, hummingbot#7801
``{"code":700003,"msg":"Timestamp for this request is outside of the recvWindow."}`` with HTTP 400).
Where the docs name a code but not the exact text, the text below is the docs' table wording; see
specs/sim-deviations.md (MEXC spot) for the mappings that are our choice.
"""

from __future__ import annotations

from typing import Any

import msgspec


class MexcError(Exception):
    """An error the simulated venue answers with: HTTP status + MEXC JSON body."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def body(self) -> bytes:
        return msgspec.json.encode({"code": self.code, "msg": self.msg})


# code -> (HTTP status, msg)
MESSAGES: dict[int, tuple[int, str]] = {
    -2011: (400, "Unknown order sent."),
    -2013: (400, "Order does not exist."),
    -1121: (400, "Invalid symbol."),
    400: (400, "api key required"),
    404: (404, "Not Found"),
    429: (429, "Too Many Requests"),
    500: (500, "Internal error"),
    503: (503, "service not available, please try again"),
    10007: (400, "bad symbol"),
    10072: (400, "Api key info invalid"),
    10101: (400, "Insufficient balance"),
    30000: (400, "suspended transaction for the symbol"),
    30002: (400, "The minimum transaction volume cannot be less than:"),
    30003: (400, "The maximum transaction volume cannot be greater than:"),
    30004: (400, "Insufficient position"),
    30025: (400, "no exist opponent order"),
    30041: (400, "current order type can not place order"),
    33333: (400, "Parameter error"),
    44444: (400, "Parameter cannot be null"),
    700002: (400, "Signature for this request is not valid."),
    700003: (400, "Timestamp for this request is outside of the recvWindow."),
    700004: (400, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"),
    700005: (400, "recvWindow must less than 60000"),
    700008: (400, "Illegal characters found in parameter."),
    730001: (400, "Pair not found"),
    730002: (400, "Your input param is invalid."),
}


def err(code: int, msg: str | None = None, **headers: str) -> MexcError:
    """The MEXC error for ``code``; ``msg`` overrides the table text (e.g. to append a limit)."""
    status, text = MESSAGES.get(code, (400, "error"))
    return MexcError(code, msg if msg is not None else text, status, dict(headers) or None)


def from_reject(reason: str, message: str, ctx: dict[str, Any] | None = None) -> MexcError:
    """Map an engine ``SimReject(reason, message)`` to the MEXC code/msg/HTTP status a client would see.

    ``ctx`` may carry ``min_notional``/``min_qty``/``max_qty``/``quote``/``base`` for the message text.
    """
    c = ctx or {}
    if reason == "INSUFFICIENT_BALANCE":
        # ccxt's table: {"msg":"资金不足","code":10101}; English docs: "Insufficient balance"
        return err(10101)
    if reason == "BELOW_MIN_NOTIONAL":
        # docs (batch order item): "The minimum transaction volume cannot be less than:0.5USDT"
        return err(30002, f"{MESSAGES[30002][1]}{c.get('min_notional', '')}{c.get('quote', '')}")
    if reason == "BELOW_MIN_QTY":
        return err(30002, f"{MESSAGES[30002][1]}{c.get('min_qty', '')}{c.get('base', '')}")
    if reason == "ABOVE_MAX_QTY":
        return err(30003, f"{MESSAGES[30003][1]}{c.get('max_qty', '')}{c.get('base', '')}")
    if reason == "NO_LIQUIDITY":
        return err(30025)
    if reason == "UNKNOWN_SYMBOL":
        return err(10007)
    if reason == "SYMBOL_HALTED":  # a halted or delisted symbol (POST /admin/rules); docs: 30000
        return err(30000)
    if reason in ("ORDER_NOT_FOUND", "ORDER_CLOSED"):
        return err(-2011)
    if reason == "POST_ONLY_WOULD_TAKE":
        return err(30041)
    if reason in ("INVALID_PRECISION", "INVALID_PARAM", "DUPLICATE_CLIENT_ID", "FOK_NOT_FILLED"):
        return err(33333, message or None)
    return err(33333, message or None)


__all__ = ["MESSAGES", "MexcError", "err", "from_reject"]
