"""`arb trade-gateway`: one account on one venue market. The only process that ever sees that account's keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp
import msgspec
from arb.bus.lease import Holder, Lease, describe
from arb.config.credentials import load_credentials
from arb.config.loader import load_config
from arb.core.enums import Market, Venue
from arb.core.errors import ArbError, ConfigError, SymbolError
from arb.core.symbols import Symbol
from arb.obs.runtime import Runtime, run_service
from arb.venues import factory


class LeaseLost(ArbError):
    """Another process holds this account's writer lease now."""


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
        # every check this process will ever have is registered before anything else: /readyz is 200 only when
        # the process can serve its commands (NATS up, the account's writer lease held, the venue connected)
        held: dict[str, Any] = {}
        rt.ready_check("lease", lambda: "lease" in held and held["lease"].valid())
        rt.ready_check("venue", lambda: "gateway" in held and held["gateway"].ready())
        bus = await rt.connect_bus()
        lease = await Lease.open(bus.js, f"trade-gateway.{venue.value}.{args.account}.{market.value}",
                                 options.lease_ttl_s, options.subject_prefix, cfg.streams.replicas)

        def standby(holder: Holder | None) -> None:
            rt.log.warning("standby: %s %s account %s is traded by %s; this process waits and takes over within "
                           "%.0f s of that one stopping", venue.value, market.value, args.account, describe(holder),
                           lease.ttl_s)

        if not await lease.acquire(rt.stopped, on_wait=standby):
            return  # stopped while standing by
        held["lease"] = lease
        rt.on_stop(lease.release)  # stop hooks run newest first: the gateway stops before the lease is given up
        rt.log.info("lease %s held (TTL %.0f s)", lease.key, lease.ttl_s)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=options.request_timeout_s))
        rt.on_stop(session.close)
        gateway = build(endpoints, market, args.account, credentials, bus, session, options)
        gateway.handler.fence = lease.problem
        held["gateway"] = gateway
        rt.on_stop(gateway.stop)
        await gateway.start()
        await asyncio.wait({asyncio.ensure_future(rt.stopped.wait()), asyncio.ensure_future(lease.lost.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        if lease.lost.is_set() and not rt.stopped.is_set():
            raise LeaseLost(f"lease {lease.key} taken by another process: this one stops trading and exits")

    return run_service(f"trade-gateway-{venue.value}-{market.value}-{args.account}", cfg, args.config, main)
