"""The strategy core: ``Strategy.step(event, now) -> outputs``. No I/O, no clock, no randomness.

Same events and times in, same outputs out: the coordinator runs this live, a replay runs it on recorded events.
The state that must survive a restart is ``Strategy.state`` (a ``TaskState``, msgspec-encodable); the market views
are rebuilt from the market-data streams.

Execution rules (specs/strategy.md, "Execution"):

* The lead leg goes first as an IOC limit at the worst level its VWAP walk touched. Every fill of it, partial or
  complete, is hedged at once on the other market for exactly the filled base quantity, rounded down to that
  market's grid (IOC limit at the best price plus ``hedge_slippage_bps``). What the grid cannot carry (less than
  one contract) stays on the spot market, closed there by a trim order when it reaches the minimum.
* A market has at most one working order of the task at a time; a hedge waits for the previous one to finish.
* A hedge refused, expired or unfilled is re-priced and re-sent up to ``hedge_attempts`` times; then the lead's
  unhedged quantity is unwound on the lead market; if that fails ``unwind_attempts`` times the task goes to ERROR
  with the exposure named (it never assumes flat).
* A cancel that races a fill loses: the fill is booked and hedged like any other.
* Net base across the task's markets is tracked on every fill; the cycle reports the largest |net| beyond tolerance
  and how long it lasted.
* A market whose reference data is not ``trading`` (halted, delisted) is never entered: the task waits in SYNCING,
  its ``reason`` naming the market and the status, and analyses again once the status is back to trading. Orders
  that bring exposure back (hedge, unwind, trim, exit) are still sent there: a venue that halts new positions may
  take a reducing order, and its refusal counts as a failed attempt like any other (hedges then unwind the lead).
* New rules (tick, step, minimums, contract multiplier, fees) apply from the next order priced after they arrive.
"""

from __future__ import annotations

from decimal import Decimal

from ..core.commands import CancelOrder, PlaceOrder, QueryOrder
from ..core.enums import Market, OrderStatus, OrderType, Side, SymbolStatus, TimeInForce
from ..core.execution import Balance, Fill, OrderUpdate, Position
from ..core.market_data import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    MarketStatus,
    MarkPrice,
)
from ..core.refdata import SymbolRef
from .events import (
    CommandFailed,
    CycleReport,
    ExposureReport,
    Flatten,
    FundingPaid,
    Halt,
    OrderNotFound,
    RebalanceNeed,
    Resume,
    SendCommand,
    Start,
    State,
    Tick,
    Transition,
)
from .ledger import ZERO, Cycle, FundingEstimate, OrderTrack, Role, TaskState, book_fill, realised
from .opportunity import Direction, Opportunity, closing_spread_bps, evaluate
from .params import TaskParams
from .pricing import LegRules, walk
from .table import TABLE, Ev
from .view import MarketView

NS = 1_000_000_000
DAY_NS = 86_400 * NS

_KIND: dict[type, Ev] = {
    BookSnapshot: Ev.MARKET, BookDelta: Ev.MARKET, BookTicker: Ev.MARKET, MarketStatus: Ev.MARKET,
    FundingRate: Ev.MARKET, MarkPrice: Ev.MARKET, IndexPrice: Ev.MARKET, SymbolRef: Ev.REF,
    Balance: Ev.INVENTORY, Position: Ev.INVENTORY, OrderUpdate: Ev.ORDER, Fill: Ev.FILL,
    CommandFailed: Ev.FAILED, OrderNotFound: Ev.NOT_FOUND, FundingPaid: Ev.FUNDING_PAID, Tick: Ev.TICK,
    Start: Ev.START, Halt: Ev.HALT, Resume: Ev.RESUME, Flatten: Ev.FLATTEN,
}
_DRIVEN = frozenset({State.WAITING_ORDERS, State.MONITORING, State.COMPLETING, State.HALTED, State.REBALANCING})
_TRANSIENT = frozenset({"unavailable", "rate_limited"})  # ErrorKind values: the gateway could not act now
TAKES: frozenset[type] = frozenset(_KIND)  # every event type ``Strategy.step`` accepts (the shell filters on it)


class Strategy:
    """One task. ``step`` is the only entry point that changes anything."""

    def __init__(self, params: TaskParams, state: TaskState | None = None) -> None:
        self.p = params
        self.state = state if state is not None else TaskState()
        for m in params.markets:
            self.state.pos.setdefault(m.key, ZERO)
        self.views = {m.key: MarketView(m.key, m.market is Market.FUTURES) for m in params.markets}
        self.rules: dict[str, LegRules] = {}
        self.directions: list[Direction] = []
        self._route = {(m.venue, m.market): m.key for m in params.markets}
        self._keys = tuple(m.key for m in params.markets)  # built once: ``key`` formats a string per call
        self._max_age_ns = int(params.max_book_age_s * NS)
        self._tol = params.exposure_tolerance
        self._out: list = []
        self._now = 0
        self._pos_changed = False
        self.decisions = 0  # opportunities evaluated (for the benchmark and metrics)
        self.seen = 0  # opportunities priced (sampling only: not state, so a market tick never dirties a snapshot)

    # ------------------------------------------------------------------ entry point

    def step(self, ev: object, now: int) -> list:
        """Handle one event at time ``now`` (ns); return what to publish / send, in order."""
        self._out = out = []
        self._now = now
        kind = _KIND.get(type(ev))
        if kind is None:
            raise TypeError(f"{self.p.task}: the strategy does not take {type(ev).__name__}")
        s = self.state
        before = s.state
        # not ours (another symbol's market data, another task's order, an echo of a booked cycle): nothing to act on
        if self._absorb(kind, ev) and s.state is before:  # (absorbing may have moved the task to ERROR)
            rule = TABLE[s.state][kind]
            if rule.action != "ignore":
                getattr(self, "_a_" + rule.action)(kind, ev)
        c = s.cur
        if (c is not None and c.retry_at_ns and self._now >= c.retry_at_ns and s.state in _DRIVEN
                and self.net != 0):
            self._neutralise(judge=False)  # a hedge or unwind owed after its backoff goes with any event
        if self._pos_changed:
            self._pos_changed = False
            self._track_exposure(True)
        elif kind is Ev.TICK and s.cur is not None and s.cur.unhedged_since:
            self._track_exposure(False)  # how long a leg has been naked grows with time, not only with fills
        return out

    @property
    def net(self) -> Decimal:
        return sum(self.state.pos.values(), ZERO)

    def tolerance(self) -> Decimal:
        """Net base left unhedged that is not worth an order: the coarsest step or minimum of the markets."""
        if self._tol > 0:
            return self._tol
        t = ZERO
        for r in self.rules.values():
            t = max(t, r.base_step, r.base_min)
        return t

    # ------------------------------------------------------------------ absorbing (every state)

    def _absorb(self, kind: Ev, ev) -> bool:
        if kind is Ev.MARKET:
            if ev.symbol != self.p.symbol:
                return False
            key = self._route.get((ev.venue, ev.market))
            if key is None:
                return False
            v = self.views[key]
            if type(ev) is FundingRate and v.perp:
                self._funding_settled(key, v.funding_rate, v.next_funding_ns, ev)
            v.on_event(ev)
        elif kind is Ev.REF:
            key = self._route.get((ev.venue, ev.market))
            if key is None or ev.symbol != self.p.symbol:
                return False
            self.rules[key] = LegRules(ev)
            self._directions()
        elif kind is Ev.INVENTORY:
            key = self._route.get((ev.venue, ev.market))
            if key is None or ev.account != self.p.spec(key).account:
                return False
            if type(ev) is Balance:
                inv = self.state.inventory.setdefault(key, {})
                if inv.get(ev.asset) != ev.free:
                    inv[ev.asset] = ev.free
                    self.state.needs = [n for n in self.state.needs if not n.startswith(f"{key}:{ev.asset}")]
            elif ev.symbol != self.p.symbol:
                return False
        elif kind in (Ev.ORDER, Ev.FILL, Ev.FAILED, Ev.NOT_FOUND):
            cid = ev.order.client_order_id if kind is Ev.ORDER else ev.client_order_id
            if not cid.startswith(self.p.task + "-"):
                return False
            o = self.state.orders.get(cid)
            if o is None:
                if _cycle_of(cid, self.p.task) < self.state.pruned_below:
                    return False  # an echo of a settled order of a booked cycle (a replay after a restart)
                self._go(State.ERROR, f"{kind.value} for order {cid} this task has no record of")
                return True
            getattr(self, "_x_" + kind.value)(o, ev)
        elif kind is Ev.FUNDING_PAID:
            key = self._route.get((ev.venue, ev.market))
            if ev.symbol != self.p.symbol or key is None:
                return False
            # One venue record is one settlement: the shell may deliver it twice (the live feed and the replay of
            # ORD after a restart overlap by the replay margin), so a record already booked is ignored.
            rec = f"{key}@{ev.ts}"
            if rec in self.state.funding_booked:
                return False
            self.state.funding_booked.append(rec)
            del self.state.funding_booked[:-32]
            if key not in self.state.funding_reported:
                self.state.funding_reported.append(key)
            # The venue's record of a settlement replaces the estimate booked for it (same market, the funding time
            # within half an interval), so it is counted once.
            half = max(self.views[key].funding_interval_s, 60) * NS // 2
            for est in list(self.state.funding_estimates):
                if est.key == key and abs(est.at_ns - ev.ts) <= half:
                    self.state.funding_estimates.remove(est)
                    self._book_funding(-est.amount, est.cycle)
                    break
            self._book_funding(ev.amount, self.state.cur.n if self.state.cur is not None else 0)
        elif kind is Ev.START or kind is Ev.RESUME:
            self.state.enabled = True
        return True

    def _funding_settled(self, key: str, rate: float, at_ns: int, ev: FundingRate) -> None:
        """A funding time passed while the task held the perpetual (the venue moved ``next_funding_ns`` on): book
        what it paid or received, ``-position x mark x rate`` (longs pay a positive rate), at the rate that applied
        then and the mark now. A market whose settlements the shell reports (``FundingPaid``, the venue's own
        record) is never estimated."""
        s = self.state
        if at_ns <= 0 or ev.next_funding_ns <= at_ns or self._now < at_ns or key in s.funding_reported:
            return
        pos = s.pos.get(key, ZERO)
        v = self.views[key]
        mark = v.mark or v.book.mid()
        if pos == 0 or not rate or not mark:
            return
        amount = -(pos * Decimal(repr(mark)) * Decimal(repr(rate)))
        n = s.cur.n if s.cur is not None else 0
        self._book_funding(amount, n)
        s.funding_estimates.append(FundingEstimate(key=key, at_ns=at_ns, amount=amount, cycle=n))
        del s.funding_estimates[:-8]  # a venue reports within the next interval or not at all

    def _book_funding(self, amount: Decimal, cycle: int) -> None:
        """To the open cycle it belongs to, else straight to the task's realised PnL."""
        s = self.state
        if s.cur is not None and s.cur.n == cycle:
            s.cur.funding += amount
        else:
            s.realised += amount
            self._day_add(amount)

    def _directions(self) -> None:
        keys = [m.key for m in self.p.markets]
        if not all(k in self.rules for k in keys):
            return
        self.directions = [Direction(b, s, self.rules[b], self.rules[s], self.p.size)
                           for b in keys for s in keys if b != s]

    # execution reports -------------------------------------------------

    def _x_order(self, o: OrderTrack, ev: OrderUpdate) -> None:
        order = ev.order
        o.answered = True
        if order.status is OrderStatus.PENDING and o.status is not OrderStatus.PENDING:
            return  # an older echo
        was_live = o.live
        if was_live or order.status.is_open is False:
            o.status = order.status
        if order.filled_qty > o.reported:
            old = o.done
            o.reported = order.filled_qty
            self._moved(o, old)
        if was_live and not o.live:
            self._ended(o)

    def _x_fill(self, o: OrderTrack, ev: Fill) -> None:
        if ev.trade_id in o.trade_ids:
            return  # a duplicate (a correction that repeats a fill already booked)
        o.trade_ids.append(ev.trade_id)
        o.answered = True
        old = o.done
        o.filled += ev.qty
        s = self.state
        c = s.cur if s.cur is not None and s.cur.n == o.cycle else None
        if c is not None:
            book_fill(c, ev.side, ev.price, ev.qty, ev.fee, ev.fee_asset, self.p.quote)
        else:  # a late fill of a closed cycle: straight to the task's realised PnL
            cash = ev.price * ev.qty if ev.side is Side.SELL else -(ev.price * ev.qty)
            fee = ev.fee if ev.fee_asset == self.p.quote else ZERO
            s.realised += cash - fee
            self._day_add(cash - fee)
        if ev.fee and ev.fee_asset == self.p.base and o.key in s.pos:
            s.pos[o.key] -= ev.fee  # the base actually held is smaller by the fee
            self._pos_changed = True
        if o.done > old:
            self._moved(o, old)

    def _x_failed(self, o: OrderTrack, ev: CommandFailed) -> None:
        if ev.verb != "place":
            if o.live:
                self._query(o)  # a refused cancel / query: the order's state is the venue's to say
            return
        o.answered = True
        if ev.status_unknown:
            # It may be at the venue: asked about in a second (a hedge, unwind or trim by the same PlaceOrder again,
            # same client id and parameters: the gateway's journal answers with that order if it exists and places
            # it only once the venue provably has none); a new id is never used for it.
            o.asked_ns = self._now - int(self.p.order_timeout_s * NS) + NS
        elif o.live and o.done == 0:
            o.status = OrderStatus.REJECTED
            self._ended(o, transient=ev.kind in _TRANSIENT)

    def _x_not_found(self, o: OrderTrack, ev: OrderNotFound) -> None:
        o.answered = True
        if o.done > 0:
            self._go(State.ERROR, f"{o.cid}: the venue reports no such order, but {o.done} of it was reported filled")
        elif o.live:
            o.status = OrderStatus.REJECTED
            self._ended(o)

    def _ended(self, o: OrderTrack, transient: bool = False) -> None:
        """An order finished. A hedge or unwind that took nothing counts a failed attempt (unless the gateway was
        only unavailable or rate limited: retried without counting, bounded by max_unhedged_s); either way the next
        one waits a backoff. An exit order that took nothing waits a backoff too: never the same miss at once."""
        c = self.state.cur
        if c is None or o.cycle != c.n:
            return
        if o.role is Role.HEDGE:
            if o.done > 0:
                c.hedge_fail = c.hedge_orders = 0
            elif not transient:
                c.hedge_fail += 1
        elif o.role is Role.UNWIND:
            if o.done > 0:
                c.unwind_fail = 0
            elif not transient:
                c.unwind_fail += 1
                if c.unwind_fail >= self.p.unwind_attempts and abs(self.net) > self.tolerance():
                    # the last unwind the task may send took nothing: said now, not at the next driven event
                    self._go(State.ERROR, f"net {self.net} {self.p.base} unhedged: hedge failed {c.hedge_fail} "
                                          f"times, unwind failed {c.unwind_fail} times")
        if o.done == 0 and o.role in (Role.HEDGE, Role.UNWIND, Role.EXIT, Role.TRIM):
            c.misses += 1
            c.retry_at_ns = self._now + min(NS // 5 << min(c.misses - 1, 5), 5 * NS)
        elif o.done > 0:
            c.misses = 0

    def _moved(self, o: OrderTrack, old: Decimal) -> None:
        d = o.done - old
        self.state.pos[o.key] += d if o.side is Side.BUY else -d
        self._pos_changed = True
        c = self.state.cur
        if c is not None and o.cycle == c.n and o.role is Role.LEAD:
            c.entered += d

    # ------------------------------------------------------------------ actions (named in the table)

    def _a_start(self, kind: Ev, ev) -> None:
        if self._has_position():
            self._rebalance("a position is left over from before", kind, ev)
        else:
            self._go(State.SYNCING, "enabled")

    def _a_wake(self, kind: Ev, ev) -> None:
        s = self.state
        if self._has_position() and not self._live():
            self._rebalance("a position is left over", kind, ev)
        elif s.enabled and self._now - s.last_close_ns >= self.p.cooldown_s * NS:
            self._go(State.SYNCING, "cooled down")

    def _a_late(self, kind: Ev, ev) -> None:
        if self._has_position() or abs(self.net) > self.tolerance():
            self._rebalance(f"a late {kind.value} left a position", kind, ev)

    def _a_sync(self, kind: Ev, ev) -> None:
        if not self._why_not_ready():
            self._go(State.ANALYZING, "books, rules, funding and inventory ready")
            return
        why = self._why_not_listed()  # the rules' reason, when there is one, is the one the status reports
        if not why and self.state.reason.endswith(_UNLISTED):
            why = self._why_not_ready()  # trading again: the status says what the task waits for now
        if why and why != self.state.reason:
            self.state.reason = why

    def _a_analyze(self, kind: Ev, ev) -> None:
        s = self.state
        why = self._why_not_ready()
        if why:
            self._go(State.SYNCING, why)
            return
        self._roll_day()
        if s.day_pnl < -Decimal(repr(self.p.max_daily_loss)):
            s.halt_after = False
            self._go(State.HALTED, f"daily loss {s.day_pnl} beyond max_daily_loss {self.p.max_daily_loss}")
            return
        if self._has_position():
            self._rebalance("a position is open outside a cycle", kind, ev)
            return
        if kind is not Ev.MARKET and kind is not Ev.TICK:
            return
        best: Opportunity | None = None
        views = self.views
        now = self._now
        p = self.p
        for d in self.directions:
            o = evaluate(p.task, d, views[d.buy], views[d.sell], now, exit_bps=p.exit_bps,
                         slippage_bps=p.slippage_bps + p.entry_slippage_bps, hold_s=p.expected_hold_s)
            if o is not None and (best is None or o.net_bps > best.net_bps):
                best = o
        self.decisions += 1
        if best is None:
            return
        self.seen += 1
        if best.net_bps < p.entry_bps:
            if self.seen % p.sample_every == 0:
                self._out.append(best)
            return
        why = self._blocked(best)
        if why:
            if self.seen % p.sample_every == 0:
                self._out.append(Opportunity(**{**_fields(best), "reason": why}))
            return
        self._open(best)

    def _rebalance(self, reason: str, kind: Ev, ev) -> None:
        # Act on the position in the step that found it: waiting for the next event left it unhedged (a late fill
        # in a quiet market stayed open until some book moved).
        self._go(State.REBALANCING, reason)
        self._a_rebalance(kind, ev)

    def _a_rebalance(self, kind: Ev, ev) -> None:
        self._drive()
        if self.state.state is State.REBALANCING and not self._live() and not self._has_position() \
                and abs(self.net) <= self.tolerance():
            if self.state.cur is not None:
                self._go(State.FINALIZING, "positions flat: book the rebalance")
                self._try_close()
            else:
                self._go(State.ANALYZING, "positions flat")

    def _a_manage(self, kind: Ev, ev) -> None:
        c = self.state.cur
        lead = self._orders_of(c, Role.LEAD)
        if lead and (lead[-1].answered or not lead[-1].live):
            self._go(State.WAITING_ORDERS, "the venue answered for the lead")
            self._a_drive(kind, ev)
            return
        self._timeouts()

    def _a_drive(self, kind: Ev, ev) -> None:
        self._drive()

    def _a_monitor(self, kind: Ev, ev) -> None:
        # A hedge sent here (for a late fill) may be live or owed after a backoff: the driver queries an unanswered
        # one and sends one owed (only execution events reached the driver in this state before).
        self._drive()
        if self.state.state is not State.MONITORING:
            return
        c = self.state.cur
        if c is None:
            self._go(State.FINALIZING, "no cycle")
            return
        why = self._exit_reason(c)
        if why:
            c.exiting = True
            c.exit_reason = why
            c.unwinding = False
            c.hedge_fail = c.unwind_fail = c.hedge_orders = 0
            self._go(State.COMPLETING, why)
            self._drive()

    def _a_hold(self, kind: Ev, ev) -> None:
        self._drive()

    def _a_finalize(self, kind: Ev, ev) -> None:
        self._drive()

    def _a_neutralise(self, kind: Ev, ev) -> None:
        self._drive()

    def _a_halt(self, kind: Ev, ev) -> None:
        s = self.state
        s.enabled = False
        self._fresh_attempts()
        for o in list(s.orders.values()):
            if o.live and o.role in (Role.LEAD, Role.EXIT):
                self._cancel(o)
        self._go(State.HALTED, f"halt: {getattr(ev, 'reason', 'risk')}")
        self._drive()

    def _a_halt_after(self, kind: Ev, ev) -> None:
        self.state.halt_after = True
        self.state.enabled = False
        self._drive()

    def _a_flatten(self, kind: Ev, ev) -> None:
        s = self.state
        s.enabled = False
        s.halt_after = True
        for o in list(s.orders.values()):
            if o.live and o.role is Role.LEAD:
                self._cancel(o)
        if not self._has_position() and abs(self.net) <= self.tolerance() and s.cur is None:
            self._go(State.HALTED, f"flatten: nothing held ({getattr(ev, 'reason', '')})")
            return
        c = s.cur
        if c is None:  # a position outside a cycle: a cycle to close it, so its money is booked
            c = self._new_cycle(None)
        c.exiting = True
        c.flatten = True
        c.unwinding = False  # closing: a failing hedge is retried, never answered by re-opening the lead
        c.hedge_fail = c.unwind_fail = c.hedge_orders = 0
        c.exit_reason = f"flatten: {getattr(ev, 'reason', '')}"
        self._go(State.COMPLETING, c.exit_reason)
        self._drive()

    def _a_resume(self, kind: Ev, ev) -> None:
        s = self.state
        if self._live():
            return
        s.enabled = True
        s.halt_after = False
        if s.cur is not None and self._has_position():
            self._go(State.MONITORING, "resumed with a position held")
        elif self._has_position():
            self._go(State.SYNCING, "resumed")  # SYNCING -> ANALYZING -> REBALANCING closes it
        else:
            self._go(State.SYNCING, "resumed")

    def _fresh_attempts(self) -> None:
        """An operator's halt (or acknowledgement of an error) gives neutralising a fresh set of attempts: a task
        out of attempts and halted would otherwise hold its exposure without trying again."""
        c = self.state.cur
        if c is not None:
            c.hedge_fail = c.unwind_fail = c.hedge_orders = c.misses = 0
            c.retry_at_ns = 0

    def _a_resume_error(self, kind: Ev, ev) -> None:
        self._fresh_attempts()
        self.state.enabled = False
        self._go(State.HALTED, f"error acknowledged: {getattr(ev, 'reason', '')}")
        self._drive()

    # ------------------------------------------------------------------ the order driver

    def _drive(self) -> None:
        """Move orders towards the state's goal; called after every event in the order-managing states."""
        s = self.state
        self._timeouts()
        st = s.state
        if st is State.ERROR:
            return
        c = s.cur
        if st is State.FINALIZING:
            self._try_close()
            return
        # 1. net exposure back within tolerance: hedge (or unwind, or trim)
        self._neutralise()
        if s.state is not st:
            return
        if st is State.REBALANCING:
            self._close_positions(c, Role.TRIM)
            return
        if st is State.HALTED:
            if c is not None and not self._live() and not self._has_position() and abs(self.net) <= self.tolerance():
                s.halt_after = True
                self._go(State.FINALIZING, "halted with nothing held: book the cycle")
                self._try_close()
            return
        if c is None:
            return
        live = self._live()
        if st is State.WAITING_ORDERS and not live:
            if abs(self.net) <= self.tolerance():
                if self._has_position():
                    self._go(State.MONITORING, f"entered {c.entered} base, hedged")
                else:
                    self._go(State.FINALIZING, "nothing held after the entry")
                    self._try_close()
        elif st is State.COMPLETING:
            if not live and not self._has_position() and abs(self.net) <= self.tolerance():
                self._go(State.FINALIZING, "flat")
                self._try_close()
            else:
                self._close_positions(c, Role.EXIT)

    def _neutralise(self, judge: bool = True) -> None:
        """Send what brings net exposure back within tolerance. ``judge=False``: never decide to unwind or to give
        up (ERROR) here; only send what is already decided (the wake-up after a backoff, on any event)."""
        s = self.state
        net = self.net
        if net == 0:
            return
        c = s.cur
        key, role = self._hedge_market(c, net)
        if key is None:
            return
        if any(o.live and o.key == key for o in s.orders.values()):
            return  # one working order per market: wait for it
        if c is not None and self._now < c.retry_at_ns:
            return  # the last attempt took nothing: wait its backoff (a tick brings the driver back)
        r = self.rules.get(key)
        if r is None:
            return
        side = Side.SELL if net > 0 else Side.BUY
        qty = r.floor_base(abs(net))
        if role is Role.HEDGE and r.base_step > 0 and qty + r.base_step - abs(net) <= min(abs(net) - qty,
                                                                                         self.tolerance()):
            # nearer the next step than this one, by no more than the tolerance: hedge to the nearer step (a buy of
            # 0.01 with its fee taken in base holds 0.009995: hedged by 0.0100, not 0.0099 and a 0.000095 trim)
            qty += r.base_step
        price = self._aggressive_price(key, side)
        if qty > 0 and price > 0 and not r.check(price, qty, closing=True):
            if c is not None and role is Role.HEDGE and not c.exiting and judge:
                naked_ns = self._now - c.unhedged_since if c.unhedged_since else 0
                if (c.hedge_fail >= self.p.hedge_attempts or c.hedge_orders >= 10 * self.p.hedge_attempts
                        or naked_ns > self.p.max_unhedged_s * NS):
                    c.unwinding = True
                    c.exit_reason = f"hedge failed {c.hedge_fail} times on {c.hedge}: unwound on {c.lead}"
                    self._neutralise()
                    return
            if c is not None and role is Role.HEDGE:
                c.hedge_orders += 1
            if c is not None and role is Role.UNWIND and c.unwind_fail >= self.p.unwind_attempts:
                if not judge:
                    return
                self._go(State.ERROR, f"net {net} {self.p.base} unhedged: hedge failed {c.hedge_fail} times, "
                                      f"unwind failed {c.unwind_fail} times")
                return
            self._place(c, key, role, side, qty, price, reduce=self._reduces(key, side, qty))
            return
        # Below the hedge market's grid or minimum: the residual goes to a spot market (trim), if it can carry it.
        if c is not None:
            for k in (c.lead, c.hedge):
                rr = self.rules.get(k)
                if rr is None or rr.perp or k == key:
                    continue
                q = rr.floor_base(abs(net))
                px = self._aggressive_price(k, side)
                if q > 0 and px > 0 and not rr.check(px, q, closing=True) and not any(o.live and o.key == k
                                                                         for o in s.orders.values()):
                    self._place(c, k, Role.TRIM, side, q, px)
                    return

    def _hedge_market(self, c: Cycle | None, net: Decimal) -> tuple[str | None, Role]:
        if c is not None and c.qty > 0:
            if c.unwinding and not c.exiting:
                return c.lead, Role.UNWIND
            return c.hedge, Role.HEDGE
        # outside a cycle: reduce the market holding the most on net's side
        best, size = None, ZERO
        for k, v in self.state.pos.items():
            if (v > 0) == (net > 0) and abs(v) > size:
                best, size = k, abs(v)
        return best, Role.TRIM

    def _close_positions(self, c: Cycle | None, role: Role) -> None:
        """COMPLETING / REBALANCING: close the lead market's position first, then any other non-hedge market's."""
        s = self.state
        if c is not None and role is Role.EXIT:
            order = [c.lead] + [k for k in s.pos if k not in (c.lead, c.hedge)]
        else:
            order = sorted(s.pos, key=lambda k: -abs(s.pos[k]))
        for key in order:
            pos = s.pos[key]
            r = self.rules.get(key)
            if r is None or pos == 0 or any(o.live and o.key == key for o in s.orders.values()):
                if r is not None and pos != 0:
                    return  # its order is working: one market at a time
                continue
            qty = r.floor_base(abs(pos))
            side = Side.SELL if pos > 0 else Side.BUY
            if qty <= 0:
                continue
            if role is Role.EXIT:
                if abs(self.net) > self.tolerance() or self._now < c.retry_at_ns:
                    return  # a hedge is owed (the exit never adds to an open exposure), or the last exit missed
                if not self.views[key].book.tradable(self._now, self._max_age_ns) and not c.flatten:
                    return  # wait for a live book to price the exit
                levels = self.views[key].book.side(side is Side.BUY)
                _, worst, _ = walk(levels, float(qty))
                slip = self.p.slippage_bps * 1e-4  # the exit allowance the entry edge counted
                worst = worst * (1 + slip) if side is Side.BUY else worst * (1 - slip)
                price = self._aggressive_price(key, side) if c.flatten or worst <= 0 else r.limit_price(worst, side)
                if c.exit_orders >= self.p.exit_attempts:
                    self.state.halt_after = True
                    self._go(State.HALTED, f"exit incomplete after {c.exit_orders} orders: {s.pos}")
                    return
            else:
                price = self._aggressive_price(key, side)
            if price <= 0 or r.check(price, qty, closing=True):
                continue
            if role is Role.EXIT:
                c.exit_orders += 1  # orders sent, not attempts: a dust residual no order can carry is not one
            self._place(c, key, role, side, qty, price, reduce=self._reduces(key, side, qty))
            return

    def _try_close(self) -> None:
        """FINALIZING: book the cycle once every order is settled, or after fill_wait_s with what arrived."""
        s = self.state
        c = s.cur
        if c is None:
            self._go(State.HALTED if s.halt_after else State.IDLE, "no cycle")
            return
        if c.finalize_ns == 0:
            c.finalize_ns = self._now
        mine = [o for o in s.orders.values() if o.cycle == c.n]
        missing = any(not o.settled for o in mine)
        if missing and self._now - c.finalize_ns < self.p.fill_wait_s * NS:
            return
        if any(o.live for o in mine):
            return  # still working: an order is never forgotten while live
        self._track_exposure(False)
        residual: dict[str, Decimal] = {k: v for k, v in s.pos.items() if v != 0}
        rv = ZERO
        for k, v in residual.items():
            m = self.views[k].book.mid() or self.views[k].mark
            rv += v * Decimal(repr(m)) if m else ZERO
        rl = realised(c)
        rep = CycleReport(
            task=self.p.task, cycle=c.n, buy=c.buy, sell=c.sell, qty=c.entered, opened_ns=c.opened_ns,
            closed_ns=self._now, entry_spread_bps=c.spread_bps, expected_net_bps=c.net_bps, cash=c.cash,
            fees=dict(c.fees), fees_quote=c.fees_quote, funding=c.funding, realised=rl, residual=residual,
            residual_value=rv, pnl=rl + rv, max_unhedged=c.max_unhedged, max_unhedged_ns=c.max_unhedged_ns,
            orders=len(mine), reason=c.exit_reason or "entry not filled", fills_missing=missing)
        self._out.append(rep)
        s.realised += rl
        self._day_add(rl)
        s.cycles_today += 1
        s.last_close_ns = self._now
        # The closed cycle's orders stay known until the next cycle closes: an acknowledgement or a repeated fill
        # that trails the close (separate streams, reconciliation corrections) is an echo to absorb, not an order
        # "this task has no record of" (that sent the task to ERROR). Older settled orders are dropped here.
        for o in list(s.orders.values()):
            if o.cycle < c.n and o.settled:
                del s.orders[o.cid]
        s.pruned_below = max(s.pruned_below, min((o.cycle for o in s.orders.values() if o.cycle < c.n), default=c.n))
        s.cur = None
        if s.halt_after:
            self._go(State.HALTED, "cycle booked; halted as asked")
        else:
            self._go(State.IDLE, f"cycle {c.n} closed: {rl} {self.p.quote}")

    # ------------------------------------------------------------------ entering

    def _open(self, o: Opportunity) -> None:
        # the exact checks on both legs, on the venue's grid, before anything is sent
        for key, px in ((o.buy, o.buy_limit), (o.sell, o.sell_limit)):
            why = self.rules[key].check(px, o.qty)
            if why:
                self._out.append(Opportunity(**{**_fields(o), "reason": why}))
                return
        c = self._new_cycle(o)
        lead_buy = c.lead == o.buy
        r = self.rules[c.lead]
        # The lead's IOC may pay entry_slippage_bps beyond the worst level walked (the book it priced may already have
        # moved at the venue); the edge counted that allowance as a cost, so the entry still clears the threshold.
        slip = self.p.entry_slippage_bps * 1e-4
        limit = o.buy_limit * (1 + slip) if lead_buy else o.sell_limit * (1 - slip)
        price = r.limit_price(limit, Side.BUY if lead_buy else Side.SELL)
        self._out.append(Opportunity(**{**_fields(o), "taken": True}))
        self._go(State.MANAGING_ORDERS, f"cycle {c.n}: buy {o.buy} sell {o.sell} {o.qty} at {o.net_bps:.1f} bps net")
        self._place(c, c.lead, Role.LEAD, Side.BUY if lead_buy else Side.SELL, o.qty, price)

    def _new_cycle(self, o: Opportunity | None) -> Cycle:
        s = self.state
        s.cycle += 1
        if o is None:
            keys = sorted(s.pos, key=lambda k: -abs(s.pos[k]))
            lead, hedge = keys[0], keys[1]
            c = Cycle(n=s.cycle, buy=lead, sell=hedge, lead=lead, hedge=hedge, qty=ZERO, opened_ns=self._now)
        else:
            lead, hedge = self._lead_of(o)
            c = Cycle(n=s.cycle, buy=o.buy, sell=o.sell, lead=lead, hedge=hedge, qty=o.qty, opened_ns=self._now,
                      spread_bps=o.spread_bps, net_bps=o.net_bps)
        s.cur = c
        return c

    def _lead_of(self, o: Opportunity) -> tuple[str, str]:
        """The lead is the spot leg when a perpetual is involved (its contract grid then only ever rounds the hedge,
        and a residual stays on spot); between two spot markets, the thinner top of book goes first."""
        b, s = self.rules[o.buy], self.rules[o.sell]
        if b.perp != s.perp:
            return (o.sell, o.buy) if b.perp else (o.buy, o.sell)
        bs = self.views[o.buy].book.side(True)
        ss = self.views[o.sell].book.side(False)
        return (o.buy, o.sell) if (bs[0][1] if bs else 0.0) <= (ss[0][1] if ss else 0.0) else (o.sell, o.buy)

    def _blocked(self, o: Opportunity) -> str:
        """Why the task may not take ``o`` ("" if it may): risk limits and inventory to enter *and* exit."""
        s, p = self.state, self.p
        q = float(o.qty)
        notional = q * o.buy_vwap
        if notional > p.max_notional:
            return f"notional {notional:.2f} above max_notional {p.max_notional}"
        if o.qty > p.position_limit:
            return f"size {o.qty} above max_position {p.position_limit}"
        if s.cycles_today >= p.max_cycles_per_day:
            return f"{s.cycles_today} cycles today (max_cycles_per_day)"
        if self._now - s.last_close_ns < p.cooldown_s * NS:
            return "cooling down"
        for key, short in ((o.sell, True), (o.buy, False)):
            v = self.views[key]
            if v.perp and v.funding_interval_s > 0:
                cost = (-v.funding_rate if short else v.funding_rate) * 1e4
                if cost >= p.funding_exit_bps:
                    return f"funding {v.funding_rate:+.6f} on {key} would close the position at once"
        band = p.inventory_band
        needs: list[tuple[str, str, float]] = []  # (market, asset, amount)
        for key, buy, px in ((o.buy, True, o.buy_vwap), (o.sell, False, o.sell_vwap)):
            r = self.rules[key]
            if r.perp:
                needs.append((key, p.quote, q * px / p.perp_leverage * (1 + band)))
            elif buy:
                needs.append((key, p.quote, q * px * (1 + r.taker_fee) * (1 + band)))
            else:
                needs.append((key, p.base, q))
                needs.append((key, p.quote, q * px * band))  # buying back at exit after a price rise
        for key, asset, amount in needs:
            have = s.inventory.get(key, {}).get(asset)
            if have is None:
                return f"{key}: no {asset} balance reported"
            if float(have) < amount:
                self._need(key, asset, have, amount)
                return f"{key}: {asset} {have} below the {amount:.8g} a cycle needs to enter and exit"
        return ""

    def _need(self, key: str, asset: str, have: Decimal, amount: float) -> None:
        s = self.state
        tag = f"{key}:{asset}"
        if tag in s.needs:
            return
        s.needs.append(tag)
        venue = key.partition(".")[0]
        source, within = "", False
        for k, inv in s.inventory.items():
            if k != key and float(inv.get(asset, ZERO)) >= amount:
                if k.partition(".")[0] == venue:
                    source, within = k, True
                    break
                source = source or k
        self._out.append(RebalanceNeed(task=self.p.task, asset=asset, market=key, have=have,
                                       need=Decimal(repr(amount)), source=source, within_venue=within,
                                       ts=self._now))

    # ------------------------------------------------------------------ exiting

    def _exit_reason(self, c: Cycle) -> str:
        p, now = self.p, self._now
        if now - c.opened_ns >= p.max_hold_s * NS:
            return f"held {(now - c.opened_ns) / NS:.0f}s (max_hold_s)"
        for key in (c.buy, c.sell):
            v = self.views[key]
            if v.perp and v.funding_interval_s > 0:
                short = self.state.pos.get(key, ZERO) < 0
                cost = (-v.funding_rate if short else v.funding_rate) * 1e4  # > 0: the position pays
                if cost >= p.funding_exit_bps:
                    return f"funding turned against the position: {v.funding_rate:+.6f} on {key}"
        buy, sell = self.views[c.buy], self.views[c.sell]
        if not (buy.book.tradable(now, self._max_age_ns) and sell.book.tradable(now, self._max_age_ns)):
            return ""
        held = float(abs(self.state.pos.get(c.lead, ZERO))) or float(c.qty)
        close = closing_spread_bps(buy, sell, held)
        if close is not None and close <= p.exit_bps and self._carry_bps(c) < p.entry_bps:
            return f"converged: closing spread {close:.1f} bps <= exit_bps {p.exit_bps}"
        return ""

    def _carry_bps(self, c: Cycle) -> float:
        """Funding the held position expects over ``expected_hold_s`` from now (bps, + = earned): a cycle whose
        holding still earns an entry's worth is not closed because the spread converged."""
        total = 0.0
        for key in (c.buy, c.sell):
            v = self.views[key]
            pos = self.state.pos.get(key, ZERO)
            if v.perp and pos:
                side = 1 if pos < 0 else -1  # a short receives a positive rate
                total += side * v.funding_rate * v.fundings_within(self._now, self.p.expected_hold_s) * 1e4
        return total

    # ------------------------------------------------------------------ orders out

    def _place(self, c: Cycle | None, key: str, role: Role, side: Side, qty: Decimal, price: Decimal,
               reduce: bool = False) -> None:
        s = self.state
        if c is None:
            c = self._new_cycle(None) if s.cur is None else s.cur
        cid = c.next_id(self.p.task, role)
        r = self.rules[key]
        o = OrderTrack(cid=cid, key=key, role=role, side=side, qty=qty, price=price, cycle=c.n, sent_ns=self._now,
                       reduce_only=reduce and r.perp)
        s.orders[cid] = o
        self._out.append(self._place_command(o))

    def _place_command(self, o: OrderTrack) -> SendCommand:
        """The PlaceOrder of ``o``: the same bytes every time (a repeat is recognised by the gateway's journal)."""
        spec = self.p.spec(o.key)
        cmd = PlaceOrder(client_order_id=o.cid, symbol=self.p.symbol, market=spec.market, side=o.side, qty=o.qty,
                         order_type=OrderType.LIMIT, tif=TimeInForce.IOC, price=o.price, reduce_only=o.reduce_only)
        return SendCommand(task=self.p.task, cycle=o.cycle, venue=spec.venue, account=spec.account, command=cmd,
                           ts=self._now)

    def recovery_commands(self, now: int) -> list[SendCommand]:
        """After a restart, for every order on record as working: a neutralising order (hedge, unwind, trim) the
        venue never acknowledged gets its PlaceOrder again (the gateway answers with the order if it exists and
        places it only once the venue provably has none: never a second order); anything else a QueryOrder."""
        self._now = now
        out: list[SendCommand] = []
        for o in self.state.orders.values():
            if o.live:
                o.asked_ns = now
                out.append(self._place_command(o) if _resendable(o) else self._query_command(o))
        return out

    def _cancel(self, o: OrderTrack) -> None:
        spec = self.p.spec(o.key)
        self._out.append(SendCommand(task=self.p.task, cycle=o.cycle, venue=spec.venue, account=spec.account,
                                     command=CancelOrder(symbol=self.p.symbol, market=spec.market,
                                                         client_order_id=o.cid), ts=self._now))

    def _query(self, o: OrderTrack) -> None:
        o.asked_ns = self._now
        self._out.append(self._query_command(o))

    def _query_command(self, o: OrderTrack) -> SendCommand:
        spec = self.p.spec(o.key)
        return SendCommand(task=self.p.task, cycle=o.cycle, venue=spec.venue, account=spec.account,
                           command=QueryOrder(symbol=self.p.symbol, market=spec.market, client_order_id=o.cid),
                           ts=self._now)

    def _timeouts(self) -> None:
        """An order without an answer within order_timeout_s: a hedge, unwind or trim never acknowledged gets its
        PlaceOrder again (same id, idempotent at the gateway: the exposure it closes is owed whenever it lands);
        anything else a QueryOrder (a lead or exit priced on an old book is asked about, never re-placed)."""
        limit = self.p.order_timeout_s * NS
        for o in self.state.orders.values():
            if o.live and self._now - (o.asked_ns or o.sent_ns) >= limit:
                if _resendable(o):
                    o.asked_ns = self._now
                    self._out.append(self._place_command(o))
                else:
                    self._query(o)

    def _aggressive_price(self, key: str, side: Side) -> Decimal:
        """Best price on ``key`` plus ``hedge_slippage_bps`` towards crossing, on the tick grid; the mark when the
        book is empty; 0 when nothing is known."""
        v = self.views[key]
        buy = side is Side.BUY
        px = v.book.best(buy)
        if not (0 < px < float("inf")):
            px = v.mark
        if px <= 0:
            return ZERO
        slip = self.p.hedge_slippage_bps * 1e-4
        px = px * (1 + slip) if buy else px * (1 - slip)
        return self.rules[key].limit_price(px, side)

    def _reduces(self, key: str, side: Side, qty: Decimal) -> bool:
        pos = self.state.pos.get(key, ZERO)
        return (pos > 0 and side is Side.SELL or pos < 0 and side is Side.BUY) and qty <= abs(pos)

    # ------------------------------------------------------------------ helpers

    def _go(self, new: State, reason: str) -> None:
        s = self.state
        if new is s.state:
            return
        old = s.state
        s.state = new
        if new in (State.HALTED, State.ERROR, State.SYNCING):
            s.reason = reason
        c = s.cur
        self._out.append(Transition(task=self.p.task, cycle=c.n if c else s.cycle, old=old, new=new, reason=reason,
                                    ts=self._now))

    def _live(self) -> bool:
        return any(o.live for o in self.state.orders.values())

    def _orders_of(self, c: Cycle | None, role: Role) -> list[OrderTrack]:
        if c is None:
            return []
        return [o for o in self.state.orders.values() if o.cycle == c.n and o.role is role]

    def _has_position(self) -> bool:
        """Any market holding more than dust: what no order can trade away (below a step, the minimum quantity, or
        the minimum notional at the market's price). Dust is reported as a cycle's residual, never chased."""
        for k, v in self.state.pos.items():
            if v != 0 and not self._dust(k, v):
                return True
        return False

    def _dust(self, key: str, v: Decimal) -> bool:
        r = self.rules.get(key)
        if r is None:
            return False
        q = r.floor_base(abs(v))
        if q <= 0 or q < r.base_min:
            return True
        if r.min_notional > 0:
            px = self.views[key].book.mid() or self.views[key].mark
            return bool(px) and q * Decimal(repr(px)) < r.min_notional
        return False

    def _why_not_listed(self) -> str:
        """Why the rules forbid entering ("" if they do not): a market without reference data, or not trading."""
        for k in self._keys:
            r = self.rules.get(k)
            if r is None:
                return f"{k}: no reference data{_UNLISTED}"
            if r.ref.status is not SymbolStatus.TRADING:
                return f"{k}: {self.p.symbol} {r.ref.status.value} at the venue{_UNLISTED}"
        return ""

    def _why_not_ready(self) -> str:
        why = self._why_not_listed()
        if why:
            return why
        now = self._now
        for k in self._keys:
            v = self.views[k]
            why = v.book.why_not(now, self._max_age_ns)
            if why:
                return f"{k}: {why}"
            if not v.funding_known():
                return f"{k}: funding rate and interval not known yet"
            if k not in self.state.inventory:
                return f"{k}: no balances reported"
        return ""

    def _track_exposure(self, report: bool) -> None:
        s = self.state
        c = s.cur
        if c is None:
            return
        net = self.net
        now = self._now
        if abs(net) > self.tolerance():
            if c.unhedged_since == 0:
                c.unhedged_since = now
            c.max_unhedged = max(c.max_unhedged, abs(net))
            c.max_unhedged_ns = max(c.max_unhedged_ns, now - c.unhedged_since)
        elif c.unhedged_since:
            c.max_unhedged_ns = max(c.max_unhedged_ns, now - c.unhedged_since)
            c.unhedged_since = 0
        if report:
            self._out.append(ExposureReport(task=self.p.task, cycle=c.n, net=net, positions=dict(s.pos),
                                            max_unhedged=c.max_unhedged, max_unhedged_ns=c.max_unhedged_ns, ts=now))

    def _roll_day(self) -> None:
        s = self.state
        day = self._now // DAY_NS
        if day != s.day:
            s.day, s.day_pnl, s.cycles_today = day, ZERO, 0

    def _day_add(self, x: Decimal) -> None:
        self._roll_day()
        self.state.day_pnl += x


_UNLISTED = ": no entry"  # ends every reason the rules give (no reference data, not trading)


def _resendable(o: OrderTrack) -> bool:
    """Never acknowledged, and closing exposure: its PlaceOrder may be repeated under the same id."""
    return o.role in (Role.HEDGE, Role.UNWIND, Role.TRIM) and o.status is OrderStatus.PENDING and o.done == 0


def _cycle_of(cid: str, task: str) -> int:
    """The cycle number in ``<task>-<cycle>-<role><n>`` (-1 when it is not one of ours)."""
    part = cid[len(task) + 1:].partition("-")[0]
    return int(part) if part.isdigit() else -1


def _fields(o: Opportunity) -> dict:
    return {f: getattr(o, f) for f in o.__struct_fields__}


__all__ = ["Strategy"]
