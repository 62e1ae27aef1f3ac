"""Analytics over the recorder's database: spreads and basis, opportunities, performance, funding, feed health.

``AnalyticsAPI`` (async, asyncpg pool) returns msgspec Structs (``arb.analytics.results``); ``arb analytics`` is its
command line (``arb.tools.analytics``); ``arb.analytics.plot`` draws the same series. Definitions:
specs/analytics.md.
"""

from .api import AnalyticsAPI, UnknownSymbol, match_symbol, parse_duration
from .results import (
    FeedReport,
    FeedsReport,
    FundingReport,
    OpportunityReport,
    PerformanceReport,
    SpreadReport,
    Stats,
)

__all__ = [
    "AnalyticsAPI",
    "FeedReport",
    "FeedsReport",
    "FundingReport",
    "OpportunityReport",
    "PerformanceReport",
    "SpreadReport",
    "Stats",
    "UnknownSymbol",
    "match_symbol",
    "parse_duration",
]
