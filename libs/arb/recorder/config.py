"""The ``recorder`` section of the config: batching, consumers and retry timings (specs/recorder.md)."""

from __future__ import annotations

import math

import msgspec

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}
STREAMS = ("MD", "ORD", "STRAT")


class RecorderConfig(msgspec.Struct, **_STRICT):
    consumer: str = "recorder"  # durable consumer name on each stream, shared by every replica
    streams: tuple[str, ...] = STREAMS  # which of MD, ORD, STRAT to record
    batch_size: int = 1000  # messages per fetch and per transaction
    fetch_timeout_s: float = 0.5  # a fetch returns what arrived within this (a partial batch)
    queue_batches: int = 2  # batches fetched ahead of the writers per stream (bounded memory, backpressure)
    writers: int = 2  # PostgreSQL connections writing one stream's batches side by side (one transaction per batch)
    ack_wait_s: float = 30.0  # unacked messages are redelivered after this (kill -9, a stuck replica)
    max_ack_pending: int = 20_000  # per consumer, across replicas
    backoff_initial_s: float = 0.2  # PostgreSQL unreachable: retry after this, doubling ...
    backoff_max_s: float = 5.0  # ... up to this
    connect_timeout_s: float = 5.0
    command_timeout_s: float = 30.0  # a statement PostgreSQL does not answer within this: an outage (reconnect, retry)
    lag_interval_s: float = 5.0  # consumer lag read this often

    def __post_init__(self) -> None:
        if not self.consumer or not all(c.isalnum() or c in "_-" for c in self.consumer):
            raise ValueError(f"consumer: letters, digits, '_' and '-' only, got {self.consumer!r}")
        bad = [s for s in self.streams if s not in STREAMS]
        if bad or not self.streams or len(set(self.streams)) != len(self.streams):
            raise ValueError(f"streams: a non-empty subset of {list(STREAMS)} without repeats, got {list(self.streams)}")
        for name, lo, hi in (("batch_size", 1, 10_000), ("queue_batches", 1, 100), ("writers", 1, 16),
                             ("max_ack_pending", 1, 1_000_000)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name}: expected an integer in [{lo}, {hi}], got {v!r}")
        for name in ("fetch_timeout_s", "ack_wait_s", "backoff_initial_s", "backoff_max_s", "connect_timeout_s",
                     "command_timeout_s", "lag_interval_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 3600):
                raise ValueError(f"{name}: expected seconds in (0, 3600], got {v!r}")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"backoff_max_s: must be >= backoff_initial_s ({self.backoff_initial_s}), "
                             f"got {self.backoff_max_s}")
        # held per replica and stream: the queued batches, one per writer being written, one fetched waiting for room
        in_flight = (self.queue_batches + self.writers + 1) * self.batch_size
        if self.max_ack_pending < in_flight:
            raise ValueError(f"max_ack_pending: must hold one replica's batches in flight ((queue_batches + writers + "
                             f"1) x batch_size = {in_flight}), got {self.max_ack_pending}")
