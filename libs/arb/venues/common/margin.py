"""Margin tracking rules, the same for every futures trading gateway: pure logic, no I/O (specs/gateways.md,
"Margin and liquidation warnings", "Venue funding records").

* ``MarginTracker``: is a freshly read ``Margin`` worth publishing? Yes when any margin figure differs from the last
  one published (account: total, available, position and order margin; per position: size, leverage, entry and
  liquidation price, margin, maintenance rate; a position opened or gone), or a maintenance margin moved by more
  than ``MM_TOLERANCE`` of the last published one (it follows the mark). The mark itself, unrealised PnL and the
  distance move on every tick and never trigger a publish alone: their risk is ``LiqWatch``'s.
* ``LiqWatch``: one ``LiquidationWarning`` per crossing. With fraction ``f`` and a position's distance
  ``d = (mark - liq) / mark`` (long; ``(liq - mark) / mark`` short; compared exactly, as fractions):

  - clear -> ``warning`` when ``d < f``;
  - warned -> ``worse`` when ``d <= WORSE_FACTOR x`` the distance of the last warning (the distance halved again);
  - warned -> ``cleared`` when ``d >= f x (1 + HYSTERESIS)``, or the position is gone / has no liquidation price;
  - anything else: nothing (a distance wobbling around ``f`` gives one warning, not one per tick).
* ``FundingLedger``: which venue funding records are new. A record is known by (symbol, settlement time ns); the
  ones already published (read back from the ORD stream at start) are never published again, and nothing older
  than the starting point is. Reads go back ``OVERLAP_S`` before the newest record seen, so a record the venue
  writes late is still found; keys are kept for twice that.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import msgspec

from ...core.margin import LiquidationWarning, Margin, PositionMargin, WarningLevel
from ...core.numeric import ZERO

MM_TOLERANCE = Decimal("0.01")  # a maintenance margin moving by more than 1 % of the last published is a change
HYSTERESIS = Decimal("0.25")  # a warning clears only at 1.25 x the fraction
WORSE_FACTOR = Decimal("0.5")  # warned again when the distance halved since the last warning
NS = 1_000_000_000


def _position_key(p: PositionMargin) -> tuple:
    return (p.symbol, p.size, p.contracts, p.leverage, p.entry_price, p.liq_price, p.margin, p.maintenance_rate)


def margin_key(m: Margin) -> tuple:
    """Everything compared exactly (identity, account figures, each position's figures), timestamps excluded."""
    return (m.venue, m.market, m.account, m.asset, m.total, m.available, m.position_margin, m.order_margin,
            tuple(_position_key(p) for p in m.positions))


def _moved(old: Decimal, new: Decimal) -> bool:
    if old == new:
        return False
    if not old:
        return True
    return abs(new - old) > abs(old) * MM_TOLERANCE


def changed(last: Margin | None, new: Margin) -> bool:
    """``new`` differs from ``last`` in a margin figure (see the module doc)."""
    if last is None or margin_key(last) != margin_key(new):
        return True
    if _moved(last.maintenance_margin, new.maintenance_margin):
        return True
    return any(_moved(a.maintenance_margin, b.maintenance_margin)
               for a, b in zip(last.positions, new.positions, strict=True))


class MarginTracker:
    """The last ``Margin`` published, and whether a new one is worth publishing."""

    def __init__(self) -> None:
        self.last: Margin | None = None

    def should_publish(self, m: Margin, force: bool = False) -> bool:
        return force or changed(self.last, m)

    def published(self, m: Margin) -> None:
        self.last = m


def _gap(p: PositionMargin) -> Fraction | None:
    """The exact distance to liquidation as a fraction of the mark (may be <= 0: at or past it); None: no risk."""
    if not p.size or p.mark_price <= 0 or p.liq_price <= 0:
        return None
    gap = p.mark_price - p.liq_price if p.size > 0 else p.liq_price - p.mark_price
    return Fraction(gap) / Fraction(p.mark_price)


class LiqStep(NamedTuple):
    """One warning ``LiqWatch.steps`` calls for, and the state its symbol moves to once it is published."""

    warning: LiquidationWarning
    distance: Fraction | None  # the distance at this warning; None: cleared (the symbol leaves ``warned``)


class LiqWatch:
    """Warnings for one account's positions, by the rule in the module doc. ``fraction`` 0 = off.

    Two steps, so that a warning that could not be published is decided again at the next read and one that was
    published is never repeated: ``steps(m)`` says what ``m`` calls for without changing anything, ``apply(step)``
    records one warning as published. ``check`` does both at once (for callers that cannot fail in between)."""

    def __init__(self, fraction: Decimal) -> None:
        if not ZERO <= fraction < 1:
            raise ValueError(f"fraction: expected 0 (off) .. 1, got {fraction}")
        self.fraction = fraction
        self._f = Fraction(fraction)
        self._clear = Fraction(fraction) * (1 + Fraction(HYSTERESIS))
        self.warned: dict[str, Fraction] = {}  # symbol -> distance at its last warning

    def check(self, m: Margin) -> list[LiquidationWarning]:
        """The warnings ``m`` calls for (each position at most one), in symbol order, all recorded as published."""
        out = []
        for step in self.steps(m):
            self.apply(step)
            out.append(step.warning)
        return out

    def steps(self, m: Margin) -> list[LiqStep]:
        """The warnings ``m`` calls for (each position at most one), in symbol order; changes nothing."""
        if not self.fraction:
            return []
        out: list[LiqStep] = []
        seen: set[str] = set()
        for p in m.positions:
            seen.add(p.symbol)
            moved = self._level(p.symbol, _gap(p))
            if moved is not None:
                out.append(LiqStep(self._warning(m, p.symbol, moved[0], p), moved[1]))
        for symbol in sorted(set(self.warned) - seen):  # warned, and the position is gone
            out.append(LiqStep(self._warning(m, symbol, WarningLevel.CLEARED, None), None))
        return out

    def apply(self, step: LiqStep) -> None:
        """``step``'s warning was published: its symbol's state moves."""
        if step.distance is None:
            self.warned.pop(step.warning.symbol, None)
        else:
            self.warned[step.warning.symbol] = step.distance

    def _level(self, symbol: str, d: Fraction | None) -> tuple[WarningLevel, Fraction | None] | None:
        last = self.warned.get(symbol)
        if d is None:
            return None if last is None else (WarningLevel.CLEARED, None)
        d = max(d, Fraction(0))
        if last is None:
            return (WarningLevel.WARNING, d) if d < self._f else None
        if d >= self._clear:
            return WarningLevel.CLEARED, None
        if d <= last * Fraction(WORSE_FACTOR) and d < last:
            return WarningLevel.WORSE, d
        return None

    def _warning(self, m: Margin, symbol: str, level: WarningLevel, p: PositionMargin | None) -> LiquidationWarning:
        return LiquidationWarning(
            venue=m.venue, market=m.market, account=m.account, symbol=symbol, level=level,
            size=p.size if p is not None else ZERO, mark_price=p.mark_price if p is not None else ZERO,
            liq_price=p.liq_price if p is not None else ZERO,
            distance=(p.distance if p is not None and p.distance is not None else ZERO), threshold=self.fraction,
            ts_event=m.ts_event, ts_recv=m.ts_recv, ts_pub=m.ts_pub)


class FundingLedger:
    """Which funding records (symbol, settlement time ns) are new; see the module doc."""

    OVERLAP_S = 300

    def __init__(self, start_ns: int) -> None:
        self.floor_ns = start_ns  # nothing older is ever published
        self.newest_ns = start_ns
        self._seen: set[tuple[str, int]] = set()

    def restore(self, symbol: str, ts_ns: int) -> None:
        """A record published before (read back from the stream): never again, and reads start from it."""
        self._seen.add((symbol, ts_ns))
        self.newest_ns = max(self.newest_ns, ts_ns)

    def from_s(self) -> int:
        """Unix seconds to read the venue's records from."""
        return max(0, self.newest_ns // NS - self.OVERLAP_S)

    def is_new(self, symbol: str, ts_ns: int) -> bool:
        return ts_ns >= self.floor_ns and (symbol, ts_ns) not in self._seen

    def published(self, symbol: str, ts_ns: int) -> None:
        self._seen.add((symbol, ts_ns))
        self.newest_ns = max(self.newest_ns, ts_ns)
        keep = self.newest_ns - 2 * self.OVERLAP_S * NS
        if len(self._seen) > 64:
            self._seen = {k for k in self._seen if k[1] >= keep}

    def new_records(self, records: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Of ``records`` (any order, repeats allowed), the new ones oldest first, each once."""
        return sorted({r for r in records if self.is_new(*r)}, key=lambda r: (r[1], r[0]))


def stamp(m: Margin, ts_pub: int, correction: bool) -> Margin:
    return msgspec.structs.replace(m, ts_pub=ts_pub, correction=correction)


__all__ = ["FundingLedger", "LiqStep", "LiqWatch", "MarginTracker", "changed", "margin_key", "stamp"]
