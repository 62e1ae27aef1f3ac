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


def stream_name_prefix(subject_prefix: str) -> str:
    """Subject prefix 't3f9.' -> stream name prefix 'T3F9_' (stream names allow no dots)."""
    return subject_prefix.replace(".", "_").upper()


def stream_configs(limits: StreamLimits, subject_prefix: str = "") -> list[StreamConfig]:
    """``subject_prefix`` (config nats.subject_prefix) isolates a deployment or a test:
    subjects ``<prefix>md.>`` go to stream ``<PREFIX>_MD`` and so on."""
    p = subject_prefix
    n = stream_name_prefix(subject_prefix)
    return [
        StreamConfig(
            name=f"{n}MD",
            subjects=[f"{p}md.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=limits.md_max_age_s,
            max_bytes=limits.md_max_bytes,
            num_replicas=limits.replicas,
        ),
        StreamConfig(
            name=f"{n}ORD",
            subjects=[f"{p}ord.*.*.evt.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.ord_max_age_s,
            num_replicas=limits.replicas,
        ),
        StreamConfig(
            name=f"{n}STRAT",
            subjects=[f"{p}strat.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.strat_max_age_s,
            num_replicas=limits.replicas,
        ),
    ]


async def ensure_streams(js, limits: StreamLimits, subject_prefix: str = "") -> list[str]:
    """Create or update every stream; safe to call from every process at start-up."""
    names = []
    for cfg in stream_configs(limits, subject_prefix):
        try:
            await js.stream_info(cfg.name)
            await js.update_stream(cfg)
        except NotFoundError:
            await js.add_stream(cfg)
        names.append(cfg.name)
    return names
