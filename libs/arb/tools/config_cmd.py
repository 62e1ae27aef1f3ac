"""`arb config check FILE`: validate and print the effective config (env overrides applied, passwords masked).

Exit 0 when valid; on error one line naming the file, the key path and the problem, and exit 2.
"""

from __future__ import annotations

import argparse
import sys

import msgspec
import yaml

from ..config.loader import effective, load_config
from ..core.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate FILE and print the effective config")
    check.add_argument("file", nargs="?", help="YAML config file (omit for defaults + environment)")
    check.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    check.add_argument("--quiet", "-q", action="store_true", help="print nothing when valid")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        data = effective(cfg)
        if args.json:
            print(msgspec.json.encode(data).decode())
        else:
            sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    return 0
