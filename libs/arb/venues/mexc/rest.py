"""MEXC Spot v3 REST clients: public (no key) and private (signed), separate classes (exchange-facts 1.8).

Rate limits (docs): every endpoint has its own 500 requests / 10 s budget (IP for keyless, UID for keyed)
and the endpoints carry weights (exchangeInfo 10, depth by limit 1/5/10/50, GET order 2, openOrders 3,
account 10 and "2 times/s", myTrades 10). We keep one token bucket per endpoint at 90 % of 500/10 s, charge
the weights, and add the 2/s cap on account; so the gateway waits locally instead of collecting 429s (repeated
429s earn an IP ban). A 429/418 blocks the limiter for the venue's Retry-After (``arb.venues.common.rest``).

Signed requests (``auth.Signer``) carry every parameter in the query string and an empty body, which is one
of the documented forms; the signature covers query + body. A "timestamp outside recvWindow" reply re-syncs
the server-time offset and is retried once (the venue rejected it, so it was not executed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from ...config.credentials import Credentials
from ...core.errors import VenueError
from ...core.numeric import fmt
from ..common.rest import RateLimiter, RestClient
from . import errors
from .auth import ServerClock, Signer
from .schemas import AccountRaw, Depth, ExchangeInfo, KlineRow, ListenKey, OrderRaw, ServerTime, TradeRaw

VENUE = "mexc"
P = "/api/v3/"
_BUDGET = (450.0, 10.0)  # 90 % of the documented 500 / 10 s per endpoint
MY_TRADES_LIMIT = 100  # docs: myTrades limit <= 100

PUBLIC_LIMITS = {
    "time": _BUDGET,
    "exchangeInfo": _BUDGET,
    "depth": _BUDGET,
    "klines": _BUDGET,
}
PRIVATE_LIMITS = {
    "time": _BUDGET,
    "exchangeInfo": _BUDGET,
    "order_post": _BUDGET,
    "order_delete": _BUDGET,
    "order_get": _BUDGET,
    "openOrders_get": _BUDGET,
    "openOrders_delete": _BUDGET,
    "account": _BUDGET,
    "account_rate": (2.0, 1.0),  # docs: account "2 times/s"
    "myTrades": _BUDGET,
    "userDataStream": _BUDGET,
}


def depth_weight(limit: int) -> float:
    """ccxt's MEXC depth weights by limit (docs say 1; the higher figure keeps us safe either way)."""
    if limit <= 100:
        return 1.0
    if limit <= 500:
        return 5.0
    if limit <= 1000:
        return 10.0
    return 50.0


_klines = msgspec.json.Decoder(list[KlineRow])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MexcPublicRest:
    """Keyless endpoints: server time, exchangeInfo, depth snapshots."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, timeout_s: float = 10.0,
                 limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter or RateLimiter(PUBLIC_LIMITS, venue=VENUE)
        self.http = RestClient(session, base_url, venue=VENUE, limiter=self.limiter,
                               error_parser=errors.parse_error, timeout_s=timeout_s)

    async def server_time(self) -> int:
        r: ServerTime = await self.http.get(P + "time", cost=(("time", 1.0),), type=ServerTime)
        return r.serverTime

    async def exchange_info(self, symbols: Sequence[str] = ()) -> ExchangeInfo:
        """Every symbol (so an unknown configured one can be answered with close matches), or only ``symbols``
        (venue names; the docs' ``symbol=MXUSDT`` / ``symbols=MXUSDT,BTCUSDT``): a small body for a refresh."""
        params: tuple[tuple[str, str], ...] = ()
        if len(symbols) == 1:
            params = (("symbol", symbols[0]),)
        elif symbols:
            params = (("symbols", ",".join(symbols)),)
        return await self.http.get(P + "exchangeInfo", params=params, cost=(("exchangeInfo", 10.0),),
                                   type=ExchangeInfo, max_wait_s=30.0)

    async def depth(self, venue_symbol: str, limit: int = 1000) -> Depth:
        limit = max(1, min(int(limit), 5000))
        return await self.http.get(P + "depth", params=(("symbol", venue_symbol), ("limit", limit)),
                                   cost=(("depth", depth_weight(limit)),), type=Depth, max_wait_s=30.0)

    async def klines(self, venue_symbol: str, interval: str, limit: int = 500) -> list[KlineRow]:
        """``GET /api/v3/klines`` (weight 1): the newest ``limit`` (max 1000) candles of ``interval`` (REST name),
        oldest first, as the venue's rows (``schemas.KlineRow``)."""
        params = (("symbol", venue_symbol), ("interval", interval), ("limit", max(1, min(int(limit), 1000))))
        return await self.http.get(P + "klines", params=params, cost=(("klines", 1.0),), decoder=_klines,
                                   max_wait_s=30.0)


class MexcPrivateRest:
    """Signed endpoints of one account. Raises arb.core.errors.VenueError subclasses."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, credentials: Credentials, *,
                 recv_window_ms: int = 5000, timeout_s: float = 10.0, limiter: RateLimiter | None = None,
                 clock: ServerClock | None = None) -> None:
        self.clock = clock or ServerClock()
        self.limiter = limiter or RateLimiter(PRIVATE_LIMITS, venue=VENUE)
        self.signer = Signer(credentials, self.clock, recv_window_ms)
        self.http = RestClient(session, base_url, venue=VENUE, limiter=self.limiter, signer=self.signer,
                               error_parser=errors.parse_error, timeout_s=timeout_s,
                               headers={"Content-Type": "application/json"})
        self.time_syncs = 0

    # -- time ---------------------------------------------------------------------------------
    async def sync_time(self) -> int:
        """Measure the server-time offset; returns it in ms."""
        sent = _now_ms()
        r: ServerTime = await self.http.get(P + "time", cost=(("time", 1.0),), type=ServerTime)
        self.clock.update(r.serverTime, sent, _now_ms())
        self.time_syncs += 1
        return self.clock.offset_ms

    async def _signed(self, method: str, path: str, params: Any, cost: Any, type: Any,
                      max_wait_s: float | None = None) -> Any:
        try:
            return await self.http.request(method, P + path, params=params, signed=True, cost=cost, type=type,
                                           max_wait_s=max_wait_s)
        except VenueError as e:
            if not errors.is_clock_error(e):
                raise
        await self.sync_time()  # rejected for its timestamp: nothing was executed, safe to send again
        return await self.http.request(method, P + path, params=params, signed=True, cost=cost, type=type,
                                       max_wait_s=max_wait_s)

    async def exchange_info(self) -> ExchangeInfo:
        return await self.http.get(P + "exchangeInfo", cost=(("exchangeInfo", 10.0),), type=ExchangeInfo,
                                   max_wait_s=30.0)

    # -- orders -------------------------------------------------------------------------------
    async def place(self, venue_symbol: str, side: str, type_: str, quantity: Decimal, price: Decimal | None,
                    client_order_id: str) -> OrderRaw:
        params: list[tuple[str, Any]] = [("symbol", venue_symbol), ("side", side), ("type", type_),
                                         ("quantity", fmt(quantity))]
        if price is not None and type_ != "MARKET":
            params.append(("price", fmt(price)))
        params.append(("newClientOrderId", client_order_id))
        return await self._signed("POST", "order", params, (("order_post", 1.0),), OrderRaw)

    async def cancel(self, venue_symbol: str, client_order_id: str = "", order_id: str = "") -> OrderRaw:
        return await self._signed("DELETE", "order", _order_ref(venue_symbol, client_order_id, order_id),
                                  (("order_delete", 1.0),), OrderRaw)

    async def cancel_all(self, venue_symbols: list[str]) -> list[OrderRaw]:
        """``DELETE /api/v3/openOrders``: up to 5 symbols, comma-separated, per request. The comma goes on the
        wire as ``%2C`` and is signed in that form (docs: batch parameters are URL-encoded when signing)."""
        out: list[OrderRaw] = []
        for i in range(0, len(venue_symbols), 5):
            chunk = ",".join(venue_symbols[i:i + 5])
            out.extend(await self._signed("DELETE", "openOrders", (("symbol", chunk),),
                                          (("openOrders_delete", 1.0),), list[OrderRaw]) or [])
        return out

    async def query(self, venue_symbol: str, client_order_id: str = "", order_id: str = "") -> OrderRaw:
        return await self._signed("GET", "order", _order_ref(venue_symbol, client_order_id, order_id),
                                  (("order_get", 2.0),), OrderRaw)

    async def open_orders(self, venue_symbol: str) -> list[OrderRaw]:
        return await self._signed("GET", "openOrders", (("symbol", venue_symbol),), (("openOrders_get", 3.0),),
                                  list[OrderRaw]) or []

    async def account(self) -> AccountRaw:
        return await self._signed("GET", "account", (), (("account", 10.0), ("account_rate", 1.0)), AccountRaw)

    async def my_trades(self, venue_symbol: str, start_ms: int = 0, limit: int = MY_TRADES_LIMIT, end_ms: int = 0,
                        max_wait_s: float | None = None) -> list[TradeRaw]:
        """One ``GET /api/v3/myTrades`` page: ``startTime``/``endTime`` in ms (sent when > 0), ``limit`` <= 100.
        The docs say neither in which order a page comes nor which trades a window holding more than ``limit``
        yields; ``MexcTrader.fills_since`` pages without relying on either."""
        params: list[tuple[str, Any]] = [("symbol", venue_symbol)]
        if start_ms > 0:
            params.append(("startTime", start_ms))
        if end_ms > 0:
            params.append(("endTime", end_ms))
        params.append(("limit", max(1, min(limit, MY_TRADES_LIMIT))))
        return await self._signed("GET", "myTrades", params, (("myTrades", 10.0),), list[TradeRaw],
                                  max_wait_s) or []

    # -- user data stream ---------------------------------------------------------------------
    async def create_listen_key(self) -> str:
        r: ListenKey = await self._signed("POST", "userDataStream", (), (("userDataStream", 1.0),), ListenKey)
        return r.listenKey

    async def keepalive_listen_key(self, key: str) -> None:
        await self._signed("PUT", "userDataStream", (("listenKey", key),), (("userDataStream", 1.0),), ListenKey)

    async def close_listen_key(self, key: str) -> None:
        await self._signed("DELETE", "userDataStream", (("listenKey", key),), (("userDataStream", 1.0),), Any)


def _order_ref(venue_symbol: str, client_order_id: str, order_id: str) -> list[tuple[str, str]]:
    params = [("symbol", venue_symbol)]
    if order_id:
        params.append(("orderId", order_id))
    elif client_order_id:
        params.append(("origClientOrderId", client_order_id))
    else:
        raise ValueError("an order is named by orderId or origClientOrderId")
    return params


__all__ = ["MY_TRADES_LIMIT", "PRIVATE_LIMITS", "PUBLIC_LIMITS", "MexcPrivateRest", "MexcPublicRest", "depth_weight"]
