"""Admin knob on a perpetual's mark price (added to the admin app by ``add_mark_routes``)::

  POST /admin/mark  {"symbol","venue","bps","seconds"}  -> {"ok", "mark"}

The mark (not the book, not the index) of ``symbol``'s perpetual on ``venue`` moves by ``bps`` for ``seconds`` of
wall time (``Funding.shift_mark``): every mark the market sets meanwhile is shifted the same. It is how a test brings
a position near its liquidation price (positions, their unrealised PnL and funding settle at the shifted mark).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from ..core.numeric import fmt
from .derivs import futures_listing, num_field

if TYPE_CHECKING:
    from .market import Market


class MarkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    venue: str = "gateio"
    bps: str | float | int
    seconds: float = 60.0


def add_mark_routes(app: web.Application, market: Market, decode: Callable[..., Any],
                    bad: Callable[[str], web.Response]) -> None:
    """``POST /admin/mark`` on the admin app, with its body ``decode`` and ``bad``."""

    async def mark(request: web.Request) -> web.Response:
        try:
            req = await decode(request, MarkRequest)
            bps = num_field("bps", req.bps)
            if not -5000 <= bps <= 5000:
                raise ValueError(f"bps: expected -5000..5000, got {bps}")
            if not 0 < req.seconds <= 86400:
                raise ValueError(f"seconds: expected > 0 and <= 86400, got {req.seconds}")
            ex, sym = futures_listing(market, req.symbol, req.venue)
            inst = ex.instruments[sym]
            ex.funding.shift_mark(inst, bps, req.seconds)
        except ValueError as e:
            return bad(str(e))
        return web.json_response({"ok": True, "symbol": req.symbol, "venue": req.venue, "bps": fmt(bps),
                                  "seconds": req.seconds, "mark": fmt(ex.mark_price(inst))})

    app.router.add_post("/admin/mark", mark)


__all__ = ["add_mark_routes"]
