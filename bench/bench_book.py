"""L2 book hot path: applying depth frames and extracting top-20.

Workload: 1000 levels per side at a 0.01 tick, frames of 5 levels on random prices within 1200 ticks of
the mid (mostly updates of existing levels, 20 % zero sizes = deletes, so inserts follow), given as the
venue's decimal strings (what MEXC protobuf and Gate JSON deliver) and, separately, as floats (the book's
own cost without string parsing). Peer: ``sortedcontainers.SortedDict`` per side with the same parsing,
when installed (it is not a dependency: the dict + bisect layout measured faster).
"""

from __future__ import annotations

import random
import statistics
import time

from arb.core.market_data import Level
from arb.venues.common.book import L2Book

from bench.common import Row, check, per_call_ns

MID = 50_000.0
DEPTH = 1000
FRAMES = 20_000


def _levels(side: int) -> list[tuple[str, str]]:
    return [(f"{MID + side * 0.01 * i:.2f}", "1.5") for i in range(1, DEPTH + 1)]


def _frames(seed: int = 1) -> list[tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(FRAMES):
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for _ in range(5):
            off = rng.randint(1, 1200) * 0.01
            sz = "0" if rng.random() < 0.2 else f"{rng.random() * 3:.8f}"
            if rng.random() < 0.5:
                bids.append((f"{MID - off:.2f}", sz))
            else:
                asks.append((f"{MID + off:.2f}", sz))
        out.append((bids, asks))
    return out


def _fresh() -> L2Book:
    b = L2Book()
    b.replace(_levels(-1), _levels(1))
    return b


def _time_frames(apply, make, frames, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Median ns per frame over `repeat` passes, each on a freshly built book."""
    runs = []
    for _ in range(repeat):
        target = make()
        fn = apply(target)
        t0 = time.perf_counter_ns()
        for b, a in frames:
            fn(b, a)
        runs.append((time.perf_counter_ns() - t0) / len(frames))
    return statistics.median(runs)


def _sorteddict_peer(frames):  # type: ignore[no-untyped-def]
    try:
        from sortedcontainers import SortedDict
    except ImportError:
        return None, None

    def make():  # type: ignore[no-untyped-def]
        bids = SortedDict({-float(p): float(s) for p, s in _levels(-1)})
        asks = SortedDict({float(p): float(s) for p, s in _levels(1)})
        return bids, asks

    def apply(book):  # type: ignore[no-untyped-def]
        bids, asks = book

        def fn(bu, au):  # type: ignore[no-untyped-def]
            for p, s in bu:
                p = -float(p)
                s = float(s)
                if s > 0.0:
                    bids[p] = s
                else:
                    bids.pop(p, None)
            for p, s in au:
                p = float(p)
                s = float(s)
                if s > 0.0:
                    asks[p] = s
                else:
                    asks.pop(p, None)

        return fn

    per_frame = _time_frames(apply, make, frames)
    bids, asks = make()

    def top20():  # type: ignore[no-untyped-def]
        return (
            [Level(-p, bids[p]) for p in bids.islice(0, 20)],
            [Level(p, asks[p]) for p in asks.islice(0, 20)],
        )

    return per_frame, per_call_ns(top20, number=20_000)


def run() -> list[Row]:
    frames = _frames()
    levels = sum(len(b) + len(a) for b, a in frames) / len(frames)  # 5
    float_frames = [
        ([(float(p), float(s)) for p, s in b], [(float(p), float(s)) for p, s in a]) for b, a in frames
    ]

    ours_str = _time_frames(lambda bk: bk.apply, _fresh, frames)
    ours_float = _time_frames(lambda bk: bk.apply, _fresh, float_frames)
    peer_frame, peer_top = _sorteddict_peer(frames)

    book = _fresh()
    top = book.top
    ours_top = per_call_ns(lambda: top(20), number=20_000)

    peer_name = "sortedcontainers.SortedDict" if peer_frame is not None else ""
    rows = [
        Row(
            figure="L2 apply per level (decimal strings)",
            ours=ours_str / levels,
            unit="ns",
            peer=None if peer_frame is None else peer_frame / levels,
            peer_name=peer_name,
            target="<= 1000 ns",
        ),
        Row(
            figure="L2 apply per level (floats, book only)",
            ours=ours_float / levels,
            unit="ns",
            target="<= 500 ns",
        ),
        Row(
            figure="L2 apply per 5-level frame (decimal strings)",
            ours=ours_str,
            unit="ns",
            peer=peer_frame,
            peer_name=peer_name,
            target="<= 5000 ns",
        ),
        Row(
            figure="L2 top-20 both sides -> list[Level]",
            ours=ours_top,
            unit="ns",
            peer=peer_top,
            peer_name=peer_name,
            target="<= 10000 ns",
        ),
    ]
    for r in rows:
        r.met = check(r.ours, r.target)
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
