"""Hot-path logger: caller cost and written lines/s, ours vs stdlib logging (FileHandler) vs a bare floor.

The floor is the least a deque + writer thread can do in Python: the caller appends (ts, msg, args), the
thread pops, renders ``msg % args`` with the timestamp and writes batches to a file. Ours adds level
filtering, the bounded check, the real line format, per-level counters and rotation on top of that.

Caller cost is the median of individually timed calls (perf_counter_ns around each call, the timer's own
median subtracted), taken in bursts that leave room in the buffer, so it measures the append path a
service sees, not the drop path. Lines/s is end to end on one process: the caller logs N lines (pausing
when the buffer is nearly full, so nothing is dropped), the clock stops when the last line is in the
file (shutdown / handler close). Both share the GIL, as they do in a service.

Run: ``python -m bench.run bench.bench_logger`` (or ``make bench``). About 10-20 s.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable

from arb.config.schema import LogConfig
from arb.obs import log as arblog

from bench.common import Row, check

MSG = "order %s px=%s qty=%d"
ARGS = ("BTC-USDT", "65000.1", 3)
BURST = 2_000
BURSTS = 50
LINES_OURS = 400_000
LINES_STDLIB = 60_000


def _timer_overhead(samples: int = 20_000) -> float:
    pc = time.perf_counter_ns
    out = []
    for _ in range(samples):
        t0 = pc()
        t1 = pc()
        out.append(t1 - t0)
    return statistics.median(out)


def _median_call_ns(call: Callable[[], None], between: Callable[[], None]) -> float:
    pc = time.perf_counter_ns
    out: list[int] = []
    app = out.append
    for _ in range(BURSTS):
        for _ in range(BURST):
            t0 = pc()
            call()
            app(pc() - t0)
        between()
    return max(0.0, statistics.median(out) - _timer_overhead())


# -- the floor -------------------------------------------------------------------------------------
class _Floor:
    def __init__(self, path: str) -> None:
        self.q: deque = deque()
        self.stop = False
        self.f = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def log(self, msg: str, *args: object) -> None:
        self.q.append((time.time_ns(), msg, args))

    def _run(self) -> None:
        q, popleft, write = self.q, self.q.popleft, self.f.write
        while True:
            n = len(q)
            if n:
                batch = [popleft() for _ in range(min(n, 256))]
                write("".join([f"{ts} {m % a}\n" for ts, m, a in batch]).encode())
            elif self.stop:
                return
            else:
                time.sleep(0.0005)

    def close(self) -> None:
        self.stop = True
        self.t.join()
        self.f.close()


def _wait_empty(q: deque) -> None:
    while q:
        time.sleep(0.0002)


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _pace(n: int, pending: Callable[[], int], high: int, call: Callable[[], None]) -> None:
    for i in range(n):
        if not i & 255 and pending() > high:
            while pending() > high // 2:
                time.sleep(0.0002)
        call()


# -- measurements ----------------------------------------------------------------------------------
def _ours_caller(tmp: str) -> tuple[float, int]:
    system = arblog.configure(
        LogConfig(console=False, file=os.path.join(tmp, "ours-caller.log"), file_max_bytes=0), "bench"
    )
    lg = arblog.get_logger("bench.caller")
    try:
        ns = _median_call_ns(lambda: lg.info(MSG, *ARGS), lambda: system.flush(10.0))
        return ns, system.dropped
    finally:
        system.shutdown(10.0)


def _stdlib_logger(path: str) -> tuple[logging.Logger, logging.Handler]:
    lg = logging.getLogger("bench.stdlib")
    lg.propagate = False
    lg.setLevel(logging.INFO)
    for h in list(lg.handlers):
        lg.removeHandler(h)
    h = logging.FileHandler(path)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    lg.addHandler(h)
    return lg, h


def _stdlib_caller(tmp: str) -> float:
    lg, h = _stdlib_logger(os.path.join(tmp, "stdlib-caller.log"))
    try:
        return _median_call_ns(lambda: lg.info(MSG, *ARGS), lambda: None)
    finally:
        lg.removeHandler(h)
        h.close()


def _floor_caller(tmp: str) -> float:
    fl = _Floor(os.path.join(tmp, "floor-caller.log"))
    try:
        return _median_call_ns(lambda: fl.log(MSG, *ARGS), lambda: _wait_empty(fl.q))
    finally:
        fl.close()


def _ours_rate(tmp: str) -> tuple[float, int]:
    path = os.path.join(tmp, "ours-rate.log")
    cfg = LogConfig(console=False, file=path, file_max_bytes=0, buffer_lines=65536)
    system = arblog.configure(cfg, "bench")
    lg = arblog.get_logger("bench.rate")
    info = lg.info
    t0 = time.perf_counter()
    _pace(LINES_OURS, lambda: system.pending, cfg.buffer_lines - 4096, lambda: info(MSG, *ARGS))
    system.shutdown(30.0)
    dt = time.perf_counter() - t0
    written = _count_lines(path)
    return written / dt, LINES_OURS - written + system.dropped


def _stdlib_rate(tmp: str) -> float:
    path = os.path.join(tmp, "stdlib-rate.log")
    lg, h = _stdlib_logger(path)
    info = lg.info
    t0 = time.perf_counter()
    for _ in range(LINES_STDLIB):
        info(MSG, *ARGS)
    lg.removeHandler(h)
    h.close()
    dt = time.perf_counter() - t0
    return _count_lines(path) / dt


def _floor_rate(tmp: str) -> float:
    path = os.path.join(tmp, "floor-rate.log")
    fl = _Floor(path)
    q = fl.q
    t0 = time.perf_counter()
    _pace(LINES_OURS, q.__len__, 65536 - 4096, lambda: fl.log(MSG, *ARGS))
    fl.close()
    dt = time.perf_counter() - t0
    return _count_lines(path) / dt


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="arb-bench-log-") as tmp:
        ours_ns, caller_drops = _ours_caller(tmp)
        std_ns = _stdlib_caller(tmp)
        floor_ns = _floor_caller(tmp)
        ours_rate, lost = _ours_rate(tmp)
        std_rate = _stdlib_rate(tmp)
        floor_rate = _floor_rate(tmp)
    if caller_drops or lost:
        raise RuntimeError(
            f"bench lost lines: {caller_drops} dropped while timing callers, {lost} in the rate run"
        )
    t_ns, t_rate = "<= 1000", ">= 400000"
    return [
        Row(
            figure="logger caller cost (median)",
            ours=ours_ns,
            unit="ns/call",
            peer=std_ns,
            peer_name="stdlib logging FileHandler",
            target=t_ns,
            met=check(ours_ns, t_ns),
        ),
        Row(
            figure="logger caller cost (median) vs floor",
            ours=ours_ns,
            unit="ns/call",
            peer=floor_ns,
            peer_name="bare deque+thread floor",
        ),
        Row(
            figure="log lines written to file",
            ours=ours_rate,
            unit="lines/s",
            peer=std_rate,
            peer_name="stdlib logging FileHandler",
            target=t_rate,
            met=check(ours_rate, t_rate),
        ),
        Row(
            figure="log lines written to file vs floor",
            ours=ours_rate,
            unit="lines/s",
            peer=floor_rate,
            peer_name="bare deque+thread floor",
        ),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
