"""Where a task's state lives: a snapshot per task in KV bucket ``<PREFIX>TASKS`` and its log in the STRAT stream.

* **Snapshot** (``TaskSnapshot``): the strategy's ``TaskState`` after a step that changed it, written with a
  compare-and-set on the revision read (``kv.update(key, value, last=rev)``): a second coordinator that kept
  running without the task's lease cannot overwrite the holder's state; it finds the revision moved and stops.
  The state already holds every order the step just decided (the client id is recorded before the command is
  sent), so a crash right after the snapshot leaves an order the recovery asks the venue about, never one it
  forgets.
* **Log**: every output of a step (commands, transitions, opportunities, exposure, cycles) and the input that led
  to it, published on ``strat.<task>.<kind>`` with JetStream acks before any command is sent (specs/coordinator.md).
"""

from __future__ import annotations

from typing import Any

import msgspec
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError

from ..bus import subjects
from ..bus.connection import Bus
from ..bus.streams import stream_name_prefix
from ..core.errors import StorageError
from ..strategy.events import CycleReport, ExposureReport, RebalanceNeed, SendCommand, Transition
from ..strategy.ledger import TaskState
from ..strategy.opportunity import Opportunity

TASKS_BUCKET = "TASKS"
KIND_OF: dict[type, str] = {
    SendCommand: "cmd", Transition: "transition", Opportunity: "opp", ExposureReport: "exposure",
    CycleReport: "cycle", RebalanceNeed: "rebalance",
}
INPUT_KIND = "input"


def tasks_bucket(subject_prefix: str = "") -> str:
    return stream_name_prefix(subject_prefix) + TASKS_BUCKET


class TaskSnapshot(msgspec.Struct, kw_only=True):
    task: str
    state: TaskState
    ts: int  # unix ns of the step that produced it
    steps: int = 0  # steps that changed the state since the task was first created


class Fenced(StorageError):
    """Another process wrote this task's snapshot since we read it: we are not its only writer."""


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(TaskSnapshot)


class TaskStore:
    def __init__(self, bus: Bus, kv: Any, subject_prefix: str = "") -> None:
        self.bus = bus
        self.kv = kv
        self.prefix = subject_prefix
        self._rev: dict[str, int] = {}

    @classmethod
    async def open(cls, bus: Bus, subject_prefix: str = "", replicas: int = 1) -> TaskStore:
        name = tasks_bucket(subject_prefix)
        try:
            kv = await bus.js.key_value(name)
        except BucketNotFoundError:
            kv = await bus.js.create_key_value(KeyValueConfig(bucket=name, history=5, storage=StorageType.FILE,
                                                              replicas=replicas))
        return cls(bus, kv, subject_prefix)

    async def load(self, task: str) -> TaskSnapshot | None:
        try:
            entry = await self.kv.get(task)
        except KeyNotFoundError:
            self._rev[task] = 0
            return None
        self._rev[task] = entry.revision
        if not entry.value:
            return None
        return _dec.decode(entry.value)

    async def save(self, snap: TaskSnapshot) -> None:
        data = _enc.encode(snap)
        rev = self._rev.get(snap.task, 0)
        try:
            if rev == 0:
                self._rev[snap.task] = await self.kv.create(snap.task, data)
            else:
                self._rev[snap.task] = await self.kv.update(snap.task, data, last=rev)
        except KeyWrongLastSequenceError as e:
            raise Fenced(f"task {snap.task}: its snapshot was written by another process (revision {rev} is "
                         f"no longer the last): this coordinator stops trading it") from e

    async def log(self, task: str, events: list[Any], timeout: float = 5.0) -> None:
        """Publish ``events`` on ``strat.<task>.<kind>``, acked, in order."""
        for ev in events:
            kind = KIND_OF.get(type(ev), INPUT_KIND)
            await self.bus.publish_acked(subjects.strat(task, kind, self.prefix), ev, timeout=timeout)
