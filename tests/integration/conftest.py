"""Fixtures shared by the integration tests: ``sim`` and ``session``.

They live here because most test files here started the same simulator and opened the same HTTP session, each
with its own copy of the fixture. A file that needs something else (another ``SimConfig``, the market task off,
no bound, a session without timeout, extra setup) defines its own ``sim`` / ``session``, which overrides these.

Function: ``sim`` (an in-process ``SimServer`` on free ports, default config, start and stop bounded by 30 s),
          ``session`` (an ``aiohttp.ClientSession`` with a 10 s total timeout, close bounded by 10 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from arb.sim.config import PortsConfig, SimConfig
from arb.sim.server import SimServer
from arb.testing import bounded_context


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulator on free ports (default ``SimConfig``, market task on)."""
    async with bounded_context(SimServer(SimConfig(ports=PortsConfig(mexc=0, gateio=0, admin=0))), 30,
                               "simulator") as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session for the code under test (10 s total timeout per request)."""
    async with bounded_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), 10,
                               "http session") as s:
        yield s
