"""The analytics definitions on their own: percentiles, stats, drawdown, durations, symbol spellings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from arb.analytics import match_symbol, parse_duration
from arb.analytics.api import drawdown, percentile, stats

NAMES = ["BTC-USDT", "NEIRO-ETH", "AB-CDE", "ABC-DE"]


def test_percentile_interpolates_between_closest_ranks():
    """rank = q * (n - 1), linear between neighbours (percentile_cont, numpy's default)."""
    assert [percentile([1.0, 2.0, 3.0, 4.0], q) for q in (0.0, 0.5, 0.95, 1.0)] == [1.0, 2.5, pytest.approx(3.85),
                                                                                   4.0]
    assert percentile([], 0.5) is None


def test_stats_count_time_above_the_threshold_in_absolute_value():
    """|-20| and 15 are at or above 15 bps: two minutes of four, 120 s."""
    s = stats([-20.0, 5.0, 15.0, 0.0], 15.0)
    assert (s.n, s.above_s, s.above_frac, s.min, s.max, s.mean) == (4, 120, 0.5, -20.0, 15.0, 0.0)


def test_drawdown_is_measured_from_the_running_peak_starting_at_zero():
    """A first losing cycle is a drawdown from 0; the worst fall wins, with the index it ends at."""
    assert drawdown([Decimal(-1), Decimal(3), Decimal(-2), Decimal(-2), Decimal(5)]) == (Decimal(4), 3)
    assert drawdown([Decimal(1), Decimal(2)]) == (Decimal(0), None)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800),
                                               ("2w", 1209600), ("30", 30)])
def test_durations(text, seconds):
    """Durations read with a unit suffix, a bare number being seconds."""
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["soon", "0m", "-1h", "nanm", ""])
def test_bad_durations_are_refused(text):
    """A duration that is not a positive number with a unit is refused."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["NEIRO-ETH", "NEIROETH", "NEIRO_ETH", "neiro/eth", " neiroeth "])
def test_every_venue_spelling_finds_the_unified_name(text):
    """Unified, MEXC, Gate and ccxt spellings all find NEIRO-ETH."""
    assert match_symbol(text, NAMES) == ["NEIRO-ETH"]


def test_a_spelling_without_separator_may_be_ambiguous_and_an_unknown_one_finds_nothing():
    """ABCDE could be AB-CDE or ABC-DE: both are returned (the API refuses it); NEIROXX finds nothing."""
    assert match_symbol("ABCDE", NAMES) == ["AB-CDE", "ABC-DE"]
    assert match_symbol("NEIROXX", NAMES) == [] and match_symbol("NEIRO-XX", NAMES) == []
