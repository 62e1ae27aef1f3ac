"""`arb recorder --config FILE`: every message of the MD, ORD and STRAT streams into PostgreSQL (specs/recorder.md).

Thin: config, bus, metrics and readiness around ``arb.recorder.Recorder``. Run several for scale-out: they share
the durable consumers (``recorder.consumer``), and the unique keys keep a redelivered message from being stored
twice. The database is ``database.url`` (or ``DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import sys

from arb.config.loader import load_config
from arb.core.errors import ConfigError
from arb.obs.runtime import Runtime, run_service


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (database, nats, recorder sections; env ARB_* overrides apply)")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"recorder: {e}", file=sys.stderr)
        return 2

    async def main(rt: Runtime) -> None:
        from arb.recorder.recorder import Recorder, tune_gc

        bus = await rt.connect_bus()
        rec = Recorder(bus.js, cfg.database.url, cfg.recorder, cfg.nats.subject_prefix, rt.log)
        rt.ready_check("recorder", lambda: rec.running)
        rt.on_stop(lambda: rec.close(max(1.0, cfg.shutdown_timeout_s - 2.0)))
        await rec.start()
        tune_gc()
        rt.log.info("recording streams %s as durable consumer %r", ", ".join(cfg.recorder.streams),
                    cfg.recorder.consumer)
        await rec.wait()

    return run_service("recorder", cfg, args.config, main)
