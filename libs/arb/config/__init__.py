"""Configuration: YAML file + ARB_ environment overrides into frozen, strict msgspec Structs.

The names below load on first use: ``arb.sim.config`` imports ``arb.config.checks`` while the schema
imports ``arb.sim.config``, and an eager import here would close that loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import load_config, parse_config
    from .schema import AppConfig

__all__ = ["AppConfig", "load_config", "parse_config"]


def __getattr__(name: str) -> Any:
    if name == "AppConfig":
        from .schema import AppConfig

        return AppConfig
    if name in ("load_config", "parse_config"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
