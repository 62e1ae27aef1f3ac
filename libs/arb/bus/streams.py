"""JetStream streams, declared in one place and created idempotently.

MD    md.>              market data; bounded by age and size (it is replayable from the venues' history only
                         for a while, and the recorder keeps the durable copy in PostgreSQL)
ORD   ord.*.*.evt.>     execution events; durable. Command subjects (cmd.*) are deliberately NOT captured:
                         a stream on a request subject would answer the requester with a PubAck before the
                         gateway's real reply. Commands go to the gateway's audit log instead.
STRAT strat.>           coordinator state transitions; durable.
"""

from __future__ import annotations

import msgspec
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError


class StreamLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    md_max_age_s: float = 3600.0
    md_max_bytes: int = 1 << 30
    ord_max_age_s: float = 30 * 86400.0
    strat_max_age_s: float = 30 * 86400.0
    replicas: int = 1


def stream_configs(limits: StreamLimits, prefix: str = "") -> list[StreamConfig]:
    """``prefix`` isolates tests: streams ``<prefix>MD`` on subjects ``<prefix>md.>`` etc."""
    p = prefix
    return [
        StreamConfig(
            name=f"{p}MD",
            subjects=[f"{p}md.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=limits.md_max_age_s,
            max_bytes=limits.md_max_bytes,
            num_replicas=limits.replicas,
        ),
        StreamConfig(
            name=f"{p}ORD",
            subjects=[f"{p}ord.*.*.evt.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.ord_max_age_s,
            num_replicas=limits.replicas,
        ),
        StreamConfig(
            name=f"{p}STRAT",
            subjects=[f"{p}strat.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.strat_max_age_s,
            num_replicas=limits.replicas,
        ),
    ]


async def ensure_streams(js, limits: StreamLimits, prefix: str = "") -> list[str]:
    """Create or update every stream; safe to call from every process at start-up."""
    names = []
    for cfg in stream_configs(limits, prefix):
        try:
            await js.stream_info(cfg.name)
            await js.update_stream(cfg)
        except NotFoundError:
            await js.add_stream(cfg)
        names.append(cfg.name)
    return names
