"""`arb sim`: a venue simulator serving MEXC spot, Gate.io spot and Gate.io USDT perpetuals on loopback.

``engine`` matches orders (venue-neutral), ``market`` keeps the books alive, ``faults`` breaks things on
purpose, ``mexc``/``gateio`` speak the venues' wire protocols, ``server`` runs it all. The contract between
the engine and the wire layers is specs/sim-engine.md.

``SimContext`` is what a wire layer's ``build_app(ctx)`` receives; ``build_context(cfg)`` makes one from a
``SimConfig`` with no tasks running (enough for a wire layer's own tests: the books are empty until a
``Market`` steps, see ``arb.sim.market``). Both live in ``arb.sim.context``.

This package imports nothing at import time: ``arb.config.schema`` imports ``arb.sim.config`` for the
``sim:`` section, and every gateway loads that schema, so an eager import here would put the matching
engine in every gateway (tests/unit/test_imports.py). The names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import SimConfig
    from .context import SimContext, build_context, build_instruments

__all__ = ["SimConfig", "SimContext", "build_context", "build_instruments"]


def __getattr__(name: str) -> Any:
    if name == "SimConfig":
        from .config import SimConfig

        return SimConfig
    if name in ("SimContext", "build_context", "build_instruments"):
        from . import context

        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
