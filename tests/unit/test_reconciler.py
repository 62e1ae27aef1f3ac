"""Reconciler: one run at a time, a request during a run makes one more, failures retried, nothing after close."""

from __future__ import annotations

import asyncio

import pytest
from arb.venues.common.reconcile import Reconciler

pytestmark = pytest.mark.unit


async def _no_wait(s: float) -> None:
    await asyncio.sleep(0)


async def test_requests_during_a_run_coalesce_into_one_more_and_failures_are_retried():
    gate = asyncio.Event()
    runs: list[int] = []
    failures = [2]

    async def run() -> dict[str, int]:
        runs.append(len(runs))
        if failures[0]:
            failures[0] -= 1
            raise TimeoutError("venue away")
        await gate.wait()
        return {"orders": 0}

    r = Reconciler(run, "test", sleep=_no_wait)
    r.schedule()
    await asyncio.wait_for(_until(lambda: len(runs) == 3), 5)  # two failures, then the run that waits
    r.schedule()
    r.schedule()  # both during the run: one more run, not two
    gate.set()
    await asyncio.wait_for(r.task, 5)
    assert r.reconciles == 2 and r.synced_once and len(runs) == 4
    r.close()
    r.schedule()
    assert r.task.done() and len(runs) == 4


async def _until(pred) -> None:
    while not pred():
        await asyncio.sleep(0)
