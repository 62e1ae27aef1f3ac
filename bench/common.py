"""One results table for `make bench`: our figure, the peer or floor measured in the same run, the target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import msgspec


class Row(msgspec.Struct, kw_only=True):
    figure: str
    ours: float
    unit: str
    peer: float | None = None
    peer_name: str = ""
    target: str = ""  # e.g. "<= 100 ns", ">= 400000 lines/s"
    met: bool | None = None  # None: no target


def per_call_ns(fn: Callable[[], object], number: int = 200_000, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean per-call cost of fn(), in ns (loop overhead subtracted)."""
    def empty() -> None:
        return None

    def run(f: Callable[[], object]) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(number):
            f()
        return (time.perf_counter_ns() - t0) / number

    base = statistics.median(run(empty) for _ in range(repeat))
    return max(0.0, statistics.median(run(fn) for _ in range(repeat)) - base)


def check(value: float, target: str) -> bool | None:
    if not target:
        return None
    op, num = target.split()[0], float(target.split()[1].replace(",", ""))
    return value <= num if op == "<=" else value >= num


def fmt_num(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100_000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:,.1f}"
    return f"{x:.3g}"


def print_table(rows: list[Row]) -> None:
    header = ("figure", "ours", "unit", "peer / floor (same run)", "target", "met")
    lines = [
        (
            r.figure,
            fmt_num(r.ours),
            r.unit,
            f"{fmt_num(r.peer)} ({r.peer_name})" if r.peer is not None else "-",
            r.target or "-",
            {True: "yes", False: "NO", None: "-"}[r.met],
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    fmt_line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt_line.format(*header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt_line.format(*line))
