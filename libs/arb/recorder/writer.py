"""Batches of bus messages into PostgreSQL: decode, route, COPY into staging, merge, commit; retried until it is in.

``Writer.write(stream, msgs)`` returns only once every message of the batch is accounted for in one committed
transaction: a row inserted, a duplicate found (ON CONFLICT DO NOTHING: nothing inserted, nothing else lost), a
dead letter (undecodable, or refused by a constraint), or skipped (a type with no table, e.g. a BookDelta or a
control event on ``strat.<task>.input``, or a FundingPaid there: its account is only in its ORD subject). A message
may make rows in several tables (a Margin: its account row and one per position). Only then may the caller ack them.

Failures:
* transient (connection refused or lost, server restarting, deadlock, any non-data error): the connection is
  dropped, and the whole batch is tried again after a backoff doubling up to ``backoff_max_s``, for as long as it
  takes; ``on_wait`` runs before each wait (the recorder tells JetStream the messages are still in progress).
  ``stop`` ends the retries with ``Stopped``: nothing was committed, nothing is acked, JetStream redelivers.
* data (a CHECK, a foreign key, a value out of range): the batch is written again with each message's rows merged
  in a savepoint of their own; a message with a refused row becomes a dead letter naming the constraint (none of
  its rows stays: a Margin's account row goes with its positions), the rest go in.

Three ways to write a batch, each falling back to the next within the same ``write`` (nothing acked before one
commits):
1. direct (the usual case, every row new): COPY straight into each table, rollups pre-aggregated in Python and
   upserted; one row already stored (a replay, a redelivery) or refused aborts the transaction, then
2. staged: COPY into ``stage_<table>`` and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (+ the rollup from
   what was really inserted): a duplicate costs only its own row. A refused row aborts the transaction, then
3. careful: each message's rows merged in their own savepoint; refused messages become dead letters, the rest go in.
After a staged batch that met duplicates the next batch is staged too (a replay is a run of them), until one meets
none. Tables whose rows need SQL casts (jsonb, a second timestamp) are always staged.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from ..bus import codec
from ..core import control as _control  # noqa: F401  (registers the control messages: decoded, then skipped)
from ..core import strategy as _strategy  # noqa: F401  (registers the strategy's messages)
from . import schema
from .config import RecorderConfig
from .metrics import RecorderMetrics
from .tables import ACCOUNT_FROM_SUBJECT, DEAD_LETTER_SQL, ROUTES, TABLES, Route, Table, evt_account, needs

_DATA_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError, OverflowError, TypeError, ValueError)


class Stopped(Exception):
    """The writer was asked to stop before the batch was committed: do not ack it."""


class DataRefused(Exception):
    def __init__(self, table: str, cause: BaseException) -> None:
        super().__init__(f"{table}: {cause}")
        self.table = table
        self.cause = cause


class DirectRefused(DataRefused):
    """The direct COPY of a table was refused (a replayed row's unique key, or a constraint): write the batch again
    by staging + merge, which absorbs duplicates and, if a constraint refused a row, isolates it."""


# how a batch is written (each falls back to the next; see Writer.write)
DIRECT, STAGED, CAREFUL = "direct", "staged", "careful"


class BatchResult(msgspec.Struct):
    messages: int = 0
    inserted: dict[str, int] = msgspec.field(default_factory=dict)
    duplicates: dict[str, int] = msgspec.field(default_factory=dict)
    dead: int = 0
    skipped: int = 0
    attempts: int = 1


def _stream_seq(msg: Any) -> int:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:  # noqa: BLE001 -- not a JetStream message (tests, the bench): no sequence
        return 0


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:2000]


class Writer:
    """One PostgreSQL connection (re-opened on failure) and its staging tables; one batch at a time."""

    def __init__(self, dsn: str, cfg: RecorderConfig, log: Any, metrics: RecorderMetrics | None = None,
                 name: str = "recorder") -> None:
        self.dsn = dsn
        self.cfg = cfg
        self.log = log
        self.m = metrics
        self.name = name
        self.mode = schema.PLAIN
        self._conn: asyncpg.Connection | None = None
        self._ex: dict[tuple[Any, Any], int] = {}
        self._ids: dict[tuple[Any, Any, str], tuple[int, int]] = {}
        self._failing = False
        self._staged_next = False  # the last staged batch met duplicates (a replay): stage the next one too

    # ------------------------------------------------------------------------------------------ connection
    async def _connect(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        conn = await asyncpg.connect(self.dsn, timeout=self.cfg.connect_timeout_s,
                                     server_settings={"application_name": f"arb-{self.name}", "TimeZone": "UTC"})
        try:
            # timestamptz travels as PostgreSQL's own (microseconds since 2000-01-01,): the direct COPY computes
            # ``time`` as an integer (Table.direct_row), no datetime per row. This connection reads no timestamps.
            await conn.set_type_codec("timestamptz", schema="pg_catalog", encoder=_identity, decoder=_identity,
                                      format="tuple")
            for t in TABLES:
                await conn.execute(t.stage_ddl)
            self.mode = await schema.mode(conn)
        except BaseException:
            await self._close(conn)
            raise
        self._conn = conn
        return conn

    @staticmethod
    async def _close(conn: asyncpg.Connection | None) -> None:
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except BaseException:  # noqa: BLE001 -- a dead server: just drop it
                conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        await self._close(conn)

    async def migrate(self, stop: asyncio.Event | None = None) -> tuple[list[str], str]:
        """Apply the missing migrations (retrying while PostgreSQL is unreachable); return them and the mode."""
        async def once() -> tuple[list[str], str]:
            conn = await asyncpg.connect(self.dsn, timeout=self.cfg.connect_timeout_s)
            try:
                applied = await schema.apply(conn)
                return applied, await schema.mode(conn)
            finally:
                await self._close(conn)

        applied, self.mode = await self._retrying(once, stop, "migrate")
        return applied, self.mode

    async def _retrying(self, fn: Callable[[], Awaitable[Any]], stop: asyncio.Event | None, what: str,
                        on_wait: Callable[[], Awaitable[None]] | None = None) -> Any:
        delay = self.cfg.backoff_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                out = await fn()
            except (asyncpg.InvalidCatalogNameError, asyncpg.InvalidPasswordError,
                    asyncpg.InvalidAuthorizationSpecificationError):
                raise  # a configuration error, not an outage: retrying cannot help
            except DataRefused:
                raise
            except Exception as e:  # noqa: BLE001 -- PostgreSQL down or restarting: keep the batch and retry
                if self.m is not None:
                    self.m.db_errors.labels("transient").inc()
                    self.m.db_up.set(0)
                if not self._failing:
                    self.log.warning("%s: %s: PostgreSQL unavailable (%s); retrying with backoff, nothing acked "
                                     "meanwhile", self.name, what, _reason(e))
                    self._failing = True
                await self.close()
                if on_wait is not None:
                    try:
                        await on_wait()
                    except Exception:  # noqa: BLE001, S110 -- best effort (NATS may be down too)
                        pass
                wait = delay * (0.5 + random.random() / 2)
                delay = min(delay * 2, self.cfg.backoff_max_s)
                if stop is None:
                    await asyncio.sleep(wait)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), wait)
                    except TimeoutError:
                        pass
                    else:
                        raise Stopped(f"{what}: stopped while PostgreSQL was unavailable") from e
                continue
            if self._failing:
                self.log.info("%s: %s: PostgreSQL available again after %d attempts", self.name, what, attempt)
                self._failing = False
            if self.m is not None:
                self.m.db_up.set(1)
            return out

    # ------------------------------------------------------------------------------------------------ ids
    async def _resolve(self, conn: asyncpg.Connection, venue: Any, market: Any, symbol: str | None) -> None:
        ek = (venue, market)
        if ek not in self._ex:
            self._ex[ek] = await conn.fetchval(
                "INSERT INTO exchanges (venue, market) VALUES ($1, $2) ON CONFLICT (venue, market) "
                "DO UPDATE SET venue = excluded.venue RETURNING id", venue.value, market.value)
        if symbol is not None and (venue, market, symbol) not in self._ids:
            eid = self._ex[ek]
            sid = await conn.fetchval("SELECT id FROM symbols WHERE exchange_id = $1 AND name = $2", eid, symbol)
            if sid is None:
                sid = await conn.fetchval(
                    "INSERT INTO symbols (exchange_id, name) VALUES ($1, $2) ON CONFLICT (exchange_id, name) "
                    "DO UPDATE SET name = excluded.name RETURNING id", eid, symbol)
            self._ids[(venue, market, symbol)] = (eid, sid)

    def _id(self, venue: Any, market: Any, symbol: str) -> tuple[int, int]:
        return self._ids[(venue, market, symbol)]

    def _exid(self, venue: Any, market: Any) -> int:
        return self._ex[(venue, market)]

    # ---------------------------------------------------------------------------------------------- write
    async def write(self, stream: str, msgs: Sequence[Any], stop: asyncio.Event | None = None,
                    on_wait: Callable[[], Awaitable[None]] | None = None) -> BatchResult:
        """Commit ``msgs`` (each with ``.subject`` and ``.data``); retried until done. Raises ``Stopped`` only."""
        t0 = time.perf_counter()
        dec = codec.decode
        routed: list[tuple[tuple[Route, ...], Any, Any]] = []  # (routes, message, msg)
        dead: list[tuple[Any, str]] = []
        skipped: dict[str, int] = {}
        for msg in msgs:
            try:
                m = dec(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                dead.append((msg, f"undecodable: {e}"))
                continue
            routes = ROUTES.get(type(m))
            if routes is not None and type(m) in ACCOUNT_FROM_SUBJECT:
                account = evt_account(msg.subject)
                routes = None if account is None else tuple(
                    (table, functools.partial(build, account=account), many) for table, build, many in routes)
            if routes is None:
                tag = type(m).__struct_config__.tag
                skipped[tag] = skipped.get(tag, 0) + 1
                continue
            routed.append((routes, m, msg))
        res = BatchResult(messages=len(msgs), skipped=sum(skipped.values()))
        how = STAGED if self._staged_next else DIRECT
        attempts = 0

        async def once() -> BatchResult:
            nonlocal attempts
            attempts += 1
            conn = await self._connect()
            return await self._write_once(conn, stream, routed, dead, res, how)

        while True:
            try:
                out = await self._retrying(once, stop, f"batch of {len(msgs)} from {stream}", on_wait)
                break
            except DirectRefused:
                how = STAGED  # a replayed row (or a refused one): the same batch again by staging + merge
            except DataRefused as e:
                if how == CAREFUL:
                    raise RuntimeError(f"a refused row escaped isolation: {e}") from e
                if self.m is not None:
                    self.m.db_errors.labels("data").inc()
                self.log.warning("%s: batch from %s refused by %s; writing it row by row to isolate the bad rows",
                                 self.name, stream, e)
                how = CAREFUL
        # during a replay most batches are duplicates: stage them until one meets none, then go direct again
        self._staged_next = how != DIRECT and any(out.duplicates.values())
        out.attempts = attempts
        if self.m is not None:
            m = self.m
            for tag, n in skipped.items():
                m.skipped.labels(tag).inc(n)
            for t, n in out.inserted.items():
                m.rows.labels(t).inc(n)
            for t, n in out.duplicates.items():
                if n:
                    m.duplicates.labels(t).inc(n)
            if out.dead:
                m.dead.labels(stream).inc(out.dead)
            m.messages.labels(stream).inc(len(msgs))
            if how != DIRECT:
                m.staged.labels(stream).inc()
            m.batch.labels(stream).observe(time.perf_counter() - t0)
            m.batch_rows.labels(stream).observe(len(msgs))
        return out

    async def _write_once(self, conn: asyncpg.Connection, stream: str, routed: list, dead_in: list,
                          res: BatchResult, how: str) -> BatchResult:
        dead = list(dead_in)
        rows: dict[Table, list[tuple[tuple, Any]]] = {}
        ids, ex = self._id, self._exid
        missing: list[tuple[tuple[Route, ...], Any, Any]] = []

        def add(routes: tuple[Route, ...], m: Any, msg: Any) -> None:
            built = [(table, build(m, ids, ex), many) for table, build, many in routes]  # all, before adding any
            for table, rec, many in built:
                got = rows.setdefault(table, [])
                if many:
                    got.extend((r, msg) for r in rec)
                else:
                    got.append((rec, msg))

        for entry in routed:
            routes, m, msg = entry
            try:
                if len(routes) == 1 and not routes[0][2]:  # the usual case (inline: the hot path): one row
                    table, build, _ = routes[0]
                    rows.setdefault(table, []).append((build(m, ids, ex), msg))
                else:
                    add(routes, m, msg)
            except KeyError:
                missing.append(entry)
        for routes, m, msg in missing:
            symbol = None
            try:
                for venue, market, symbol in needs(m):
                    await self._resolve(conn, venue, market, symbol)
            except _DATA_ERRORS as e:
                dead.append((msg, f"unknown symbol {symbol!r} refused: {_reason(e)}"))
                continue
            add(routes, m, msg)
        ts_rec = time.time_ns()
        out = BatchResult(messages=res.messages, skipped=res.skipped)
        plain = self.mode == schema.PLAIN
        async with conn.transaction():
            if how == CAREFUL:
                await self._careful(conn, rows, dead, out, ts_rec, plain)
            else:
                for table, entries in rows.items():
                    merge = table.merge_plain if plain else table.merge_timescale
                    if how == DIRECT and table.direct:
                        # every row new (the usual case): COPY straight into the table, the rollup pre-aggregated here.
                        # A replayed row's unique key (or a constraint) aborts the transaction: nothing of it stays, and
                        # write() takes the staging path for the batch.
                        records = [r for r, _ in entries]
                        row = table.direct_row
                        try:
                            await conn.copy_records_to_table(table.name, records=[row(r, ts_rec) for r in records],
                                                             columns=table.direct_columns)
                            if plain and table.rollup is not None:
                                # sorted: concurrent writers lock the minutes in one order (waits, never a deadlock)
                                await conn.executemany(table.rollup.upsert, sorted(table.rollup.aggregate(records)))
                        except _DATA_ERRORS as e:
                            raise DirectRefused(table.name, e) from e
                        n = len(entries)
                    else:
                        try:
                            await conn.copy_records_to_table(table.stage, records=[r for r, _ in entries],
                                                             columns=table.columns)
                            n = await conn.fetchval(merge, ts_rec)
                        except _DATA_ERRORS as e:
                            raise DataRefused(table.name, e) from e
                    out.inserted[table.name] = n
                    out.duplicates[table.name] = len(entries) - n
            if dead:
                await conn.executemany(DEAD_LETTER_SQL, [(stream, _stream_seq(msg), msg.subject, bytes(msg.data),
                                                          why) for msg, why in dead])
        out.dead = len(dead)
        if self.m is not None and rows:
            now = time.time_ns()
            for table, entries in rows.items():
                ts = _event_ns(entries[0][0], table)
                if ts:
                    self.m.exchange_to_record.labels(table.name).observe(max(0.0, (now - ts) / 1e9))
        return out


    @staticmethod
    async def _careful(conn: asyncpg.Connection, rows: dict[Table, list[tuple[tuple, Any]]], dead: list,
                       out: BatchResult, ts_rec: int, plain: bool) -> None:
        """Each message's rows merged in a savepoint of their own: a refused row takes back only its message (all of
        its rows: a Margin's account row with its positions), which becomes a dead letter naming the constraint."""
        per_msg: dict[int, tuple[Any, dict[Table, list[tuple]]]] = {}
        for table, entries in rows.items():
            out.inserted[table.name] = 0
            out.duplicates[table.name] = len(entries)  # less what goes in and what is refused, below
            for r, msg in entries:
                per_msg.setdefault(id(msg), (msg, {}))[1].setdefault(table, []).append(r)
        for msg, tables in per_msg.values():
            got: dict[str, int] = {}
            table = None
            try:
                async with conn.transaction():  # a savepoint
                    for table, records in tables.items():
                        await conn.copy_records_to_table(table.stage, records=records, columns=table.columns)
                        got[table.name] = await conn.fetchval(table.merge_plain if plain else table.merge_timescale,
                                                              ts_rec)
                        await conn.execute(f"DELETE FROM {table.stage}")
            except _DATA_ERRORS as e:
                for t, records in tables.items():
                    out.duplicates[t.name] -= len(records)
                dead.append((msg, f"refused by {table.name if table else '?'}: {_reason(e)}"))
                continue
            for t, records in tables.items():
                out.inserted[t.name] += got[t.name]
                out.duplicates[t.name] -= got[t.name]


def _identity(x: Any) -> Any:
    return x


def _event_ns(row: tuple, table: Table) -> int:
    try:
        return int(row[table.columns.index(table.time_from)])
    except (ValueError, TypeError, IndexError):
        return 0


__all__ = ["BatchResult", "Stopped", "Writer"]
