"""`arb sim`: serve MEXC spot, Gate.io spot and Gate.io USDT perpetuals on loopback, plus the admin endpoint.

Config: the ``sim:`` section of the app config (``--config FILE``, env ``ARB_SIM__SEED=2`` etc.); flags
override it. Prints the base URLs to stdout at start (one ``name url`` per line, or one JSON object with
``--json``), logs to stderr, exits 0 on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import sys

import msgspec
from arb.config.loader import load_config
from arb.core.errors import ConfigError
from arb.obs.runtime import Runtime, run_service


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file with a sim: section (env ARB_* overrides apply)")
    p.add_argument("--seed", type=int, help="market seed: same seed, same market (default from config: 1)")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--mexc-port", type=int, help="MEXC spot REST + WS port (0 = free port; default 18081)")
    p.add_argument("--gateio-port", type=int, help="Gate.io spot + futures REST + WS port (default 18082)")
    p.add_argument("--admin-port", type=int, help="admin HTTP port (default 18080)")
    p.add_argument("--http-port", type=int, help="/metrics /healthz /readyz port (default from config http.port)")
    p.add_argument("--tick-ms", type=int, help="market step in ms (default 100)")
    p.add_argument("--funding-interval", type=int, help="funding interval in seconds (default 60; venues: 28800)")
    p.add_argument("--json", action="store_true", help="print the URLs as one JSON object")


def run(args: argparse.Namespace) -> int:
    from arb.sim.config import SimConfig
    from arb.sim.server import SimServer

    try:
        cfg = load_config(args.config)
        sim = cfg.sim
        ports = {k: v for k, v in (("mexc", args.mexc_port), ("gateio", args.gateio_port),
                                   ("admin", args.admin_port)) if v is not None}
        over = {k: v for k, v in (("seed", args.seed), ("host", args.host), ("tick_ms", args.tick_ms),
                                  ("funding_interval_s", args.funding_interval)) if v is not None}
        if ports:
            over["ports"] = msgspec.structs.replace(sim.ports, **ports)
        if over:  # re-validate through the schema
            sim = msgspec.convert({**msgspec.to_builtins(sim), **msgspec.to_builtins(over)}, SimConfig)
        if args.http_port is not None:
            cfg = msgspec.structs.replace(cfg, http=msgspec.structs.replace(cfg.http, port=args.http_port))
    except (ConfigError, msgspec.ValidationError, ValueError) as e:
        print(f"sim: {e}", file=sys.stderr)
        return 2

    async def main(rt: Runtime) -> None:
        rt.without_bus()  # the simulator is a venue, not a bus client
        server = SimServer(sim)
        await server.start()
        rt.on_stop(server.stop)
        rt.ready_check("market", lambda: server.market_task_alive)
        if args.json:
            print(json.dumps(server.urls), flush=True)
        else:
            for name, url in server.urls.items():
                print(f"{name:<18} {url}", flush=True)
        rt.log.info("sim serving seed=%d urls=%s missing=%s", sim.seed, server.urls, server.missing or "-")
        await rt.stopped.wait()

    return run_service("sim", cfg, args.config, main)
