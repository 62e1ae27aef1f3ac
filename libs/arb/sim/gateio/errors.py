"""Gate.io APIv4 error bodies and the engine-reason -> Gate label map (exchange-facts §2.3).

Every non-2xx answer is ``{"label": ..., "message": ...}`` [docs]. Some futures answers carry
``detail`` instead of ``message`` (real samples kept in ccxt's gate.py):

    {"label":"INVALID_PARAM_VALUE","message":"Your order size 0.003749448 USDT is too small. The minimum is 3 USDT"}
    {"label":"POC_FILL_IMMEDIATELY","message":"Order would match and take immediately so its cancelled"}
    {"label":"ORDER_POC_IMMEDIATE","detail":"order price 1700 while counter price 1793.55"}
    {"label":"INVALID_ARGUMENT","detail":"invalid size"}

The futures order-validation rejects below are therefore sent with ``detail``; everything else with
``message``. A client must read either (the official SDK reads label, message and detail).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from arb.core.enums import Market

_ENC = msgspec.json.Encoder()


class GateError(Exception):
    """A Gate REST error answer: HTTP status + label + message (or detail)."""

    def __init__(self, status: int, label: str, message: str, *, use_detail: bool = False) -> None:
        super().__init__(f"{status} {label}: {message}")
        self.status = status
        self.label = label
        self.message = message
        self.use_detail = use_detail

    def body(self) -> bytes:
        key = "detail" if self.use_detail else "message"
        return _ENC.encode({"label": self.label, key: self.message})


@dataclass(frozen=True, slots=True)
class _Map:
    status: int
    label: str
    detail: bool = False


# engine SimReject.reason -> Gate answer, per market. Messages keep the engine's text unless Gate's
# own wording is known (then the wire layer formats it, see spot_rest / futures_rest).
_SPOT: dict[str, _Map] = {
    "INSUFFICIENT_BALANCE": _Map(400, "BALANCE_NOT_ENOUGH"),
    "BELOW_MIN_QTY": _Map(400, "INVALID_PARAM_VALUE"),
    "BELOW_MIN_NOTIONAL": _Map(400, "INVALID_PARAM_VALUE"),
    "ABOVE_MAX_QTY": _Map(400, "AMOUNT_TOO_MUCH"),
    "INVALID_PRECISION": _Map(400, "INVALID_PRECISION"),
    "POST_ONLY_WOULD_TAKE": _Map(400, "POC_FILL_IMMEDIATELY"),
    "FOK_NOT_FILLED": _Map(400, "FOK_NOT_FILL"),
    "NO_LIQUIDITY": _Map(400, "ORDER_BOOK_NOT_FOUND"),
    "UNKNOWN_SYMBOL": _Map(400, "INVALID_CURRENCY_PAIR"),
    "DUPLICATE_CLIENT_ID": _Map(400, "REPEATED_CREATION"),
    "ORDER_NOT_FOUND": _Map(404, "ORDER_NOT_FOUND"),
    "ORDER_CLOSED": _Map(400, "ORDER_CLOSED"),
    "REDUCE_ONLY_VIOLATION": _Map(400, "INVALID_PARAM_VALUE"),
    "INVALID_LEVERAGE": _Map(400, "INVALID_PARAM_VALUE"),
    "INVALID_PARAM": _Map(400, "INVALID_PARAM_VALUE"),
    "SYMBOL_HALTED": _Map(400, "INVALID_CURRENCY_PAIR"),  # no documented spot label for it: specs/sim-deviations.md
}

_FUTURES: dict[str, _Map] = {
    "INSUFFICIENT_BALANCE": _Map(400, "INSUFFICIENT_AVAILABLE"),
    "BELOW_MIN_QTY": _Map(400, "SIZE_TOO_SMALL", True),
    "BELOW_MIN_NOTIONAL": _Map(400, "SIZE_TOO_SMALL", True),
    "ABOVE_MAX_QTY": _Map(400, "SIZE_TOO_LARGE", True),
    "INVALID_PRECISION": _Map(400, "INVALID_PARAM_VALUE"),
    "POST_ONLY_WOULD_TAKE": _Map(400, "ORDER_POC_IMMEDIATE", True),
    "FOK_NOT_FILLED": _Map(400, "ORDER_FOK", True),
    "NO_LIQUIDITY": _Map(400, "CONTRACT_NO_COUNTER", True),
    "UNKNOWN_SYMBOL": _Map(400, "CONTRACT_NOT_FOUND"),
    "DUPLICATE_CLIENT_ID": _Map(400, "INVALID_PARAM_VALUE"),
    "ORDER_NOT_FOUND": _Map(404, "ORDER_NOT_FOUND"),
    "ORDER_CLOSED": _Map(400, "ORDER_FINISHED"),
    "REDUCE_ONLY_VIOLATION": _Map(400, "INCREASE_POSITION", True),
    "INVALID_LEVERAGE": _Map(400, "LEVERAGE_TOO_HIGH"),
    "INVALID_PARAM": _Map(400, "INVALID_PARAM_VALUE"),
    "SYMBOL_HALTED": _Map(400, "CONTRACT_IN_DELISTING"),
}

_MESSAGES: dict[str, str] = {
    "BALANCE_NOT_ENOUGH": "Not enough balance",
    "POC_FILL_IMMEDIATELY": "Order would match and take immediately so its cancelled",
    "ORDER_NOT_FOUND": "Order not found",
    "ORDER_CLOSED": "Order has been filled or cancelled",
    "FOK_NOT_FILL": "FOK order cannot be filled completely",
    "INVALID_CURRENCY_PAIR": "Invalid currency pair",
    "CONTRACT_NOT_FOUND": "Contract not found",
    "INSUFFICIENT_AVAILABLE": "Insufficient available balance",
    "REPEATED_CREATION": "Repeated creation",
    "ORDER_FINISHED": "Order finished",
}


def from_reject(market: Market, reason: str, message: str) -> GateError:
    """Map an engine SimReject to the Gate error a real venue answers with."""
    table = _SPOT if market is Market.SPOT else _FUTURES
    m = table.get(reason, _Map(400, "INVALID_PARAM_VALUE"))
    text = _MESSAGES.get(m.label) or message or m.label
    if reason == "SYMBOL_HALTED":
        text = message or m.label  # names the pair / contract and its status
    if m.label in ("INVALID_PARAM_VALUE", "INVALID_PRECISION", "SIZE_TOO_SMALL", "SIZE_TOO_LARGE",
                   "ORDER_POC_IMMEDIATE", "INCREASE_POSITION", "LEVERAGE_TOO_HIGH", "AMOUNT_TOO_MUCH"):
        text = message or m.label
    return GateError(m.status, m.label, text, use_detail=m.detail)


def label_for(market: Market, reason: str) -> str:
    table = _SPOT if market is Market.SPOT else _FUTURES
    return table.get(reason, _Map(400, "INVALID_PARAM_VALUE")).label


# --- request-level errors the wire layer raises itself ---------------------------------------------
def missing_param(name: str) -> GateError:
    return GateError(400, "MISSING_REQUIRED_PARAM", f"Missing required parameter: {name}")


def invalid_param(name: str, value: object) -> GateError:
    return GateError(400, "INVALID_PARAM_VALUE", f"Invalid parameter `{name}` with value: {value}")


def invalid_body(detail: str = "Invalid request body") -> GateError:
    return GateError(400, "INVALID_REQUEST_BODY", detail)


def not_found(path: str) -> GateError:
    return GateError(404, "NOT_FOUND", f"Not found: {path}")


def too_many_requests() -> GateError:
    return GateError(429, "TOO_MANY_REQUESTS", "Request Rate Limit Exceeded")


def server_error(status: int = 500) -> GateError:
    label = "TOO_BUSY" if status == 503 else "SERVER_ERROR"
    return GateError(status, label, "Internal server error" if label == "SERVER_ERROR" else "Server is too busy")


__all__ = [
    "GateError",
    "from_reject",
    "invalid_body",
    "invalid_param",
    "label_for",
    "missing_param",
    "not_found",
    "server_error",
    "too_many_requests",
]
