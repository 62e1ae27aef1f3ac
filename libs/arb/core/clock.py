"""One time base for every process: integer nanoseconds since the Unix epoch.

Wall-clock ns (not monotonic) so ts_recv in one process and ts_pub in another on the same host are
comparable; venues' ms/s timestamps are converted once at the parser boundary.
"""

from time import time_ns as now_ns

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def ms_to_ns(ms: float | str) -> int:
    return int(ms) * NS_PER_MS if not isinstance(ms, float) else int(ms * NS_PER_MS)


def s_to_ns(s: float | str) -> int:
    if isinstance(s, str):
        s = float(s) if "." in s else int(s)
    return int(s) * NS_PER_S if isinstance(s, int) else round(s * 1e6) * 1000


__all__ = ["NS_PER_MS", "NS_PER_S", "ms_to_ns", "now_ns", "s_to_ns"]
