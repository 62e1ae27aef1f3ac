"""Per order: the contract multiplier (base per contract) it was placed with (specs/gateways.md, "Contract multiplier
changes").

A futures trading gateway converts an order's events (Order, Fill) contracts -> base with the multiplier the order
was placed with, never with one the venue changed to since. That memory has three sources, in order of trust:

* ``placed``: this process sized the order with it (recorded before the request goes out);
* ``learn``: an earlier process's record: the order journal's intent (``Intent.contract_multiplier``) or the order's
  last event in ORD (``qty / contracts``, exact), read at start; never overrides what is already held;
* otherwise the caller uses the contract's current multiplier (an order not placed by us, or older than both).

Memory is bounded without forgetting a working order: an entry is pruned once its order is final (filled, cancelled,
expired, rejected) and every filled contract was converted as a Fill (``done_keep_s`` later: a reconcile or a query
may still ask about it), or ``fill_grace_s`` after it became final if the fills never all came. Every use refreshes
its recency. Past ``cap`` the loud path: finished orders are dropped first (oldest first), a working order only if
nothing else is left (each logged as an error).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal

from ...obs.log import RateLimitedLog, get_logger

log = get_logger(__name__)


class _Entry:
    __slots__ = ("filled", "fills", "final_at", "multiplier")

    def __init__(self, multiplier: Decimal) -> None:
        self.multiplier = multiplier
        self.final_at = 0.0  # clock when the order was first seen final (0: working)
        self.filled = Decimal(0)  # contracts filled, as the final order event says
        self.fills: dict[str, Decimal] = {}  # trade id -> contracts converted as a Fill

    def converted(self) -> bool:
        return sum(self.fills.values(), Decimal(0)) >= self.filled


class OrderMultipliers:
    """client order id -> the contract multiplier its events convert with."""

    def __init__(self, label: str, cap: int = 100_000, done_keep_s: float = 600.0, fill_grace_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.cap = cap
        self.done_keep_s = done_keep_s
        self.fill_grace_s = fill_grace_s
        self._clock = clock
        self._m: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        # finished orders by the time they were finished (or all converted): pruning reads from the front
        self._done: OrderedDict[str, float] = OrderedDict()  # final, every fill converted
        self._waiting: OrderedDict[str, float] = OrderedDict()  # final, fills outstanding
        self.pruned = 0
        self.dropped_live = 0  # working orders dropped at the cap (each logged)
        self._rlog = RateLimitedLog(log, 60.0, level="error")

    def __len__(self) -> int:
        return len(self._m)

    def __contains__(self, cid: str) -> bool:
        return cid in self._m

    def get(self, cid: str) -> Decimal | None:
        e = self._m.get(cid) if cid else None
        if e is None:
            return None
        self._m.move_to_end(cid)
        return e.multiplier

    def placed(self, cid: str, multiplier: Decimal) -> None:
        """This process sizes order ``cid`` with ``multiplier`` (before the request goes out)."""
        if not cid:
            return
        self._forget(cid)
        self._m[cid] = _Entry(multiplier)
        self._trim()

    def learn(self, cid: str, multiplier: Decimal | None, final: bool = False, filled: Decimal | None = None) -> bool:
        """An earlier process's record of ``cid``'s multiplier; kept only if nothing is held for it. ``final``: the
        order is known finished (then ``filled`` contracts, if given, are still to be converted)."""
        if not cid or multiplier is None or multiplier <= 0 or cid in self._m:
            return False
        self._m[cid] = _Entry(multiplier)
        if final:
            self.order_seen(cid, True, filled if filled is not None else Decimal(0))
        self._trim()
        return True

    def order_seen(self, cid: str, final: bool, filled_contracts: Decimal) -> None:
        """An event of ``cid`` was converted: a final one starts its way out."""
        e = self._m.get(cid) if cid else None
        if e is None or not final:
            return
        e.filled = max(e.filled, filled_contracts)
        now = self._clock()
        if not e.final_at:
            e.final_at = now
        self._settle(cid, e, now)
        self.prune(now)

    def fill_seen(self, cid: str, trade_id: str, contracts: Decimal) -> None:
        """A Fill of ``cid`` was converted (a trade converted twice counts once)."""
        e = self._m.get(cid) if cid else None
        if e is None:
            return
        e.fills[trade_id] = contracts
        if e.final_at:
            self._settle(cid, e, self._clock())

    def _settle(self, cid: str, e: _Entry, now: float) -> None:
        if cid in self._done:
            return
        if e.converted():
            self._waiting.pop(cid, None)
            self._done[cid] = now
        elif cid not in self._waiting:
            self._waiting[cid] = e.final_at

    def prune(self, now: float | None = None) -> int:
        """Drop finished orders past their time; returns how many."""
        now = self._clock() if now is None else now
        n = 0
        for queue, keep in ((self._done, self.done_keep_s), (self._waiting, self.fill_grace_s)):
            while queue:
                cid, at = next(iter(queue.items()))
                if now - at < keep:
                    break
                queue.popitem(last=False)
                self._m.pop(cid, None)
                n += 1
        self.pruned += n
        return n

    def _forget(self, cid: str) -> None:
        self._m.pop(cid, None)
        self._done.pop(cid, None)
        self._waiting.pop(cid, None)

    def _trim(self) -> None:
        if len(self._m) <= self.cap:
            return
        self.prune()
        if len(self._m) <= self.cap:
            return
        self._rlog(("cap", self.label), "%s: %d orders' contract multipliers held, cap %d: finished orders are "
                   "dropped before their time (their late events convert with the current multiplier)",
                   self.label, len(self._m), self.cap)
        while len(self._m) > self.cap and (self._done or self._waiting):
            queue = self._done if self._done else self._waiting
            cid, _ = queue.popitem(last=False)
            self._m.pop(cid, None)
            self.pruned += 1
        while len(self._m) > self.cap:  # only working orders left: the least recently used goes, loudly
            cid, e = self._m.popitem(last=False)
            self.dropped_live += 1
            self._rlog(("live", self.label), "%s: cap %d reached with working orders only: order %s forgets its "
                       "multiplier %s (its events now convert with the contract's current one); %d dropped so far",
                       self.label, self.cap, cid, e.multiplier, self.dropped_live)


__all__ = ["OrderMultipliers"]
