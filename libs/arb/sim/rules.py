"""Rule changes in the simulator: the admin sets an instrument's tick, step, minimums, contract multiplier, fees,
funding interval or trading status mid-run, as a venue changes a listing.

    POST /admin/rules  {"venue", "market", "symbol", and any of "tick", "step", "min_qty", "min_notional", "max_qty",
                        "contract_multiplier", "maker_fee", "taker_fee", "funding_interval_s", "status"}
      -> {"ok": true, "venue", "market", "symbol", "venue_symbol", "changed": {rule: [old, new]}, "rules": {...}}

``symbol`` is the unified name (``BTC-USDT``) or the venue's (``BTCUSDT``, ``BTC_USDT``); sizes are the venue's
order unit (base on spot, contracts on futures); ``status`` is ``trading``, ``halted`` or ``delisted``.

What changes at once (``Instrument.set_rules``):

* the rules endpoints serve the new values (each wire layer maps them to its own fields, specs/sim-deviations.md
  "Rule changes"): MEXC ``GET /api/v3/exchangeInfo`` (``status`` "1"/"2"/"3", ``isSpotTradingAllowed``,
  ``quotePrecision``, ``baseAssetPrecision``, ``baseSizePrecision``, ``quoteAmountPrecision``, commissions); Gate
  ``GET /spot/currency_pairs`` (``trade_status`` tradable/untradable, ``delisting_time``, ``precision``,
  ``amount_precision``, ``min_base_amount``, ``min_quote_amount``, ``fee``); Gate ``GET /futures/usdt/contracts``
  (``status`` trading/delisting/delisted, ``in_delisting``, ``order_price_round``, ``order_size_min``,
  ``quanto_multiplier``, ``funding_interval``, fee rates);
* the matching engine enforces them on the next order: tick and step grids, minimums; a ``halted`` instrument
  refuses new orders except, on a perpetual, those that only reduce a position (Gate's ``in_delisting``), and a
  ``delisted`` one refuses every new order, with the venue's error (MEXC 30000, Gate futures
  ``CONTRACT_IN_DELISTING``, Gate spot ``INVALID_CURRENCY_PAIR``); cancels still work, and the background liquidity
  keeps quoting (the md feeds stay live);
* a perpetual's next funding settlement after the current one follows its new ``funding_interval_s``.

Orders already resting keep the price and size they were accepted with. MEXC and Gate spot publish tick and step
as decimal counts, so there they must be powers of ten; a spot market has no contract multiplier or funding.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from ..core.numeric import fmt
from ..obs.log import get_logger
from .model import STATUSES, Instrument

if TYPE_CHECKING:
    from .context import SimContext

log = get_logger(__name__)

# request field -> Instrument rule
_FIELDS = {"tick": "tick", "step": "step", "min_qty": "min_qty", "min_notional": "min_notional", "max_qty": "max_qty",
           "contract_multiplier": "multiplier", "maker_fee": "maker_fee", "taker_fee": "taker_fee",
           "funding_interval_s": "funding_interval_s", "status": "status"}
_FUTURES_ONLY = ("contract_multiplier", "funding_interval_s")


class RuleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    venue: str
    market: str
    symbol: str
    tick: Decimal | None = None
    step: Decimal | None = None
    min_qty: Decimal | None = None
    min_notional: Decimal | None = None
    max_qty: Decimal | None = None
    contract_multiplier: Decimal | None = None
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    funding_interval_s: int | None = None
    status: str | None = None


def find(ctx: SimContext, venue: str, market: str, symbol: str) -> Instrument:
    """The instrument of ``symbol`` (unified or venue name) on one venue market; ValueError naming what exists."""
    try:
        ex = ctx.exchange(venue, market)
    except (KeyError, ValueError):
        raise ValueError(f"venue/market: no {venue} {market} in the simulator (mexc spot, gateio spot, "
                         f"gateio futures)") from None
    for inst in ex.instruments.values():
        if symbol in (inst.symbol, inst.venue_symbol):
            return inst
    raise ValueError(f"symbol: {symbol!r} is not listed on {venue} {market}; listed: "
                     f"{', '.join(i.symbol for i in ex.instruments.values())}")


def _power_of_ten(x: Decimal) -> bool:
    t = x.normalize().as_tuple()
    return t.digits == (1,)


def change(ctx: SimContext, req: RuleRequest) -> tuple[Instrument, dict[str, tuple[Any, Any]]]:
    """Apply ``req``; returns the instrument and ``{request field: (old, new)}`` of what moved. ValueError (nothing
    changed) when a value is invalid for that venue market."""
    inst = find(ctx, req.venue, req.market, req.symbol)
    given = {f: getattr(req, f) for f in _FIELDS if getattr(req, f) is not None}
    if not given:
        raise ValueError(f"body: give at least one of {', '.join(_FIELDS)}")
    if not inst.is_futures:
        for f in _FUTURES_ONLY:
            if f in given:
                raise ValueError(f"{f}: only a perpetual has one ({inst.venue.value} {inst.market.value} is spot)")
        for f in ("tick", "step"):  # published as decimal counts (precision / amount_precision, *Precision)
            if f in given and (given[f] <= 0 or not _power_of_ten(given[f])):
                raise ValueError(f"{f}: {inst.venue.value} spot publishes it as a number of decimals, so it must be "
                                 f"a power of ten (0.01, 1, ...), got {given[f]}")
    if "status" in given and given["status"] not in STATUSES:
        raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {given['status']!r}")
    back = {v: k for k, v in _FIELDS.items()}
    moved = inst.set_rules({_FIELDS[f]: v for f, v in given.items()}, ts_ns=ctx.clock_ns())
    changed = {back[k]: v for k, v in moved.items()}
    if changed:
        log.warning("sim %s %s %s: rules changed by the admin: %s", inst.venue.value, inst.market.value,
                    inst.venue_symbol, "; ".join(f"{k} {_show(a)} -> {_show(b)}" for k, (a, b) in changed.items()))
    return inst, changed


def rules_of(inst: Instrument, funding_interval_s: int = 0) -> dict[str, Any]:
    """An instrument's current rules in the request's terms."""
    out: dict[str, Any] = {"tick": fmt(inst.tick), "step": fmt(inst.step), "min_qty": fmt(inst.min_qty),
                           "min_notional": fmt(inst.min_notional), "max_qty": fmt(inst.max_qty),
                           "maker_fee": fmt(inst.maker_fee), "taker_fee": fmt(inst.taker_fee), "status": inst.status}
    if inst.is_futures:
        out["contract_multiplier"] = fmt(inst.multiplier)
        out["funding_interval_s"] = inst.funding_interval_s or funding_interval_s
    return out


def _show(x: Any) -> str:
    return fmt(x) if isinstance(x, Decimal) else str(x)


def add_rule_routes(app: web.Application, ctx: SimContext, decode: Callable[..., Any],
                    bad: Callable[[str], web.Response]) -> None:
    """``POST /admin/rules`` on the admin app, with its body ``decode`` and ``bad``."""

    async def rules(request: web.Request) -> web.Response:
        try:
            req = await decode(request, RuleRequest)
            inst, changed = change(ctx, req)
        except ValueError as e:
            return bad(str(e))
        ex = ctx.exchange(inst.venue, inst.market)
        return web.json_response({
            "ok": True, "venue": inst.venue.value, "market": inst.market.value, "symbol": inst.symbol,
            "venue_symbol": inst.venue_symbol, "changed": {k: [_show(a), _show(b)] for k, (a, b) in changed.items()},
            "rules": rules_of(inst, ex.funding_interval_s)})

    app.router.add_post("/admin/rules", rules)


__all__ = ["RuleRequest", "add_rule_routes", "change", "find", "rules_of"]
