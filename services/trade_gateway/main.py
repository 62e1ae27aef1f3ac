"""`arb trade-gateway`: one account on one venue market. The only process that ever sees that account's keys."""

from __future__ import annotations

import argparse
import sys

import aiohttp
import msgspec
from arb.config.credentials import load_credentials
from arb.config.loader import load_config
from arb.core.enums import Market, Venue
from arb.core.errors import ConfigError, SymbolError
from arb.core.symbols import Symbol
from arb.obs.runtime import Runtime, run_service
from arb.venues import factory


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venue", required=True, choices=[v.value for v in Venue])
    p.add_argument("--market", default="spot", choices=[m.value for m in Market])
    p.add_argument("--account", required=True, help="account name; keys from ARB_<ACCOUNT>_API_KEY/_SECRET(_FILE)")
    p.add_argument("--symbols", default="",
                   help="comma-separated unified symbols this account trades, e.g. BTC-USDT,ETH-USDT: always "
                        "reconciled and covered by cancel-all (default: gateway.trade_symbols, else those seen)")
    p.add_argument("--config", help="YAML config file (env ARB_* overrides apply)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        venue, market = Venue(args.venue), Market(args.market)
        build = factory.builder(venue, market, "private")
        endpoints = factory.endpoints(cfg, venue, market)
        credentials = load_credentials(args.account)
        watched = [Symbol.parse(s.strip(), market).name for s in args.symbols.split(",") if s.strip()]
    except (ConfigError, SymbolError) as e:
        print(f"trade-gateway: {e}", file=sys.stderr)
        return 2
    options = msgspec.structs.replace(cfg.gateway, subject_prefix=cfg.nats.subject_prefix)
    if watched:
        options = msgspec.structs.replace(options, trade_symbols=tuple(watched))

    async def main(rt: Runtime) -> None:
        bus = await rt.connect_bus()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=options.request_timeout_s))
        rt.on_stop(session.close)
        gateway = build(endpoints, market, args.account, credentials, bus, session, options)
        rt.ready_check("venue", gateway.ready)
        rt.on_stop(gateway.stop)
        await gateway.start()
        await rt.stopped.wait()

    return run_service(f"trade-gateway-{venue.value}-{market.value}-{args.account}", cfg, args.config, main)
