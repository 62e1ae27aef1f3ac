"""`arb ctl status|halt|resume|flatten [--task T]`: ask the coordinator (``ctl.coordinator.<verb>``).

Data to stdout: a table per task (state, positions, net exposure, PnL, open orders), or ``--json``. Exit 0 when the
coordinator answered, 1 when it did not (no coordinator, NATS down), 2 on a usage or config error, 3 when it
answered with an error (an unknown task).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec

from ..bus import codec, subjects
from ..bus.connection import Bus
from ..config.loader import load_config
from ..coordinator.control import VERBS, CtlReply, CtlRequest, TaskStatus
from ..core.errors import BusUnavailable, ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("verb", choices=VERBS, help="status, halt, resume or flatten")
    p.add_argument("--task", default="", help="one task (default: every task)")
    p.add_argument("--reason", default="operator", help="recorded with a halt, resume or flatten")
    p.add_argument("--config", help="config file (for nats.url and subject_prefix)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the coordinator")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"ctl: {e}", file=sys.stderr)
        return 2
    try:
        reply = asyncio.run(_ask(cfg.nats.url, cfg.nats.subject_prefix, cfg.nats.connect_timeout_s, args))
    except BusUnavailable as e:
        print(f"ctl: {e}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"ctl: no coordinator answered on ctl.coordinator.{args.verb} within {args.timeout:g} s",
              file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(msgspec.json.encode(reply).decode() + "\n")
    else:
        sys.stdout.write(render(reply))
    if reply.error:
        print(f"ctl: {reply.error}", file=sys.stderr)
        return 3
    return 0


async def _ask(url: str, prefix: str, connect_timeout: float, args: argparse.Namespace) -> CtlReply:
    bus = await Bus.connect(url, name="arb-ctl", connect_timeout=connect_timeout)
    try:
        msg = await bus.nc.request(subjects.ctl("coordinator", args.verb, prefix),
                                   codec.encode(CtlRequest(task=args.task, reason=args.reason)), timeout=args.timeout)
    except Exception as e:
        if "no responders" in str(e).lower() or type(e).__name__ == "NoRespondersError":
            raise TimeoutError from e
        raise
    finally:
        await bus.drain(2.0)
    reply = codec.decode(msg.data)
    if not isinstance(reply, CtlReply):
        raise TimeoutError(f"unexpected reply {type(reply).__name__}")
    return reply


def render(reply: CtlReply) -> str:
    out = []
    for t in reply.tasks:
        out.append(_task(t))
    if not reply.tasks and not reply.error:
        out.append("no task\n")
    return "\n".join(out)


def _task(t: TaskStatus) -> str:
    lines = [(f"task {t.task}: {t.state}{' (' + t.reason + ')' if t.reason else ''}"
             f"{'' if t.enabled else ', not entering'}  cycle {t.cycle}")]
    pos = ", ".join(f"{k} {v}" for k, v in t.positions.items())
    lines.append(f"  positions  {pos}   net {t.net}")
    lines.append(f"  pnl        realised {t.realised}  today {t.day_pnl}  unrealised {t.unrealised}  "
                 f"cycles today {t.cycles_today}")
    if t.max_unhedged:
        lines.append(f"  exposure   max unhedged {t.max_unhedged} for {t.max_unhedged_ns / 1e6:.0f} ms this cycle")
    for o in t.open_orders:
        lines.append(f"  open       {o.client_order_id} {o.market} {o.side} {o.qty} filled {o.filled} {o.status}")
    return "\n".join(lines) + "\n"
