"""Put the configured symbols' reference data (``SymbolRef``) into the KV bucket ``REF``: the md gateways' side.

Every md gateway calls ``RefPublisher.publish`` after it loaded the venue's symbol rules, at start and on every
refresh (``options.symbol_refresh_s``). At start every entry is put (its ``ts`` says when the rules were read);
afterwards an entry is put only when a rule changed, and the change is logged once (``field old -> new``).

Reference data never stops market data: a missing bucket (declared by ``ensure_streams`` when a service
connects), a JetStream timeout or any other failure is logged (rate-limited) and the entries not written are
tried again at the next refresh.

A configured symbol that a refresh no longer finds in the venue's list keeps its last rules with status
``delisted`` (``refresh``), so a reader never goes on trusting an instrument the venue stopped listing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import msgspec
from nats.js.errors import BucketNotFoundError

from ...bus.streams import ref_bucket
from ...core.enums import SymbolStatus
from ...core.refdata import SymbolRef, encode_ref
from ...obs.log import RateLimitedLog, get_logger

log = get_logger(__name__)


def refresh(held: dict[str, SymbolRef], fresh: Iterable[SymbolRef], wanted: Iterable[str], ts: int) -> None:
    """Update ``held`` (unified symbol -> entry) in place from one read of the venue's rules: ``fresh`` entries
    replace what was held; a ``wanted`` symbol held before but absent now is kept with status delisted."""
    got = {r.symbol: r for r in fresh}
    for name in wanted:
        if name in got:
            held[name] = got[name]
        elif (old := held.get(name)) is not None and old.status is not SymbolStatus.DELISTED:
            held[name] = msgspec.structs.replace(old, status=SymbolStatus.DELISTED, ts=ts)


class RefPublisher:
    """Writes one (venue, market)'s entries; remembers what it wrote so a refresh puts only what changed."""

    def __init__(self, js: Any, subject_prefix: str = "", timeout_s: float = 2.0) -> None:
        self.js = js
        self.bucket = ref_bucket(subject_prefix)
        self.timeout_s = timeout_s
        self.published: dict[str, SymbolRef] = {}  # key -> last entry written
        self.puts = 0
        self.failures = 0
        self._kv: Any = None
        self._rlog = RateLimitedLog(log, 60.0)

    async def publish(self, refs: Iterable[SymbolRef]) -> int:
        """Put every entry not yet written by this process or whose rules changed; returns how many were put."""
        if self.js is None:  # a gateway built without a bus (unit tests)
            return 0
        todo = [r for r in refs if not r.same_rules(self.published.get(r.key))]
        if not todo:
            return 0
        try:
            async with asyncio.timeout(self.timeout_s * (1 + len(todo))):
                kv = await self._bucket()
                if kv is None:
                    return 0
                n = 0
                for r in todo:
                    old = self.published.get(r.key)
                    await kv.put(r.key, encode_ref(r))
                    self.published[r.key] = r
                    self.puts += 1
                    n += 1
                    if old is not None:
                        log.warning("%s: reference data changed: %s", r.key, "; ".join(r.changes(old)))
                return n
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 -- reference data must never stop market data
            self.failures += 1
            self._kv = None
            self._rlog(("put", self.bucket), "reference data: put into %s failed (retried at the next symbol "
                       "refresh): %r", self.bucket, e)
            return 0

    async def _bucket(self) -> Any:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except BucketNotFoundError:
                self._rlog(("missing", self.bucket), "reference data: KV bucket %s missing (declared by "
                           "ensure_streams when a service connects); not published", self.bucket)
                return None
        return self._kv


__all__ = ["RefPublisher", "refresh"]
