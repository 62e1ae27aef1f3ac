"""The recorder: every message of the MD, ORD and STRAT streams into PostgreSQL / TimescaleDB, no loss, no duplicate.

- ``schema``: numbered migrations (``migrations/``), applied in order at start; ``deploy/db/init-db.sql`` made from them;
- ``tables``: which message goes to which table, its row, and the merge SQL;
- ``writer.Writer``: one batch -> COPY into staging -> merge ON CONFLICT DO NOTHING -> commit, retried until in;
- ``recorder.Recorder``: durable pull consumers feeding the writers, acks after commit.

specs/recorder.md explains the schema, the modes and the batch/ack algorithm.
"""
