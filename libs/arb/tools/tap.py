"""`arb tap SUBJECT`: print every bus event on a subject pattern as one JSON line (data to stdout).

Anything that does not decode with the bus codec is reported on stderr with its subject and counted,
and tapping continues. On stderr: one "listening on SUBJECT" line once the server has the subscription,
and one "N events, M undecodable" line when it stops. Exit 0 on a normal stop (--count, --timeout,
SIGINT/SIGTERM), 1 when NATS cannot be reached within nats.connect_timeout_s (or --timeout, if shorter),
2 on a config or usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys

import msgspec
import nats

from ..bus import codec
from ..bus.connection import Bus
from ..config.loader import load_config, redact_url
from ..coordinator import control as _control  # noqa: F401 -- registers the ctl.coordinator messages
from ..core.errors import BusUnavailable, ConfigError
from ..strategy import events as _events  # noqa: F401 -- registers the strat.<task>.* messages
from ..strategy import opportunity as _opportunity  # noqa: F401


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("subject", nargs="?", default=">", help="subject pattern, e.g. 'md.>' or 'md.*.*.BTC-USDT.bbo'")
    p.add_argument("--config", help="config file (for nats.url); NATS_URL / ARB_NATS__URL also work")
    p.add_argument("--nats", help="NATS URL (overrides config)")
    p.add_argument("--count", type=int, default=0, help="exit after N events (0 = until interrupted)")
    p.add_argument("--timeout", type=float, default=0.0, help="exit after this many seconds, connecting included (0 = never)")
    p.add_argument("--no-subject", action="store_true", help="print only the event, not 'subject event'")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        nats_cfg = msgspec.structs.replace(cfg.nats, url=args.nats) if args.nats else cfg.nats
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # --nats failed the same URL check as nats.url
        print(f"config error: --nats: {str(e).partition(': ')[2]}", file=sys.stderr)
        return 2
    for flag, value in (("--timeout", args.timeout), ("--count", args.count)):
        if not (math.isfinite(value) and value >= 0):
            print(f"tap: {flag}: expected a number >= 0, got {value}", file=sys.stderr)
            return 2
    try:
        return asyncio.run(_tap(nats_cfg.url, nats_cfg.connect_timeout_s, args))
    except KeyboardInterrupt:  # before the signal handlers are in place: still connecting
        return 130


async def _tap(url: str, connect_timeout: float, args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout else None
    try:  # --timeout bounds the whole run, the connect included
        bus = await Bus.connect(url, name="arb-tap", connect_timeout=min(connect_timeout, args.timeout or math.inf))
    except BusUnavailable as e:
        print(f"tap: {e}", file=sys.stderr)
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

    try:
        await bus.nc.subscribe(args.subject, cb=on_msg)
        await bus.nc.flush(timeout=connect_timeout)  # the server has the subscription before we say so
    except (nats.errors.Error, TimeoutError) as e:
        await bus.drain(connect_timeout)
        print(f"tap: cannot subscribe to {args.subject!r}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2 if isinstance(e, nats.errors.BadSubjectError) else 1
    print(f"tap: listening on {args.subject} (nats {redact_url(url)})", file=sys.stderr, flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    try:
        await asyncio.wait_for(done.wait(), None if deadline is None else max(0.0, deadline - loop.time()))
    except TimeoutError:
        pass
    await bus.drain(connect_timeout)
    print(f"tap: {seen} events, {bad} undecodable", file=sys.stderr, flush=True)
    return 0
