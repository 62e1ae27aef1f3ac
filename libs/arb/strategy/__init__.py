"""The delta-neutral arbitrage logic, with no I/O: events in, state and commands out (specs/strategy.md).

- ``params``: what a task trades and its limits; ``view``: books, their health, funding, per market;
- ``pricing``: VWAP walks, rules in base units, the common grid of two legs; ``opportunity``: every direction priced;
- ``table``: the state machine as one table; ``machine.Strategy``: ``step(event, now) -> outputs``;
- ``ledger``: orders, positions, cycle money; ``events``: the shell's inputs and the outputs.
"""

from .events import State
from .machine import Strategy
from .params import MarketSpec, TaskParams

__all__ = ["MarketSpec", "State", "Strategy", "TaskParams"]
