"""Order book update streams (spot.order_book_update, spot.obu, futures.order_book_update).

Gate's rule (exchange-facts §2.10): every book has an update id incremented by 1 per change, equal to
REST ``order_book?with_id=true`` ``id``; a push carries ``U`` (first id) .. ``u`` (last id) of the changes it
aggregates; amounts are absolute, "0" deletes; a level-limited subscription is only told about levels
within its depth.

The engine's ``Book.update_id`` is that id (one increment per engine BookChange). Each subscription
keeps the view it last told the client (top ``depth`` levels per side) and, every interval, diffs the
engine's current top ``depth`` against it: the push covers ``U = last_u + 1 .. u = book.update_id``,
i.e. exactly the BookChange events that happened since, with levels entering or leaving the window
included. A client that applies the pushes to a REST snapshot of the same depth holds the venue's book.

Faults (per push): ``book_skip`` (not sent: the client sees U > local + 1), ``book_duplicate`` (sent
twice), ``book_reorder`` (held back and sent after the next push).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def fmt(d: Decimal | float | str) -> str:
    """Decimal -> plain string without exponent or trailing zeros ("65000", "0.00000045")."""
    if isinstance(d, str):
        return d
    if not isinstance(d, Decimal):
        d = Decimal(str(d))
    if d == 0:
        return "0"
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


Levels = dict[Decimal, Decimal]


class BookView:
    """What one subscription last told its client about one book."""

    __slots__ = ("asks", "bids", "depth", "held", "interval_ms", "key", "last_u", "next_due", "symbol")

    def __init__(self, symbol: str, depth: int, interval_ms: int, key: str) -> None:
        self.symbol = symbol
        self.depth = depth
        self.interval_ms = interval_ms
        self.key = key
        self.last_u = -1
        self.bids: Levels = {}
        self.asks: Levels = {}
        self.next_due = 0.0
        self.held: bytes | None = None

    def reset(self, book: Any) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Take the engine's current top levels as the told view; returns them (for a full push)."""
        uid, bids, asks = book.depth(self.depth)
        self.last_u = uid
        self.bids = {p: q for p, q in bids}
        self.asks = {p: q for p, q in asks}
        return uid, list(bids), list(asks)

    def diff(self, book: Any) -> tuple[int, int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]] | None:
        """Changes since the told view as (U, u, bids, asks); None when the book did not change."""
        uid, bids, asks = book.depth(self.depth)
        if uid == self.last_u:
            return None
        first = self.last_u + 1
        new_b = {p: q for p, q in bids}
        new_a = {p: q for p, q in asks}
        db = _changes(self.bids, new_b, reverse=True)
        da = _changes(self.asks, new_a, reverse=False)
        self.last_u = uid
        self.bids = new_b
        self.asks = new_a
        return first, uid, db, da


def _changes(old: Levels, new: Levels, reverse: bool) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, Decimal(0)) for p in old if p not in new)
    out.sort(key=lambda pq: pq[0], reverse=reverse)
    return out


__all__ = ["BookView", "fmt"]
