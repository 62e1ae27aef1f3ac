"""Admin HTTP endpoint of the simulator (its own aiohttp app on its own port).

  GET    /admin/state       fair prices, best bid/ask per venue, dislocations, funding, faults, accounts
  GET    /admin/faults      armed faults and how often each name fired
  POST   /admin/faults      {"venue","market","name","count","probability","params"} -> the armed spec
  DELETE /admin/faults      disarm all (or ?name=&venue=&market=) -> {"removed": n}
  POST   /admin/dislocate   {"symbol","venue","market","bps","seconds"}
  POST   /admin/funding     {"symbol","rate"}; add "settle": true to settle funding at once
  GET    /admin/healthz     {"status": "alive"}
  POST   /admin/open_interest  {"symbol","venue","add"}: raise (or lower) a perpetual's open interest, contracts
  POST   /admin/liquidate   {"symbol","venue","side","size","price"?}: a public liquidation order (sim/derivs.py)
  POST   /admin/mark        {"symbol","venue","bps","seconds"}: move a perpetual's mark price only (sim/marks.py)
  POST   /admin/rules       {"venue","market","symbol", tick/step/min_qty/min_notional/max_qty/contract_multiplier/
                            maker_fee/taker_fee/funding_interval_s/status}: change a listing's rules (sim/rules.py)

Errors: HTTP 400 {"error": "<field>: <problem>"}.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from ..config.loader import describe
from ..core.numeric import fmt
from .config import FaultConfig
from .derivs import add_admin_routes
from .marks import add_mark_routes
from .rules import add_rule_routes

if TYPE_CHECKING:
    from .context import SimContext
    from .market import Market


class FaultRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    venue: str = ""
    market: str = ""
    count: int = 1
    probability: float = 0.0
    params: dict[str, Any] = {}


class DislocateRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    venue: str
    market: str = "spot"
    bps: float
    seconds: float = 10.0


class FundingRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    rate: str | float
    settle: bool = False


def _bad(msg: str) -> web.Response:
    return web.json_response({"error": msg}, status=400)


async def _decode(request: web.Request, typ: type) -> Any:
    body = await request.read()
    try:
        return msgspec.json.decode(body or b"{}", type=typ)
    except msgspec.ValidationError as e:
        raise ValueError(describe(str(e))) from None
    except msgspec.DecodeError as e:
        raise ValueError(f"body: invalid JSON: {e}") from None


def accounts_state(ctx: SimContext) -> list[dict[str, Any]]:
    out = []
    for a in ctx.accounts:
        entry: dict[str, Any] = {"name": a.name, "venue": a.venue.value, "wallets": {}, "positions": [],
                                 "open_orders": len(a.open_orders)}
        for market, wallet in a.wallets.items():
            entry["wallets"][market.value] = {
                asset: {"available": fmt(b.available), "locked": fmt(b.locked)} for asset, b in wallet.items()
            }
        for p in a.positions.values():
            entry["positions"].append({
                "symbol": p.inst.venue_symbol, "size": fmt(p.size), "entry_price": fmt(p.entry_price),
                "leverage": p.leverage, "margin": fmt(p.margin), "mark_price": fmt(p.mark_price),
                "unrealised_pnl": fmt(p.unrealised_pnl), "realised_pnl": fmt(p.realised_pnl),
                "pnl_fund": fmt(p.pnl_fund),
            })
        out.append(entry)
    return out


def build_admin_app(ctx: SimContext, market: Market) -> web.Application:
    """The admin app over a context and its market."""
    faults = ctx.faults

    async def state(request: web.Request) -> web.Response:
        body = market.state()
        body["faults"] = faults.snapshot()
        body["accounts"] = accounts_state(ctx)
        body["engines"] = {f"{v.value}.{m.value}": dict(ex.stats) for (v, m), ex in ctx.exchanges.items()}
        return web.json_response(body)

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(faults.snapshot())

    async def post_fault(request: web.Request) -> web.Response:
        try:
            req = await _decode(request, FaultRequest)
            FaultConfig(name=req.name, venue=req.venue, market=req.market, count=max(req.count, 0),
                        probability=req.probability)  # same validation as the config file
            spec = faults.arm(req.name, req.venue, req.market, count=req.count, probability=req.probability,
                              params=req.params)
        except ValueError as e:
            return _bad(str(e))
        return web.json_response({"armed": msgspec.to_builtins(spec)})

    async def delete_faults(request: web.Request) -> web.Response:
        q = request.query
        n = faults.clear(q.get("name", ""), q.get("venue", ""), q.get("market", ""))
        return web.json_response({"removed": n})

    async def dislocate(request: web.Request) -> web.Response:
        try:
            req = await _decode(request, DislocateRequest)
            if req.seconds <= 0:
                raise ValueError("seconds: expected > 0")
            market.dislocate(req.symbol, req.venue, req.market, req.bps, req.seconds)
        except ValueError as e:
            return _bad(str(e))
        return web.json_response({"ok": True, "symbol": req.symbol, "venue": req.venue, "market": req.market,
                                  "bps": req.bps, "seconds": req.seconds})

    async def funding(request: web.Request) -> web.Response:
        try:
            req = await _decode(request, FundingRequest)
            try:
                rate = Decimal(str(req.rate))
            except InvalidOperation:
                raise ValueError(f"rate: expected a decimal number, got {req.rate!r}") from None
            if not Decimal("-0.05") <= rate <= Decimal("0.05"):
                raise ValueError(f"rate: expected -0.05..0.05, got {rate}")
            market.set_funding_rate(req.symbol, rate)
            settled = market.settle_funding_now(req.symbol) if req.settle else 0
        except ValueError as e:
            return _bad(str(e))
        return web.json_response({"ok": True, "symbol": req.symbol, "rate": fmt(rate), "settled": settled})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    app = web.Application()
    app.router.add_get("/admin/state", state)
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_post("/admin/faults", post_fault)
    app.router.add_delete("/admin/faults", delete_faults)
    app.router.add_post("/admin/dislocate", dislocate)
    app.router.add_post("/admin/funding", funding)
    app.router.add_get("/admin/healthz", healthz)
    add_admin_routes(app, market, _decode, _bad)
    add_mark_routes(app, market, _decode, _bad)
    add_rule_routes(app, ctx, _decode, _bad)
    return app
