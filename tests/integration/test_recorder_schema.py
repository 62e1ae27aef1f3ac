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
            assert await schema.apply(a) == ["0001_init", "0002_rollups", "0003_derivs", "0004_margin",
                                             "0005_feed_latency"]
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


_PM = {"sym": "$2", "size": "0.1", "contracts": "1", "leverage": "3", "entry": "100", "mark": "100", "liq": "90",
       "margin": "1", "mrate": "0.005", "mm": "0.05", "upnl": "0", "distance": "0.1"}


def _pm(**changed: str) -> str:
    """An insert into position_margins of a valid row ($1 exchange, $2 symbol) with ``changed`` figures."""
    return ("INSERT INTO position_margins VALUES (now(), $1, 'a', {sym}, {size}, {contracts}, {leverage}, {entry}, "
            "{mark}, {liq}, {margin}, {mrate}, {mm}, {upnl}, {distance}, false, 0, 0, 0, 0)").format(**{**_PM, **changed})


# valid rows of the margin tables: each refused case below differs from one of these in one figure
_VALID_MARGIN_ROWS = (
    "INSERT INTO margin_accounts VALUES (now(), $1, 'a', 'USDT', -10, -5, 1, 0, 0, -3, 1, false, 0, 0, 0, 0)",
    _pm(),
    _pm(size="-0.1", contracts="-1", liq="0", distance="NULL", leverage="0"),
    "INSERT INTO liquidation_warnings VALUES (now(), $1, 'a', $2, 'cleared', 0, 100, 0, 0, 0.05, 0, 0, 0, 0)",
    "INSERT INTO funding_payments VALUES (now(), $1, 'a', $2, -0.5, 0, 0, 0)",
)


async def test_the_margin_tables_take_valid_rows(pg_dsn):
    """A signed total, available and PnL, a short without a liquidation price (distance NULL), a cleared warning of
    a position gone, a funding payment: accepted (the refused cases differ from these in one figure)."""
    conn = await asyncpg.connect(pg_dsn, timeout=5)
    try:
        await schema.apply(conn)
        ex = await conn.fetchval("SELECT id FROM exchanges WHERE venue = 'gateio' AND market = 'futures'")
        sym = await conn.fetchval("INSERT INTO symbols (exchange_id, name) VALUES ($1, 'BTC-USDT') RETURNING id", ex)
        for sql in _VALID_MARGIN_ROWS:
            await conn.execute(sql, *((ex, sym) if "$2" in sql else (ex,)))
        assert await conn.fetchval("SELECT count(*) FROM position_margins WHERE distance IS NULL") == 1
    finally:
        await conn.close(timeout=5)


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
    # margin_accounts: time, exchange, account, asset, total, available, position/order/maintenance margin, upnl,
    # positions, correction, ts_event, ts_recv, ts_pub, ts_rec
    ("INSERT INTO margin_accounts VALUES (now(), $1, 'a', 'USDT', 10, 5, -1, 0, 0, 0, 1, false, 0, 0, 0, 0)",
     "margin_accounts_margins"),
    ("INSERT INTO margin_accounts VALUES (now(), $1, 'a', 'USDT', 'NaN', 5, 1, 0, 0, 0, 1, false, 0, 0, 0, 0)",
     "margin_accounts_finite"),
    ("INSERT INTO margin_accounts VALUES (now(), $1, 'a', 'USDT', 10, 5, 1, 0, 0, 'Infinity', 1, false, 0, 0, 0, 0)",
     "margin_accounts_finite"),
    ("INSERT INTO margin_accounts VALUES (now(), $1, 'a', '', 10, 5, 1, 0, 0, 0, 1, false, 0, 0, 0, 0)",
     "margin_accounts_asset"),
    # position_margins: one figure changed from a valid row (_pm(), accepted: test_the_margin_tables_take_valid_rows)
    (_pm(size="'NaN'"), "position_margins_size"),
    (_pm(contracts="-1"), "position_margins_size"),  # size and contracts signed alike
    (_pm(size="0", contracts="0"), "position_margins_size"),  # only open positions
    (_pm(margin="-1"), "position_margins_margins"),
    (_pm(mm="'Infinity'"), "position_margins_margins"),
    (_pm(liq="-90"), "position_margins_prices"),
    (_pm(distance="'NaN'"), "position_margins_distance"),
    (_pm(leverage="-3"), "position_margins_leverage"),
    (_pm(sym="$2 + 1000"), "position_margins_symbol"),
    # liquidation_warnings: time, exchange, account, symbol, level, size, mark, liq, distance, threshold, ts_*
    ("INSERT INTO liquidation_warnings VALUES (now(), $1, 'a', $2, 'panic', 0.1, 100, 96, 0.04, 0.05, 0, 0, 0, 0)",
     "liquidation_warnings_level"),
    ("INSERT INTO liquidation_warnings VALUES (now(), $1, 'a', $2, 'warning', 0.1, 100, 96, -0.04, 0.05, 0, 0, 0, 0)",
     "liquidation_warnings_distance"),
    ("INSERT INTO liquidation_warnings VALUES (now(), $1, 'a', $2, 'warning', 0.1, 100, 96, 0.04, 1, 0, 0, 0, 0)",
     "liquidation_warnings_threshold"),
    ("INSERT INTO liquidation_warnings VALUES (now(), $1, 'a', $2, 'warning', 'NaN', 100, 96, 0.04, 0.05, 0, 0, 0, 0)",
     "liquidation_warnings_size"),
    # funding_payments: time, exchange, account, symbol, amount, rate, ts, ts_rec
    ("INSERT INTO funding_payments VALUES (now(), $1, 'a', $2, 'NaN', 0.0001, 0, 0)", "funding_payments_amount"),
    ("INSERT INTO funding_payments VALUES (now(), $1, 'a', $2, -0.5, 'NaN', 0, 0)", "funding_payments_rate"),
    ("INSERT INTO funding_payments VALUES (now(), $1, '', $2, -0.5, 0.0001, 0, 0)", "funding_payments_account"),
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
            await conn.execute(sql, *((ex, sym) if "$2" in sql else (ex,)))  # margin_accounts: no symbol
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
    assert len(stmts) == 6  # bbo_1m, funding_1m, prices_1m, and the compression settings in 0002, 0003 and 0004
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
