"""Metrics helpers: idempotent definitions, build info, timed() feeding a latency histogram."""

from __future__ import annotations

import platform

import pytest
from arb import __version__
from arb.obs import metrics
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_timed_observes_the_block_in_seconds() -> None:
    """timed(hist, *labels) adds one observation of the block's duration, in seconds."""
    hist = metrics.latency_histogram("arb_test_timed_seconds", "test", ["venue"])
    count0, sum0 = (
        sample("arb_test_timed_seconds_count", venue="mexc"),
        sample("arb_test_timed_seconds_sum", venue="mexc"),
    )

    with metrics.timed(hist, "mexc") as t:
        sum(range(1000))

    assert sample("arb_test_timed_seconds_count", venue="mexc") - count0 == 1
    observed = sample("arb_test_timed_seconds_sum", venue="mexc") - sum0
    assert observed == pytest.approx(t.elapsed_ns / 1e9) and 0 < observed < 1.0


def test_timed_observes_when_the_block_raises() -> None:
    """A block that raises is still observed, and the exception propagates."""
    hist = metrics.latency_histogram("arb_test_timed_raise_seconds", "test")
    count0 = sample("arb_test_timed_raise_seconds_count")

    with pytest.raises(KeyError), metrics.timed(hist):
        raise KeyError("x")

    assert sample("arb_test_timed_raise_seconds_count") - count0 == 1


def test_timed_accepts_a_prebound_child() -> None:
    """timed(hist.labels(...)) observes into that child without relabelling per use."""
    hist = metrics.latency_histogram("arb_test_timed_child_seconds", "test", ["kind"])
    child = hist.labels("book")

    with metrics.timed(child):
        pass

    assert sample("arb_test_timed_child_seconds_count", kind="book") == 1


def test_latency_buckets_span_10us_to_1s() -> None:
    """The latency histogram's buckets start at 10 us and end at 1 s, increasing."""
    b = metrics.LATENCY_BUCKETS

    assert b[0] == 10e-6 and b[-1] == 1.0 and list(b) == sorted(set(b))


def test_defining_the_same_metric_twice_returns_the_same_collector() -> None:
    """A second identical definition (another service in the process) reuses the first, no registry error."""
    first = metrics.counter("arb_test_dup_total", "test", ["venue"])

    second = metrics.counter("arb_test_dup_total", "test", ["venue"])

    assert first is second


def test_conflicting_redefinition_is_refused() -> None:
    """The same name with another type or label set raises ValueError instead of sharing a wrong collector."""
    metrics.gauge("arb_test_conflict", "test", ["venue"])

    with pytest.raises(ValueError, match="already defined"):
        metrics.gauge("arb_test_conflict", "test", ["market"])
    with pytest.raises(ValueError, match="already defined"):
        metrics.latency_histogram("arb_test_conflict", "test", ["venue"])


def test_build_info_carries_version_and_python() -> None:
    """arb_build_info{version,python} is 1 from import time."""
    assert sample("arb_build_info", version=__version__, python=platform.python_version()) == 1.0
