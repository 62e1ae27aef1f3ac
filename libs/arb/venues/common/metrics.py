"""Prometheus metrics shared by every gateway, defined once at import (through ``arb.obs.metrics``).

Labels are bounded: ``venue`` and ``market`` from our enums, ``kind`` from the md kinds
(bbo, book, delta, trade, funding, mark, index, status) or a small fixed set of frame kinds
(``control``, ``unknown``). Never ids, never symbols outside the configured universe.

Hot path: bind children once per (venue, market[, kind]) with :func:`bind` and call ``.inc()`` /
``.observe()`` on them; ``labels()`` costs about a microsecond per call. Cheaper still, a gateway counts frames in
plain ints and hands the totals to :meth:`GatewayMetrics.export` once a second, which adds what grew since.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ...obs.metrics import counter, histogram

# 100 us .. 5 s: venue clock -> our publish, including network and the venue's own batching (100 ms).
EXCHANGE_TO_PUBLISH_BUCKETS: tuple[float, ...] = (
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
    2.5,
    5.0,
)

MESSAGES = counter(
    "arb_gateway_messages_total", "Venue messages handled by a gateway, by kind", ["venue", "market", "kind"]
)
PARSE_ERRORS = counter(
    "arb_gateway_parse_errors_total", "Venue frames that could not be parsed (skipped)", ["venue", "market"]
)
BOOK_GAPS = counter(
    "arb_gateway_book_gaps_total", "Order book sequence gaps detected (book went stale)", ["venue", "market"]
)
BOOK_RESYNCS = counter(
    "arb_gateway_book_resyncs_total", "Order books rebuilt from a snapshot after a loss", ["venue", "market"]
)
RECONNECTS = counter(
    "arb_gateway_reconnects_total", "WebSocket reconnects after an unplanned disconnect", ["venue", "market"]
)
EXCHANGE_TO_PUBLISH = histogram(
    "arb_gateway_exchange_to_publish_seconds",
    "From the venue's event timestamp to our bus publish",
    ["venue", "market", "kind"],
    buckets=EXCHANGE_TO_PUBLISH_BUCKETS,
)


class GatewayMetrics:
    """Children bound once for one (venue, market); ``kind`` children created on first use and cached."""

    __slots__ = (
        "_exported",
        "_exported_book",
        "_lat",
        "_msgs",
        "book_gaps",
        "book_resyncs",
        "market",
        "parse_errors",
        "reconnects",
        "venue",
    )

    def __init__(self, venue: str, market: str) -> None:
        self.venue = venue
        self.market = market
        self.parse_errors: Counter = PARSE_ERRORS.labels(venue, market)
        self.book_gaps: Counter = BOOK_GAPS.labels(venue, market)
        self.book_resyncs: Counter = BOOK_RESYNCS.labels(venue, market)
        self.reconnects: Counter = RECONNECTS.labels(venue, market)
        self._msgs: dict[str, Counter] = {}
        self._lat: dict[str, Histogram] = {}
        self._exported: dict[str, int] = {}  # messages by kind, as last exported
        self._exported_book = [0, 0, 0]  # parse errors, book gaps, book resyncs, as last exported

    def messages(self, kind: str) -> Counter:
        c = self._msgs.get(kind)
        if c is None:
            c = self._msgs[kind] = MESSAGES.labels(self.venue, self.market, kind)
        return c

    def exchange_to_publish(self, kind: str) -> Histogram:
        h = self._lat.get(kind)
        if h is None:
            h = self._lat[kind] = EXCHANGE_TO_PUBLISH.labels(self.venue, self.market, kind)
        return h


    def export(self, messages: dict[str, int], parse_errors: int, gaps: int, resyncs: int) -> None:
        """Totals kept as plain ints by a gateway (messages by kind, parse errors, book gaps and resyncs): the
        counters grow by what the totals grew since the last call (not on the hot path: about once a second)."""
        done = self._exported
        for kind, total in messages.items():
            d = total - done.get(kind, 0)
            if d > 0:
                self.messages(kind).inc(d)
                done[kind] = total
        last = self._exported_book
        for i, (total, ctr) in enumerate(((parse_errors, self.parse_errors), (gaps, self.book_gaps),
                                          (resyncs, self.book_resyncs))):
            d = total - last[i]
            if d > 0:
                ctr.inc(d)
                last[i] = total

def bind(venue: str, market: str) -> GatewayMetrics:
    """Metrics children for one gateway (``venue``/``market`` as their enum values, e.g. "mexc", "spot")."""
    return GatewayMetrics(venue, market)


__all__ = [
    "BOOK_GAPS",
    "BOOK_RESYNCS",
    "EXCHANGE_TO_PUBLISH",
    "EXCHANGE_TO_PUBLISH_BUCKETS",
    "MESSAGES",
    "PARSE_ERRORS",
    "RECONNECTS",
    "GatewayMetrics",
    "bind",
]
