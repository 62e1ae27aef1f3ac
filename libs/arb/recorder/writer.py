"""Batches of bus messages into PostgreSQL: decode, route, COPY into staging, merge, commit; retried until it is in.

``Writer.write(stream, msgs)`` returns only once every message of the batch is accounted for in one committed
transaction: a row inserted, a duplicate found (ON CONFLICT DO NOTHING: nothing inserted, nothing else lost), a
dead letter (undecodable, its rows not buildable, or refused by a constraint), or skipped (a type with no table,
e.g. a BookDelta or a control event on ``strat.<task>.input``, or a FundingPaid there: its account is only in its
ORD subject). A message may make rows in several tables (a Margin: its account row and one per position, if any).
Only then may the caller ack them. ``write`` raises nothing but ``Stopped``.

Failures:
* transient (connection refused or lost, server restarting, a statement unanswered for ``command_timeout_s``, any
  non-data error of the database round trip): the connection is dropped, and the whole batch is tried again after
  a backoff doubling up to ``backoff_max_s``, for as long as it takes; ``on_wait`` runs before each wait.
  ``stop`` ends the retries with ``Stopped``: nothing was committed, nothing is acked, JetStream redelivers.
* conflict (a deadlock PostgreSQL broke by aborting this transaction, a serialisation failure): the transaction is
  tried again at once on the same connection, up to ``_CONFLICT_RETRIES`` times in a row (then an outage). Every
  transaction takes its tables in TABLES' order and the rollup minutes in key order, so two writers only wait.
* a message whose rows cannot be built (any error of its row builder): a dead letter naming the error, the rest go in.
* our own code after the commit (counting, sampling latencies) runs outside the retry loop: an error there is a bug,
  logged and counted (``arb_recorder_internal_errors_total``), and the committed batch is returned to be acked.
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
from ..core import latency
from ..core import strategy as _strategy  # noqa: F401  (registers the strategy's messages)
from . import schema
from .config import RecorderConfig
from .metrics import RecorderMetrics
from .tables import ACCOUNT_FROM_SUBJECT, DEAD_LETTER_SQL, ROUTES, TABLES, Route, Table, evt_account, needs

_DATA_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError, OverflowError, TypeError, ValueError)
# two transactions in each other's way (a deadlock PostgreSQL broke by aborting one of them, a serialisation
# failure): nothing is wrong with the server or the connection; the transaction is tried again at once, on the same
# connection, up to _CONFLICT_RETRIES times in a row before it counts as an outage
_CONFLICTS = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
_CONFLICT_RETRIES = 5


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
        # command_timeout: a statement PostgreSQL does not answer (a hung server, a stalled network) raises after it,
        # an outage like any other (the connection is dropped and the batch retried), never a writer waiting for ever
        conn = await asyncpg.connect(self.dsn, timeout=self.cfg.connect_timeout_s,
                                     command_timeout=self.cfg.command_timeout_s,
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
        attempt = conflicts = 0
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
                if isinstance(e, _CONFLICTS) and conflicts < _CONFLICT_RETRIES:
                    # rolled back, the connection is fine: the same transaction again, now (the other one goes on)
                    conflicts += 1
                    if self.m is not None:
                        self.m.db_errors.labels("conflict").inc()
                    self.log.info("%s: %s: %s; trying the transaction again", self.name, what, _reason(e))
                    continue
                conflicts = 0  # beyond the bound (never seen): an outage below, with its backoff
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

        async def once() -> tuple[BatchResult, dict[Table, list[tuple[tuple, Any]]]]:
            # only the database round trip runs in here (and so in _retrying, where an error means an outage):
            # it returns when the commit has; what follows the commit runs below, where nothing can raise
            nonlocal attempts
            attempts += 1
            conn = await self._connect()
            return await self._write_once(conn, stream, routed, dead, res, how)

        while True:
            try:
                out, rows = await self._retrying(once, stop, f"batch of {len(msgs)} from {stream}", on_wait)
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
        # committed: from here on nothing may raise (the batch must be acked); a bug here is logged and counted
        out.attempts = attempts
        try:
            # during a replay most batches are duplicates: stage them until one meets none, then go direct again
            self._staged_next = how != DIRECT and any(out.duplicates.values())
            self._count(stream, msgs, out, rows, skipped, how, t0)
        except Exception:  # our own bug after the commit: never an outage, never a lost ack
            self.log.exception("%s: BUG after the commit of a batch of %d from %s (committed; it is acked)",
                               self.name, len(msgs), stream)
            if self.m is not None:
                self.m.internal_errors.labels(stream).inc()
        return out

    def _count(self, stream: str, msgs: Sequence[Any], out: BatchResult, rows: dict[Table, list[tuple[tuple, Any]]],
               skipped: dict[str, int], how: str, t0: float) -> None:
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
            now = time.time_ns()
            for table, entries in rows.items():
                ts = _event_ns(entries[0][0], table) if entries else 0
                if ts:
                    m.exchange_to_record.labels(table.name).observe(max(0.0, (now - ts) / 1e9))

    async def _write_once(self, conn: asyncpg.Connection, stream: str, routed: list, dead_in: list,
                          res: BatchResult, how: str) -> tuple[BatchResult, dict[Table, list[tuple[tuple, Any]]]]:
        dead = list(dead_in)
        rows: dict[Table, list[tuple[tuple, Any]]] = {}
        ids, ex = self._id, self._exid
        missing: list[tuple[tuple[Route, ...], Any, Any]] = []

        def add(routes: tuple[Route, ...], m: Any, msg: Any) -> None:
            built = [(table, build(m, ids, ex), many) for table, build, many in routes]  # all, before adding any
            for table, rec, many in built:
                if many:
                    if rec:  # none (a Margin with no open position): no entry, the table is not touched
                        rows.setdefault(table, []).extend((r, msg) for r in rec)
                else:
                    rows.setdefault(table, []).append((rec, msg))

        for entry in routed:
            routes, m, msg = entry
            try:
                if len(routes) == 1 and not routes[0][2]:  # the usual case (inline: the hot path): one row
                    table, build, _ = routes[0]
                    rows.setdefault(table, []).append((build(m, ids, ex), msg))
                else:
                    add(routes, m, msg)
            except KeyError:
                missing.append(entry)  # an id not cached yet: resolved below
            except Exception as e:  # noqa: BLE001 -- this message's rows cannot be built (a bug, a value): its own loss
                dead.append((msg, f"rows not built: {_reason(e)}"))
        for routes, m, msg in missing:
            symbol = None
            try:
                for venue, market, symbol in needs(m):
                    await self._resolve(conn, venue, market, symbol)
            except _DATA_ERRORS as e:
                dead.append((msg, f"unknown symbol {symbol!r} refused: {_reason(e)}"))
                continue
            try:
                add(routes, m, msg)
            except Exception as e:  # noqa: BLE001 -- as above (a KeyError now: an id needs() does not name)
                dead.append((msg, f"rows not built: {_reason(e)}"))
        ts_rec = time.time_ns()
        out = BatchResult(messages=res.messages, skipped=res.skipped)
        plain = self.mode == schema.PLAIN
        # one global order (TABLES'): every transaction takes the tables' locks (a rollup's minutes above all) in
        # the same order, tables first and keys within a table second, so two writers wait for each other, never
        # deadlock (the order types first appear in a batch would let two batches cross)
        rows = dict(sorted(rows.items(), key=_table_order))
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
                            await upsert_rollups(conn, table, records, ts_rec, plain)
                        except _DATA_ERRORS as e:
                            raise DirectRefused(table.name, e) from e
                        n = len(entries)
                    else:
                        try:
                            await conn.copy_records_to_table(table.stage, records=[r for r, _ in entries],
                                                             columns=table.columns)
                            n = await merge_staged(conn, table, merge, ts_rec)
                        except _DATA_ERRORS as e:
                            raise DataRefused(table.name, e) from e
                    out.inserted[table.name] = n
                    out.duplicates[table.name] = len(entries) - n
            if dead:
                await conn.executemany(DEAD_LETTER_SQL, [(stream, _stream_seq(msg), msg.subject, bytes(msg.data),
                                                          why) for msg, why in dead])
        out.dead = len(dead)
        return out, rows


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
                        got[table.name] = await merge_staged(conn, table, table.merge_plain if plain else
                                                       table.merge_timescale, ts_rec)
                        await conn.execute(f"DELETE FROM {table.stage}")
            except _DATA_ERRORS as e:
                for t, records in tables.items():
                    out.duplicates[t.name] -= len(records)
                dead.append((msg, f"refused by {table.name if table else '?'}: {_reason(e)}"))
                continue
            for t, records in tables.items():
                out.inserted[t.name] += got[t.name]
                out.duplicates[t.name] -= got[t.name]


_ORDER = {t: i for i, t in enumerate(TABLES)}


async def upsert_rollups(conn: asyncpg.Connection, table: Table, records: list[tuple], ts_rec: int,
                         plain: bool) -> None:
    """The direct path's rollups of a table's batch (every row new): bbo_1m & co. in plain mode, the latency
    histograms in both, one row per (exchange, symbol, minute) in key order. Where a minute has both (book tickers,
    plain mode) they go in one statement that upserts the bbo_1m row first, as the staged path does (the SQL rollup
    in the merge, the histograms after): every writer locks bbo_1m's row of a minute before its feed_latency_1m row,
    so a direct and a staged writer wait for each other, never deadlock."""
    lat = None
    if table.latency:
        ev, pub = table.latency_at
        lat = latency.rows([r[0] for r in records], [r[1] for r in records], [r[ev] for r in records],
                           [r[pub] for r in records], ts_rec)
    if plain and table.rollup is not None:
        groups = sorted(table.rollup.aggregate(records))  # key order: concurrent writers lock minutes in one order
        if lat is not None and [g[:3] for g in groups] == [x[:3] for x in lat]:
            # the same minutes (both group by ts_event's): both rows in one statement, a round trip fewer
            await conn.executemany(table.rollup.with_latency, [(*g, *x[3:]) for g, x in zip(groups, lat, strict=True)])
            return
        await conn.executemany(table.rollup.upsert, groups)
    if lat is not None:
        await conn.executemany(latency.UPSERT, lat)


async def merge_staged(conn: asyncpg.Connection, table: Table, sql: str, ts_rec: int) -> int:
    """Merge a staged table; return the rows inserted. A table with latency summarises the rows really inserted
    (its merge returns their stamps) into feed_latency_1m, in key order like every rollup."""
    if not table.latency:
        return await conn.fetchval(sql, ts_rec)
    got = await conn.fetch(sql, ts_rec)
    if got:
        await conn.executemany(latency.UPSERT, latency.rows([r[0] for r in got], [r[1] for r in got],
                                                            [r[2] for r in got], [r[3] for r in got], ts_rec))
    return len(got)


def _table_order(item: tuple[Table, Any]) -> int:
    return _ORDER[item[0]]


def _identity(x: Any) -> Any:
    return x


def _event_ns(row: tuple, table: Table) -> int:
    try:
        return int(row[table.columns.index(table.time_from)])
    except (ValueError, TypeError, IndexError):
        return 0


__all__ = ["BatchResult", "Stopped", "Writer", "merge_staged", "upsert_rollups"]
