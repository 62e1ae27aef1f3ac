"""What the strategy core consumes besides the bus's own market-data and execution messages, and what it emits.

Inputs the core takes as they come off the bus: ``BookSnapshot``, ``BookDelta``, ``BookTicker``, ``MarketStatus``,
``FundingRate``, ``MarkPrice``, ``IndexPrice`` (market data), ``OrderUpdate``, ``Fill``, ``Balance``, ``Position``
(execution) and ``SymbolRef`` (reference data). The shell (the coordinator, or a replay) adds the events below: the
outcome of a command it sent, the clock, funding the venue paid, and the operator's controls.

Outputs are bus messages too: the coordinator appends each to the STRAT stream before acting on it, so a replay of
that stream reproduces every decision. The classes are defined in ``arb.core.strategy`` (the bus catalogue binds the
``strat.*`` subjects to them) and re-exported here.
"""

from __future__ import annotations

from ..core.strategy import (
    CommandFailed,
    Control,
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

__all__ = [
    "CommandFailed",
    "Control",
    "CycleReport",
    "ExposureReport",
    "Flatten",
    "FundingPaid",
    "Halt",
    "OrderNotFound",
    "RebalanceNeed",
    "Resume",
    "SendCommand",
    "Start",
    "State",
    "Tick",
    "Transition",
]
