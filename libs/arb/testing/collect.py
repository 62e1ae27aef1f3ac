"""``ExecutionEvents``: a bus handler that keeps a trading account's execution events for a test to poll.

Subscribe it before acting (``await bus.subscribe(f"{prefix}ord.gateio.main.evt.>", events)``), then poll it
with ``eventually()``: an event delivered over NATS is never there the instant the command's reply is.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..core.execution import Balance, Fill, OrderUpdate, Position


class ExecutionEvents:
    """Events by the last subject token (``order``, ``fill``, ``balance``, ``position``), in arrival order."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Any]] = defaultdict(list)

    async def __call__(self, event: Any, msg: Any) -> None:
        self.by_kind[msg.subject.rsplit(".", 1)[-1]].append(event)

    def orders(self, client_order_id: str) -> list[OrderUpdate]:
        return [e for e in self.by_kind["order"] if e.order.client_order_id == client_order_id]

    def fills(self, client_order_id: str) -> list[Fill]:
        return [e for e in self.by_kind["fill"] if e.client_order_id == client_order_id]

    def balances(self, asset: str) -> list[Balance]:
        return [e for e in self.by_kind["balance"] if e.asset == asset]

    def positions(self, symbol: str) -> list[Position]:
        return [e for e in self.by_kind["position"] if e.symbol == symbol]


__all__ = ["ExecutionEvents"]
