"""The writer lease on an in-memory KV: fenced after ttl/2 without a renewal, lost only to another holder,
never to its own renewal that landed after its wait timed out."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from arb.bus.lease import Lease
from arb.testing.poll import eventually
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

pytestmark = pytest.mark.unit


class Entry(msgspec.Struct):
    value: bytes
    revision: int


class KV:
    def __init__(self) -> None:
        self.data: dict[str, Entry] = {}
        self.seq = 0
        self.land_then_time_out = 0  # updates that are written and then raise TimeoutError
        self.updates = asyncio.Event()

    def _write(self, key: str, value: bytes) -> int:
        self.seq += 1
        self.data[key] = Entry(value, self.seq)
        return self.seq

    async def create(self, key: str, value: bytes) -> int:
        if key in self.data:
            raise KeyWrongLastSequenceError(description="exists")
        return self._write(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        self.updates.set()
        cur = self.data.get(key)
        if cur is None or cur.revision != last:
            raise KeyWrongLastSequenceError(description="wrong last sequence")
        rev = self._write(key, value)
        if self.land_then_time_out:
            self.land_then_time_out -= 1
            raise TimeoutError("nats: timeout")
        return rev

    async def get(self, key: str) -> Entry:
        if key not in self.data:
            raise KeyNotFoundError
        return self.data[key]

    async def delete(self, key: str, last: int | None = None) -> None:
        self.data.pop(key, None)


class Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


async def _renewals(lease: Lease, n: int) -> None:
    async def enough() -> None:
        while lease.renewals < n and not lease.lost.is_set():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(enough(), 5.0)


async def test_a_second_holder_waits_and_the_first_is_fenced_without_renewals():
    kv, clock = KV(), Clock()
    a, b = Lease(kv, "k", 0.2, clock), Lease(kv, "k", 0.2, clock)
    assert await a.try_acquire() and a.valid()
    assert not await b.try_acquire() and not b.valid()
    assert (await b.current()) == a.holder
    clock.t += 0.11  # more than ttl/2 since the last renewal: a may have lost it, so it must not write
    assert not a.valid() and "not renewed" in (a.problem() or "")


async def test_a_renewal_that_landed_after_its_timeout_is_not_a_lost_lease():
    kv, clock = KV(), Clock()
    lease = Lease(kv, "k", 0.08, clock)
    stopped = asyncio.Event()
    assert await lease.acquire(stopped)
    kv.land_then_time_out = 1
    await _renewals(lease, 2)
    assert not lease.lost.is_set() and lease.valid()
    await lease.release()


async def test_a_lease_taken_by_another_process_is_lost():
    kv, clock = KV(), Clock()
    lease = Lease(kv, "k", 0.08, clock)
    assert await lease.acquire(asyncio.Event())
    kv.data["k"] = Entry(b'{"id":"other","host":"h","pid":1,"since_ns":0}', 999)
    await asyncio.wait_for(lease.lost.wait(), 5.0)
    assert not lease.valid() and "lost" in (lease.problem() or "")
    await lease.release()
    assert "k" in kv.data  # a lost lease is not deleted: it belongs to the other process


async def test_a_standby_takes_over_once_the_entry_is_gone():
    kv, clock = KV(), Clock()
    a, b = Lease(kv, "k", 0.2, clock), Lease(kv, "k", 0.2, clock)
    assert await a.try_acquire()
    waiting = []
    task = asyncio.create_task(b.acquire(asyncio.Event(), poll_s=0.01, on_wait=waiting.append))
    await eventually(lambda: waiting, timeout=5, what="standby told who holds the lease")
    assert not task.done() and waiting == [a.holder]
    kv.data.pop("k")  # the holder died and the bucket's age limit removed its entry
    assert await asyncio.wait_for(task, 5.0)
    assert b.valid()
    await b.release()
