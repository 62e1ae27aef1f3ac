"""Book synchronisation: REST snapshot (or a venue "full" push) + buffered diffs + sequence checks + resync.

The state machine is venue-neutral; a small rule object decides, for one diff covering venue update
ids ``first..last``, whether to DROP it (already in the book), APPLY it, or call it a GAP (updates were
lost: the book can no longer be trusted). Two questions, two methods:

* ``first(snap, first, last)``: the first diff after a snapshot whose id is ``snap``;
* ``next(local, first, last)``: every later diff, ``local`` being the id of the last applied diff.

MEXC aggre depth (exchange-facts 1.7; ``first``/``last`` = ``fromVersion``/``toVersion``; snapshot id =
REST ``lastUpdateId``)::

    first: toVersion < snap                 -> DROP (outdated)
           fromVersion > snap + 1           -> GAP  (stream starts after the snapshot: resnapshot)
           otherwise (from <= snap+1, to >= snap) -> APPLY (the first push containing the snapshot)
    next:  toVersion <= local               -> DROP (duplicate / replayed, e.g. during WS rotation)
           fromVersion == local + 1         -> APPLY
           otherwise                        -> GAP

Gate.io ``order_book_update`` (exchange-facts 2.10; ``first``/``last`` = ``U``/``u``; snapshot id = REST
``id`` with ``with_id=true``)::

    first: u < id + 1                       -> DROP
           U > id + 1                       -> GAP  (snapshot behind the stream: refetch)
           otherwise (U <= id+1 <= u)       -> APPLY
    next:  u <= local                       -> DROP (duplicate)
           U == local + 1                   -> APPLY
           otherwise                        -> GAP

Gate spot ``full: true`` pushes replace the book and set the id to ``u``: the gateway calls
``BookSync.on_full(u, bids, asks)``, which is handled as a snapshot, except that a full push at or behind
an OK book is dropped: during a connection rotation the new socket's first (full) push can arrive after the
old socket already carried the book past it, and installing it would move the id back and turn the old
socket's next diff into a gap. A book that is not OK takes any full push (ids may have been reset).

``next`` is the same for both venues (an update-id stream without holes), so it is written once
(``UpdateIdRule``); each venue's rule supplies only its ``first``.

A diff that overlaps the local book without starting right after it (``first <= local < last`` but
``first != local + 1``) is a GAP under both rules, as the venues' docs prescribe, although applying it
would be harmless with absolute sizes: correct first, and it does not happen when venues fan out the same
push to every connection.

States (``arb.core.enums.BookState``): ``OK`` only after a snapshot was applied and every later diff
continued it and left the book uncrossed. ``STALE``: the book cannot be trusted and no snapshot has been
asked for yet (start-up, gap, crossed book, disconnect, a silent socket: ``mark_stale(R_SILENT)``); ``needs_snapshot`` is True. The gateway calls
``begin_snapshot()`` when it actually starts fetching (or resubscribing), which moves the book to
``RESYNCING`` so many diffs arriving meanwhile do not trigger many fetches; ``snapshot_failed()`` sends it
back to ``STALE``. Diffs received while not OK are buffered (bounded, oldest dropped first) and replayed
on top of the next snapshot.

How a diff's levels go into the book is the venue's to say when its decoded levels are not ``(price, size)``
pairs in base units (Gate futures: ``{p, s}`` in contracts): ``BookSync(rule, apply=...)`` takes a function
``apply(book, bids, asks)``; the default is ``book.apply_book`` (``L2Book.apply`` and ``is_crossed`` in one compiled
call). ``apply`` may return whether the book came out crossed (saving the check); if it returns None, BookSync asks
``book.is_crossed()``. Snapshots and full pushes are always ``(price, size)``
pairs in base units (``L2Book.replace``). BookSync calls nothing else on the book than ``L2Book`` has.

Nothing here logs or formats strings per diff; transitions carry a constant ``reason`` string.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ...core.enums import BookState
from .book import L2Book, PriceSize, apply_book

try:
    from ._book import FlatSync as _FlatSync_c
except ImportError:  # built without a C compiler: continue_with in Python only
    _FlatSync_c = None

DROP = 0
APPLY = 1
GAP = 2

# constant reasons (MarketStatus.reason); never formatted per event
R_INIT = "init"
R_SYNCED = "synced"
R_GAP = "sequence_gap"
R_STALE_SNAPSHOT = "snapshot_behind_stream"
R_CROSSED = "crossed_book"
R_DISCONNECTED = "disconnected"
R_SILENT = "silent"  # the socket delivered no frame (data or pong) for stale_after_s
R_FRESH = "fresh"  # MarketStatus.reason: a bbo / funding feed delivered again after it went stale
R_BUFFER_OVERFLOW = "buffer_overflow"
R_SNAPSHOT_FAILED = "snapshot_failed"
R_MALFORMED = "malformed_sequence"
R_RULES = "rules_changed"  # the venue changed how its sizes read (a contract multiplier): rebuilt from a snapshot


class SyncRule(Protocol):
    name: str

    def first(self, snap: int, first: int, last: int) -> int: ...

    def next(self, local: int, first: int, last: int) -> int: ...


class UpdateIdRule:
    """Every diff after the first: it continues the last applied one exactly, or is already in the book."""

    __slots__ = ()
    name = "update_id"

    @staticmethod
    def next(local: int, first: int, last: int) -> int:
        if last <= local:
            return DROP
        if first == local + 1:
            return APPLY
        return GAP


class MexcRule(UpdateIdRule):
    """MEXC spot aggre depth (``fromVersion``/``toVersion``), exchange-facts 1.7: a first diff whose toVersion equals
    the snapshot's ``lastUpdateId`` contains it and is applied."""

    __slots__ = ()
    name = "mexc"

    @staticmethod
    def first(snap: int, first: int, last: int) -> int:
        if last < snap:
            return DROP
        if first > snap + 1:
            return GAP
        return APPLY


class GateRule(UpdateIdRule):
    """Gate.io spot / USDT futures ``order_book_update`` (``U``/``u``), exchange-facts 2.10: the first diff must
    reach past the snapshot's ``id`` (``U <= id + 1 <= u``)."""

    __slots__ = ()
    name = "gateio"

    @staticmethod
    def first(snap: int, first: int, last: int) -> int:
        if last < snap + 1:
            return DROP
        if first > snap + 1:
            return GAP
        return APPLY


# how one diff's levels (as the venue's parser decoded them) go into the book; returns whether the book is now
# crossed, or None (BookSync then asks ``book.is_crossed()``)
ApplyLevels = Callable[[L2Book, Any, Any], "bool | None"]
_OK = BookState.OK
_std_next = UpdateIdRule.next

MEXC_RULE = MexcRule()
GATE_RULE = GateRule()


class BookSync:
    """Keeps one ``L2Book`` synchronised with a venue's diff stream.

    Gateway loop (sketch)::

        changed = sync.on_diff(first, last, bids, asks)     # per WS diff; True -> publish the book
        if sync.needs_snapshot:                             # cheap attribute read
            sync.begin_snapshot()
            snap = await rest.depth(...)                     # or resubscribe for a Gate full push
            sync.on_snapshot(snap.id, snap.bids, snap.asks)  # or sync.snapshot_failed() on error
    """

    __slots__ = (
        "_anchored",
        "_apply",
        "_buffer",
        "_std",
        "applied",
        "book",
        "crossed",
        "dropped",
        "gaps",
        "needs_snapshot",
        "overflows",
        "reason",
        "resyncs",
        "rule",
        "state",
    )

    def __init__(self, rule: SyncRule, book: L2Book | None = None, max_buffer: int = 1000,
                 apply: ApplyLevels | None = None) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be >= 1")
        self.rule = rule
        self.book = book if book is not None else L2Book()
        self._apply: ApplyLevels = apply if apply is not None else apply_book
        self._std = getattr(type(rule), "next", None) is _std_next  # next() is UpdateIdRule's: inlined in on_diff
        self.state = BookState.STALE
        self.reason = R_INIT
        self.needs_snapshot = True
        self._buffer: deque[tuple[int, int, Iterable[PriceSize], Iterable[PriceSize]]] = deque(
            maxlen=max_buffer
        )
        self._anchored = False  # a diff has been applied since the last snapshot
        self.gaps = 0  # sequence gaps seen (live, or between snapshot and stream)
        self.resyncs = 0  # times an OK book was lost (gap, crossed, disconnect) and had to be rebuilt
        self.crossed = 0  # times the book came out crossed
        self.dropped = 0  # diffs dropped as already contained in the book (duplicates / outdated)
        self.applied = 0  # diffs applied
        self.overflows = 0  # buffered diffs lost because the buffer was full

    # ------------------------------------------------------------------ stream side (hot path)

    def on_diff(self, first: int, last: int, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> bool:
        """Feed one diff covering update ids ``first..last``. True when the book changed and is OK."""
        book = self.book
        if first == book.seq + 1 and self._anchored and self.state is _OK and first <= last and self._std:
            # the common case: it continues the last applied diff (UpdateIdRule.next's APPLY, inlined)
            crossed = self._apply(book, bids, asks)
            book.seq = last
            self.applied += 1
            if crossed or (crossed is None and book.is_crossed()):
                self.crossed += 1
                self._lose(R_CROSSED, False, True)
                return False
            return True
        if self.state is not _OK:
            buf = self._buffer
            if len(buf) == buf.maxlen:
                self.overflows += 1
            buf.append((first, last, bids, asks))
            return False
        if first > last:
            self._lose(R_MALFORMED, True, True)
            return False
        if self._anchored:
            verdict = self.rule.next(book.seq, first, last)
        else:
            verdict = self.rule.first(book.seq, first, last)
        if verdict == APPLY:
            crossed = self._apply(book, bids, asks)
            book.seq = last
            self._anchored = True
            self.applied += 1
            if crossed or (crossed is None and book.is_crossed()):
                self.crossed += 1
                self._lose(R_CROSSED, False, True)
                return False
            return True
        if verdict == DROP:
            self.dropped += 1
            return False
        # GAP: keep this diff, it may continue the next snapshot
        self._lose(R_STALE_SNAPSHOT if not self._anchored else R_GAP, True, True)
        self._buffer.append((first, last, bids, asks))
        return False

    def continue_with(self, first: int, last: int, bids: Any, asks: Any, apply: ApplyLevels) -> bool | None:
        """``on_diff``'s common case alone, for levels in another form that ``apply`` takes (a venue's compiled frame
        reader): when the diff continues the OK book, it is applied and the answer is ``on_diff``'s, with the same
        counters and transitions. Otherwise None, with nothing touched: the caller feeds the diff to ``on_diff`` as
        its parser decodes it (a diff that is buffered or replayed keeps the levels ``self._apply`` takes)."""
        book = self.book
        if first != book.seq + 1 or not self._anchored or self.state is not _OK or first > last or not self._std:
            return None
        crossed = apply(book, bids, asks)
        book.seq = last
        self.applied += 1
        if crossed or (crossed is None and book.is_crossed()):
            self.crossed += 1
            self._lose(R_CROSSED, False, True)
            return False
        return True

    # ------------------------------------------------------------------ snapshot side

    def begin_snapshot(self) -> None:
        """The gateway started fetching a snapshot (or resubscribing for a full push)."""
        self.needs_snapshot = False
        if self.state is not BookState.OK:
            self.state = BookState.RESYNCING

    def snapshot_failed(self) -> None:
        """The fetch failed: ask again (the gateway's REST limiter paces the retries)."""
        if self.state is not BookState.OK:
            self.state = BookState.STALE
            self.reason = R_SNAPSHOT_FAILED
            self.needs_snapshot = True

    def on_snapshot(self, seq: int, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> bool:
        """Install a REST snapshot with update id ``seq`` and replay buffered diffs. True when the book is OK."""
        if self.state is BookState.OK and seq <= self.book.seq:
            return True  # we are already at or past this snapshot
        return self._install(seq, bids, asks)

    def on_full(self, seq: int, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> bool:
        """A venue push that carries the whole (subscribed-depth) book with id ``seq`` (Gate ``full: true``)."""
        if self.state is BookState.OK and seq <= self.book.seq:
            self.dropped += 1
            return False  # older than what we hold (a rotation's new socket): the book stays as it is
        return self._install(seq, bids, asks)

    def mark_stale(self, reason: str = R_DISCONNECTED) -> None:
        """The feed is interrupted (e.g. disconnect): the book is no longer trustworthy; a snapshot is needed.

        Buffered diffs are discarded: after a reconnect the stream restarts and old diffs cannot be continued.
        """
        if self.state is BookState.OK:
            self.resyncs += 1
        self.state = BookState.STALE
        self.reason = reason
        self.needs_snapshot = True
        self._anchored = False
        self._buffer.clear()

    def rescale(self, apply: ApplyLevels | None, reason: str = R_RULES) -> None:
        """The venue's levels now mean something else (a perpetual's contract multiplier changed): from now on they
        go into the book through ``apply``, and the book is stale until a fresh snapshot, so that no level held
        was read with the old meaning (buffered diffs are dropped with it, as in ``mark_stale``)."""
        self._apply = apply if apply is not None else apply_book
        self.mark_stale(reason)

    # ------------------------------------------------------------------ reads

    @property
    def ok(self) -> bool:
        return self.state is BookState.OK

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # ------------------------------------------------------------------ internals

    def _install(self, seq: int, bids: Iterable[PriceSize], asks: Iterable[PriceSize]) -> bool:
        was_ok = self.state is BookState.OK
        book = self.book
        book.replace(bids, asks, seq)
        self._anchored = False
        self.needs_snapshot = False
        if book.is_crossed():
            self.crossed += 1
            self._lose(R_CROSSED, False, was_ok)
            return False
        buf = self._buffer
        rule = self.rule
        while buf:
            first, last, b, a = buf.popleft()
            if first > last:
                self._lose(R_MALFORMED, True, was_ok)
                return False
            verdict = (
                rule.next(book.seq, first, last) if self._anchored else rule.first(book.seq, first, last)
            )
            if verdict == DROP:
                self.dropped += 1
                continue
            if verdict == GAP:
                buf.appendleft((first, last, b, a))  # keep it: a newer snapshot may be continued by it
                self._lose(R_STALE_SNAPSHOT if not self._anchored else R_GAP, True, was_ok)
                return False
            crossed = self._apply(book, b, a)
            book.seq = last
            self._anchored = True
            self.applied += 1
            if crossed or (crossed is None and book.is_crossed()):
                self.crossed += 1
                self._lose(R_CROSSED, False, was_ok)
                return False
        self.state = BookState.OK
        self.reason = R_SYNCED
        return True

    def _lose(self, reason: str, gap: bool, was_ok: bool) -> None:
        if gap:
            self.gaps += 1
        if was_ok:
            self.resyncs += 1
        self.state = BookState.STALE
        self.reason = reason
        self.needs_snapshot = True
        self._anchored = False
        if reason == R_CROSSED or reason == R_MALFORMED:
            self._buffer.clear()  # the diffs that produced corruption cannot be trusted for replay


# ``continue_with`` with ``FlatApply`` levels in one compiled call, for a venue's compiled reader that holds the levels
# as C doubles (``_book.FlatSync.cont``, reading BookSync's and L2Book's slots; None without the extension)
FLAT_SYNC = _FlatSync_c(BookSync, L2Book, _OK, R_CROSSED) if _FlatSync_c is not None else None


__all__ = [
    "APPLY",
    "DROP",
    "GAP",
    "GATE_RULE",
    "MEXC_RULE",
    "ApplyLevels",
    "BookSync",
    "GateRule",
    "MexcRule",
    "SyncRule",
    "UpdateIdRule",
]
