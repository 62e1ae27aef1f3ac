"""The delta-neutral arbitrage logic, with no I/O: events in, state and commands out (specs/strategy.md).

- ``params``: what a task trades and its limits; ``view``: books, their health, funding, per market;
- ``pricing``: VWAP walks, rules in base units, the common grid of two legs; ``opportunity``: every direction priced;
- ``table``: the state machine as one table; ``machine.Strategy``: ``step(event, now) -> outputs``;
- ``ledger``: orders, positions, cycle money; ``events``: the shell's inputs and the outputs.

Names are loaded on first use: the config schema reads ``params`` (the coordinator's section) in every process,
and a gateway has no use for the machine.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"State": "events", "Strategy": "machine", "MarketSpec": "params", "TaskParams": "params"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)


__all__ = ["MarketSpec", "State", "Strategy", "TaskParams"]
