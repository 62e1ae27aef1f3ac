"""Test support that is also library code (``make demo`` starts its servers with it).

- ``servers``: find or start a real NATS with JetStream and a real PostgreSQL (``find_or_start_nats``,
  ``find_or_start_postgres``); ``python -m arb.testing.servers nats|postgres`` for scripts.
- ``poll.eventually``: poll a condition instead of sleeping; ``poll.bounded`` / ``bounded_context``: await
  one thing (enter and exit one context) with a deadline.
- ``collect.ExecutionEvents``: a bus handler keeping an account's order/fill/balance/position events.
- ``procs``: ``arb <command>`` as a child process (``Service``, ``start_sim``) for the e2e tests.
- ``StreamSet``: what the ``js_streams`` test fixture yields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from .poll import bounded, bounded_context, eventually

if TYPE_CHECKING:
    from .servers import NatsHandle, PgHandle, find_or_start_nats, find_or_start_postgres

_FROM_SERVERS = ("NatsHandle", "PgHandle", "find_or_start_nats", "find_or_start_postgres")


def __getattr__(name: str) -> Any:
    """``servers`` is imported on first use only, so ``python -m arb.testing.servers`` runs it cleanly once."""
    if name in _FROM_SERVERS:
        from . import servers

        return getattr(servers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class StreamSet(msgspec.Struct, frozen=True):
    """A test's own JetStream streams: names ``<prefix>MD`` etc., bound to ``<subject_prefix>md.>`` etc."""

    prefix: str  # stream-name prefix, e.g. "T3F9A1C_"
    subject_prefix: str  # subject prefix, e.g. "t3f9a1c."
    names: tuple[str, ...]

    @property
    def md(self) -> str:
        return self.prefix + "MD"

    @property
    def ord(self) -> str:
        return self.prefix + "ORD"

    @property
    def strat(self) -> str:
        return self.prefix + "STRAT"

    def subject(self, subject: str) -> str:
        """``md.mexc.spot.BTC-USDT.bbo`` -> ``t3f9a1c.md.mexc.spot.BTC-USDT.bbo`` (captured by this test's streams)."""
        return self.subject_prefix + subject


__all__ = [
    "NatsHandle",
    "PgHandle",
    "StreamSet",
    "bounded",
    "bounded_context",
    "eventually",
    "find_or_start_nats",
    "find_or_start_postgres",
]
