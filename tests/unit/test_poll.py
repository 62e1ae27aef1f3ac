"""eventually(): polls instead of sleeping, and says what it was waiting for when it gives up."""

from __future__ import annotations

import asyncio
import time

import pytest
from arb.testing.poll import eventually

pytestmark = pytest.mark.unit


async def test_returns_the_first_truthy_value_of_a_sync_predicate():
    """A sync predicate is called until truthy, and that value is returned."""
    calls = []

    def ready():
        calls.append(1)
        return len(calls) >= 3 and "done"

    result = await eventually(ready, timeout=2.0, interval=0.001)

    assert result == "done"
    assert len(calls) == 3


async def test_awaits_an_async_predicate():
    """An async predicate is awaited on every poll."""
    box = {"n": 0}

    async def ready():
        box["n"] += 1
        await asyncio.sleep(0)
        return box["n"] == 2

    assert await eventually(ready, timeout=2.0, interval=0.001) is True


async def test_sees_a_change_made_by_another_task():
    """The poll yields to the loop, so a concurrent task's update is observed."""
    seen: list[int] = []

    async def producer():
        await asyncio.sleep(0.05)
        seen.append(42)

    task = asyncio.create_task(producer())

    await eventually(lambda: seen, timeout=2.0, what="producer output")

    assert seen == [42]
    await task


async def test_timeout_names_what_and_the_last_value():
    """On timeout it raises AssertionError naming `what` and the last value seen."""
    start = time.monotonic()

    with pytest.raises(AssertionError, match=r"within 0\.1s .*: book synced; last value: 0"):
        await eventually(lambda: 0, timeout=0.1, interval=0.01, what="book synced")

    assert 0.1 <= time.monotonic() - start < 1.0


async def test_assertion_in_predicate_means_not_yet_and_is_reported():
    """An AssertionError inside the predicate means 'not yet'; the last one is reported and chained."""
    box = {"n": 0}

    def check():
        box["n"] += 1
        assert box["n"] > 1000, f"n is {box['n']}"
        return True

    with pytest.raises(AssertionError, match=r"last assertion: n is \d+") as info:
        await eventually(check, timeout=0.05, interval=0.01, what="counter")

    assert isinstance(info.value.__cause__, AssertionError)
    assert box["n"] > 1


async def test_other_exceptions_propagate_at_once():
    """A non-assertion exception is a bug, not a slow condition: it propagates on the first poll."""
    calls = []

    def broken():
        calls.append(1)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await eventually(broken, timeout=5.0)

    assert calls == [1]


async def test_a_hanging_async_predicate_is_cut_at_the_deadline():
    """An awaited predicate that never returns cannot outlive the timeout."""
    start = time.monotonic()

    async def hang():
        await asyncio.sleep(60)

    with pytest.raises(AssertionError, match="hang"):
        await eventually(hang, timeout=0.1)

    assert time.monotonic() - start < 1.0


async def test_a_coroutine_object_is_refused():
    """A coroutine object can be awaited only once, so it is refused (and closed, no 'never awaited')."""

    async def ready():
        return True

    with pytest.raises(TypeError, match="not a coroutine object"):
        await eventually(ready())  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"interval": 0}, {"timeout": -1.0}])
async def test_non_positive_timeout_or_interval_is_refused(kw):
    """timeout and interval must be positive."""
    with pytest.raises(ValueError):
        await eventually(lambda: True, **kw)
