"""The coordinator: the strategy core (``arb.strategy``) live on the bus, persisted and recoverable (specs/coordinator.md).

- ``config``: the ``coordinator`` config section (tasks and timings);
- ``store``: task snapshots in KV bucket ``TASKS`` and the STRAT log;
- ``control``: the ``ctl.coordinator.*`` request/reply messages;
- ``runner.TaskRunner``: one task: events in order through ``Strategy.step``, intent recorded, commands sent.

Written against the bus contract alone: market data, execution events, reference data and the trading client; no
venue code.
"""
