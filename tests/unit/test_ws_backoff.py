"""Pure helpers of the WS manager: full-jitter backoff and subscription sharding."""

import random

import pytest
from arb.venues.common.ws import backoff_delay, shard

pytestmark = pytest.mark.unit


def test_backoff_full_jitter_bounds() -> None:
    """Delays lie in [0, min(max, initial * 2**attempt)] and reach the cap."""
    rng = random.Random(7)
    for attempt in range(12):
        cap = min(30.0, 0.5 * 2**attempt)
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # jitter spreads over the whole range
    assert backoff_delay(10_000, 0.5, 30.0, rng) <= 30.0  # no overflow on huge attempt counts


def test_shard_splits_by_cap_and_deduplicates() -> None:
    """65 subscriptions with cap 30 make chunks of 30, 30, 5; duplicates are removed; none makes one empty chunk."""
    subs = [f"s{i}" for i in range(65)]
    chunks = shard(subs + ["s0"], 30)
    assert [len(c) for c in chunks] == [30, 30, 5]
    assert [x for c in chunks for x in c] == subs
    assert shard([], 30) == [()]
    with pytest.raises(ValueError):
        shard(subs, 0)
