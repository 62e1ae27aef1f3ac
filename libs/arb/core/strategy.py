"""The strategy's messages on the bus: what its shell feeds it besides market data and execution events, and what
it emits on ``strat.<task>.<kind>`` (specs/strategy.md, specs/subjects.md).

They live in ``core`` (not ``arb.strategy``) so the bus catalogue (``arb.bus.contract``) can bind the ``strat.*``
subjects to them; ``arb.strategy.events`` and ``arb.strategy.opportunity`` re-export them.

What the strategy core consumes besides the bus's own market-data and execution messages, and what it emits.

Inputs the core takes as they come off the bus: ``BookSnapshot``, ``BookDelta``, ``BookTicker``, ``MarketStatus``,
``FundingRate``, ``MarkPrice``, ``IndexPrice`` (market data), ``OrderUpdate``, ``Fill``, ``Balance``, ``Position``
(execution) and ``SymbolRef`` (reference data). The shell (the coordinator, or a replay) adds the events below: the
outcome of a command it sent, the clock, funding the venue paid, and the operator's controls.

Outputs are bus messages too: the coordinator appends each to the STRAT stream before acting on it, so a replay of
that stream reproduces every decision.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from .commands import CancelOrder, PlaceOrder, QueryOrder
from .enums import Market, Venue
from .messages import message


class State(enum.StrEnum):
    IDLE = "idle"
    SYNCING = "syncing"
    ANALYZING = "analyzing"
    REBALANCING = "rebalancing"
    MANAGING_ORDERS = "managing_orders"
    WAITING_ORDERS = "waiting_orders"
    MONITORING = "monitoring"
    COMPLETING = "completing"
    FINALIZING = "finalizing"
    HALTED = "halted"
    ERROR = "error"


# ---------------------------------------------------------------------------------------------- inputs from the shell


@message
class Start(msgspec.Struct, frozen=True, tag="strat_start"):
    """Enable the task (it starts disabled, in IDLE)."""


@message
class Tick(msgspec.Struct, frozen=True, tag="strat_tick"):
    """Time passed: timeouts, holding time and book age are checked against the ``now`` of every step."""


@message
class Halt(msgspec.Struct, frozen=True, tag="strat_halt"):
    """Stop entering; cancel working orders; neutralise net exposure; keep a hedged position."""

    reason: str = "operator"


@message
class Resume(msgspec.Struct, frozen=True, tag="strat_resume"):
    reason: str = "operator"


@message
class Flatten(msgspec.Struct, frozen=True, tag="strat_flatten"):
    """Close every leg, then halt."""

    reason: str = "operator"


@message
class CommandFailed(msgspec.Struct, frozen=True, kw_only=True, tag="strat_cmd_failed"):
    """A PlaceOrder / CancelOrder got an ErrorReply (or no reply): ``status_unknown`` means it may be at the venue."""

    client_order_id: str
    verb: str = "place"  # the command that failed: place, cancel or query
    kind: str  # ErrorKind value, or "timeout"
    message: str
    status_unknown: bool = False


@message
class OrderNotFound(msgspec.Struct, frozen=True, kw_only=True, tag="strat_order_absent"):
    """The gateway says the venue has no order with this id (past its request window): it never traded."""

    client_order_id: str


@message
class FundingPaid(msgspec.Struct, frozen=True, kw_only=True, tag="strat_funding_paid"):
    """Funding settled on the task's perpetual position: ``amount`` in quote, + received, - paid."""

    venue: Venue
    market: Market
    symbol: str
    amount: Decimal
    rate: float
    ts: int


Control = Start | Halt | Resume | Flatten

# ---------------------------------------------------------------------------------------------------------- outputs


@message
class SendCommand(msgspec.Struct, frozen=True, kw_only=True, tag="strat_cmd"):
    """A command for the trading gateway of ``venue``/``account``; recorded before it is sent."""

    task: str
    cycle: int
    venue: Venue
    account: str
    command: PlaceOrder | CancelOrder | QueryOrder
    ts: int


@message
class Transition(msgspec.Struct, frozen=True, kw_only=True, tag="strat_transition"):
    task: str
    cycle: int
    old: State
    new: State
    reason: str
    ts: int


@message
class ExposureReport(msgspec.Struct, frozen=True, kw_only=True, tag="strat_exposure"):
    """Net base across the task's markets after a fill, and the cycle's worst so far."""

    task: str
    cycle: int
    net: Decimal
    positions: dict[str, Decimal]
    max_unhedged: Decimal
    max_unhedged_ns: int
    ts: int


@message
class RebalanceNeed(msgspec.Struct, frozen=True, kw_only=True, tag="strat_rebalance"):
    """Inventory a direction needs but lacks. ``within_venue``: a spot <-> futures move on one venue; otherwise a
    transfer between venues, which the engine does not make (reported for the operator)."""

    task: str
    asset: str
    market: str  # where it is short
    have: Decimal
    need: Decimal
    source: str  # a market of the task holding enough, "" when none does
    within_venue: bool
    ts: int


@message
class CycleReport(msgspec.Struct, frozen=True, kw_only=True, tag="strat_cycle"):
    """One closed cycle, its PnL itemised. ``realised`` = cash of fills - fees paid in quote + funding (what the
    quote balances changed by); ``residual`` is base left on a market (dust, base-asset fees), valued at its mark in
    ``residual_value``; fees in any other asset are listed in ``fees`` and not valued."""

    task: str
    cycle: int
    buy: str
    sell: str
    qty: Decimal  # base the entry put on (filled lead)
    opened_ns: int
    closed_ns: int
    entry_spread_bps: float
    expected_net_bps: float
    cash: Decimal
    fees: dict[str, Decimal]
    fees_quote: Decimal
    funding: Decimal
    realised: Decimal
    residual: dict[str, Decimal]
    residual_value: Decimal
    pnl: Decimal
    max_unhedged: Decimal
    max_unhedged_ns: int
    orders: int
    reason: str
    fills_missing: bool = False


@message
class Opportunity(msgspec.Struct, frozen=True, kw_only=True, tag="opportunity"):
    """One priced direction: buy ``qty`` base on ``buy``, sell it on ``sell`` (published sampled on strat.<task>.opp)."""

    task: str
    buy: str  # market key, e.g. mexc.spot
    sell: str
    qty: Decimal  # base, on both legs' grids
    buy_vwap: float
    sell_vwap: float
    buy_limit: float  # worst level touched: an IOC at this price takes the walked depth
    sell_limit: float
    spread_bps: float  # gross entry spread
    fees_bps: float  # entry + exit taker fees of both legs
    funding_bps: float  # expected carry over the hold (signed, + = earned)
    net_bps: float
    net_quote: float
    ts: int
    taken: bool = False
    reason: str = ""  # why it was not taken ("" when taken or only seen)


__all__ = [
    "CommandFailed",
    "Control",
    "CycleReport",
    "ExposureReport",
    "Flatten",
    "FundingPaid",
    "Halt",
    "Opportunity",
    "OrderNotFound",
    "RebalanceNeed",
    "Resume",
    "SendCommand",
    "Start",
    "State",
    "Tick",
    "Transition",
]
