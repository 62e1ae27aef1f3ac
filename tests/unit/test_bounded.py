"""``bounded`` / ``bounded_context``: a test's await that can block ends in a clear failure on time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from arb.testing import bounded, bounded_context

pytestmark = pytest.mark.unit


async def test_returns_the_result_or_raises_the_error():
    """Within the deadline it is a plain await: the value comes back, the error propagates."""

    async def boom() -> None:
        raise ValueError("boom")

    assert await bounded(asyncio.sleep(0, "v"), 1.0, "sleep") == "v"
    with pytest.raises(ValueError, match="boom"):
        await bounded(boom(), 1.0, "boom")


async def test_a_hang_fails_on_time_naming_what_even_if_the_cancel_is_ignored():
    """Past the deadline: AssertionError naming what hung, within the deadline plus one second, even for an
    awaitable that swallows its cancel (what made a gateway's stop() hang a test for 120 s)."""
    release = asyncio.Event()
    running: list[asyncio.Task] = []

    async def stubborn() -> None:
        running.append(asyncio.current_task())  # type: ignore[arg-type]
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(AssertionError, match=r"not done within 0.2s: gateway stop"):
        await bounded(stubborn(), 0.2, "gateway stop")
    assert loop.time() - t0 < 1.5
    release.set()
    running[0].cancel()
    await asyncio.wait(running, timeout=1.0)
    assert running[0].done()


async def test_context_enter_and_exit_are_bounded():
    """bounded_context runs enter and exit, passes the value and the body's error through, and bounds exit."""
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def cm(hang_on_exit: bool) -> AsyncIterator[str]:
        log.append("enter")
        try:
            yield "value"
        finally:
            log.append("exit")
            if hang_on_exit:
                await asyncio.sleep(10)

    async with bounded_context(cm(False), 1.0, "ok") as v:
        assert v == "value"
    with pytest.raises(KeyError):
        async with bounded_context(cm(False), 1.0, "raises"):
            raise KeyError("x")
    with pytest.raises(AssertionError, match="hangs: exit"):
        async with bounded_context(cm(True), 0.2, "hangs"):
            pass
    assert log == ["enter", "exit"] * 3
