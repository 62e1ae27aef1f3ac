"""Book synchronisation state machine under the MEXC (fromVersion/toVersion) and Gate (U/u) rules."""

import pytest
from arb.core.enums import BookState
from arb.core.market_data import Level
from arb.venues.common import sync as s
from arb.venues.common.book import L2Book
from arb.venues.common.sync import GATE_RULE, MEXC_RULE, BookSync

pytestmark = pytest.mark.unit

# MEXC aggre depth push from exchange-facts 1.5 (ccxt capture): one ask deleted, one bid set.
MEXC_FROM = 43296363236
MEXC_TO = 43296363255
MEXC_ASKS = [("117145.49", "0")]
MEXC_BIDS = [("117053.41", "1.86837271")]

SNAP_BIDS = [("117053.40", "0.5"), ("117050.00", "2")]
SNAP_ASKS = [("117145.49", "0.3"), ("117146.00", "1")]

# Gate spot order_book_update from exchange-facts 2.8
GATE_U = 48776301
GATE_u = 48776306
GATE_BIDS = [["19137.74", "0.0001"], ["19088.37", "0"]]
GATE_ASKS = [["19137.75", "0.6135"]]


def _synced_mexc(snap: int = MEXC_FROM + 5) -> BookSync:
    sy = BookSync(MEXC_RULE)
    sy.begin_snapshot()
    assert sy.on_snapshot(snap, SNAP_BIDS, SNAP_ASKS)
    return sy


# ------------------------------------------------------------------ rule tables


def test_mexc_rule_first_push() -> None:
    """MEXC: outdated pushes drop, a push containing the snapshot applies, one starting after it is a gap."""
    snap = 43296363240
    assert MEXC_RULE.first(snap, MEXC_FROM, 43296363239) == s.DROP
    assert MEXC_RULE.first(snap, MEXC_FROM, MEXC_TO) == s.APPLY
    assert MEXC_RULE.first(snap, snap + 1, snap + 9) == s.APPLY  # continues the snapshot exactly
    assert MEXC_RULE.first(snap, MEXC_FROM, snap) == s.APPLY  # toVersion == snapshot: contains it
    assert MEXC_RULE.first(snap, snap + 2, snap + 9) == s.GAP


def test_mexc_rule_next_push() -> None:
    """MEXC: fromVersion must be previous toVersion + 1; already-seen pushes drop."""
    assert MEXC_RULE.next(MEXC_TO, MEXC_TO + 1, MEXC_TO + 7) == s.APPLY
    assert MEXC_RULE.next(MEXC_TO, MEXC_FROM, MEXC_TO) == s.DROP
    assert MEXC_RULE.next(MEXC_TO, MEXC_TO + 2, MEXC_TO + 7) == s.GAP
    assert MEXC_RULE.next(MEXC_TO, MEXC_TO - 3, MEXC_TO + 7) == s.GAP  # overlap not starting at local+1


def test_gate_rule_first_and_next() -> None:
    """Gate: drop u < id+1; first needs U <= id+1 <= u; then U == local+1."""
    base = 48776300
    assert GATE_RULE.first(base, 48776290, base) == s.DROP  # u < id+1
    assert GATE_RULE.first(base, GATE_U, GATE_u) == s.APPLY  # U == id+1
    assert GATE_RULE.first(base + 3, GATE_U, GATE_u) == s.APPLY  # U <= id+1 <= u
    assert GATE_RULE.first(base - 1, GATE_U, GATE_u) == s.GAP  # U > id+1: snapshot behind
    assert GATE_RULE.next(GATE_u, GATE_u + 1, GATE_u + 4) == s.APPLY
    assert GATE_RULE.next(GATE_u, GATE_U, GATE_u) == s.DROP
    assert GATE_RULE.next(GATE_u, GATE_u + 2, GATE_u + 4) == s.GAP


# ------------------------------------------------------------------ MEXC state machine


def test_initial_state_needs_snapshot_and_buffers() -> None:
    """A fresh sync is STALE, asks for a snapshot and buffers diffs without exposing a book."""
    sy = BookSync(MEXC_RULE)
    assert sy.state is BookState.STALE and sy.needs_snapshot
    assert sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS) is False
    assert sy.buffered == 1
    sy.begin_snapshot()
    assert sy.state is BookState.RESYNCING and not sy.needs_snapshot


def test_mexc_snapshot_replays_buffer_from_first_containing_push() -> None:
    """Buffered pushes older than the snapshot drop; the one containing it and its successors apply."""
    sy = BookSync(MEXC_RULE)
    sy.on_diff(43296363200, 43296363235, [("117000", "9")], [])  # outdated: toVersion < snapshot
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    sy.on_diff(MEXC_TO + 1, MEXC_TO + 3, [("117053.41", "0.7")], [])
    sy.begin_snapshot()
    assert sy.on_snapshot(43296363240, SNAP_BIDS, SNAP_ASKS) is True
    assert sy.state is BookState.OK
    assert sy.book.seq == MEXC_TO + 3
    assert sy.dropped == 1 and sy.applied == 2
    bids, asks = sy.book.top(5)
    assert bids[0] == Level(117053.41, 0.7)
    assert asks == [Level(117146.0, 1.0)]


def test_mexc_stale_snapshot_is_a_gap_and_asks_again() -> None:
    """A snapshot older than the first buffered push (fromVersion > snapshot+1) is not exposed; resnapshot."""
    sy = BookSync(MEXC_RULE)
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    sy.begin_snapshot()
    assert sy.on_snapshot(MEXC_FROM - 10, SNAP_BIDS, SNAP_ASKS) is False
    assert sy.state is BookState.STALE and sy.needs_snapshot
    assert sy.reason == s.R_STALE_SNAPSHOT and sy.gaps == 1
    assert sy.buffered == 1  # kept: the next snapshot may be continued by it
    sy.begin_snapshot()
    assert sy.on_snapshot(MEXC_FROM + 1, SNAP_BIDS, SNAP_ASKS) is True
    assert sy.book.seq == MEXC_TO


def test_mexc_live_gap_goes_stale_then_recovers() -> None:
    """A live push not continuing the book marks it STALE, counts a gap and a resync, and asks for a snapshot."""
    sy = _synced_mexc()
    assert sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS) is True
    assert sy.on_diff(MEXC_TO + 5, MEXC_TO + 9, [("117053.41", "1")], []) is False
    assert sy.state is BookState.STALE and sy.needs_snapshot
    assert (sy.gaps, sy.resyncs, sy.reason) == (1, 1, s.R_GAP)
    assert sy.on_diff(MEXC_TO + 10, MEXC_TO + 12, [("117053.41", "2")], []) is False  # buffered, not applied
    sy.begin_snapshot()
    assert sy.on_snapshot(MEXC_TO + 7, SNAP_BIDS, SNAP_ASKS) is True
    assert sy.book.seq == MEXC_TO + 12
    assert sy.book.best_bid() == Level(117053.41, 2.0)


def test_mexc_duplicates_are_dropped() -> None:
    """A push seen twice (e.g. during connection rotation) is dropped by sequence, the book stays OK."""
    sy = _synced_mexc()
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    sy.on_diff(MEXC_TO + 1, MEXC_TO + 4, [("117053.41", "5")], [])
    assert sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS) is False
    assert sy.on_diff(MEXC_TO + 1, MEXC_TO + 4, [("117053.41", "5")], []) is False
    assert sy.state is BookState.OK and sy.dropped == 2
    assert sy.book.best_bid() == Level(117053.41, 5.0)


def test_mexc_out_of_order_push_is_a_gap() -> None:
    """Pushes swapped in transit: the later one arrives first and is a gap; never applied out of order."""
    sy = _synced_mexc()
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    assert sy.on_diff(MEXC_TO + 3, MEXC_TO + 4, [("1", "1")], []) is False
    assert sy.state is not BookState.OK
    assert sy.on_diff(MEXC_TO + 1, MEXC_TO + 2, [("2", "1")], []) is False
    assert sy.book.seq == MEXC_TO


def test_first_live_push_after_snapshot_uses_first_rule() -> None:
    """With an empty buffer, the first live push after the snapshot is judged against the snapshot version."""
    sy = _synced_mexc(snap=MEXC_FROM + 5)  # snapshot inside the push range
    assert sy.on_diff(MEXC_FROM - 30, MEXC_FROM - 1, [("1", "1")], []) is False  # outdated
    assert sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS) is True
    assert sy.state is BookState.OK and sy.book.seq == MEXC_TO


def test_first_live_push_after_snapshot_gap() -> None:
    """With an empty buffer, a first live push starting after snapshot+1 is a gap."""
    sy = _synced_mexc(snap=MEXC_FROM - 5)
    assert sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS) is False
    assert sy.state is BookState.STALE and sy.reason == s.R_STALE_SNAPSHOT


def test_crossed_book_after_apply_is_corrupt() -> None:
    """A push that leaves bid >= ask makes the book STALE, counted, with a fresh snapshot requested."""
    sy = _synced_mexc()
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    assert sy.on_diff(MEXC_TO + 1, MEXC_TO + 1, [("117200", "1")], []) is False
    assert sy.state is BookState.STALE and sy.needs_snapshot
    assert (sy.crossed, sy.resyncs, sy.gaps, sy.reason) == (1, 1, 0, s.R_CROSSED)


def test_crossed_snapshot_is_never_ok() -> None:
    """A crossed snapshot is rejected and another one requested."""
    sy = BookSync(MEXC_RULE)
    sy.begin_snapshot()
    assert sy.on_snapshot(5, [("10", "1")], [("9", "1")]) is False
    assert sy.state is BookState.STALE and sy.needs_snapshot and sy.crossed == 1


def test_crossed_during_replay_is_never_ok() -> None:
    """A buffered diff that crosses the book during replay leaves the book STALE."""
    sy = BookSync(MEXC_RULE)
    sy.on_diff(11, 12, [("200000", "1")], [])
    sy.begin_snapshot()
    assert sy.on_snapshot(10, SNAP_BIDS, SNAP_ASKS) is False
    assert sy.state is BookState.STALE and sy.reason == s.R_CROSSED and sy.buffered == 0


def test_buffer_is_bounded() -> None:
    """Diffs buffered while waiting for a snapshot are bounded; the oldest are dropped and counted."""
    sy = BookSync(MEXC_RULE, max_buffer=3)
    for i in range(5):
        sy.on_diff(10 + i, 10 + i, [("1", str(i + 1))], [])
    assert sy.buffered == 3 and sy.overflows == 2
    sy.begin_snapshot()
    assert sy.on_snapshot(10, [("1", "9")], [("2", "1")]) is False  # oldest kept is 12 > 11: gap
    sy.begin_snapshot()
    assert sy.on_snapshot(12, [("1", "9")], [("2", "1")]) is True
    assert sy.book.seq == 14 and sy.book.best_bid() == Level(1.0, 5.0)


def test_mark_stale_on_disconnect() -> None:
    """A disconnect makes an OK book STALE, discards buffered diffs and asks for a snapshot."""
    sy = _synced_mexc()
    sy.mark_stale()
    assert sy.state is BookState.STALE and sy.needs_snapshot and sy.resyncs == 1
    assert sy.reason == s.R_DISCONNECTED and sy.buffered == 0


def test_snapshot_failed_asks_again() -> None:
    """A failed fetch sends the book back to STALE with needs_snapshot set."""
    sy = BookSync(MEXC_RULE)
    sy.begin_snapshot()
    sy.snapshot_failed()
    assert sy.state is BookState.STALE and sy.needs_snapshot


def test_older_snapshot_ignored_when_ok() -> None:
    """A snapshot older than an OK book is ignored."""
    sy = _synced_mexc()
    sy.on_diff(MEXC_FROM, MEXC_TO, MEXC_BIDS, MEXC_ASKS)
    assert sy.on_snapshot(MEXC_FROM, [("1", "1")], [("2", "1")]) is True
    assert sy.book.seq == MEXC_TO and sy.book.best_bid() == Level(117053.41, 1.86837271)


def test_malformed_range_is_never_applied() -> None:
    """A diff with first > last is treated as a gap, never applied."""
    sy = _synced_mexc()
    assert sy.on_diff(MEXC_TO, MEXC_FROM, [("1", "1")], []) is False
    assert sy.state is BookState.STALE and sy.reason == s.R_MALFORMED


# ------------------------------------------------------------------ Gate state machine


def test_gate_snapshot_and_sequence() -> None:
    """Gate: diffs with u < id+1 drop, U <= id+1 <= u applies, then U == local+1 continues."""
    sy = BookSync(GATE_RULE)
    sy.on_diff(48776290, 48776300, [("19000", "5")], [])  # u == id: dropped
    sy.on_diff(GATE_U, GATE_u, GATE_BIDS, GATE_ASKS)
    sy.on_diff(GATE_u + 1, GATE_u + 2, [], [["19137.75", "0"]])
    sy.begin_snapshot()
    ok = sy.on_snapshot(48776300, [["19137.70", "1"], ["19088.37", "3"]], [["19140", "2"]])
    assert ok and sy.state is BookState.OK and sy.book.seq == GATE_u + 2
    bids, asks = sy.book.top(5)
    assert bids == [Level(19137.74, 0.0001), Level(19137.70, 1.0)]
    assert asks == [Level(19140.0, 2.0)]
    assert sy.dropped == 1
    assert sy.on_diff(GATE_u + 3, GATE_u + 3, [["19137.70", "2"]], []) is True
    assert sy.on_diff(GATE_u + 5, GATE_u + 6, [], []) is False
    assert sy.state is BookState.STALE and sy.gaps == 1


def test_gate_snapshot_behind_stream_refetches() -> None:
    """Gate: id+1 < first U means the snapshot is behind the stream: refetch."""
    sy = BookSync(GATE_RULE)
    sy.on_diff(GATE_U, GATE_u, GATE_BIDS, GATE_ASKS)
    sy.begin_snapshot()
    assert sy.on_snapshot(GATE_U - 5, [["1", "1"]], [["2", "1"]]) is False
    assert sy.needs_snapshot and sy.gaps == 1


def test_gate_full_push_replaces_book_and_sets_id() -> None:
    """Gate spot full=true push replaces the book at any time and sets the id to u."""
    sy = BookSync(GATE_RULE)
    sy.on_diff(GATE_U - 10, GATE_U - 5, [["1", "1"]], [])  # before the full push: dropped on install
    assert sy.on_full(GATE_u, GATE_BIDS, GATE_ASKS) is True
    assert sy.state is BookState.OK and sy.book.seq == GATE_u
    assert sy.book.top(5) == ([Level(19137.74, 0.0001)], [Level(19137.75, 0.6135)])
    assert sy.on_diff(GATE_u + 1, GATE_u + 1, [["19137.74", "0.5"]], []) is True
    # a later full push replaces everything again, even mid-stream
    assert sy.on_full(GATE_u + 50, [["10", "1"]], [["11", "1"]]) is True
    assert sy.book.seq == GATE_u + 50 and sy.book.depth() == (1, 1)
    assert sy.on_diff(GATE_u + 51, GATE_u + 51, [["10", "2"]], []) is True


def test_gate_full_push_behind_an_ok_book_is_dropped_not_a_rewind() -> None:
    """A rotation's new socket delivers its first (full) push after the old socket moved the book past it:
    the book keeps its id and content, and the old socket's next diff continues it (no gap, no resync)."""
    sy = BookSync(GATE_RULE)
    sy.on_full(GATE_u, GATE_BIDS, GATE_ASKS)
    assert sy.on_diff(GATE_u + 1, GATE_u + 5, [["19137.74", "0.5"]], []) is True
    assert sy.on_full(GATE_u + 3, [["5", "1"]], [["6", "1"]]) is False
    assert sy.state is BookState.OK and sy.book.seq == GATE_u + 5 and sy.dropped == 1
    assert sy.book.top(5) == ([Level(19137.74, 0.5)], [Level(19137.75, 0.6135)])
    assert sy.on_diff(GATE_u + 6, GATE_u + 6, [["19137.74", "0.7"]], []) is True
    assert sy.gaps == 0 and sy.state is BookState.OK
    # the same id again (both sockets' full pushes) is dropped too; a newer one still replaces the book
    assert sy.on_full(GATE_u + 6, [["5", "1"]], [["6", "1"]]) is False
    assert sy.on_full(GATE_u + 9, [["5", "1"]], [["6", "1"]]) is True and sy.book.seq == GATE_u + 9


def test_gate_full_push_recovers_from_gap() -> None:
    """After a Gate gap, a full push (from resubscribing) makes the book OK without REST."""
    sy = BookSync(GATE_RULE)
    sy.on_full(GATE_u, GATE_BIDS, GATE_ASKS)
    sy.on_diff(GATE_u + 3, GATE_u + 4, [], [])
    assert sy.needs_snapshot
    sy.begin_snapshot()
    assert sy.on_full(GATE_u + 10, [["5", "1"]], [["6", "1"]]) is True
    assert sy.state is BookState.OK and sy.book.seq == GATE_u + 10


def test_the_venue_apply_function_takes_every_diff_live_and_replayed() -> None:
    """BookSync puts a diff's levels in through the venue's ``apply`` (here: sizes in lots of 10), whether the diff
    is applied live or replayed from the buffer after a snapshot; the rules share one ``next``."""
    calls = []

    def lots(book: L2Book, bids: list, asks: list) -> None:
        calls.append(len(bids) + len(asks))
        L2Book.apply(book, [(p, n / 10) for p, n in bids], [(p, n / 10) for p, n in asks])

    sy = BookSync(GATE_RULE, apply=lots)
    sy.on_diff(GATE_U, GATE_u, [(100.0, 5)], [])  # buffered: no snapshot yet
    sy.begin_snapshot()
    assert sy.on_snapshot(GATE_U, [(99.0, 1.0)], [(101.0, 1.0)])
    assert sy.on_diff(GATE_u + 1, GATE_u + 1, [], [(101.0, 30)]) is True
    assert calls == [1, 1] and sy.book.top(2) == ([Level(100.0, 0.5), Level(99.0, 1.0)], [Level(101.0, 3.0)])
    assert GATE_RULE.next is MEXC_RULE.next
