"""The ``coordinator`` section of the config: the tasks and the timings of their shell."""

from __future__ import annotations

import math

import msgspec

from ..strategy.params import TaskParams

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}


class CoordinatorConfig(msgspec.Struct, **_STRICT):
    tasks: tuple[TaskParams, ...] = ()
    tick_s: float = 0.25  # how often time passes for the strategy (timeouts, holding time, book age)
    reconcile_s: float = 30.0  # balances re-read and working orders asked about this often
    lease_ttl_s: float = 10.0  # one coordinator per task: a second one stands by and takes over after this
    request_timeout_s: float = 5.0  # per command to a trading gateway
    not_found_after_s: float = 70.0  # an order the venue does not know is absent only once this old (Gate: 60 s)
    replay_margin_s: float = 60.0  # execution events replayed from the ORD stream since the snapshot, minus this
    queue_max: int = 10_000  # events waiting for a task; market data beyond it is coalesced per market

    def __post_init__(self) -> None:
        for name in ("tick_s", "reconcile_s", "lease_ttl_s", "request_timeout_s", "not_found_after_s",
                     "replay_margin_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive number of seconds, got {v!r}")
        if self.lease_ttl_s < 1:
            raise ValueError(f"lease_ttl_s: must be >= 1, got {self.lease_ttl_s}")
        names = [t.task for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks: task ids must be unique, got {names}")
        if self.queue_max < 100:
            raise ValueError(f"queue_max: must be >= 100, got {self.queue_max}")

    def task(self, name: str) -> TaskParams:
        for t in self.tasks:
            if t.task == name:
                return t
        raise KeyError(f"no task {name!r} (configured: {[t.task for t in self.tasks]})")
