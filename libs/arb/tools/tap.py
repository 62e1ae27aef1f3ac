"""`arb tap SUBJECT`: print every bus event on a subject pattern as one JSON line (data to stdout).

Anything that does not decode with the bus codec is reported on stderr with its subject and counted,
and tapping continues.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from ..bus import codec
from ..bus.connection import Bus
from ..config.loader import load_config
from ..core.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("subject", nargs="?", default=">", help="subject pattern, e.g. 'md.>' or 'md.*.*.BTC-USDT.bbo'")
    p.add_argument("--config", help="config file (for nats.url); NATS_URL / ARB_NATS__URL also work")
    p.add_argument("--nats", help="NATS URL (overrides config)")
    p.add_argument("--count", type=int, default=0, help="exit after N events (0 = until interrupted)")
    p.add_argument("--timeout", type=float, default=0.0, help="exit after this many seconds (0 = never)")
    p.add_argument("--no-subject", action="store_true", help="print only the event, not 'subject event'")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    url = args.nats or cfg.nats.url
    try:
        return asyncio.run(_tap(url, args))
    except KeyboardInterrupt:
        return 0


async def _tap(url: str, args: argparse.Namespace) -> int:
    try:
        bus = await Bus.connect(url, name="arb-tap", connect_timeout=3)
    except Exception as e:  # noqa: BLE001 -- any connect failure is one line and exit 1
        print(f"tap: cannot connect to NATS at {url}: {e}", file=sys.stderr)
        return 1
    done = asyncio.Event()
    seen = 0
    bad = 0
    out = sys.stdout.buffer

    async def on_msg(msg) -> None:
        nonlocal seen, bad
        try:
            event = codec.decode(msg.data)
        except Exception as e:  # noqa: BLE001 -- an undecodable payload is counted and shown, never fatal
            bad += 1
            print(f"tap: {msg.subject}: undecodable payload ({len(msg.data)} bytes): {e}", file=sys.stderr)
            return
        line = codec.to_json(event)
        out.write(line if args.no_subject else msg.subject.encode() + b" " + line)
        out.write(b"\n")
        out.flush()
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    await bus.nc.subscribe(args.subject, cb=on_msg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    try:
        if args.timeout:
            await asyncio.wait_for(done.wait(), args.timeout)
        else:
            await done.wait()
    except TimeoutError:
        pass
    await bus.drain()
    if bad:
        print(f"tap: {bad} undecodable payloads", file=sys.stderr)
    return 0
