"""One task live: its events in order through ``Strategy.step``, its state recorded before anything is sent.

The loop (specs/coordinator.md, "A step"):

1. take the next event (market data coalesced per market and kind: only the newest book or bbo waits);
2. ``outputs = strategy.step(event, now)``;
3. if the task's state changed: snapshot it (KV ``TASKS``, compare-and-set), then log the input and every output
   on ``strat.<task>.<kind>`` (JetStream, acked);
4. only then send each ``SendCommand`` through the trading client; its reply comes back as an event (an
   ``OrderUpdate``, a ``CommandFailed``, an ``OrderNotFound``).

Recovery (``start``): the snapshot is loaded; execution events since it are replayed from ORD; balances are read;
every order the state holds as working is asked about at its venue (never sent again); only then does the loop
run. What the venue says wins; the strategy halts a task whose position it cannot explain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from decimal import Decimal
from typing import Any

import msgspec

from ..bus import subjects
from ..bus.connection import Bus
from ..bus.replay import replay
from ..bus.trading_client import TradingClient
from ..core.commands import (
    BalancesReply,
    CancelOrder,
    ErrorKind,
    ErrorReply,
    OrderReply,
    PlaceOrder,
    QueryOrder,
)
from ..core.enums import Market, Venue
from ..core.errors import StorageError
from ..core.execution import Fill, OrderUpdate, Position
from ..core.market_data import (
    BookSnapshot,
    BookTicker,
)
from ..core.refdata import SymbolRef
from ..obs.log import get_logger
from ..strategy.events import (
    CommandFailed,
    Flatten,
    FundingPaid,
    Halt,
    OrderNotFound,
    Resume,
    SendCommand,
    Start,
    State,
    Tick,
)
from ..strategy.ledger import ZERO, TaskState
from ..strategy.machine import TAKES, Strategy
from ..strategy.params import TaskParams
from .config import CoordinatorConfig
from .control import OpenOrder, TaskStatus
from .metrics import CoordinatorMetrics
from .store import TaskSnapshot, TaskStore

_COALESCE = (BookSnapshot, BookTicker)
_TAKES = TAKES  # what the strategy steps; anything else on the subjects read (trades, for one) is dropped
_VERB = {PlaceOrder: "place", CancelOrder: "cancel", QueryOrder: "query"}
_state_enc = msgspec.json.Encoder()
log = get_logger(__name__)


class Stopped(Exception):
    """The runner stopped (lease lost, snapshot fenced) and must not trade any more."""


class TaskRunner:
    """One task. ``put`` is safe from any callback; ``run`` is the only place the strategy is stepped."""

    def __init__(self, params: TaskParams, cfg: CoordinatorConfig, bus: Bus, store: TaskStore,
                 clients: dict[tuple[Venue, str, Market], TradingClient], metrics: CoordinatorMetrics,
                 subject_prefix: str = "", clock: Any = time.time_ns) -> None:
        self.p = params
        self.cfg = cfg
        self.bus = bus
        self.store = store
        self.clients = clients
        self.m = metrics
        self.prefix = subject_prefix
        self.clock = clock
        self.strategy = Strategy(params)
        self._queue: deque[Any] = deque()
        self._latest: dict[tuple[type, Venue, Market], tuple[int, Any]] = {}
        self._seq = 0
        self._wake = asyncio.Event()
        self._waiters: deque[tuple[Any, asyncio.Future]] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._subs: list[Any] = []
        self._saved = b""
        self._steps = 0
        self.fence: Any = None  # () -> str | None: why this process may not write now (the task's lease)
        self.failed: BaseException | None = None
        self.running = False

    # ------------------------------------------------------------------ input

    def put(self, ev: Any) -> None:
        t = type(ev)
        if t not in _TAKES:
            return  # trades and other kinds the strategy does not use
        if t in _COALESCE:
            # Only the newest book (bbo) of a market waits, at the tail: it is applied after any status or delta
            # that came before it (kept where it was, it would be applied before them). A superseded token is
            # skipped when it comes up.
            key = (t, ev.venue, ev.market)
            self._seq += 1
            self._latest[key] = (self._seq, ev)
            self._queue.append((key, self._seq))
        elif t is Tick:
            if not any(type(x) is Tick for x in list(self._queue)[-3:]):
                self._queue.append(ev)
        else:
            self._queue.append(ev)
            if len(self._queue) > self.cfg.queue_max:
                self.m.queue_overflow.labels(self.p.task).inc()
        self._wake.set()

    async def control(self, ev: Any) -> None:
        """Put an operator's Halt / Resume / Flatten and wait until the task has stepped it."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((ev, fut))
        self._queue.append(ev)
        self._wake.set()
        await fut

    async def _on_bus(self, ev: Any, msg: Any) -> None:
        self.put(ev)

    # ------------------------------------------------------------------ start and recovery

    async def start(self, refs: Any) -> None:
        """Load, subscribe, replay, reconcile; then the loop may run. ``refs`` is the RefData reader."""
        p = self.p
        snap = await self.store.load(p.task)
        if snap is not None:
            self.strategy = Strategy(p, snap.state)
            self._steps = snap.steps
            self._saved = _state_enc.encode(snap.state)
            log.info("task %s: restored in %s (cycle %d, %d orders on record, positions %s)", p.task,
                     snap.state.state.value, snap.state.cycle, len(snap.state.orders),
                     {k: str(v) for k, v in snap.state.pos.items() if v})
        for m in p.markets:
            self._subs.append(await self.bus.subscribe(
                _any(subjects.md(m.venue, m.market, p.symbol, "bbo", self.prefix)), self._on_bus))
        for venue, account in sorted({(m.venue, m.account) for m in p.markets}):
            self._subs.append(await self.bus.subscribe(
                _any(subjects.ord_evt(venue, account, "order", self.prefix)), self._on_bus))
        # Reference data: what is known now, then every update.
        for m in p.markets:
            ref = refs.find(m.venue, m.market, p.symbol)
            if ref is not None:
                self.put(ref)
        # Execution events since the snapshot (fills, and the venue's funding records, while we were down), oldest
        # first; the strategy ignores what it had booked already.
        if snap is not None:
            since = snap.ts - int(self.cfg.replay_margin_s * 1e9)
            for venue, account in sorted({(m.venue, m.account) for m in p.markets}):
                subject = _any(subjects.ord_evt(venue, account, "order", self.prefix))
                try:
                    async for ev in replay(self.bus.js, subject, since, timeout=30.0):
                        if isinstance(ev, (Fill, OrderUpdate, FundingPaid)):
                            self.put(ev)
                except StorageError as e:
                    log.warning("task %s: ORD replay of %s failed: %s", p.task, subject, e)
        if snap is not None:
            # Claim the snapshot (compare-and-set on the revision loaded): a previous holder still stepping meets a
            # moved revision at its next save and stops, rather than this process meeting its write later.
            await self.store.save(TaskSnapshot(task=p.task, state=self.strategy.state, ts=snap.ts, steps=self._steps))
        # Balances, and every order on record as working asked about at its venue (a hedge never acknowledged by
        # its very PlaceOrder again: idempotent at the gateway), all at once; answers come back as events.
        cmds = self.strategy.recovery_commands(self.clock())
        if cmds:  # recorded before they are sent, like every command (a hedge the last process saved but never
            await self.store.log(p.task, cmds)  # logged nor sent reaches the venue first from here)
        await asyncio.gather(self.read_balances(), *(self._send(c) for c in cmds))
        if snap is None:
            self.put(Start())

    async def read_balances(self) -> None:
        await asyncio.gather(*(self._balances(m) for m in self.p.markets))

    async def _balances(self, m: Any) -> None:
        reply = await self.clients[(m.venue, m.account, m.market)].balances()
        if isinstance(reply, BalancesReply):
            for b in reply.balances:
                self.put(b)
        else:
            log.warning("task %s: balances of %s %s: %s %s", self.p.task, m.key, m.account, reply.code, reply.message)

    def on_ref(self, ref: SymbolRef) -> None:
        if ref.symbol == self.p.symbol:
            self.put(ref)

    # ------------------------------------------------------------------ the loop

    async def run(self, stopped: asyncio.Event) -> None:
        self.running = True
        try:
            while not stopped.is_set():
                if not self._queue:
                    self._wake.clear()
                    waiter = asyncio.ensure_future(self._wake.wait())
                    stop = asyncio.ensure_future(stopped.wait())
                    await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    stop.cancel()
                    continue
                item = self._queue.popleft()
                if type(item) is tuple:
                    key, seq = item
                    newest = self._latest.get(key)
                    if newest is None or newest[0] != seq:
                        continue  # superseded by a newer book further back in the queue
                    del self._latest[key]
                    ev = newest[1]
                else:
                    ev = item
                await self.step(ev)
                if self._waiters and self._waiters[0][0] is ev:
                    _, fut = self._waiters.popleft()
                    if not fut.done():
                        fut.set_result(None)
        except BaseException as e:
            self.failed = e
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(Stopped(f"task {self.p.task}: {e}"))
            raise
        finally:
            self.running = False

    async def step(self, ev: Any) -> list:
        now = self.clock()
        if type(ev) is Position:
            self._check_position(ev)
        t0 = time.perf_counter_ns()
        out = self.strategy.step(ev, now)
        self.m.decision.labels(self.p.task).observe((time.perf_counter_ns() - t0) / 1e9)
        self.m.steps.labels(self.p.task).inc()
        if out or type(ev) not in _COALESCE and type(ev) is not Tick:
            state = _state_enc.encode(self.strategy.state)
            if out or state != self._saved:
                why = self.fence() if self.fence is not None else None
                if why:  # not the task's writer any more: nothing of this step is recorded or sent
                    raise Stopped(f"task {self.p.task}: {why}")
                self._steps += 1
                await self.store.save(TaskSnapshot(task=self.p.task, state=self.strategy.state, ts=now,
                                                   steps=self._steps))
                self._saved = state
                # the input as it came (a rule update is not logged: REF keeps its revisions), then the outputs
                await self.store.log(self.p.task, [*([] if type(ev) is SymbolRef else [ev]), *out])
        for o in out:
            self.m.observe(self.p.task, o, self.strategy)
            if type(o) is SendCommand:
                why = self.fence() if self.fence is not None else None
                if why:
                    raise Stopped(f"task {self.p.task}: {why}; {o.command} not sent")
                t = asyncio.ensure_future(self._send(o))
                self._tasks.add(t)
                t.add_done_callback(self._tasks.discard)
        return out

    async def _send(self, out: SendCommand) -> None:
        cmd = out.command
        client = self.clients[(out.venue, out.account, cmd.market)]
        reply = await client.send(cmd)
        verb = _VERB[type(cmd)]
        self.m.commands.labels(self.p.task, verb, "ok" if isinstance(reply, OrderReply) else "error").inc()
        if isinstance(reply, OrderReply):
            self.put(OrderUpdate(reply.order))
            return
        assert isinstance(reply, ErrorReply)
        cid = cmd.client_order_id
        if verb == "query":
            if reply.kind is ErrorKind.VENUE_CLIENT and reply.code == "ORDER_NOT_FOUND" and not reply.status_unknown:
                o = self.strategy.state.orders.get(cid)
                if o is not None and self.clock() - o.sent_ns >= self.cfg.not_found_after_s * 1e9:
                    self.put(OrderNotFound(client_order_id=cid))
            return  # asked again at the next timeout
        self.put(CommandFailed(client_order_id=cid, verb=verb, kind=reply.kind.value,
                               message=f"{reply.code}: {reply.message}", status_unknown=reply.status_unknown))

    def _check_position(self, pos: Position) -> None:
        """The venue's position smaller than what the task holds (or of the other sign) cannot be explained by the
        task's own orders once none is working: halt with the reason rather than guess (a missing report never
        means flat)."""
        p = self.p
        key = f"{pos.venue.value}.{pos.market.value}"
        if pos.symbol != p.symbol or key not in self.strategy.state.pos:
            return
        if p.spec(key).account != pos.account:
            return
        s = self.strategy.state
        mine = s.pos[key]
        if mine == 0 or any(o.live for o in s.orders.values()) or s.state in (State.HALTED, State.ERROR):
            return
        tol = self.strategy.tolerance()
        if (mine > 0 and pos.size < mine - tol) or (mine < 0 and pos.size > mine + tol):
            self.put(Halt(reason=f"position mismatch on {key}: the venue reports {pos.size}, the task holds {mine}"))

    # ------------------------------------------------------------------ status and stop

    def status(self) -> TaskStatus:
        st = self.strategy
        s: TaskState = st.state
        c = s.cur
        unreal = ZERO
        if c is not None:
            unreal = c.cash - c.fees_quote + c.funding
            for k, v in s.pos.items():
                mid = st.views[k].book.mid() or st.views[k].mark
                if v and mid:
                    unreal += v * Decimal(repr(mid))
        return TaskStatus(
            task=self.p.task, state=s.state.value, reason=s.reason, enabled=s.enabled, cycle=s.cycle,
            positions=dict(s.pos), net=st.net, realised=s.realised, day_pnl=s.day_pnl, cycles_today=s.cycles_today,
            open_orders=[OpenOrder(client_order_id=o.cid, market=o.key, side=o.side.value, qty=o.qty, filled=o.done,
                                   status=o.status.value) for o in s.orders.values() if o.live],
            unrealised=unreal, max_unhedged=c.max_unhedged if c else ZERO,
            max_unhedged_ns=c.max_unhedged_ns if c else 0)

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await sub.unsubscribe()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)


def _any(subject: str) -> str:
    """``a.b.c.kind`` -> ``a.b.c.*``: every kind of one instrument or account (the builders check each token)."""
    return subject.rpartition(".")[0] + ".*"


CONTROLS = {"halt": Halt, "resume": Resume, "flatten": Flatten}

__all__ = ["CONTROLS", "Stopped", "TaskRunner"]
