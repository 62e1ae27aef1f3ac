"""The one place that maps (venue, market, public|private) to an implementation's builder.

Builders are imported lazily so a market-data process never imports trading code, and the reverse.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..config.schema import AppConfig, VenueEndpoints
from ..core.enums import Market, Venue
from ..core.errors import ConfigError

_BUILDERS: dict[tuple[Venue, Market, str], str] = {
    (Venue.MEXC, Market.SPOT, "public"): "arb.venues.mexc.public:build_public",
    (Venue.MEXC, Market.SPOT, "private"): "arb.venues.mexc.private:build_private",
    (Venue.GATEIO, Market.SPOT, "public"): "arb.venues.gateio.public:build_public",
    (Venue.GATEIO, Market.SPOT, "private"): "arb.venues.gateio.private:build_private",
    (Venue.GATEIO, Market.FUTURES, "public"): "arb.venues.gateio.public:build_public",
    (Venue.GATEIO, Market.FUTURES, "private"): "arb.venues.gateio.private:build_private",
}


def supported() -> list[tuple[Venue, Market, str]]:
    return list(_BUILDERS)


def builder(venue: Venue, market: Market, side: str) -> Callable[..., Any]:
    try:
        target = _BUILDERS[(venue, market, side)]
    except KeyError:
        offered = ", ".join(sorted({f"{v.value}/{m.value}" for v, m, _ in _BUILDERS}))
        raise ConfigError(f"no {side} gateway for {venue.value} {market.value} (supported: {offered})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def endpoints(cfg: AppConfig, venue: Venue, market: Market) -> VenueEndpoints:
    group = getattr(cfg.venues, venue.value)
    try:
        return getattr(group, market.value)
    except AttributeError:
        raise ConfigError(f"venues.{venue.value}.{market.value}: not configured") from None
