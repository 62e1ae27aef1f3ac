"""The recorder's Prometheus metrics (``arb_recorder_*``); labels are table, stream and message type names."""

from __future__ import annotations

from ..obs.metrics import counter, gauge, histogram

SLOW_BUCKETS = (1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RecorderMetrics:
    def __init__(self) -> None:
        self.rows = counter("arb_recorder_rows_total", "Rows inserted (new), per table", ["table"])
        self.duplicates = counter("arb_recorder_duplicate_rows_total",
                                  "Rows already stored (replay, redelivery, another replica), per table", ["table"])
        self.messages = counter("arb_recorder_messages_total", "Messages committed and acked, per stream", ["stream"])
        self.dead = counter("arb_recorder_dead_letters_total", "Messages put in dead_letters, per stream", ["stream"])
        self.staged = counter("arb_recorder_staged_batches_total",
                                "Batches written by staging + merge instead of a direct COPY (a replayed or refused "
                                "row met), per stream", ["stream"])
        self.skipped = counter("arb_recorder_skipped_total", "Messages of a type with no table, per type", ["type"])
        self.batch = histogram("arb_recorder_batch_seconds", "Write of one batch: COPY, merge, commit", ["stream"],
                               SLOW_BUCKETS)
        self.batch_rows = histogram("arb_recorder_batch_messages", "Messages per batch", ["stream"],
                                    (1, 10, 100, 250, 500, 1000, 2500, 5000, 10000))
        self.exchange_to_record = histogram(
            "arb_recorder_exchange_to_record_seconds",
            "Venue event time to commit, one sampled row per table and batch", ["table"], SLOW_BUCKETS)
        self.lag = gauge("arb_recorder_consumer_lag_messages", "Messages in the stream not yet delivered to the "
                         "recorder's consumer", ["stream"])
        self.ack_pending = gauge("arb_recorder_ack_pending_messages", "The consumer's num_ack_pending: delivered "
                                 "to a replica (any) and not acked yet, read every lag_interval_s", ["stream"])
        self.db_errors = counter("arb_recorder_db_errors_total",
                                 "PostgreSQL failures: transient (an outage: reconnect, retried with backoff), "
                                 "conflict (a deadlock or serialisation failure: the transaction retried at once) or "
                                 "data (rows isolated)", ["kind"])
        self.internal_errors = counter("arb_recorder_internal_errors_total",
                                       "Bugs of the recorder's own code after a commit (logged; the batch is acked)",
                                       ["stream"])
        self.db_up = gauge("arb_recorder_db_up", "1 while the last PostgreSQL write succeeded")
