"""The order journal: a trading gateway's intent, recorded durably before the venue is called.

One JetStream KV entry per client order id (bucket ``ORDJ``, key ``<venue>.<account>.<market>.c<id>``),
written by the one gateway that holds the (venue, account, market) lease (``arb.bus.lease``):

* ``claim()`` creates the entry in state PENDING *before* the venue call, atomically ("create if absent", one
  acked round trip). When the entry already exists the id was used before, by this process or an earlier one
  (a crash, a restart, a takeover): the caller resolves it with the venue instead of sending;
* after the call: PLACED (the venue has it; its order id), REJECTED (the venue refused it, nothing rests) or
  ABSENT (the venue proved, after the request could no longer arrive, that it never got it). REJECTED and
  ABSENT ids may be sent again; a PENDING or PLACED one never is without asking the venue first.

The entry keeps the command as it was first asked, so a reused id with other parameters is a conflict, and (futures)
the contract multiplier the command was sized with: a restart converts that order's events with it, even when the
venue changed the multiplier meanwhile and the process crashed before the venue answered.
Entries expire with the bucket's age limit (ORD's, at least a week): an id older than that is forgotten.

Why KV and not the ORD stream: the ORD stream holds what the venue reported, published after the fact; a
crash between the venue call and that publish (a market order fills in milliseconds) leaves no trace there.
The journal is written first. Nothing else reads it as truth either: an entry only ever makes the gateway
*ask the venue* before acting, so a forged or stale entry cannot make it answer with an order that does not
exist, only refuse to resend one it cannot account for.
"""

from __future__ import annotations

import base64
import enum
from decimal import Decimal

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from ...bus.replay import replay
from ...bus.streams import journal_bucket
from ...core.commands import PlaceOrder
from ...core.enums import Market, Venue
from ...core.errors import StorageError


class IntentState(enum.Enum):
    PENDING = "pending"  # recorded, the venue call may or may not have reached the venue
    PLACED = "placed"  # the venue has (or had) this order
    REJECTED = "rejected"  # the venue refused it or it was refused before sending: nothing rests
    ABSENT = "absent"  # the venue proved it never got it (asked after the request could have arrived)

    @property
    def resendable(self) -> bool:
        return self in (IntentState.REJECTED, IntentState.ABSENT)


class Intent(msgspec.Struct, frozen=True):
    """One client order id's journal entry."""

    cmd: PlaceOrder  # as first asked (a later command with other parameters is a conflict)
    state: IntentState
    ts_intent: int  # unix ns when it was recorded, before the venue call
    venue_order_id: str = ""
    ts_resolved: int = 0
    note: str = ""  # why it is REJECTED / ABSENT
    # futures: base per contract the command was (or is being) sized with; None: unknown (spot, or an entry written
    # before this field existed: those decode with None and their orders convert with the current multiplier)
    contract_multiplier: Decimal | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Intent).decode


def cid_key(client_order_id: str) -> str:
    """KV keys allow ``[-_=./A-Za-z0-9]``; any client id maps to one key and back (url-safe base64)."""
    return "c" + base64.urlsafe_b64encode(client_order_id.encode()).decode().rstrip("=")


class OrderJournal:
    """The journal of one (venue, account, market). ``kv`` is a nats-py KeyValue (or anything with its
    ``create/get/update/put`` coroutines)."""

    def __init__(self, kv, venue: Venue, account: str, market: Market, bucket: str = "") -> None:
        self.kv = kv
        self.bucket = bucket
        self.prefix = f"{venue.value}.{account}.{market.value}."
        self.writes = 0

    @classmethod
    async def open(cls, js, venue: Venue, account: str, market: Market, subject_prefix: str = "") -> OrderJournal:
        bucket = journal_bucket(subject_prefix)
        try:
            kv = await js.key_value(bucket)
        except Exception as e:  # noqa: BLE001 -- BucketNotFoundError or a JetStream outage: not startable
            raise StorageError(f"order journal: KV bucket {bucket} is not available ({type(e).__name__}: {e}); "
                               "it is declared by ensure_streams at connect") from None
        return cls(kv, venue, account, market, bucket)

    def key(self, client_order_id: str) -> str:
        return self.prefix + cid_key(client_order_id)

    async def claim(self, cmd: PlaceOrder, ts: int,
                    contract_multiplier: Decimal | None = None) -> tuple[Intent | None, int]:
        """Record ``cmd`` as PENDING if its id is new: returns ``(None, revision)``. If the id already has an
        entry, nothing is written: returns ``(entry, revision)`` for the caller to resolve."""
        key = self.key(cmd.client_order_id)
        intent = Intent(cmd=cmd, state=IntentState.PENDING, ts_intent=ts, contract_multiplier=contract_multiplier)
        try:
            rev = await self.kv.create(key, _encode(intent))
            self.writes += 1
            return None, rev
        except KeyWrongLastSequenceError:
            pass
        entry = await self.kv.get(key)
        return _decode(entry.value), entry.revision

    async def reclaim(self, cmd: PlaceOrder, ts: int, revision: int,
                      contract_multiplier: Decimal | None = None) -> int | None:
        """Turn a resendable entry (REJECTED / ABSENT, read at ``revision``) into a new PENDING intent; None if
        another write came first (then read it again)."""
        try:
            rev = await self.kv.update(self.key(cmd.client_order_id),
                                       _encode(Intent(cmd=cmd, state=IntentState.PENDING, ts_intent=ts,
                                                      contract_multiplier=contract_multiplier)),
                                       last=revision)
        except KeyWrongLastSequenceError:
            return None
        self.writes += 1
        return rev

    async def mark(self, cmd: PlaceOrder, ts_intent: int, state: IntentState, ts: int, venue_order_id: str = "",
                   note: str = "", last: int | None = None,
                   contract_multiplier: Decimal | None = None) -> int | None:
        """Write the entry's new state; with ``last``, only if nobody wrote since that revision (None if someone
        did): a decision taken on what was read (e.g. ABSENT) must not overwrite a newer one."""
        value = _encode(Intent(cmd=cmd, state=state, ts_intent=ts_intent, venue_order_id=venue_order_id,
                               ts_resolved=ts, note=note, contract_multiplier=contract_multiplier))
        key = self.key(cmd.client_order_id)
        if last is None:
            rev = await self.kv.put(key, value)
        else:
            try:
                rev = await self.kv.update(key, value, last=last)
            except KeyWrongLastSequenceError:
                return None
        self.writes += 1
        return rev

    async def entries_since(self, js, since_ns: int, timeout: float = 30.0) -> list[Intent]:
        """The newest state of every entry written since ``since_ns``."""
        last: dict[str, Intent] = {}
        async for intent in replay(js, f"$KV.{self.bucket}.{self.prefix}>", since_ns, timeout=timeout,
                                   decode=_decode):
            last[intent.cmd.client_order_id] = intent
        return list(last.values())

    async def pending_since(self, js, since_ns: int, timeout: float = 30.0) -> list[Intent]:
        """Entries written since ``since_ns`` that are still PENDING (an earlier process crashed, or its mark was
        lost, between recording and hearing back): the ids a restart must ask the venue about first."""
        return [i for i in await self.entries_since(js, since_ns, timeout) if i.state is IntentState.PENDING]

    async def get(self, client_order_id: str) -> Intent | None:
        try:
            entry = await self.kv.get(self.key(client_order_id))
        except KeyNotFoundError:
            return None
        return _decode(entry.value)


__all__ = ["Intent", "IntentState", "OrderJournal", "cid_key"]
