"""`arb <command>`: one console command, one subcommand per process or tool.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int`` and is
imported only when chosen, so a broken or heavy service never slows or breaks the others.
Exit codes: 0 ok, 2 usage or config error, 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Later issues add their process here.
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("arb.tools.version", "print the version"),
    "config": ("arb.tools.config_cmd", "validate a config file and print the effective config"),
    "tap": ("arb.tools.tap", "print decoded bus events for a subject pattern"),
    "sim": ("services.sim.main", "venue simulator: MEXC spot, Gate.io spot and USDT perpetual on loopback"),
    "md-gateway": ("services.md_gateway.main", "public market-data gateway for one venue and market"),
    "trade-gateway": ("services.trade_gateway.main", "private trading gateway for one venue account"),
    "coordinator": ("services.coordinator.main", "the strategy tasks live on the bus, persisted and recoverable"),
    "ctl": ("arb.tools.ctl", "ask the coordinator: status, halt, resume, flatten"),
    "recorder": ("services.recorder.main", "record the MD, ORD and STRAT streams into PostgreSQL / TimescaleDB"),
    "analytics": ("arb.tools.analytics", "spreads, opportunities, performance, funding and feed health from the database"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arb", description="Cross-exchange arbitrage engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only == name:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen not in COMMANDS:
        build_parser().parse_args(argv if argv else ["--help"])
        return 2
    module = COMMANDS[chosen][0]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            print(f"arb {chosen}: not available in this build ({module} is missing)", file=sys.stderr)
            return 2
        raise
    args = build_parser(only=chosen).parse_args(argv)
    return int(mod.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
