"""The task's books: its orders, its base position on each market, and each cycle's money, all in exact Decimals.

Positions come from what the venue reported and nothing else: for each order, the larger of the base filled in its
fills and the filled quantity of its latest update (an update can arrive before its fills; a missing fill report
never makes a position smaller). A fee charged in the base asset reduces the base actually held, so it reduces the
position too. Money comes from fills only: ``cash`` is what sells brought minus what buys cost; ``realised`` adds
the fees paid in the quote asset (negative) and funding, which is exactly what the quote balances changed by.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from ..core.enums import OrderStatus, Side
from .events import State

ZERO = Decimal(0)


class Role(enum.StrEnum):
    """What an order is for; its letter is part of the client order id."""

    LEAD = "L"  # the entry leg sent first
    HEDGE = "H"  # takes the opposite side of filled lead quantity on the other market
    UNWIND = "U"  # reverses filled lead quantity when it could not be hedged
    EXIT = "X"  # closes a market's position when the cycle exits
    TRIM = "T"  # a residual below the hedge market's grid, closed on the spot market


class OrderTrack(msgspec.Struct, kw_only=True):
    """One order the task sent, as far as the venue has told."""

    cid: str
    key: str  # market key
    role: Role
    side: Side
    qty: Decimal  # base
    price: Decimal | None
    cycle: int
    sent_ns: int
    status: OrderStatus = OrderStatus.PENDING
    reported: Decimal = ZERO  # filled base per the latest order update
    filled: Decimal = ZERO  # filled base per fills
    asked_ns: int = 0  # last QueryOrder sent
    answered: bool = False  # the venue answered (an update, a fill, a refusal)
    reduce_only: bool = False  # as sent (a repeat of the PlaceOrder must carry the same parameters)
    trade_ids: list[str] = msgspec.field(default_factory=list)

    @property
    def done(self) -> Decimal:
        return max(self.filled, self.reported)

    @property
    def live(self) -> bool:
        return self.status.is_open

    @property
    def settled(self) -> bool:
        """Finished, and every fill the venue reported for it has arrived."""
        return not self.live and self.filled >= self.reported


class Cycle(msgspec.Struct, kw_only=True):
    """One entry -> hold -> exit round trip and its money."""

    n: int
    buy: str
    sell: str
    lead: str
    hedge: str
    qty: Decimal  # base asked of the lead at entry
    opened_ns: int
    spread_bps: float = 0.0
    net_bps: float = 0.0
    exiting: bool = False
    exit_reason: str = ""
    flatten: bool = False
    unwinding: bool = False
    hedge_fail: int = 0
    hedge_orders: int = 0
    unwind_fail: int = 0
    exit_orders: int = 0
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    entered: Decimal = ZERO  # lead base filled at entry
    cash: Decimal = ZERO
    fees: dict[str, Decimal] = msgspec.field(default_factory=dict)
    fees_quote: Decimal = ZERO  # fees paid in the quote asset
    funding: Decimal = ZERO
    max_unhedged: Decimal = ZERO
    unhedged_since: int = 0
    max_unhedged_ns: int = 0
    finalize_ns: int = 0
    misses: int = 0  # hedge / unwind / exit / trim orders in a row that took nothing
    retry_at_ns: int = 0  # the next such order not before this (backoff 0.2 s doubling to 5 s)

    def next_id(self, task: str, role: Role) -> str:
        """``<task>-<cycle>-<role><n>``: deterministic, so a replay or a retry names the same order."""
        n = self.counters.get(role.value, 0) + 1
        self.counters[role.value] = n
        return f"{task}-{self.n}-{role.value}{n}"


class FundingEstimate(msgspec.Struct, kw_only=True):
    """A settlement booked from rate x mark (no venue record yet); replaced by the venue's ``FundingPaid``."""

    key: str
    at_ns: int
    amount: Decimal
    cycle: int  # the cycle it was booked to (0: the task)


class TaskState(msgspec.Struct, kw_only=True):
    """Everything a task must keep across a restart (snapshotted by the coordinator on every transition)."""

    state: State = State.IDLE
    enabled: bool = False
    cycle: int = 0  # the last cycle number used
    cur: Cycle | None = None
    pos: dict[str, Decimal] = msgspec.field(default_factory=dict)  # base per market, from this task's orders
    orders: dict[str, OrderTrack] = msgspec.field(default_factory=dict)
    realised: Decimal = ZERO  # every closed cycle's realised PnL plus funding booked outside cycles
    day: int = 0  # UTC day number of day_pnl
    day_pnl: Decimal = ZERO
    cycles_today: int = 0
    last_close_ns: int = 0
    reason: str = ""  # why the state is what it is (halt / error reasons; what syncing waits for)
    halt_after: bool = False  # FINALIZING then HALTED (halt or flatten asked mid-cycle)
    inventory: dict[str, dict[str, Decimal]] = msgspec.field(default_factory=dict)  # market -> asset -> free
    needs: list[str] = msgspec.field(default_factory=list)  # rebalance needs reported and not yet resolved
    pruned_below: int = 0  # settled orders of cycles below this were dropped: their echoes are ignored
    funding_reported: list[str] = msgspec.field(default_factory=list)  # markets whose FundingPaid the shell sends
    funding_estimates: list[FundingEstimate] = msgspec.field(default_factory=list)  # newest last, at most 8
    funding_booked: list[str] = msgspec.field(default_factory=list)  # "<market>@<ts>" of FundingPaid booked, last 32


def book_fill(c: Cycle | None, side: Side, price: Decimal, qty: Decimal, fee: Decimal, fee_asset: str,
              quote: str) -> None:
    """Add one fill's money to its cycle."""
    if c is None:
        return
    c.cash += price * qty if side is Side.SELL else -(price * qty)
    if fee:
        c.fees[fee_asset] = c.fees.get(fee_asset, ZERO) + fee
        if fee_asset == quote:
            c.fees_quote += fee


def realised(c: Cycle) -> Decimal:
    return c.cash - c.fees_quote + c.funding


__all__ = ["Cycle", "OrderTrack", "Role", "TaskState", "book_fill", "realised"]
