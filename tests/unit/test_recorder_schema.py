"""The recorder's schema has one source of truth: deploy/db/init-db.sql is rendered from the numbered migrations."""

from __future__ import annotations

import re

import pytest
from arb.recorder import schema
from arb.recorder.config import RecorderConfig
from arb.recorder.tables import ROUTES, TABLES, evt_account

pytestmark = pytest.mark.unit


def test_init_db_sql_is_the_migrations_rendered():
    """deploy/db/init-db.sql equals what the migrations render (run python -m arb.recorder.schema --write)."""
    assert schema.INIT_DB.read_text() == schema.render_init_db()


def test_migrations_are_numbered_from_one_without_gaps():
    """Migrations apply in order: 0001, 0002, ... each once."""
    assert [m.version for m in schema.migrations()] == list(range(1, len(schema.migrations()) + 1))


def test_every_table_the_writer_fills_is_created_by_a_migration_with_a_unique_key_on_time():
    """Each target table exists in the migrations, and its unique key includes the time column."""
    sql = "".join(m.sql for m in schema.migrations())
    for t in TABLES:
        body = re.search(rf"CREATE TABLE IF NOT EXISTS {t.name} \((.*?)\n\);", sql, re.DOTALL)
        assert body, t.name
        key = re.search(r"CONSTRAINT \w+_key UNIQUE \(([^)]*)\)", body[1])
        assert key and "time" in key[1].split(", "), t.name
        for col in t.columns:
            assert re.search(rf"^\s+{col}\s", body[1], re.MULTILINE), (t.name, col)


def test_every_routed_message_type_has_a_table():
    """Every message type the recorder routes goes to one of its tables, and every table is filled by some type."""
    assert {table for routes in ROUTES.values() for table, _, _ in routes} == set(TABLES)


def test_the_account_of_an_execution_event_is_read_from_its_subject():
    """A FundingPaid names no account: the recorder takes it from ord.<venue>.<account>.evt.<kind> (any prefix), and
    finds none on the coordinator's strat.<task>.input copy."""
    assert evt_account("ord.gateio.main.evt.funding") == "main"
    assert evt_account("paper.ord.gateio.acct-2.evt.funding") == "acct-2"
    assert evt_account("strat.btc.input") is None
    assert evt_account("paper.strat.evt.input") is None


@pytest.mark.parametrize(("field", "value", "error"), [
    ("batch_size", 0, "batch_size"),
    ("streams", ("MD", "XX"), "streams"),
    ("consumer", "a.b", "consumer"),
    ("backoff_max_s", 0.01, "backoff_max_s"),
    ("max_ack_pending", 10, "max_ack_pending"),
    ("ack_wait_s", float("nan"), "ack_wait_s"),
    ("writers", 0, "writers"),
    ("writers", 17, "writers"),
])
def test_a_bad_recorder_config_is_refused_naming_the_field(field, value, error):
    """Each recorder setting is checked and the error names it."""
    with pytest.raises(ValueError, match=error):
        RecorderConfig(**{field: value})


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), 3601])
def test_a_bad_recorder_command_timeout_is_refused(value):
    """``command_timeout_s`` (a hung statement becomes an outage after it) is checked like the other timings."""
    with pytest.raises(ValueError, match="command_timeout_s"):
        RecorderConfig(command_timeout_s=value)


def test_max_ack_pending_must_hold_every_batch_one_replica_has_in_flight():
    """One replica holds up to (queue_batches + writers + 1) x batch_size messages of a stream unacked (the queue, one
    batch per writer, one waiting for room): a smaller max_ack_pending is refused, writers included."""
    ok = RecorderConfig(batch_size=100, queue_batches=2, writers=2, max_ack_pending=500)
    assert ok.max_ack_pending == 500
    with pytest.raises(ValueError, match=r"max_ack_pending.*500"):
        RecorderConfig(batch_size=100, queue_batches=2, writers=2, max_ack_pending=499)
    with pytest.raises(ValueError, match=r"max_ack_pending.*1700"):
        RecorderConfig(batch_size=100, queue_batches=2, writers=14, max_ack_pending=1000)
