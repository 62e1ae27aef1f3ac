"""``RefData``: any service's typed, exact view of the reference data in the KV bucket ``REF``.

The md gateways write one ``SymbolRef`` per ``<venue>.<market>.<symbol>`` (``arb.venues.common.refpub``); this reader
loads them and keeps them current with a KV watch, so a strategy can round and check an order (tick, step, min
qty, min notional, contract multiplier, fees, funding interval) without importing a venue package. It imports
nothing under ``arb.venues``.

    ref = await RefData.open(bus.js, subject_prefix, on_change=lambda key, new: ...)
    px = ref.round_price("gateio", "futures", "BTC-USDT", 65000.07, Side.BUY)   # Decimal('65000.0')
    ...
    await ref.close()

``on_change(key, ref)`` is called (a coroutine is awaited) for an entry that appears or whose rules change after
the initial load, and with ``None`` when an entry is deleted; a re-put with the same rules (a gateway restart)
updates ``ts`` silently. An entry that does not decode is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Self

import msgspec
from nats.js.errors import BucketNotFoundError

from ..core.enums import Market, Side, Venue
from ..core.errors import SymbolError
from ..core.refdata import SymbolRef, decode_ref, ref_key
from .streams import ref_bucket

OnChange = Callable[[str, SymbolRef | None], Any]
_DELETES = ("DEL", "PURGE")


class RefData:
    """The reference data of every (or of the given) ``<venue>.<market>.<symbol>`` key, kept current."""

    def __init__(self, js: Any, subject_prefix: str = "", keys: Iterable[str] | None = None,
                 on_change: OnChange | None = None) -> None:
        self.js = js
        self.bucket = ref_bucket(subject_prefix)
        self.keys = frozenset(keys) if keys is not None else None
        self.on_change = on_change
        self.refs: dict[str, SymbolRef] = {}
        self.revisions: dict[str, int] = {}  # key -> last KV revision applied
        self.updates = 0  # entries applied after the initial load
        self.bad_entries = 0
        self._watcher: Any = None
        self._task: asyncio.Task | None = None

    @classmethod
    async def open(cls, js: Any, subject_prefix: str = "", keys: Iterable[str] | None = None,
                   on_change: OnChange | None = None, timeout_s: float = 5.0) -> RefData:
        """Load the current entries (within ``timeout_s``) and start watching; BucketNotFoundError when the
        bucket was never declared (``ensure_streams``)."""
        self = cls(js, subject_prefix, keys, on_change)
        await self.start(timeout_s)
        return self

    async def start(self, timeout_s: float = 5.0) -> None:
        """Load every current entry, then watch. The initial load counts the keys the bucket's stream holds first,
        because nats-py's "initial values done" marker can come before values already in flight; an entry
        that arrives later than the count, or with a newer revision, is an update."""
        async with asyncio.timeout(timeout_s):
            kv = await self.js.key_value(self.bucket)
            only = next(iter(self.keys)) if self.keys is not None and len(self.keys) == 1 else ">"
            info = await self.js.stream_info(f"KV_{self.bucket}", subjects_filter=f"$KV.{self.bucket}.{only}")
            expected = len((info.state.subjects or {}) if info.state else {})
            self._watcher = await kv.watch(only)
            seen, marker = 0, False
            while seen < expected:
                try:  # after the marker, a key that never comes (its messages removed meanwhile) ends the load
                    entry = await self._watcher.updates(timeout=1.0 if marker else timeout_s)
                except TimeoutError:
                    if marker:
                        break
                    raise
                if entry is None:
                    marker = True
                    continue
                seen += 1
                with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):  # counted in bad_entries
                    self._apply(entry, initial=True)
        self._task = asyncio.get_running_loop().create_task(self._watch(), name=f"refdata-{self.bucket}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 2.0)
            self._task = None
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._watcher.stop(), 2.0)
            self._watcher = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ lookups

    def get(self, venue: Venue | str, market: Market | str, symbol: str) -> SymbolRef:
        """The rules of one instrument; SymbolError when no gateway published them."""
        key = ref_key(venue, market, symbol)
        try:
            return self.refs[key]
        except KeyError:
            raise SymbolError(f"no reference data for {key} in {self.bucket}") from None

    def find(self, venue: Venue | str, market: Market | str, symbol: str) -> SymbolRef | None:
        return self.refs.get(ref_key(venue, market, symbol))

    def round_price(self, venue: Venue | str, market: Market | str, symbol: str, price: Decimal | float | str,
                    side: Side) -> Decimal:
        """On the tick grid, never more aggressive (a buy rounds down, a sell up); exact Decimal."""
        return self.get(venue, market, symbol).round_price(price, side)

    def round_qty(self, venue: Venue | str, market: Market | str, symbol: str, qty: Decimal | float | str) -> Decimal:
        """On the step grid (base on spot, contracts on futures), rounded down; exact Decimal."""
        return self.get(venue, market, symbol).round_qty(qty)

    def check(self, venue: Venue | str, market: Market | str, symbol: str, price: Decimal, qty: Decimal) -> str | None:
        """Why these rules would refuse the order (status, min/max qty, min notional), or None."""
        return self.get(venue, market, symbol).check(price, qty)

    # ------------------------------------------------------------------ watch

    async def _watch(self) -> None:
        from ..obs.log import RateLimitedLog, get_logger  # here: obs.log -> config.schema -> bus.streams

        rlog = RateLimitedLog(get_logger(__name__), 60.0)
        async for entry in self._watcher:  # ends when the watcher is stopped
            if entry is None:
                continue
            try:
                key, new = self._apply(entry, initial=False)
                if key is not None and self.on_change is not None:
                    r = self.on_change(key, new)
                    if inspect.isawaitable(r):
                        await r
            except Exception as e:  # noqa: BLE001 -- the watch must outlive a bad entry or a callback's failure
                rlog(("entry", type(e).__name__), "reference data %s in %s: %r", entry.key, self.bucket, e)

    def _apply(self, entry: Any, initial: bool) -> tuple[str | None, SymbolRef | None]:
        """Update the map; returns (key, new entry or None for a delete) when a callback is due, else (None, None)."""
        key = entry.key
        if self.keys is not None and key not in self.keys:
            return None, None
        if entry.revision <= self.revisions.get(key, 0):  # seen already (the load and the watch overlap)
            return None, None
        self.revisions[key] = entry.revision
        if entry.operation in _DELETES:
            gone = self.refs.pop(key, None)
            return (key, None) if gone is not None and not initial else (None, None)
        try:
            new = decode_ref(entry.value)
        except Exception:
            self.bad_entries += 1
            raise
        old = self.refs.get(key)
        self.refs[key] = new
        if initial:
            return None, None
        self.updates += 1
        return (None, None) if new.same_rules(old) else (key, new)


__all__ = ["BucketNotFoundError", "OnChange", "RefData"]
