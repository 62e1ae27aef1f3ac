"""`arb version`."""

import argparse
import platform

from arb import __version__


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    if args.json:
        import msgspec

        print(msgspec.json.encode({"version": __version__, "python": platform.python_version()}).decode())
    else:
        print(f"arb {__version__} (python {platform.python_version()})")
    return 0
