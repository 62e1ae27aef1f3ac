"""The recorder: durable JetStream pull consumers on MD, ORD and STRAT, each feeding a ``Writer``; acks after commit.

Per stream, one fetch task and ``writers`` write tasks joined by a queue of at most ``queue_batches`` batches:

* fetch: ``fetch(batch_size)`` on the durable consumer (shared by every replica: JetStream hands each message to
  one of them), put the batch on the queue (waits while the queue is full: backpressure, bounded memory); no fetch
  while NATS is disconnected (its pull requests would pile up in the client's buffer and, at the reconnect, pull
  far more than a batch into this replica's subscription, unmarked and out of the other replicas' reach);
* keep: every ``ack_wait_s`` / 3, every message fetched and not acked yet (being written, queued, waiting for room)
  is marked in progress, whatever PostgreSQL does (a hung statement, an outage, a slow commit), so JetStream never
  redelivers a message a live replica holds;
* write (each on its own PostgreSQL connection, so one batch's COPY runs on the server while Python decodes and
  acks another): take a batch, ``Writer.write`` it (retried until committed), then ack every message of it. Batches
  may commit out of order; every message has its own ack, sent after its own batch's commit.

A message is acked only after the transaction holding its row (or its dead letter) committed. A recorder killed
at any point leaves its unacked messages to JetStream, which redelivers them after ``ack_wait_s`` to whichever
replica fetches next; rows already committed are found by the unique keys and not inserted twice. While
PostgreSQL is down (or hangs: ``command_timeout_s``) the writer keeps its batch, and the keep task tells JetStream
the messages are in progress, so they are neither acked nor handed to another replica meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from typing import Any

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ..bus.streams import stream_name_prefix
from .config import RecorderConfig
from .metrics import RecorderMetrics
from .pull import ack_all, arrived, fetch, in_progress_all
from .writer import Stopped, Writer

FILTERS = {"MD": "md.>", "ORD": "ord.*.*.evt.>", "STRAT": "strat.>"}


class StreamStats:
    __slots__ = ("acked", "batches", "dead", "inserted")

    def __init__(self) -> None:
        self.acked = self.batches = self.dead = self.inserted = 0


class Recorder:
    def __init__(self, js: Any, dsn: str, cfg: RecorderConfig, subject_prefix: str, log: Any,
                 metrics: RecorderMetrics | None = None, name: str = "recorder") -> None:
        self.js = js
        self.dsn = dsn
        self.cfg = cfg
        self.prefix = subject_prefix
        self.log = log
        self.m = metrics if metrics is not None else RecorderMetrics()
        self.name = name
        self.stats = {s: StreamStats() for s in cfg.streams}
        self.stop = asyncio.Event()  # stop fetching; what was fetched is still written and acked
        self._abandon = asyncio.Event()  # stop retrying a write too (shutdown while PostgreSQL is down)
        self.mode = ""
        self.running = False
        self._subs: dict[str, Any] = {}
        # per stream, the batches fetched and not yet acked, oldest first (being written, queued, or waiting to be
        # queued): all of them are kept in progress at JetStream by the stream's keep task, always
        self._held: dict[str, list[list[Any]]] = {s: [] for s in cfg.streams}
        self._writers: dict[str, list[Writer]] = {}
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Apply the schema (waiting for PostgreSQL), bind the durable consumers, start fetching and writing."""
        first = Writer(self.dsn, self.cfg, self.log, self.m, self.name)
        applied, self.mode = await first.migrate(self._abandon)
        if applied:
            self.log.info("schema: applied %s", ", ".join(applied))
        if self.mode == "timescaledb":
            self.log.info("storage mode: TimescaleDB (hypertables, compression, retention, continuous aggregates)")
        else:
            self.log.info("storage mode: plain PostgreSQL (no timescaledb extension): the recorder keeps the 1-minute "
                          "rollups bbo_1m, funding_1m, prices_1m itself")
        n = stream_name_prefix(self.prefix)
        for i, s in enumerate(self.cfg.streams):
            cc = ConsumerConfig(durable_name=self.cfg.consumer, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.cfg.ack_wait_s,
                                max_ack_pending=self.cfg.max_ack_pending, max_deliver=-1,
                                max_waiting=512, filter_subject=self.prefix + FILTERS[s])
            self._subs[s] = await self.js.pull_subscribe(self.prefix + FILTERS[s], durable=self.cfg.consumer,
                                                         stream=n + s, config=cc)
            self._writers[s] = [first if i == j == 0 else Writer(self.dsn, self.cfg, self.log, self.m, self.name)
                                for j in range(self.cfg.writers)]
        for s in self.cfg.streams:
            q: asyncio.Queue = asyncio.Queue(maxsize=self.cfg.queue_batches)
            self._tasks.append(asyncio.create_task(self._fetch(s, q), name=f"recorder-fetch-{s}"))
            for j, w in enumerate(self._writers[s]):
                self._tasks.append(asyncio.create_task(self._write(s, q, w), name=f"recorder-write-{s}-{j}"))
            self._tasks.append(asyncio.create_task(self._keep(s), name=f"recorder-keep-{s}"))
        self._tasks.append(asyncio.create_task(self._lag(), name="recorder-lag"))
        self.running = True

    async def _fetch(self, stream: str, q: asyncio.Queue) -> None:
        sub = self._subs[stream]
        nc = sub._nc
        n, timeout = self.cfg.batch_size, self.cfg.fetch_timeout_s
        failing = False
        try:
            while not self.stop.is_set():
                if not nc.is_connected:
                    # reconnecting: a pull request now would wait in the client's buffer with the others sent
                    # meanwhile, all answered at the reconnect (see the module docstring); look again shortly
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), min(timeout, 0.1))
                    continue
                try:
                    msgs = await fetch(sub, n, timeout)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 -- NATS away or reconnecting: wait, fetch again
                    if not failing:
                        self.log.warning("%s: fetch from %s failed (%s: %s); retrying", self.name, stream,
                                         type(e).__name__, e)
                        failing = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), self.cfg.backoff_initial_s)
                    continue
                failing = False
                if msgs:
                    self._held[stream].append(msgs)
                    await q.put(msgs)
        finally:
            for _ in range(self.cfg.writers):
                await q.put(None)  # the writers finish what is queued, then end

    async def _write(self, stream: str, q: asyncio.Queue, w: Writer) -> None:
        st = self.stats[stream]
        held = self._held[stream]
        nc = self._subs[stream]._nc
        while True:
            msgs = await q.get()
            if msgs is None:
                return

            try:
                res = await w.write(stream, msgs, self._abandon)
            except Stopped:
                self.log.warning("%s: %d messages from %s not committed at stop; JetStream redelivers them",
                                 self.name, len(msgs), stream)
                return
            try:
                await ack_all(nc, msgs)  # one explicit ack per message, after the commit
            except Exception:  # noqa: BLE001, S110 -- NATS away: redelivered later and found by the unique keys
                pass
            for i, b in enumerate(held):
                if b is msgs:
                    del held[i]
                    break
            st.batches += 1
            st.acked += len(msgs)
            st.dead += res.dead
            st.inserted += sum(res.inserted.values())

    async def _keep(self, stream: str) -> None:
        """Every ack_wait_s / 3, mark every message of the stream delivered to this replica and not acked in progress
        (being written, queued, waiting for room, or not fetched yet off the subscription), whatever the writers do:
        a write stuck on a hung PostgreSQL statement, retrying an outage, or just slow. Else JetStream would redeliver
        them after ack_wait, to another replica too. Runs until close() cancels it (after the writers ended: what they held is acked or given up by then)."""
        held = self._held[stream]
        sub = self._subs[stream]
        nc = sub._nc
        every = self.cfg.ack_wait_s / 3
        while True:
            await asyncio.sleep(every)
            # the batches fetched, and what a pull request delivered after its fetch returned (waiting in the
            # subscription's queue for the next fetch, which may wait for room in the writers' queue)
            batches = [*held, arrived(sub)]
            if any(batches):
                try:
                    await in_progress_all(nc, batches)
                except Exception as e:  # noqa: BLE001 -- NATS away: the next round tries again
                    self.log.debug("%s: in-progress marks on %s failed: %s", self.name, stream, e)

    async def _lag(self) -> None:
        nc = getattr(self.js, "_nc", None)  # the client under the JetStream context: is it connected?
        away_since = 0.0  # monotonic time NATS was first seen away, 0 while connected
        seen = _reconnects(nc)  # an outage shorter than one look is still said: the client counts its reconnects
        while not self.stop.is_set():
            if nc is not None and not nc.is_connected:
                # a request now would wait in the client's buffer until the reconnect; fetches, acks and
                # in-progress marks resume then (an ack lost with the connection: redelivered, absorbed by the keys)
                if not away_since:
                    away_since = time.monotonic()
                    self.log.warning("%s: NATS unavailable (reconnecting); fetching and acking resume when it is "
                                     "back", self.name)
            else:
                if away_since:
                    self.log.info("%s: NATS available again after %.1f s", self.name, time.monotonic() - away_since)
                    away_since = 0.0
                elif _reconnects(nc) != seen:
                    self.log.warning("%s: NATS unavailable for a moment (the client reconnected between two looks)",
                                     self.name)
                    self.log.info("%s: NATS available again", self.name)
                seen = _reconnects(nc)
                for s, sub in self._subs.items():
                    try:  # bounded: a request sent just before an outage must not hide the outage from the next look
                        info = await asyncio.wait_for(sub.consumer_info(), max(self.cfg.lag_interval_s, 0.5))
                    except Exception:  # noqa: BLE001, S112 -- NATS away: the gauge keeps its last value
                        continue
                    self.m.lag.labels(s).set(info.num_pending)
                    self.m.ack_pending.labels(s).set(info.num_ack_pending)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.cfg.lag_interval_s)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop fetching, write and ack what was fetched (for at most ``timeout``), close the connections."""
        self.stop.set()
        writers = [t for t in self._tasks if t.get_name().startswith("recorder-write")]
        # the keep tasks go on marking what the writers still hold until the writers end; cancelled below
        others = [t for t in self._tasks if t not in writers and not t.get_name().startswith("recorder-keep")]
        try:
            await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), timeout)
            _done, pending = await asyncio.wait(writers, timeout=timeout) if writers else (set(), set())
        except TimeoutError:
            pending = set(writers)
        if pending:
            self._abandon.set()  # PostgreSQL still down: give up the batch unacked (redelivered later)
            await asyncio.wait(pending, timeout=2.0)
        for t in self._tasks:
            if not t.done():
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        for ws in self._writers.values():
            for w in ws:
                await w.close()
        self.running = False

    async def wait(self) -> None:
        """Until a task fails (a bug) or close(): re-raises the first failure."""
        if not self._tasks:
            return
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]


GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> tuple[int, int, int]:
    """Make the cyclic GC rare in a recorder process; return the thresholds it had. A batch keeps thousands of young
    objects alive (messages, rows) while older batches are freed, and gen 0 counts allocations net of frees: at the
    default 700 each collection scanned every batch in flight, 1.5-2.4 us per message end to end (12-15 % of the
    recorder's CPU, timed with gc.callbacks). What start-up made is frozen out of the scans."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return old


def _reconnects(nc: Any) -> int:
    """How many times the NATS client reconnected (nats-py's own count; 0 without a client)."""
    return int(getattr(nc, "stats", {}).get("reconnects", 0)) if nc is not None else 0


__all__ = ["FILTERS", "Recorder", "StreamStats", "tune_gc"]
