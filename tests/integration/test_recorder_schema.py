"""The schema on a real PostgreSQL: init-db.sql and the recorder's migrations give the same database, applied twice
change nothing, the constraints refuse what cannot be, and the TimescaleDB-only SQL (never run here: no extension on
this machine) at least parses."""

from __future__ import annotations

import re
import uuid

import asyncpg
import pytest
from arb.recorder import schema
from arb.testing.servers import create_database, drop_database

pytestmark = pytest.mark.integration

_COLUMNS = ("SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2")
_CONSTRAINTS = ("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")


async def _shape(conn: asyncpg.Connection) -> tuple[list, list]:
    return [tuple(r) for r in await conn.fetch(_COLUMNS)], [tuple(r) for r in await conn.fetch(_CONSTRAINTS)]


async def test_init_db_sql_and_the_migrations_make_the_same_schema(pg_dsn, database_url):
    """A database made by init-db.sql (the container's way) equals one migrated by the recorder, which then finds
    nothing to apply; applying either again changes nothing."""
    other = f"t_{uuid.uuid4().hex[:12]}"
    other_dsn = await create_database(database_url, other)
    try:
        a = await asyncpg.connect(pg_dsn, timeout=5)
        b = await asyncpg.connect(other_dsn, timeout=5)
        try:
            assert await schema.apply(a) == ["0001_init", "0002_rollups", "0003_derivs"]
            assert await schema.apply(a) == []
            await b.execute(schema.INIT_DB.read_text())
            await b.execute(schema.INIT_DB.read_text())  # idempotent as a script too
            assert await schema.apply(b) == []
            assert await _shape(a) == await _shape(b)
            assert await schema.mode(a) == schema.PLAIN
        finally:
            await a.close(timeout=5)
            await b.close(timeout=5)
    finally:
        await drop_database(database_url, other)


@pytest.mark.parametrize(("sql", "constraint"), [
    ("INSERT INTO book_tickers VALUES (now(), $1, $2, 101, 1, 100, 1, 0, 0, 0, 0, 0)", "book_tickers_crossed"),
    ("INSERT INTO book_tickers VALUES (now(), $1, $2, 100, -1, 101, 1, 0, 0, 0, 0, 0)", "book_tickers_sizes"),
    ("INSERT INTO book_tickers VALUES (now(), $1, $2, 100, 1, 'NaN', 1, 0, 0, 0, 0, 0)", "book_tickers_prices"),
    ("INSERT INTO book_tickers VALUES (now(), $1, $2 + 1000, 100, 1, 101, 1, 0, 0, 0, 0, 0)", "book_tickers_symbol"),
    ("INSERT INTO book_snapshots VALUES (now(), $1, $2, 'ok', 0, '{101}', '{1}', '{100}', '{1}', 0, 0, 0, 0)",
     "book_snapshots_crossed"),
    ("INSERT INTO trades VALUES (now(), $1, $2, 100, -0.5, 'buy', 'x', 0, 0, 0, 0)", "trades_size"),
    ("INSERT INTO open_interest VALUES (now(), $1, $2, -1, 0, 0, 0, 0, 0)", "open_interest_size"),
    ("INSERT INTO liquidations VALUES (now(), $1, $2, 100, 0.5, 'long', 'ws', 0, 0, 0, 0)", "liquidations_side"),
    ("INSERT INTO liquidations VALUES (now(), $1, $2, 100, -0.5, 'buy', 'ws', 0, 0, 0, 0)", "liquidations_size"),
    ("INSERT INTO klines VALUES (now(), $1, $2, '1m', 0, 100, 99, 101, 100, 1, 0, true, 0, 0, 0, 0)",
     "klines_range"),
    ("INSERT INTO klines VALUES (now(), $1, $2, '1m', 0, 100, 101, 99, 100, -1, 0, true, 0, 0, 0, 0)",
     "klines_volume"),
    ("INSERT INTO klines VALUES (now(), $1, $2, '1m', 0, 'NaN', 101, 99, 100, 1, 0, true, 0, 0, 0, 0)",
     "klines_prices"),
])
async def test_constraints_refuse_what_cannot_be(pg_dsn, sql, constraint):
    """A crossed ok book, a negative size, NaN, an unknown symbol, a candle's high below its low: refused by the named
    constraint."""
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        await schema.apply(conn)
        ex = await conn.fetchval("SELECT id FROM exchanges WHERE venue = 'mexc' AND market = 'spot'")
        sym = await conn.fetchval("INSERT INTO symbols (exchange_id, name) VALUES ($1, 'BTC-USDT') RETURNING id", ex)
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match=constraint):
            await conn.execute(sql, ex, sym)
        # the same row with a crossed book but a stale state is fine (a stale book may be crossed)
        if constraint == "book_snapshots_crossed":
            await conn.execute(sql.replace("'ok'", "'stale'"), ex, sym)
    finally:
        await conn.close(timeout=5)


def _timescale_sql() -> list[str]:
    """The statements the guarded TimescaleDB branches run through EXECUTE: dynamic SQL, so not even parsed when the
    DO block compiles in plain mode (the static statements around them are). ``format``'s %I becomes a table name."""
    out = []
    for m in schema.migrations():
        out += re.findall(r"EXECUTE \$v\$(.*?)\$v\$", m.sql, re.DOTALL)
        for literals in re.findall(r"EXECUTE format\(((?:\s*'(?:[^']|'')*')+)", m.sql):
            text = "".join(x.replace("''", "'") for x in re.findall(r"'((?:[^']|'')*)'", literals))
            out.append(text.replace("%I", "book_tickers"))
    return out


async def test_the_timescaledb_only_sql_parses(pg_dsn):
    """Every statement of the TimescaleDB branches (continuous aggregates, compression settings) is valid SQL syntax:
    compiled as the body of a PL/pgSQL function that never runs them (PostgreSQL parses a function's statements when
    it is created; names, the timescaledb options and function signatures are only checked by a real TimescaleDB)."""
    stmts = _timescale_sql()
    assert len(stmts) == 5  # bbo_1m, funding_1m, prices_1m, and the compression settings in 0002 and 0003
    assert sum("WITH (timescaledb.continuous)" in s for s in stmts) == 3
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        for i, sql in enumerate([*stmts, "CREATE MATERIALIZED VIEW v WITH (timescaledb.continuous) AS SELEC 1"]):
            body = f"BEGIN IF false THEN {sql}; END IF; END"
            create = f"CREATE FUNCTION pg_temp.timescale_syntax_{i}() RETURNS void LANGUAGE plpgsql AS $chk$ {body} $chk$"
            if i < len(stmts):
                await conn.execute(create, timeout=10)
            else:  # the check itself catches a typo
                with pytest.raises(asyncpg.PostgresSyntaxError):
                    await conn.execute(create, timeout=10)
    finally:
        await conn.close(timeout=5)
