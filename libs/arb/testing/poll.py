"""Bounded waiting for tests: ``eventually()`` polls a condition instead of sleeping; ``bounded()`` awaits one
thing for at most a given time.

A test that can hang blocks a landing (issue 10, finding 10): every await in a test either carries its own bound
(``eventually``, a ``timeout=`` argument, a client timeout) or goes through ``bounded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")


async def bounded(aw: Awaitable[T], seconds: float, what: str = "") -> T:
    """Await ``aw`` for at most ``seconds``; return its result or raise its error.

    Past the deadline it is cancelled and ``AssertionError`` names ``what``. ``aw`` runs as its own task and the
    deadline is kept by ``asyncio.wait``, so the test fails on time even when ``aw`` loses or ignores the cancel
    (the way an unbounded ``stop()`` hung a test for 120 s): it then gets one more second to unwind, no more.
    """
    if seconds <= 0:
        raise ValueError("seconds must be > 0")
    label = what or getattr(aw, "__qualname__", None) or repr(aw)
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait((task,), timeout=seconds)
    except BaseException:
        task.cancel()  # our own cancel (e.g. the per-test timeout): take the child with us
        raise
    if not done:
        task.cancel()
        await asyncio.wait((task,), timeout=1.0)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the AssertionError below is the report
        raise AssertionError(f"not done within {seconds}s: {label}")
    return task.result()


@contextlib.asynccontextmanager
async def bounded_context(cm: AbstractAsyncContextManager[T], seconds: float, what: str) -> AsyncIterator[T]:
    """``async with`` whose enter and exit are each ``bounded`` by ``seconds`` (a server start/stop, a session
    close, a WebSocket handshake and close): ``async with bounded_context(SimServer(cfg), 30, "sim") as sim:``.

    Enter and exit each run as their own task, so not for a context manager bound to its task (one holding an
    ``asyncio.timeout`` across its ``yield``)."""
    value = await bounded(cm.__aenter__(), seconds, f"{what}: enter")
    try:
        yield value
    except BaseException as e:
        if not await bounded(cm.__aexit__(type(e), e, e.__traceback__), seconds, f"{what}: exit"):
            raise
    else:
        await bounded(cm.__aexit__(None, None, None), seconds, f"{what}: exit")


async def eventually(
    predicate_or_coro: Callable[[], Any | Awaitable[Any]],
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "",
) -> Any:
    """Call ``predicate_or_coro`` (sync, or async: awaited) until it returns something truthy; return that.

    An ``AssertionError`` raised by the predicate counts as "not yet", so a predicate may be a block of
    asserts; any other exception propagates at once (a bug is not a slow condition). On timeout, including
    a single async call that runs past the deadline, raises ``AssertionError`` naming ``what``, with the
    last value or assertion seen.
    """
    if inspect.iscoroutine(predicate_or_coro):
        predicate_or_coro.close()  # a coroutine object can be awaited once only, so it cannot be polled
        raise TypeError("eventually() needs a callable (e.g. an async def function), not a coroutine object")
    if not callable(predicate_or_coro):
        raise TypeError(f"eventually() needs a callable, got {type(predicate_or_coro).__name__}")
    if timeout <= 0 or interval <= 0:
        raise ValueError("timeout and interval must be > 0")

    label = what or getattr(predicate_or_coro, "__qualname__", repr(predicate_or_coro))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    polls = 0
    last: Any = None
    last_error: AssertionError | None = None
    while True:
        polls += 1
        try:
            result = predicate_or_coro()
            if inspect.isawaitable(result):
                async with asyncio.timeout_at(deadline):
                    result = await result
        except AssertionError as e:
            last_error, last = e, None
        except TimeoutError:
            break  # the awaited predicate itself ran past the deadline
        else:
            if result:
                return result
            last_error, last = None, result
        now = loop.time()
        if now >= deadline:
            break
        await asyncio.sleep(min(interval, deadline - now))
    detail = f"last assertion: {last_error}" if last_error is not None else f"last value: {last!r}"
    raise AssertionError(f"not true within {timeout}s ({polls} polls): {label}; {detail}") from last_error
