"""Gateway metrics: defined once with the documented names, labels and buckets; bound children count."""

import importlib

import pytest
from arb.venues.common import metrics as gm
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit


def test_reimport_reuses_collectors() -> None:
    """Importing the module again returns the same collectors instead of a duplicate-registration error."""
    again = importlib.reload(gm)
    assert again.MESSAGES is gm.MESSAGES


def test_names_labels_and_buckets() -> None:
    """Every gateway metric has its documented name, bounded labels and 100us..5s buckets."""
    assert gm.MESSAGES._labelnames == ("venue", "market", "kind")
    assert gm.PARSE_ERRORS._labelnames == ("venue", "market")
    assert gm.EXCHANGE_TO_PUBLISH._labelnames == ("venue", "market", "kind")
    assert gm.EXCHANGE_TO_PUBLISH_BUCKETS[0] == 100e-6 and gm.EXCHANGE_TO_PUBLISH_BUCKETS[-1] == 5.0


def test_bound_children_count() -> None:
    """bind() children increment the labelled series."""
    m = gm.bind("mexc", "spot")
    before = REGISTRY.get_sample_value(
        "arb_gateway_messages_total", {"venue": "mexc", "market": "spot", "kind": "book"}
    )
    m.messages("book").inc()
    m.messages("book").inc()
    m.book_gaps.inc()
    m.exchange_to_publish("book").observe(0.002)
    after = REGISTRY.get_sample_value(
        "arb_gateway_messages_total", {"venue": "mexc", "market": "spot", "kind": "book"}
    )
    assert after == (before or 0.0) + 2
    assert m.messages("book") is m.messages("book")
    assert REGISTRY.get_sample_value("arb_gateway_book_gaps_total", {"venue": "mexc", "market": "spot"}) >= 1
    le = {"venue": "mexc", "market": "spot", "kind": "book", "le": "0.0025"}
    assert REGISTRY.get_sample_value("arb_gateway_exchange_to_publish_seconds_bucket", le) >= 1


def test_export_adds_what_the_plain_totals_grew_since_the_last_call() -> None:
    """A gateway's plain int totals reach Prometheus as deltas: a second export of the same totals adds nothing."""
    m = gm.bind("gateio", "futures")
    labels = {"venue": "gateio", "market": "futures"}

    def now() -> tuple[float, float, float]:
        return (REGISTRY.get_sample_value("arb_gateway_messages_total", {**labels, "kind": "ticker"}) or 0.0,
                REGISTRY.get_sample_value("arb_gateway_parse_errors_total", labels) or 0.0,
                REGISTRY.get_sample_value("arb_gateway_book_resyncs_total", labels) or 0.0)

    before = now()
    m.export({"ticker": 5}, 2, 0, 1)
    m.export({"ticker": 5}, 2, 0, 1)
    m.export({"ticker": 7}, 3, 0, 1)
    after = now()
    assert [a - b for a, b in zip(after, before, strict=True)] == [7, 3, 1]
