"""Process-wide Prometheus metrics: one registry, idempotent definitions, a cheap timing context manager.

Every service in a process shares prometheus_client's default ``REGISTRY``. Define metrics at module
import time through :func:`counter`, :func:`gauge`, :func:`histogram` or :func:`latency_histogram`: they
return the already-registered collector when the same name is defined again with the same type and
labels (several services in one test process, a module imported twice under different names), and
raise ``ValueError`` on a real conflict (same name, different type or labels) instead of silently
sharing a collector that means something else.

Names follow the project rules: ``arb_`` prefix, base units (seconds, bytes), ``_total`` on counters,
bounded labels (venue, market, kind, symbol from the configured universe), never ids.

Timing::

    SUBMIT = latency_histogram("arb_trade_submit_seconds", "Order submit round trip", ["venue"])
    with timed(SUBMIT, "mexc"):
        await rest.submit(order)

On a hot path bind the labels once (``child = SUBMIT.labels("mexc")``) and pass ``timed(child)``:
``labels()`` takes a lock and a dict lookup (~1 us) that ``timed`` would otherwise pay per use.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Sequence
from time import perf_counter_ns
from types import TracebackType
from typing import Self

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.registry import CollectorRegistry

from .. import __version__

__all__ = [
    "LATENCY_BUCKETS",
    "REGISTRY",
    "build_info",
    "counter",
    "gauge",
    "histogram",
    "latency_histogram",
    "timed",
]

# 10 us .. 1 s, roughly 1-2.5-5 per decade: enough resolution for in-process hops (tens of us) and
# for venue round trips (tens to hundreds of ms). Anything slower lands in +Inf, which is itself a signal.
LATENCY_BUCKETS: tuple[float, ...] = (
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
)

_lock = threading.Lock()
_defined: dict[str, tuple[type, tuple[str, ...], object]] = {}


def _get_or_create(kind: type, name: str, doc: str, labels: Sequence[str], **kw: object):
    labels = tuple(labels)
    with _lock:
        known = _defined.get(name)
        if known is not None:
            k, lbl, collector = known
            if k is not kind or lbl != labels:
                raise ValueError(
                    f"metric {name!r} already defined as {k.__name__}{list(lbl)}, "
                    f"not {kind.__name__}{list(labels)}"
                )
            return collector
        collector = kind(name, doc, labels, registry=REGISTRY, **kw)
        _defined[name] = (kind, labels, collector)
        return collector


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    """A Counter in the process registry; the same one again if already defined identically."""
    return _get_or_create(Counter, name, doc, labels)


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    """A Gauge in the process registry; the same one again if already defined identically."""
    return _get_or_create(Gauge, name, doc, labels)


def histogram(
    name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
) -> Histogram:
    """A Histogram in the process registry; the same one again if already defined identically."""
    return _get_or_create(Histogram, name, doc, labels, buckets=tuple(buckets))


def latency_histogram(name: str, doc: str, labels: Sequence[str] = ()) -> Histogram:
    """A latency Histogram in seconds with buckets from 10 us to 1 s. The name should end in ``_seconds``."""
    return histogram(name, doc, labels, LATENCY_BUCKETS)


class timed:
    """``with timed(hist, *labels):`` observes the block's wall time in seconds (perf_counter_ns).

    The block is observed whether it returns or raises (a failed call's latency is still latency);
    exceptions propagate. ``elapsed_ns`` holds the measured duration after the block. A class with
    __slots__ rather than @contextmanager: no generator per use.
    """

    __slots__ = ("_metric", "_t0", "elapsed_ns")

    def __init__(self, metric: Histogram, *labels: str) -> None:
        self._metric = metric.labels(*labels) if labels else metric
        self._t0 = 0
        self.elapsed_ns = 0

    def __enter__(self) -> Self:
        self._t0 = perf_counter_ns()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.elapsed_ns = perf_counter_ns() - self._t0
        self._metric.observe(self.elapsed_ns / 1e9)


build_info = gauge(
    "arb_build_info", "Build of this process: always 1, facts in the labels", ["version", "python"]
)
build_info.labels(__version__, platform.python_version()).set(1)


def registry() -> CollectorRegistry:
    """The registry /metrics serves (prometheus_client's default)."""
    return REGISTRY
