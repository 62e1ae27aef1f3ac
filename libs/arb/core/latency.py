"""Latency histograms per minute: the recorder's rollup of the book tickers' stamps, read by ``arb analytics feeds``.
(In core: it is the stored form both sides share, and analytics depends on the schema, never on the recorder.)

Why a rollup: percentiles over raw stamps cost about 1 us per row (200 ms for a day of one-second tickers on three
venue markets); one small histogram per (exchange, symbol, minute) makes that day 1,440 rows per market whatever the
tick rate, at a bounded error.

Buckets (log-spaced, as DDSketch and HDR histograms do): ``BOUNDS[j] = round(1 us * 2^(j/8))`` ns, j = 0..239. A
value v (ns) has code ``256 + sign(v) * k`` where k = how many bounds are <= |v| (0 for |v| < 1 us, 240 from about
985 s up): codes order like the values, negatives (a venue clock ahead of ours) below 256. A code reads back as its
bucket's geometric middle, within 2^(1/16) - 1 = 4.4 % (``ERROR``) of every value in it (bucket 0 as 0, within 1 us; the last
one as its lower bound). The bounds are integers so PostgreSQL's ``latency_code`` (``width_bucket`` over the same
array, migration 0005) gives the very same code as ``codes`` here: the SQL backfill and the writer agree bit for bit.

Stored as ``bytea``: (uint16 code, uint16 count) pairs, big-endian (PostgreSQL's send order), a count above 65,535
split over several pairs of one code (4 bytes a pair: a day's feeds query moves a third less than with uint32 counts).
A row grows by concatenation, one pair per bucket a batch touched (a code may repeat: a reader sums them), and
PostgreSQL compacts it (``latency_merge``) once it passes 1,024 bytes, so a minute stays small however many batches
it took.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

import numpy as np

STEPS_PER_OCTAVE = 8
BOUNDS = np.array([round(1000 * 2 ** (j / STEPS_PER_OCTAVE)) for j in range(240)], dtype=np.int64)
ZERO = 256  # the code of |v| < 1 us
CODES = 2 * ZERO  # codes are 16..496; 512 leaves room and keeps bincount's output fixed
PAIR = np.dtype([("code", ">u2"), ("count", ">u2")])
MAX_COUNT = 65_535  # of one pair
# the largest relative error of a value read back (buckets 1..239): 2^(1/16) - 1 but for the integer rounding of
# the smallest bounds (4.45 % at 1 us)
ERROR = float(np.sqrt(BOUNDS[1:] / BOUNDS[:-1]).max()) - 1

_MINUTE_US = 60_000_000
_MINUTE_NS = 60_000_000_000


def _middles() -> np.ndarray:
    mid = np.zeros(CODES, dtype=np.float64)
    geo = np.sqrt(BOUNDS[:-1].astype(np.float64) * BOUNDS[1:].astype(np.float64))  # bucket k = 1..239
    mid[ZERO + 1:ZERO + 240] = geo
    mid[ZERO + 240] = float(BOUNDS[-1])
    mid[ZERO - 239:ZERO] = -geo[::-1]
    mid[ZERO - 240] = -float(BOUNDS[-1])
    return mid


VALUE = _middles()  # VALUE[code]: the ns a code reads back as


def codes(ns: np.ndarray) -> np.ndarray:
    """The bucket code of each latency (int64 ns)."""
    k = np.searchsorted(BOUNDS, np.abs(ns), side="right")
    return (ZERO + np.sign(ns) * k).astype(np.int64)


def encode(c: np.ndarray) -> bytes:
    """The stored histogram of a set of codes: one pair per distinct code, in code order."""
    return from_counts(np.bincount(c, minlength=CODES))  # 5 us for 1,000 codes; np.unique's sort took 48


def from_counts(h: np.ndarray) -> bytes:
    """The stored (compact) form of counts per code: what PostgreSQL's ``latency_compact`` makes of it too."""
    nz = np.flatnonzero(h)
    return _pairs(*_split(nz, h[nz])).tobytes()


def _split(key: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A count above MAX_COUNT as several counts of its key (65,535 each, the rest last)."""
    if not len(n) or n.max() <= MAX_COUNT:
        return key, n
    parts = (n + MAX_COUNT - 1) // MAX_COUNT
    first = np.repeat(np.cumsum(parts) - parts, parts)
    total = int(parts.sum())
    return np.repeat(key, parts), np.minimum(np.repeat(n, parts) - (np.arange(total) - first) * MAX_COUNT, MAX_COUNT)


def _pairs(code: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.empty(len(code), dtype=PAIR)
    out["code"] = code
    out["count"] = n
    return out


def counts(blob: bytes) -> np.ndarray:
    """A stored histogram (or several concatenated) as counts per code (``CODES`` long)."""
    if not blob:
        return np.zeros(CODES, dtype=np.int64)
    p = np.frombuffer(blob, dtype=PAIR)
    return np.bincount(p["code"], weights=p["count"], minlength=CODES).astype(np.int64)


def percentiles(hist: np.ndarray, qs: Sequence[float]) -> list[float | None]:
    """Percentiles (ns) of the values a histogram holds, each read back as its bucket's middle, interpolated
    linearly between closest ranks (rank = q * (n - 1), as percentile_cont and numpy's default)."""
    n = int(hist.sum())
    if n == 0:
        return [None for _ in qs]
    cum = np.cumsum(hist)
    out: list[float | None] = []
    for q in qs:
        r = q * (n - 1)
        lo, hi = math.floor(r), math.ceil(r)
        a, b = VALUE[np.searchsorted(cum, lo, side="right")], VALUE[np.searchsorted(cum, hi, side="right")]
        out.append(float(a + (r - lo) * (b - a)))
    return out


def rows(ex: Sequence[int], sym: Sequence[int], ts_event: Sequence[int], ts_pub: Sequence[int],
         ts_rec: int | Sequence[int]) -> list[tuple]:
    """The rollup rows of a batch of book tickers, one per (exchange_id, symbol_id, minute of ts_event) in key order:
    (exchange_id, symbol_id, minute as ns, n, x2p, p2r, x2r) with x2p = ts_pub - ts_event, p2r = ts_rec - ts_pub
    and x2r = ts_rec - ts_event as stored histograms. The minute is ``date_trunc('minute', ns_to_ts(ts_event))``
    (bbo_1m's)."""
    n = len(ts_event)
    if n == 0:
        return []
    try:
        tev = np.array(ts_event, dtype=np.int64)
        tpub = np.array(ts_pub, dtype=np.int64)
        trec = np.array(ts_rec, dtype=np.int64)
    except OverflowError:  # a stamp beyond int64
        return _rows_exact(ex, sym, ts_event, ts_pub, ts_rec)
    if min(tev.min(), tpub.min(), trec.min()) < -_SAFE or max(tev.max(), tpub.max(), trec.max()) > _SAFE:
        return _rows_exact(ex, sym, ts_event, ts_pub, ts_rec)
    e = np.array(ex, dtype=np.int64)
    s = np.array(sym, dtype=np.int64)
    us = np.where(tev >= 0, tev // 1000, -(-tev // 1000))  # ns_to_ts truncates toward zero
    minute = us // _MINUTE_US
    series = (codes(tpub - tev), codes(trec - tpub), codes(trec - tev))
    if e.min() == e.max() and s.min() == s.max() and minute.min() == minute.max():  # the usual batch: one group
        return [(int(e[0]), int(s[0]), int(minute[0]) * _MINUTE_NS, n, *(encode(c) for c in series))]
    order = np.lexsort((minute, s, e))
    e, s, minute = e[order], s[order], minute[order]
    start = np.flatnonzero(np.r_[True, (e[1:] != e[:-1]) | (s[1:] != s[:-1]) | (minute[1:] != minute[:-1])])
    sizes = np.diff(np.r_[start, n])
    group = np.repeat(np.arange(len(start)), sizes)
    blobs = []
    for c in series:
        u, cnt = np.unique(group * CODES + c[order], return_counts=True)  # by group, then code (a bincount would
        u, cnt = _split(u, cnt)                                            # be groups x 512 long)
        pairs = _pairs(u % CODES, cnt)
        cut = (np.searchsorted(u // CODES, np.arange(len(start) + 1)) * PAIR.itemsize).tolist()
        raw = pairs.tobytes()
        blobs.append([raw[a:b] for a, b in itertools.pairwise(cut)])
    minutes = (minute[start] * _MINUTE_NS).tolist()
    return list(zip(e[start].tolist(), s[start].tolist(), minutes, sizes.tolist(), *blobs, strict=True))


_INTO = "INSERT INTO feed_latency_1m AS r (exchange_id, symbol_id, bucket, n, x2p, p2r, x2r) "
_ON = ("ON CONFLICT (exchange_id, symbol_id, bucket) DO UPDATE SET n = r.n + excluded.n, "
       "x2p = latency_merge(r.x2p, excluded.x2p), p2r = latency_merge(r.p2r, excluded.p2r), "
       "x2r = latency_merge(r.x2r, excluded.x2r)")
# a rollup row: $1..$3 the key (exchange_id, symbol_id, minute ns), $4 n, $5..$7 the histograms
UPSERT = _INTO + "VALUES ($1, $2, ns_to_ts($3), $4, $5, $6, $7) " + _ON


def after(first_upsert: str, first: int) -> str:
    """``first_upsert`` (another rollup's row of the same key, $1..$3 shared, RETURNING nothing) then this row, n and
    the histograms numbered from ``first``, in one statement. The histogram row is inserted FROM the first upsert's
    RETURNING, which makes PostgreSQL run that one first (an unread data-modifying CTE runs after the main query):
    the other rollup's row is locked before this one, the order every path keeps."""
    n, a, b, c = (f"${first + i}" for i in range(4))
    return (f"WITH first AS ({first_upsert} RETURNING 1) " + _INTO
            + f"SELECT $1, $2, ns_to_ts($3), {n}::bigint, {a}::bytea, {b}::bytea, {c}::bytea FROM first " + _ON)


def bounds_sql() -> str:
    """The bounds as the SQL array literal migration 0005 holds (a unit test keeps the two equal)."""
    return "'{" + ",".join(str(int(b)) for b in BOUNDS) + "}'::bigint[]"


_SAFE = 2**62  # stamps within +-2^62 ns (1824..2116): their differences and minutes fit numpy's int64
_BOUNDS = BOUNDS.tolist()


def _code(d: int) -> int:
    k = bisect.bisect_right(_BOUNDS, abs(d))
    return ZERO + k if d > 0 else ZERO - k if d < 0 else ZERO


def _rows_exact(ex: Sequence[int], sym: Sequence[int], ts_event: Sequence[int], ts_pub: Sequence[int],
                ts_rec: int | Sequence[int]) -> list[tuple]:
    """``rows`` in Python integers, for a batch with a stamp numpy's int64 arithmetic would wrap (a venue's garbage
    time): the codes of the exact differences (SQL's backfill clamps them the same way, ``latency_diff``)."""
    recs = [ts_rec] * len(ts_event) if isinstance(ts_rec, int) else list(ts_rec)
    groups: dict[tuple[int, int, int], list] = {}
    for e, s, tev, tpub, trec in zip(ex, sym, ts_event, ts_pub, recs, strict=True):
        us = tev // 1000 if tev >= 0 else -(-tev // 1000)
        g = groups.setdefault((int(e), int(s), us // _MINUTE_US * _MINUTE_NS),
                              [0, np.zeros(CODES, np.int64), np.zeros(CODES, np.int64), np.zeros(CODES, np.int64)])
        g[0] += 1
        for h, d in zip(g[1:], (tpub - tev, trec - tpub, trec - tev), strict=True):
            h[_code(d)] += 1
    return [(*k, g[0], *(from_counts(h) for h in g[1:])) for k, g in sorted(groups.items())]
