"""Shared fixtures: a real NATS with JetStream and a real PostgreSQL, and per-test isolation on both.

Session:  ``nats_url``, ``database_url`` - found or started by ``arb.testing.servers`` (NATS_URL /
          DATABASE_URL, else the local servers, else our own from the wheels, else testcontainers);
          started only if a selected test asks for them, stopped at session end.
Function: ``subject_prefix`` ("t3f9a1c0."), ``bus`` (a connected ``Bus``, drained after),
          ``js_streams`` (this test's own MD/ORD/STRAT streams on ``subject_prefix``, deleted after),
          ``pg_dsn`` (URL of a fresh database, dropped after).

A test in tests/unit, tests/integration or tests/e2e that carries none of the three markers gets the
marker of its folder, so ``-m unit`` etc. never silently miss a test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from arb.bus.connection import Bus
from arb.bus.streams import StreamLimits, ensure_streams, lease_bucket, stream_name_prefix
from arb.testing import StreamSet
from arb.testing.servers import create_database, drop_database, find_or_start_nats, find_or_start_postgres
from nats.js.errors import NotFoundError

LEVELS = ("unit", "integration", "e2e")
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(m) for m in LEVELS):
            continue
        try:
            level = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if level in LEVELS:
            item.add_marker(getattr(pytest.mark, level))


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a NATS server with JetStream, shared by the session (isolate with ``subject_prefix``)."""
    handle = find_or_start_nats()
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a PostgreSQL server (a superuser connection), shared by the session (isolate with ``pg_dsn``)."""
    handle = find_or_start_postgres()
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.fixture
def subject_prefix() -> str:
    """A unique subject prefix for this test, like ``t3f9a1c0.``; its streams are ``T3F9A1C0_MD`` etc."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    """A ``Bus`` connected to ``nats_url`` for this test; drained afterwards."""
    b = await Bus.connect(nats_url, name="pytest")
    try:
        yield b
    finally:
        await b.drain()


@pytest.fixture
async def js_streams(bus: Bus, subject_prefix: str, nats_url: str) -> AsyncIterator[StreamSet]:
    """This test's own MD/ORD/STRAT streams on ``subject_prefix`` (small limits); deleted afterwards."""
    limits = StreamLimits(md_max_age_s=60, md_max_bytes=64 << 20)
    names = await ensure_streams(bus.js, limits, subject_prefix=subject_prefix)
    try:
        yield StreamSet(
            prefix=stream_name_prefix(subject_prefix), subject_prefix=subject_prefix, names=tuple(names)
        )
    finally:
        cleaner = bus if bus.connected else await Bus.connect(nats_url, name="pytest-cleanup")
        try:
            for name in [*names, f"KV_{lease_bucket(subject_prefix)}", f"KV_{stream_name_prefix(subject_prefix)}TASKS"]:
                try:
                    await cleaner.js.delete_stream(name)
                except NotFoundError:
                    pass
        finally:
            if cleaner is not bus:
                await cleaner.drain()


@pytest.fixture
async def pg_dsn(database_url: str) -> AsyncIterator[str]:
    """URL of a fresh, empty database for this test; dropped afterwards (open sessions are terminated)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = await create_database(database_url, name)
    try:
        yield dsn
    finally:
        await drop_database(database_url, name)
