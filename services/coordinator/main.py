"""`arb coordinator`: the configured strategy tasks live on the bus, each persisted and recoverable after kill -9.

One lease per task (``coordinator.<task>`` in KV ``LEASE``): a second coordinator for the same task stands by and
takes over within the lease's TTL of the first one stopping. ``--paper`` refuses to start unless every venue
endpoint the tasks use is on loopback (the simulator), so a paper run cannot reach a real venue by mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from typing import Any
from urllib.parse import urlparse

from arb.bus import subjects
from arb.bus.lease import Holder, Lease, describe
from arb.bus.refdata import RefData
from arb.bus.trading_client import RequestPolicy, TradingClient
from arb.config.loader import load_config
from arb.config.schema import AppConfig
from arb.coordinator.control import VERBS, CtlReply, CtlRequest
from arb.coordinator.metrics import CoordinatorMetrics
from arb.coordinator.runner import CONTROLS, TaskRunner
from arb.coordinator.store import TaskStore
from arb.core.errors import ConfigError
from arb.core.refdata import ref_key
from arb.obs.runtime import Runtime, run_service
from arb.strategy.events import Tick


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file with a coordinator.tasks section (env ARB_* overrides apply)")
    p.add_argument("--task", action="append", default=[], help="run only this task (repeatable)")
    p.add_argument("--paper", action="store_true",
                   help="paper trading on the simulator: refuse to start unless every venue endpoint is loopback")


def _loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def paper_problem(cfg: AppConfig, tasks: list[Any]) -> str | None:
    for t in tasks:
        for m in t.markets:
            ep = getattr(getattr(cfg.venues, m.venue.value), m.market.value)
            for url in (ep.rest_url, ep.ws_url):
                if not _loopback(url):
                    return f"--paper: task {t.task} market {m.key} points at {url}, not at the simulator on loopback"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"coordinator: {e}", file=sys.stderr)
        return 2
    tasks = [t for t in cfg.coordinator.tasks if not args.task or t.task in args.task]
    unknown = set(args.task) - {t.task for t in cfg.coordinator.tasks}
    if unknown or not tasks:
        print(f"coordinator: no such task {sorted(unknown)}" if unknown else
              "coordinator: no task configured (coordinator.tasks)", file=sys.stderr)
        return 2
    if args.paper and (why := paper_problem(cfg, tasks)):
        print(f"coordinator: {why}", file=sys.stderr)
        return 2
    ccfg = cfg.coordinator
    prefix = cfg.nats.subject_prefix

    async def main(rt: Runtime) -> None:
        bus = await rt.connect_bus()
        store = await TaskStore.open(bus, prefix, cfg.streams.replicas)
        metrics = CoordinatorMetrics()
        policy = RequestPolicy(timeout_s=ccfg.request_timeout_s)
        clients: dict[Any, TradingClient] = {}
        for t in tasks:
            for m in t.markets:
                key = (m.venue, m.account, m.market)
                if key not in clients:
                    clients[key] = TradingClient(bus, m.venue, m.account, m.market, prefix, policy)
        runners: dict[str, TaskRunner] = {}

        def on_ref(key: str, ref: Any) -> None:
            if ref is not None:
                for r in runners.values():
                    r.on_ref(ref)

        keys = [ref_key(m.venue, m.market, t.symbol) for t in tasks for m in t.markets]
        refs = await RefData.open(bus.js, prefix, keys=keys, on_change=on_ref)
        rt.on_stop(refs.close)
        rt.ready_check("tasks", lambda: bool(runners) and all(r.running for r in runners.values()))
        if args.paper:
            rt.log.info("paper mode: every venue endpoint of %s is on loopback", [t.task for t in tasks])

        async def on_ctl(msg: Any) -> None:
            verb = msg.subject.rpartition(".")[2]
            try:
                req = CtlRequest() if not msg.data else bus_decode(msg.data)
                if not isinstance(req, CtlRequest):
                    raise TypeError(f"expected a CtlRequest, got {type(req).__name__}")
            except Exception as e:  # noqa: BLE001 -- a bad request gets a clear reply, never a crash
                await bus.nc.publish(msg.reply, bus_encode(CtlReply(tasks=[], error=f"bad request: {e}")))
                return
            chosen = [r for name, r in sorted(runners.items()) if not req.task or name == req.task]
            if not chosen:
                if req.task and req.task not in {t.task for t in tasks}:
                    reply = CtlReply(tasks=[], error=f"no task {req.task!r} is configured here "
                                                     f"(configured: {sorted(t.task for t in tasks)})")
                else:
                    return  # standing by (or starting): the process running the task answers
            else:
                if verb in CONTROLS:
                    await asyncio.gather(*(asyncio.wait_for(r.control(CONTROLS[verb](reason=req.reason)), 10.0)
                                           for r in chosen), return_exceptions=True)
                reply = CtlReply(tasks=[r.status() for r in chosen])
            if msg.reply:
                await bus.nc.publish(msg.reply, bus_encode(reply))

        from arb.bus import codec

        bus_encode, bus_decode = codec.encode, codec.decode
        for verb in VERBS:
            sub = await bus.nc.subscribe(subjects.ctl("coordinator", verb, prefix), cb=on_ctl)
            rt.on_stop(sub.unsubscribe)

        async def one(params: Any) -> None:
            lease = await Lease.open(bus.js, f"coordinator.{params.task}", ccfg.lease_ttl_s, prefix,
                                     cfg.streams.replicas)

            def standby(holder: Holder | None) -> None:
                rt.log.warning("standby: task %s is run by %s; this process takes over within %.0f s of that one "
                               "stopping", params.task, describe(holder), lease.ttl_s)

            if not await lease.acquire(rt.stopped, on_wait=standby):
                return
            rt.on_stop(lease.release)
            runner = TaskRunner(params, ccfg, bus, store, clients, metrics, prefix)
            runner.fence = lease.problem
            rt.on_stop(runner.close)
            runners[params.task] = runner  # before start: a rule published meanwhile reaches its queue
            await runner.start(refs)
            rt.log.info("task %s: running (%s on %s)", params.task, params.symbol,
                        ", ".join(m.key for m in params.markets))

            async def ticks() -> None:
                while not rt.stopped.is_set():
                    runner.put(Tick())
                    await asyncio.sleep(ccfg.tick_s)

            async def reconcile() -> None:
                while not rt.stopped.is_set():
                    await asyncio.sleep(ccfg.reconcile_s)
                    await runner.read_balances()

            helpers = [asyncio.ensure_future(ticks()), asyncio.ensure_future(reconcile())]
            loop = asyncio.ensure_future(runner.run(rt.stopped))
            lost = asyncio.ensure_future(lease.lost.wait())
            try:
                await asyncio.wait({loop, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for h in (*helpers, lost):
                    h.cancel()
            if loop.done() and loop.exception() is not None:
                raise loop.exception()  # type: ignore[misc]
            if lease.lost.is_set() and not rt.stopped.is_set():
                loop.cancel()
                raise RuntimeError(f"task {params.task}: lease taken by another process; this one stops")

        await asyncio.gather(*(one(t) for t in tasks))

    return run_service("coordinator", cfg, args.config, main)
