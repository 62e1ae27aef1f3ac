"""``ctl.coordinator.<verb>`` (request/reply): status, halt, resume, flatten, for one task or all of them.

In ``core`` so the bus catalogue binds the subjects to these types; ``arb.coordinator.control`` re-exports them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .messages import message

VERBS = ("status", "halt", "resume", "flatten")


@message
class CtlRequest(msgspec.Struct, frozen=True, kw_only=True, tag="ctl_request"):
    task: str = ""  # "" = every task this coordinator runs
    reason: str = "operator"


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    market: str
    side: str
    qty: Decimal
    filled: Decimal
    status: str


@message
class TaskStatus(msgspec.Struct, frozen=True, kw_only=True, tag="task_status"):
    task: str
    state: str
    reason: str
    enabled: bool
    cycle: int
    positions: dict[str, Decimal]
    net: Decimal
    realised: Decimal
    day_pnl: Decimal
    cycles_today: int
    open_orders: list[OpenOrder]
    unrealised: Decimal = Decimal(0)
    max_unhedged: Decimal = Decimal(0)
    max_unhedged_ns: int = 0


@message
class CtlReply(msgspec.Struct, frozen=True, kw_only=True, tag="ctl_reply"):
    tasks: list[TaskStatus]
    error: str = ""
