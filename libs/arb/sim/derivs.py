"""What a perpetual's public statistics are made of in the simulator, venue-neutral: open interest, public
liquidation orders and candles. A venue's wire layer (``sim/gateio``, ``sim/mexc``) serves them in its own shapes.
Candles are built here for any engine, spot ones too (``of(spot_engine)``: Gate spot ``spot.candlesticks`` and
``GET /spot/candlesticks``, MEXC ``spot@public.kline.v3.api.pb`` and ``GET /api/v3/klines``), written once.

* open interest (contracts) = the long side of every account's position on the instrument, plus what the admin
  added (``POST /admin/open_interest``), never below 0;
* a liquidation is made by the admin (``POST /admin/liquidate``): the liquidation order (signed contracts: < 0 a
  sell, which closes a liquidated long), its order price and fill price, at the engine's clock; it is kept (newest
  ``LIQ_KEEP``) for the venue's history endpoint and handed to ``on_liquidation`` listeners (the venue's channel);
* candles: every public trade updates one candle per interval in ``STEPS`` (start = trade time floored to the
  interval); the newest ``CANDLE_KEEP`` per (instrument, interval) are kept. ``on_candle(inst, step, candle,
  closed_prev)`` listeners hear each update, with the candle it closed when the trade opened a new window.

Admin routes (added to the admin app by ``add_admin_routes``)::

  POST /admin/open_interest  {"symbol","venue","add": contracts}  -> {"ok", "open_interest"}
  POST /admin/liquidate      {"symbol","venue","side": "sell"|"buy", "size": contracts, "price"?}  -> {"ok", ...}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from ..core.numeric import fmt

if TYPE_CHECKING:
    from .market import Market

STEPS = (10, 60, 300, 900, 1800, 3600, 14400, 28800, 86400, 604800)
CANDLE_KEEP = 1000
LIQ_KEEP = 10_000
ZERO = Decimal(0)


class SimLiquidation:
    __slots__ = ("fill_price", "inst", "order_price", "order_size", "ts_ns")

    def __init__(self, inst: Any, order_size: Decimal, order_price: Decimal, fill_price: Decimal, ts_ns: int) -> None:
        self.inst = inst
        self.order_size = order_size  # signed contracts: < 0 sell (a long liquidated), > 0 buy (a short)
        self.order_price = order_price
        self.fill_price = fill_price
        self.ts_ns = ts_ns


class SimCandle:
    __slots__ = ("c", "h", "l", "o", "quote", "t", "v")

    def __init__(self, t: int, price: Decimal) -> None:
        self.t = t  # window start, unix s
        self.o = self.h = self.l = self.c = price
        self.v = ZERO  # contracts (base on spot)
        self.quote = ZERO


class DerivStats:
    """Open interest, liquidations and candles of one venue market's engine (``of(ex)`` makes it once)."""

    def __init__(self, ex: Any) -> None:
        self.ex = ex
        self.oi_extra: dict[str, Decimal] = {}
        self.liqs: dict[str, deque[SimLiquidation]] = {s: deque(maxlen=LIQ_KEEP) for s in ex.instruments}
        self.candles: dict[tuple[str, int], deque[SimCandle]] = {}
        self.liq_listeners: list[Callable[[SimLiquidation], None]] = []
        self.candle_listeners: list[Callable[[Any, int, SimCandle, SimCandle | None], None]] = []
        ex.add_listener(self)

    # -- open interest -----------------------------------------------------------------------------
    def open_interest(self, sym: str) -> Decimal:
        longs = sum((p.size for p in self.ex.ledger.positions_by_inst.get(sym, {}).values() if p.size > 0), ZERO)
        return max(ZERO, longs + self.oi_extra.get(sym, ZERO))

    def add_open_interest(self, sym: str, contracts: Decimal) -> Decimal:
        self.ex.inst(sym)
        self.oi_extra[sym] = self.oi_extra.get(sym, ZERO) + contracts
        return self.open_interest(sym)

    # -- liquidations ------------------------------------------------------------------------------
    def liquidate(self, sym: str, order_size: Decimal, price: Decimal | None = None) -> SimLiquidation:
        inst = self.ex.inst(sym)
        book = self.ex.book(sym)
        bp, _, ap, _ = book.best()
        last = self.ex.last_price.get(sym)
        ref = price if price is not None else (bp if order_size < 0 else ap) or last or ZERO
        if ref is None or ref <= 0:
            raise ValueError(f"price: {sym} has no price to liquidate at; give one")
        liq = SimLiquidation(inst, order_size, ref, ref, self.ex.clock_ns())
        self.liqs[sym].append(liq)
        if order_size < 0:  # the liquidated positions leave the open interest
            self.oi_extra[sym] = self.oi_extra.get(sym, ZERO) + order_size
        for fn in self.liq_listeners:
            fn(liq)
        return liq

    def history(self, sym: str, from_ns: int, to_ns: int, limit: int) -> list[SimLiquidation]:
        """Newest first, ``from_ns <= ts <= to_ns``."""
        out = []
        for liq in reversed(self.liqs.get(sym, ())):
            if liq.ts_ns > to_ns:
                continue
            if liq.ts_ns < from_ns or len(out) >= limit:
                break
            out.append(liq)
        return out

    # -- candles -----------------------------------------------------------------------------------
    def on_trade(self, t: Any) -> None:
        sym = t.inst.venue_symbol
        sec = t.ts_ns // 1_000_000_000
        mult = getattr(t.inst, "multiplier", None) or Decimal(1)
        for step in STEPS:
            key = (sym, step)
            dq = self.candles.get(key)
            if dq is None:
                dq = self.candles[key] = deque(maxlen=CANDLE_KEEP)
            start = sec - sec % step
            closed = None
            cur = dq[-1] if dq else None
            if cur is None or cur.t < start:
                closed = cur
                cur = SimCandle(start, t.price)
                dq.append(cur)
            elif cur.t > start:
                continue  # a trade older than the open window (clock went back): not counted
            p = t.price
            cur.h = max(cur.h, p)
            cur.l = min(cur.l, p)
            cur.c = p
            cur.v += t.qty
            cur.quote += t.qty * mult * p
            for fn in self.candle_listeners:
                fn(t.inst, step, cur, closed)

    def latest(self, sym: str, step: int, limit: int) -> list[SimCandle]:
        """The newest ``limit`` candles, oldest first."""
        dq = self.candles.get((sym, step))
        if not dq:
            return []
        return list(dq)[-limit:] if limit > 0 else []


def of(ex: Any) -> DerivStats:
    """The one DerivStats of an engine (made on first use; it listens to the engine's trades from then on)."""
    s = getattr(ex, "_deriv_stats", None)
    if s is None:
        s = ex._deriv_stats = DerivStats(ex)
    return s


# ---------------------------------------------------------------------------------------------- admin


class OpenInterestRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    venue: str = "gateio"
    add: str | float | int


class LiquidateRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    venue: str = "gateio"
    side: str = "sell"  # the liquidation order's side: sell = a long liquidated
    size: str | float | int
    price: str | float | int | None = None


def num_field(field: str, x: Any) -> Decimal:
    """An admin request's number as a finite Decimal; ValueError naming ``field`` otherwise."""
    try:
        d = Decimal(str(x))
    except InvalidOperation:
        raise ValueError(f"{field}: expected a decimal number, got {x!r}") from None
    if not d.is_finite():
        raise ValueError(f"{field}: expected a finite number, got {x!r}")
    return d


def futures_listing(market: Market, symbol: str, venue: str) -> tuple[Any, str]:
    """(exchange, venue symbol) of ``symbol``'s perpetual on ``venue``; ValueError naming the field otherwise."""
    s = market.symbols.get(symbol)
    if s is None:
        raise ValueError(f"symbol: unknown {symbol!r}; configured: {', '.join(market.symbols)}")
    for li in s.listings:
        if li.inst.is_futures and li.inst.venue.value == venue:
            return li.ex, li.inst.venue_symbol
    raise ValueError(f"venue: {symbol} has no perpetual on {venue!r}")


def add_admin_routes(app: web.Application, market: Market, decode: Callable[..., Any],
                     bad: Callable[[str], web.Response]) -> None:
    """``/admin/open_interest`` and ``/admin/liquidate`` on the admin app, with its body ``decode`` and ``bad``."""
    _decode, _bad = decode, bad

    async def open_interest(request: web.Request) -> web.Response:
        try:
            req = await _decode(request, OpenInterestRequest)
            ex, sym = futures_listing(market, req.symbol, req.venue)
            oi = of(ex).add_open_interest(sym, num_field("add", req.add))
        except ValueError as e:
            return _bad(str(e))
        return web.json_response({"ok": True, "symbol": req.symbol, "venue": req.venue, "open_interest": fmt(oi)})

    async def liquidate(request: web.Request) -> web.Response:
        try:
            req = await _decode(request, LiquidateRequest)
            if req.side not in ("sell", "buy"):
                raise ValueError(f"side: expected sell or buy, got {req.side!r}")
            size = num_field("size", req.size)
            if size <= 0:
                raise ValueError(f"size: expected > 0 contracts, got {size}")
            price = None if req.price is None else num_field("price", req.price)
            ex, sym = futures_listing(market, req.symbol, req.venue)
            liq = of(ex).liquidate(sym, -size if req.side == "sell" else size, price)
        except ValueError as e:
            return _bad(str(e))
        return web.json_response({"ok": True, "symbol": req.symbol, "venue": req.venue, "side": req.side,
                                  "size": fmt(size), "price": fmt(liq.fill_price), "ts_ns": liq.ts_ns})

    app.router.add_post("/admin/open_interest", open_interest)
    app.router.add_post("/admin/liquidate", liquidate)


__all__ = ["STEPS", "DerivStats", "SimCandle", "SimLiquidation", "add_admin_routes", "futures_listing", "num_field", "of"]
