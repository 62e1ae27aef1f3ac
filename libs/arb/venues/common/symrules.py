"""Symbol rules kept current on the trading side: the same periodic refresh for every venue's trading gateway
(specs/gateways.md, "Symbol rules on the trading side").

The md gateways put the rules into REF (``refpub``) and the strategy prices with them; a trading gateway that kept
the rules it read at start would round, check and (futures) convert base <-> contracts with stale ones. So each
trading gateway re-reads its venue's rules every ``options.symbol_refresh_s`` through a ``RuleRefresher``:

* the fresh ``SymbolMap`` replaces the held one at once (``prepare`` of the next command uses it);
* every change is logged once, one line per (symbol, field): ``key field old -> new``;
* a symbol held before and absent from the fresh read is kept with status ``delisted`` (orders refused, while
  events of orders already placed still convert), like ``refpub.refresh``;
* ``on_change`` is called with the changes (the Gate futures gateway reconciles after a multiplier change);
* a failed read is logged (rate-limited) and counted; the held rules stay and the next turn reads again;
* ``refresh_now()`` reads at once, off the caller's path, when something says the held rules are stale (the Gate
  futures gateway: a position whose value disagrees with contracts x multiplier); one such read at a time, at most
  one per ``now_min_interval_s``.

The venue supplies only ``read`` (its rules endpoint, parsed to a ``SymbolMap``) and where the map is held.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from ...core.enums import SymbolStatus
from ...core.symbols import SymbolInfo, SymbolMap
from ...obs.log import RateLimitedLog, get_logger

log = get_logger(__name__)

# what a change is made of: SymbolInfo fields that are rules (identity fields excluded)
RULE_FIELDS = tuple(f for f in SymbolInfo.__struct_fields__ if f not in ("venue", "market", "symbol"))


class RuleChange(msgspec.Struct, frozen=True):
    """One rule of one symbol that moved (``field`` "listed" for a symbol new or gone)."""

    key: str  # venue.market.symbol
    symbol: str
    field: str
    old: object
    new: object

    def __str__(self) -> str:
        return f"{self.key} {self.field} {_show(self.old)} -> {_show(self.new)}"


def _show(x: object) -> str:
    v = getattr(x, "value", x)
    return str(v)


def merge(held: SymbolMap, fresh: SymbolMap) -> tuple[SymbolMap, list[RuleChange]]:
    """The map to hold after reading ``fresh`` while holding ``held``, and what changed (symbol order). A symbol of
    ``held`` missing from ``fresh`` stays, with status delisted."""
    infos = dict(fresh.info_by_name)
    changes: list[RuleChange] = []
    prefix = f"{held.venue.value}.{held.market.value}"
    for name, old in held.info_by_name.items():
        if name not in infos:
            gone = old if old.status is SymbolStatus.DELISTED else msgspec.structs.replace(
                old, status=SymbolStatus.DELISTED)
            infos[name] = gone
            if gone is not old:
                changes.append(RuleChange(f"{prefix}.{name}", name, "status", old.status, gone.status))
            continue
        new = infos[name]
        for f in RULE_FIELDS:
            a, b = getattr(old, f), getattr(new, f)
            if a != b:
                changes.append(RuleChange(f"{prefix}.{name}", name, f, a, b))
    if held.info_by_name:  # at the first read everything is new: not a change
        for name in fresh.info_by_name.keys() - held.info_by_name.keys():
            changes.append(RuleChange(f"{prefix}.{name}", name, "listed", False, True))
    changes.sort(key=lambda c: (c.symbol, c.field))
    return SymbolMap(fresh.venue, fresh.market, infos.values()), changes


class RuleRefresher:
    """Reads a venue's rules (``read``), merges them into the held map (``get`` / ``put``), logs each change."""

    def __init__(self, label: str, read: Callable[[], Awaitable[SymbolMap]], get: Callable[[], SymbolMap],
                 put: Callable[[SymbolMap], None], interval_s: float,
                 on_change: Callable[[list[RuleChange]], None] | None = None, now_min_interval_s: float = 5.0) -> None:
        self.label = label
        self.read = read
        self.get = get
        self.put = put
        self.interval_s = interval_s
        self.on_change = on_change
        self.refreshes = 0  # reads applied
        self.failures = 0
        self.changes = 0  # (symbol, field) changes seen
        self._rlog = RateLimitedLog(log, 60.0)
        self._lock = asyncio.Lock()
        self.now_min_interval_s = now_min_interval_s
        self.now_task: asyncio.Task | None = None  # the read ``refresh_now`` started (the owner cancels it at stop)
        self.now_requests = 0  # reads started by ``refresh_now``
        self._now_at = -1e18

    async def refresh(self) -> list[RuleChange]:
        """Read once and apply; returns the changes (also logged). Raises what the read raises (nothing applied)."""
        async with self._lock:
            fresh = await self.read()
            held, changes = merge(self.get(), fresh)
            self.put(held)
            self.refreshes += 1
        for c in changes:
            log.warning("%s: symbol rule changed: %s", self.label, c)
        self.changes += len(changes)
        if changes and self.on_change is not None:
            self.on_change(changes)
        return changes

    def refresh_now(self) -> bool:
        """Read again now, in a task (callable from a socket callback); not while such a read is running, nor within
        ``now_min_interval_s`` of the last one started. Returns True if a read was started."""
        if self.now_task is not None and not self.now_task.done():
            return False
        t = time.monotonic()
        if t - self._now_at < self.now_min_interval_s:
            return False
        self._now_at = t
        self.now_requests += 1
        self.now_task = asyncio.get_running_loop().create_task(self._refresh_logged(), name=f"{self.label} now")
        return True

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as e:  # noqa: BLE001 -- the periodic loop reads again
            self.failures += 1
            self._rlog(("symbols", self.label), "%s: symbol rules refresh failed (held rules kept): %r", self.label, e)

    async def run(self) -> None:
        """Refresh every ``interval_s`` until cancelled; a failed read keeps the held rules and is retried."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self._refresh_logged()  # a failure keeps the held rules and is read again at the next turn


__all__ = ["RULE_FIELDS", "RuleChange", "RuleRefresher", "merge"]
