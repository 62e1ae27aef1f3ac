"""`arb md-gateway`: one venue market's public data onto the bus. No credentials are read here."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import aiohttp
import msgspec
from arb.config.loader import load_config
from arb.core.enums import Market, Venue
from arb.core.errors import ConfigError, SymbolError
from arb.core.symbols import Symbol
from arb.obs.runtime import Runtime, run_service
from arb.venues import factory


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venue", required=True, choices=[v.value for v in Venue])
    p.add_argument("--market", required=True, choices=[m.value for m in Market])
    p.add_argument("--symbols", required=True, help="comma-separated unified symbols, e.g. BTC-USDT,NEIRO-ETH")
    p.add_argument("--config", help="YAML config file (env ARB_* overrides apply)")
    p.add_argument("--depth", type=int, help="levels per side in published book snapshots (default from config)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        venue, market = Venue(args.venue), Market(args.market)
        symbols = [Symbol.parse(s.strip(), market).name for s in args.symbols.split(",") if s.strip()]
        if not symbols:
            raise ConfigError("--symbols: at least one symbol is required")
        build = factory.builder(venue, market, "public")
        endpoints = factory.endpoints(cfg, venue, market)
    except (ConfigError, SymbolError) as e:
        print(f"md-gateway: {e}", file=sys.stderr)
        return 2
    options = msgspec.structs.replace(
        cfg.gateway, subject_prefix=cfg.nats.subject_prefix, **({"depth": args.depth} if args.depth else {})
    )

    async def main(rt: Runtime) -> None:
        held: dict[str, Any] = {}  # the venue check exists from the first /readyz on (false until built and ready)
        rt.ready_check("venue", lambda: "gateway" in held and held["gateway"].ready())
        bus = await rt.connect_bus()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=options.request_timeout_s))
        rt.on_stop(session.close)
        gateway = build(endpoints, market, symbols, bus, session, options)
        held["gateway"] = gateway
        rt.on_stop(gateway.stop)
        await gateway.start()
        await rt.stopped.wait()

    return run_service(f"md-gateway-{venue.value}-{market.value}", cfg, args.config, main)
