"""One writer per resource: a lease held in a JetStream KV bucket whose entries expire after a TTL.

A trading gateway holds ``trade-gateway.<venue>.<account>.<market>`` before it reads its journal, opens its user
stream or answers a command; a second copy of the same gateway finds the key taken and waits as a hot
standby, trying again every ``poll_s``. The holder renews the entry every ``ttl/4`` with a compare-and-set on
its own revision; when the holder dies (kill -9, host gone, cut off from NATS) nobody renews, the bucket's
age limit removes the entry, and the standby's next ``create`` succeeds: takeover within ``ttl + poll_s``.

Fencing: a holder that could not renew for ``ttl/2`` (NATS unreachable, the process stalled) no longer counts
itself as the holder (``valid()`` false: its handler refuses writes), because after ``ttl`` a standby may
take over. A renewal refused because the revision moved means another process holds the lease: ``lost`` is
set and the service stops (it never gets the lease back without a restart, which makes it a standby).

The TTL is the bucket's (``max_age``), fixed when the bucket is created; a process configured with another
TTL uses the bucket's and says so.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable

import msgspec
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError

from ..obs.log import get_logger
from .streams import lease_bucket

log = get_logger(__name__)


class Holder(msgspec.Struct, frozen=True):
    """Who holds a lease (the KV value): enough for an operator to find the process."""

    id: str
    host: str
    pid: int
    since_ns: int


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Holder).decode


def _decode_or_none(data: bytes | None) -> Holder | None:
    try:
        return _decode(data or b"")
    except msgspec.DecodeError:
        return None


def _since_boot() -> float:
    """Seconds on a clock that keeps counting while the host is suspended (a lease expires meanwhile)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def describe(h: Holder | None) -> str:
    if h is None:
        return "nobody (expired)"
    return f"pid {h.pid} on {h.host} (holder {h.id[:8]}, since {time.strftime('%H:%M:%S', time.gmtime(h.since_ns / 1e9))}Z)"


class Lease:
    def __init__(self, kv, key: str, ttl_s: float, clock: Callable[[], float] = _since_boot) -> None:
        self.kv = kv
        self.key = key
        self.ttl_s = ttl_s
        self.holder = Holder(id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid(), since_ns=time.time_ns())
        self.revision = 0
        self.lost = asyncio.Event()
        self.renewals = 0
        self._clock = clock
        self._renewed_at = -1e18  # clock() when the last successful renewal was *sent*
        self._task: asyncio.Task | None = None

    @classmethod
    async def open(cls, js, key: str, ttl_s: float, subject_prefix: str = "", replicas: int = 1) -> Lease:
        """The lease ``key`` in this deployment's LEASE bucket (created with ``ttl_s`` if missing)."""
        bucket = lease_bucket(subject_prefix)
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            try:
                kv = await js.create_key_value(KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s,
                                                              storage=StorageType.FILE, replicas=replicas))
            except Exception:  # noqa: BLE001 -- created by a concurrent first holder: use theirs
                kv = await js.key_value(bucket)
        status = await kv.status()
        ttl = status.ttl or ttl_s
        if abs(ttl - ttl_s) > 1e-3:
            log.warning("lease bucket %s has a TTL of %.3g s (config gateway.lease_ttl_s %.3g s): using the "
                        "bucket's", bucket, ttl, ttl_s)
        return cls(kv, key, ttl)

    # -- acquiring ------------------------------------------------------------------------------
    async def try_acquire(self) -> bool:
        t = self._clock()
        try:
            self.revision = await self.kv.create(self.key, _encode(self.holder))
        except KeyWrongLastSequenceError:
            return False
        self._renewed_at = t
        return True

    async def current(self) -> Holder | None:
        try:
            e = await self.kv.get(self.key)
        except KeyNotFoundError:
            return None
        try:
            return _decode(e.value)
        except msgspec.DecodeError:
            return Holder(id="?", host="?", pid=0, since_ns=0)

    async def acquire(self, stopped: asyncio.Event, poll_s: float | None = None,
                      on_wait: Callable[[Holder | None], None] | None = None) -> bool:
        """Take the lease, waiting as a standby while another process holds it; False if ``stopped`` first."""
        poll = poll_s if poll_s is not None else min(1.0, self.ttl_s / 4)
        told = False
        while not stopped.is_set():
            if await self.try_acquire():
                self._task = asyncio.get_running_loop().create_task(self._renew_loop(), name=f"lease-{self.key}")
                return True
            if not told and on_wait is not None:
                on_wait(await self.current())
                told = True
            try:
                await asyncio.wait_for(stopped.wait(), poll)
            except TimeoutError:
                pass
        return False

    # -- holding --------------------------------------------------------------------------------
    def valid(self) -> bool:
        """This process may act as the writer now: it holds the lease and renewed it within ttl/2."""
        return (self.revision > 0 and not self.lost.is_set()
                and self._clock() - self._renewed_at < self.ttl_s / 2)

    def problem(self) -> str | None:
        """None while ``valid()``; otherwise why this process must not write."""
        if self.valid():
            return None
        if self.lost.is_set():
            return f"lease {self.key} lost to another process"
        return f"lease {self.key} not renewed for {self._clock() - self._renewed_at:.1f} s (TTL {self.ttl_s:g} s)"

    async def _renew_loop(self) -> None:
        every = self.ttl_s / 4
        while not self.lost.is_set():
            await asyncio.sleep(every)
            t = self._clock()
            try:
                self.revision = await asyncio.wait_for(
                    self.kv.update(self.key, _encode(self.holder), last=self.revision), every)
            except KeyWrongLastSequenceError:
                entry = await self._entry_or_none()
                if entry is not None and _decode_or_none(entry.value) == self.holder:
                    self.revision = entry.revision  # our own renewal landed after its wait timed out: still ours
                    self._renewed_at = t
                    continue
                holder = _decode_or_none(entry.value) if entry is not None else None
                log.error("lease %s lost: now held by %s; this process stops writing", self.key, describe(holder))
                self.lost.set()
                return
            except Exception as e:  # noqa: BLE001 -- NATS away for a moment: try again; valid() fences meanwhile
                log.warning("lease %s: renewal failed (%s: %s); still held for %.1f s at most", self.key,
                            type(e).__name__, e, max(0.0, self.ttl_s - (self._clock() - self._renewed_at)))
                continue
            self._renewed_at = t
            self.renewals += 1

    async def _entry_or_none(self):
        try:
            return await asyncio.wait_for(self.kv.get(self.key), 2.0)
        except Exception:  # noqa: BLE001 -- expired, or NATS away: then it is not provably ours
            return None

    async def release(self) -> None:
        """On a clean stop: give the lease up at once so a standby need not wait for the TTL."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        if self.revision and not self.lost.is_set():
            try:
                await asyncio.wait_for(self.kv.delete(self.key, last=self.revision), 2.0)
            except Exception as e:  # noqa: BLE001 -- it expires by itself after the TTL
                log.warning("lease %s: release failed (%s); it expires in %.0f s", self.key, e, self.ttl_s)
        self.revision = 0


__all__ = ["Holder", "Lease", "describe"]
