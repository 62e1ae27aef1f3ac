"""Gate.io API v4 REST: ``PublicRest`` (no key), ``SpotPrivateRest`` and ``FuturesPrivateRest`` (signed).

The transport is the shared ``arb.venues.common.rest.RestClient`` (session, timeouts, typed errors, read
retries, token-bucket limiter); ``GateHttp`` only sets it up for Gate:

* limits (facts §2.4), one bucket per endpoint group at 90 % of the documented figure: public and other
  private endpoints 200 r/10 s each (18 r/s, bursts of 50); spot placement 10 r/s; futures placement
  100 r/s; cancellation 200 r/s. A request waits for its token however long that takes, except a placement:
  past ``PLACE_MAX_WAIT_S`` it is refused locally (``RateLimited``, not sent) rather than sent late.
* a 429 blocks the refused group until Gate's ``X-Gate-RateLimit-Reset-Timestamp`` (``errors.retry_after``:
  ms, else ``Retry-After``, at most 60 s) and every other group for 30 % of that wait; a success that says
  ``X-Gate-RateLimit-Requests-Remain: 0`` (the quota is shared with whatever else uses the key) holds its own
  group until that reset, so the next request waits instead of drawing the 429.
* reads (GET) are tried 3 times on 5xx/429/transport errors with jittered backoff; writes (POST/DELETE)
  never are: a failed write raises and the caller reconciles (``CommandHandler`` resolves "status unknown"
  by querying).
* signing (``auth.Signer``) covers ``/api/v4`` + path and the query string as sent, which Gate verifies
  un-escaped: a query that needed percent-encoding is refused, so the signed string is the sent one.
* error bodies: Gate's ``label`` is the code; labels INTERNAL / SERVER_ERROR / TOO_BUSY are server errors.
* lists (facts §2.4: ``limit`` default 100, max 1000): every list read that must be complete goes through a
  ``*_all`` pager below, which reads pages until a short one, de-duplicates by id and stops after a bounded
  number of requests (``Pages.truncated`` then says the answer may be incomplete). Paging per endpoint:

  - ``/spot/open_orders``: ``page`` from 1; ``limit`` (max 100) counts orders *per pair*, so the next page is
    needed while any pair filled its page;
  - ``/spot/orders``: ``page`` from 1; ``limit`` max 100 for open, 1000 for finished;
  - ``/spot/my_trades``: newest first; without ``from``/``to`` only the last 7 days, a window may not span more
    than 30 days, and ``limit * (page - 1)`` is capped (docs: "100,0", read strictly as 1000). So the pager
    walks a pinned window down: after a full page ``to`` moves to the oldest second seen (+1, so a second
    split across pages is read again, de-duplicated), and only when a whole page sits in that one second
    does it step ``page`` instead;
  - ``/futures/usdt/orders`` and ``/futures/usdt/my_trades``: newest first; ``last_id`` = id of the last
    row read continues below it (stable while new rows arrive on top, unlike ``offset``);
  - ``/futures/usdt/positions``: ``offset`` from 0.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec
from yarl import URL

from ..common.rest import RateLimiter, RestClient, RestRequest
from .auth import Signer
from .errors import SERVER_LABELS, VENUE, parse_error, retry_after
from .schemas import (
    AccountBookEntry,
    Candle,
    Contract,
    ContractStat,
    CurrencyPair,
    FundingPoint,
    FuturesAccount,
    FuturesOrder,
    FuturesOrderBook,
    FuturesPosition,
    FuturesTradeRow,
    LiqOrder,
    SpotAccount,
    SpotCandleRow,
    SpotOpenOrders,
    SpotOrder,
    SpotOrderBook,
    SpotTradeRow,
)

_ENDPOINT = (50.0, 50.0 / 18.0)  # 200 r/10 s per endpoint, public or private: 18 r/s, bursts of 50
_CANCEL = (180.0, 1.0)
LIMITS: dict[str, tuple[float, float]] = {
    "pub:pairs": _ENDPOINT,
    "pub:contracts": _ENDPOINT,
    "pub:spot_book": _ENDPOINT,
    "pub:fut_book": _ENDPOINT,
    "pub:funding": _ENDPOINT,
    "pub:contract_stats": _ENDPOINT,
    "pub:liq_orders": _ENDPOINT,
    "pub:candles": _ENDPOINT,
    "spot:place": (9.0, 1.0),
    "spot:cancel": _CANCEL,
    "spot:get_order": _ENDPOINT,
    "spot:list_orders": _ENDPOINT,
    "spot:open_orders": _ENDPOINT,
    "spot:my_trades": _ENDPOINT,
    "spot:accounts": _ENDPOINT,
    "futures:place": (90.0, 1.0),
    "futures:cancel": _CANCEL,
    "futures:get_order": _ENDPOINT,
    "futures:list_orders": _ENDPOINT,
    "futures:my_trades": _ENDPOINT,
    "futures:accounts": _ENDPOINT,
    "futures:positions": _ENDPOINT,
    "futures:leverage": _ENDPOINT,
    "futures:account_book": _ENDPOINT,
}
OTHERS_SHARE = 0.3  # a 429 on one endpoint holds the others back for 30 % of the wait
# A placement never waits longer than this for its token: a submit held back (after a 429 whose reset is up to
# 60 s away, or behind a burst) would reach the venue long after the caller gave up, at a stale price. Past
# this it is refused locally (RateLimited, nothing sent); reads and cancels still wait as long as it takes.
PLACE_MAX_WAIT_S = 1.0
COST = {group: ((group, 1.0),) for group in LIMITS}  # one token per request, built once
ACCEPT_JSON = {"Accept": "application/json"}


def reset_wait(status: int, headers: Mapping[str, str]) -> float:
    """``RestClient.retry_after`` hook: Gate's reset timestamp (or Retry-After) says how long to hold back."""
    return retry_after(headers)


def quota_wait(headers: Mapping[str, str]) -> float:
    """``RestClient.exhausted`` hook: ``X-Gate-RateLimit-Requests-Remain: 0`` on a success means the next request
    of that endpoint would get a 429 (another process on the same key may have used the quota): hold the group
    until ``X-Gate-RateLimit-Reset-Timestamp``, or 1 s when that is "now" (what Gate sends below the limit)."""
    if headers.get("X-Gate-RateLimit-Requests-Remain") != "0":
        return 0.0
    return retry_after(headers)


def gate_signer(signer: Signer, base_path: str) -> Callable[[RestRequest], None]:
    """``RestClient.signer`` hook: ``KEY``/``Timestamp``/``SIGN`` over ``base_path`` (``/api/v4``) + path."""

    def sign(req: RestRequest) -> None:
        if "%" in req.query:  # Gate checks the un-escaped query: an escaped one would never verify
            raise ValueError(f"query value needs escaping: {req.query!r}")
        req.headers.update(signer.rest_headers(req.method, base_path + req.path, req.query, req.body))

    return sign


class GateHttp(RestClient):
    """``RestClient`` set up for Gate: base URL ``.../api/v4``, limits, signer, labels, reset header."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout_s: float = 10.0,
                 signer: Signer | None = None, read_attempts: int = 3,
                 rng: random.Random | None = None) -> None:
        base_path = URL(base_url.rstrip("/")).path.rstrip("/")
        super().__init__(
            session, base_url, venue=VENUE,
            limiter=RateLimiter(LIMITS, venue=VENUE, others_share=OTHERS_SHARE),
            signer=None if signer is None else gate_signer(signer, base_path),
            error_parser=parse_error, retry_after=reset_wait, exhausted=quota_wait, server_codes=SERVER_LABELS,
            timeout_s=timeout_s, headers=ACCEPT_JSON, read_attempts=read_attempts,
            max_wait_s=math.inf, rng=rng,
        )


# futures sizes as decimal strings: without it Gate truncates a decimal-size contract's sizes to integers
# (order_size_min "0.01" reads 1, a 0.5-contract level reads 0); on every /futures request that carries sizes
DECIMAL_SIZE = {"X-Gate-Size-Decimal": "1"}

_pairs = msgspec.json.Decoder(list[CurrencyPair])
_contracts = msgspec.json.Decoder(list[Contract])
_spot_book = msgspec.json.Decoder(SpotOrderBook, strict=False)
_fut_book = msgspec.json.Decoder(FuturesOrderBook, strict=False)
_funding = msgspec.json.Decoder(list[FundingPoint])
_stats = msgspec.json.Decoder(list[ContractStat])
_liqs = msgspec.json.Decoder(list[LiqOrder])
_candles = msgspec.json.Decoder(list[Candle])
_spot_candles = msgspec.json.Decoder(list[SpotCandleRow])


class PublicRest:
    """Public endpoints of one market (``spot`` or ``futures`` under settle ``usdt``)."""

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def currency_pairs(self) -> list[CurrencyPair]:
        return await self.http.request("GET", "/spot/currency_pairs", cost=COST["pub:pairs"], decoder=_pairs)

    async def contracts(self) -> list[Contract]:
        return await self.http.request("GET", "/futures/usdt/contracts", cost=COST["pub:contracts"],
                                       headers=DECIMAL_SIZE, decoder=_contracts)

    async def spot_order_book(self, pair: str, limit: int) -> SpotOrderBook:
        params = (("currency_pair", pair), ("limit", limit), ("with_id", "true"))
        return await self.http.request("GET", "/spot/order_book", params=params, cost=COST["pub:spot_book"],
                                       decoder=_spot_book)

    async def futures_order_book(self, contract: str, limit: int) -> FuturesOrderBook:
        params = (("contract", contract), ("limit", limit), ("with_id", "true"))
        return await self.http.request("GET", "/futures/usdt/order_book", params=params, headers=DECIMAL_SIZE,
                                       cost=COST["pub:fut_book"], decoder=_fut_book)

    async def funding_history(self, contract: str, limit: int = 100) -> list[FundingPoint]:
        params = (("contract", contract), ("limit", limit))
        return await self.http.request("GET", "/futures/usdt/funding_rate", params=params,
                                       cost=COST["pub:funding"], decoder=_funding)

    async def contract_stats(self, contract: str, from_s: int, interval: str = "5m") -> list[ContractStat]:
        """Open interest and liquidation totals per ``interval`` bucket from ``from_s`` (unix s), oldest first."""
        params = (("contract", contract), ("from", from_s), ("interval", interval))
        return await self.http.request("GET", "/futures/usdt/contract_stats", params=params, headers=DECIMAL_SIZE,
                                       cost=COST["pub:contract_stats"], decoder=_stats)

    async def liq_orders(self, contract: str, from_s: int, to_s: int, limit: int = 1000) -> list[LiqOrder]:
        """Public liquidation orders of ``contract`` with ``from_s <= time <= to_s`` (unix s; Gate allows at most
        3600 s between them), newest first."""
        params = (("contract", contract), ("from", from_s), ("to", to_s), ("limit", limit))
        return await self.http.request("GET", "/futures/usdt/liq_orders", params=params, headers=DECIMAL_SIZE,
                                       cost=COST["pub:liq_orders"], decoder=_liqs)

    async def futures_candles(self, contract: str, interval: str, limit: int) -> list[Candle]:
        """The newest ``limit`` candles of ``interval``, oldest first (the last one still open)."""
        params = (("contract", contract), ("interval", interval), ("limit", limit))
        return await self.http.request("GET", "/futures/usdt/candlesticks", params=params, headers=DECIMAL_SIZE,
                                       cost=COST["pub:candles"], decoder=_candles)

    async def spot_candles(self, pair: str, interval: str, limit: int) -> list[SpotCandleRow]:
        """GET /spot/candlesticks: the newest ``limit`` candles of ``interval``, oldest first, as the venue's rows
        (``schemas.SpotCandleRow``)."""
        params = (("currency_pair", pair), ("interval", interval), ("limit", limit))
        return await self.http.request("GET", "/spot/candlesticks", params=params, cost=COST["pub:candles"],
                                       decoder=_spot_candles)


_spot_order = msgspec.json.Decoder(SpotOrder)
_spot_orders = msgspec.json.Decoder(list[SpotOrder])
_spot_open = msgspec.json.Decoder(list[SpotOpenOrders])
_spot_trades = msgspec.json.Decoder(list[SpotTradeRow])
_spot_accounts = msgspec.json.Decoder(list[SpotAccount])
_fut_order = msgspec.json.Decoder(FuturesOrder)
_fut_orders = msgspec.json.Decoder(list[FuturesOrder])
_fut_trades = msgspec.json.Decoder(list[FuturesTradeRow])
_fut_account = msgspec.json.Decoder(FuturesAccount)
_fut_position = msgspec.json.Decoder(FuturesPosition)
_fut_positions = msgspec.json.Decoder(list[FuturesPosition])

OPEN_PAGE = 100  # open orders per page (spot: the documented max for open orders; futures: same, to keep pages small)
FINISHED_PAGE = 1000  # finished orders per page (max, facts §2.4)
TRADES_PAGE = 1000  # my_trades rows per page (max)
POSITIONS_PAGE = 100
BOOK_PAGE = 1000  # account_book rows per page (max, gateapi list_futures_account_book)
MAX_PAGES = 50  # requests one complete read may spend (open orders: 5000, fills: 50 000)
SPOT_TRADES_SPAN_S = 30 * 86400 - 60  # /spot/my_trades refuses a from..to window over 30 days
SPOT_TRADES_PAGE_DEPTH = 1000  # /spot/my_trades: limit * (page - 1) <= this (docs "100,0", read strictly)

T = TypeVar("T")


class Pages(Generic[T]):
    """The rows of one paged read, de-duplicated, newest first as the venue sent them.

    ``truncated``: the request bound (``MAX_PAGES``) or a venue cap stopped the read before a short page, so
    older rows may be missing; ``requests``: how many pages were read."""

    def __init__(self) -> None:
        self.rows: list[T] = []
        self.truncated = False
        self.requests = 0
        self._ids: set[str] = set()

    def add(self, key: str, row: T) -> bool:
        if key in self._ids:
            return False
        self._ids.add(key)
        self.rows.append(row)
        return True


_account_book = msgspec.json.Decoder(list[AccountBookEntry])


def _sec(x: Any) -> int:
    """A Gate time field (int, float or decimal string, seconds) as whole seconds."""
    try:
        return int(Decimal(str(x)))
    except ArithmeticError:
        return 0


class SpotPrivateRest:
    """Signed spot endpoints (facts §2.5)."""

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def place(self, body: dict[str, Any]) -> SpotOrder:
        return await self.http.request("POST", "/spot/orders", json=body, signed=True,
                                       cost=COST["spot:place"], decoder=_spot_order, max_wait_s=PLACE_MAX_WAIT_S)

    async def get_order(self, order_id: str, pair: str) -> SpotOrder:
        return await self.http.request("GET", f"/spot/orders/{order_id}", params=(("currency_pair", pair),),
                                       signed=True, cost=COST["spot:get_order"], decoder=_spot_order)

    async def list_orders(self, pair: str, status: str, limit: int = 100, page: int = 1) -> list[SpotOrder]:
        params: list[tuple[str, Any]] = [("currency_pair", pair), ("status", status), ("limit", limit)]
        if page > 1:
            params.append(("page", page))
        return await self.http.request("GET", "/spot/orders", params=params, signed=True,
                                       cost=COST["spot:list_orders"], decoder=_spot_orders)

    async def list_orders_all(self, pair: str, status: str, max_pages: int = MAX_PAGES) -> Pages[SpotOrder]:
        """Every ``status`` order of ``pair`` (finished: the newest ``max_pages`` pages), page by page."""
        limit = OPEN_PAGE if status == "open" else FINISHED_PAGE
        out: Pages[SpotOrder] = Pages()
        for page in range(1, max_pages + 1):
            rows = await self.list_orders(pair, status, limit, page)
            out.requests += 1
            for o in rows:
                out.add(str(o.id), o)
            if len(rows) < limit:
                return out
        out.truncated = True
        return out

    async def open_orders(self, page: int = 1, limit: int = OPEN_PAGE) -> list[SpotOpenOrders]:
        params: list[tuple[str, Any]] = [("limit", limit)]
        if page > 1:
            params.append(("page", page))
        return await self.http.request("GET", "/spot/open_orders", params=params, signed=True,
                                       cost=COST["spot:open_orders"], decoder=_spot_open)

    async def open_orders_all(self, max_pages: int = MAX_PAGES) -> Pages[SpotOrder]:
        """Every open order of every pair: ``limit`` counts per pair, so read on while any pair filled its page."""
        out: Pages[SpotOrder] = Pages()
        for page in range(1, max_pages + 1):
            groups = await self.open_orders(page, OPEN_PAGE)
            out.requests += 1
            for g in groups:
                for o in g.orders:
                    out.add(str(o.id), o)
            if all(len(g.orders) < OPEN_PAGE for g in groups):
                return out
        out.truncated = True
        return out

    async def cancel(self, order_id: str, pair: str) -> SpotOrder:
        return await self.http.request("DELETE", f"/spot/orders/{order_id}",
                                       params=(("currency_pair", pair),), signed=True,
                                       cost=COST["spot:cancel"], decoder=_spot_order)

    async def cancel_all(self, pair: str) -> list[SpotOrder]:
        return await self.http.request("DELETE", "/spot/orders", params=(("currency_pair", pair),),
                                       signed=True, cost=COST["spot:cancel"], decoder=_spot_orders)

    async def my_trades(self, pair: str, since_s: int = 0, limit: int = TRADES_PAGE, to_s: int = 0,
                        page: int = 1) -> list[SpotTradeRow]:
        params: list[tuple[str, Any]] = [("currency_pair", pair), ("limit", limit)]
        if page > 1:
            params.append(("page", page))
        if since_s:
            params.append(("from", since_s))
        if to_s:
            params.append(("to", to_s))
        return await self.http.request("GET", "/spot/my_trades", params=params, signed=True,
                                       cost=COST["spot:my_trades"], decoder=_spot_trades)

    async def my_trades_all(self, pair: str, since_s: int, max_pages: int = MAX_PAGES) -> Pages[SpotTradeRow]:
        """Every trade of ``pair`` from ``since_s`` (unix s; at most 30 days back) to now, walking a pinned
        window down (module doc): new trades arriving meanwhile do not shift what is read."""
        to_s = int(time.time()) + 1
        from_s = max(since_s, to_s - SPOT_TRADES_SPAN_S)
        page = 1
        out: Pages[SpotTradeRow] = Pages()
        for _ in range(max_pages):
            rows = await self.my_trades(pair, from_s, TRADES_PAGE, to_s, page)
            out.requests += 1
            for t in rows:
                out.add(str(t.id), t)
            if len(rows) < TRADES_PAGE:
                return out
            oldest = min(_sec(t.create_time) for t in rows)
            if oldest + 1 < to_s:
                to_s, page = oldest + 1, 1  # inclusive or not, the oldest second is read again in full
            elif TRADES_PAGE * page <= SPOT_TRADES_PAGE_DEPTH:
                page += 1  # a whole page in one second: only paging gets below it
            else:
                break
            if to_s <= from_s:
                return out
        out.truncated = True
        return out

    async def accounts(self) -> list[SpotAccount]:
        return await self.http.request("GET", "/spot/accounts", signed=True, cost=COST["spot:accounts"],
                                       decoder=_spot_accounts)


class FuturesPrivateRest:
    """Signed USDT-settled futures endpoints (facts §2.6). ``decimal`` sends ``X-Gate-Size-Decimal: 1``."""

    P = "/futures/usdt"

    def __init__(self, http: GateHttp) -> None:
        self.http = http

    async def place(self, body: dict[str, Any], decimal: bool = False) -> FuturesOrder:
        return await self.http.request("POST", self.P + "/orders", json=body, signed=True,
                                       headers=DECIMAL_SIZE if decimal else None, cost=COST["futures:place"],
                                       decoder=_fut_order, max_wait_s=PLACE_MAX_WAIT_S)

    async def get_order(self, order_id: str) -> FuturesOrder:
        return await self.http.request("GET", f"{self.P}/orders/{order_id}", signed=True,
                                       headers=DECIMAL_SIZE, cost=COST["futures:get_order"],
                                       decoder=_fut_order)

    async def list_orders(self, status: str, contract: str = "", limit: int = 100, last_id: str = ""
                          ) -> list[FuturesOrder]:
        params: list[tuple[str, Any]] = [("status", status), ("limit", limit)]
        if contract:
            params.insert(0, ("contract", contract))
        if last_id:
            params.append(("last_id", last_id))
        return await self.http.request("GET", self.P + "/orders", params=params, signed=True,
                                       headers=DECIMAL_SIZE, cost=COST["futures:list_orders"],
                                       decoder=_fut_orders)

    async def list_orders_all(self, status: str, contract: str = "", max_pages: int = MAX_PAGES
                              ) -> Pages[FuturesOrder]:
        """Every ``status`` order (of ``contract`` if given; finished: the newest ``max_pages`` pages),
        continuing each page below the last id read."""
        limit = OPEN_PAGE if status == "open" else FINISHED_PAGE
        out: Pages[FuturesOrder] = Pages()
        last_id = ""
        for _ in range(max_pages):
            rows = await self.list_orders(status, contract, limit, last_id)
            out.requests += 1
            for o in rows:
                out.add(str(o.id), o)
            if len(rows) < limit or str(rows[-1].id) == last_id:
                return out
            last_id = str(rows[-1].id)
        out.truncated = True
        return out

    async def cancel(self, order_id: str) -> FuturesOrder:
        return await self.http.request("DELETE", f"{self.P}/orders/{order_id}", signed=True,
                                       headers=DECIMAL_SIZE, cost=COST["futures:cancel"], decoder=_fut_order)

    async def cancel_all(self, contract: str) -> list[FuturesOrder]:
        return await self.http.request("DELETE", self.P + "/orders", params=(("contract", contract),),
                                       signed=True, headers=DECIMAL_SIZE, cost=COST["futures:cancel"],
                                       decoder=_fut_orders)

    async def my_trades(self, contract: str, limit: int = TRADES_PAGE, last_id: str = "") -> list[FuturesTradeRow]:
        """One page, newest first (``/my_trades`` takes no time window: ``contract, order, limit, offset, last_id``)."""
        params: list[tuple[str, Any]] = [("contract", contract), ("limit", limit)]
        if last_id:
            params.append(("last_id", last_id))
        return await self.http.request("GET", self.P + "/my_trades", params=params, signed=True,
                                       headers=DECIMAL_SIZE, cost=COST["futures:my_trades"],
                                       decoder=_fut_trades)

    async def my_trades_all(self, contract: str, since_s: float, max_pages: int = MAX_PAGES
                            ) -> Pages[FuturesTradeRow]:
        """Every trade of ``contract`` at or after ``since_s`` (unix s): pages below the last id read until a
        short page or a page reaching back before ``since_s``; older rows are left out."""
        out: Pages[FuturesTradeRow] = Pages()
        last_id = ""
        for _ in range(max_pages):
            rows = await self.my_trades(contract, TRADES_PAGE, last_id)
            out.requests += 1
            for t in rows:
                if not t.create_time or t.create_time >= since_s:  # a row without a time is kept, not dropped
                    out.add(str(t.id), t)
            if len(rows) < TRADES_PAGE or str(rows[-1].id) == last_id or 0 < rows[-1].create_time < since_s:
                return out
            last_id = str(rows[-1].id)
        out.truncated = True
        return out

    async def account(self) -> FuturesAccount:
        return await self.http.request("GET", self.P + "/accounts", signed=True,
                                       cost=COST["futures:accounts"], decoder=_fut_account)

    async def account_book(self, kind: str, from_s: int, limit: int = BOOK_PAGE, offset: int = 0
                           ) -> list[AccountBookEntry]:
        """One page of the account's wallet changes of ``kind`` (e.g. ``fund``) at or after ``from_s``, newest first."""
        params: list[tuple[str, Any]] = [("limit", limit), ("from", from_s), ("type", kind)]
        if offset:
            params.insert(1, ("offset", offset))
        return await self.http.request("GET", self.P + "/account_book", params=params, signed=True,
                                       cost=COST["futures:account_book"], decoder=_account_book)

    async def account_book_all(self, kind: str, from_s: int, max_pages: int = MAX_PAGES) -> Pages[AccountBookEntry]:
        """Every ``kind`` change at or after ``from_s``: ``offset`` pages until a short one. New rows arriving on
        top shift later pages by one, so a row may be read twice (de-duplicated by id, or time and contract), never
        missed."""
        out: Pages[AccountBookEntry] = Pages()
        for page in range(max_pages):
            rows = await self.account_book(kind, from_s, BOOK_PAGE, page * BOOK_PAGE)
            out.requests += 1
            for e in rows:
                out.add(str(e.id) if e.id != "" else f"{e.time}:{e.contract or e.text}:{e.change}", e)
            if len(rows) < BOOK_PAGE:
                return out
        out.truncated = True
        return out

    async def positions(self, limit: int = POSITIONS_PAGE, offset: int = 0) -> list[FuturesPosition]:
        params: list[tuple[str, Any]] = [("limit", limit)]
        if offset:
            params.append(("offset", offset))
        return await self.http.request("GET", self.P + "/positions", params=params, signed=True,
                                       headers=DECIMAL_SIZE, cost=COST["futures:positions"],
                                       decoder=_fut_positions)

    async def positions_all(self, max_pages: int = MAX_PAGES) -> Pages[FuturesPosition]:
        """Every position, ``offset`` paging (one row per contract, so de-duplicated by contract)."""
        out: Pages[FuturesPosition] = Pages()
        for page in range(max_pages):
            rows = await self.positions(POSITIONS_PAGE, page * POSITIONS_PAGE)
            out.requests += 1
            for p in rows:
                out.add(f"{p.contract}:{p.mode}", p)
            if len(rows) < POSITIONS_PAGE:
                return out
        out.truncated = True
        return out

    async def set_leverage(self, contract: str, leverage: int) -> FuturesPosition:
        params: list[tuple[str, Any]] = [("leverage", leverage)]
        if leverage == 0:
            params.append(("cross_leverage_limit", 0))
        return await self.http.request("POST", f"{self.P}/positions/{contract}/leverage", params=params,
                                       signed=True, headers=DECIMAL_SIZE, cost=COST["futures:leverage"],
                                       decoder=_fut_position)


__all__ = [
    "COST",
    "LIMITS",
    "MAX_PAGES",
    "PLACE_MAX_WAIT_S",
    "FuturesPrivateRest",
    "GateHttp",
    "Pages",
    "PublicRest",
    "SpotPrivateRest",
    "gate_signer",
    "reset_wait",
]
