"""JetStream streams and KV buckets, declared in one place and created idempotently.

MD    md.>              market data; bounded by age and size (it is replayable from the venues' history only
                         for a while, and the recorder keeps the durable copy in PostgreSQL)
ORD   ord.*.*.evt.>     execution events; durable. Command subjects (cmd.*) are deliberately NOT captured:
                         a stream on a request subject would answer the requester with a PubAck before the
                         gateway's real reply. Commands go to the gateway's audit log instead.
STRAT strat.>           coordinator state transitions; durable.
KV ORDJ                 the trading gateways' order journal: one entry per client order id, written before the
                         venue is called (``arb.venues.common.journal``); kept as long as ORD.
KV REF                  reference data: symbol rules and public fees per ``<venue>.<market>.<symbol>``, written by the
                         md gateways (``arb.venues.common.refpub``), read by ``arb.bus.refdata``; last 5 revisions, no TTL.
KV LEASE                one writer per (venue, account, market) (``arb.bus.lease``); created by the first holder.

A process start never shrinks what exists: the limits a stream already has are kept when the config asks for
less (a mistyped ``ARB_STREAMS__ORD_MAX_AGE_S=1`` would otherwise empty ORD, and with it the trading
gateways' memory of which client ids they used); only growth is applied. Shrinking is an operator's act
(``nats stream edit``), never a side effect of starting a service.
"""

from __future__ import annotations

import dataclasses
import math

import msgspec
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError

# Execution history and strategy state: never kept for less than a week. The trading gateways' idempotency
# window (gateway.idempotency_window_s, at most 366 days) is separately checked against ord_max_age_s.
DURABLE_MIN_AGE_S = 7 * 86400.0
MD_MIN_AGE_S = 60.0
MD_MIN_BYTES = 1 << 20
JOURNAL_BUCKET = "ORDJ"
LEASE_BUCKET = "LEASE"
REF_BUCKET = "REF"
REF_HISTORY = 5  # revisions kept per key: the last few rule changes stay visible (``nats kv history``)


def _age(field: str, value: float, floor: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value)) or value < floor:
        raise ValueError(f"{field}: expected a finite number of seconds >= {floor:g}, got {value!r}")


class StreamLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    md_max_age_s: float = 3600.0
    md_max_bytes: int = 1 << 30
    ord_max_age_s: float = 30 * 86400.0
    strat_max_age_s: float = 30 * 86400.0
    replicas: int = 1

    def __post_init__(self) -> None:
        _age("md_max_age_s", self.md_max_age_s, MD_MIN_AGE_S)
        _age("ord_max_age_s", self.ord_max_age_s, DURABLE_MIN_AGE_S)
        _age("strat_max_age_s", self.strat_max_age_s, DURABLE_MIN_AGE_S)
        if self.md_max_bytes < MD_MIN_BYTES:
            raise ValueError(f"md_max_bytes: expected >= {MD_MIN_BYTES} (1 MiB), got {self.md_max_bytes}")
        if self.replicas not in (1, 3, 5):
            raise ValueError(f"replicas: expected 1, 3 or 5, got {self.replicas}")


def stream_name_prefix(subject_prefix: str) -> str:
    """Subject prefix 't3f9.' -> stream name prefix 'T3F9_' (stream names allow no dots)."""
    return subject_prefix.replace(".", "_").upper()


def journal_bucket(subject_prefix: str = "") -> str:
    return stream_name_prefix(subject_prefix) + JOURNAL_BUCKET


def lease_bucket(subject_prefix: str = "") -> str:
    return stream_name_prefix(subject_prefix) + LEASE_BUCKET


def ref_bucket(subject_prefix: str = "") -> str:
    """Reference data (``arb.core.refdata.SymbolRef`` per ``<venue>.<market>.<symbol>``), written by md gateways."""
    return stream_name_prefix(subject_prefix) + REF_BUCKET


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


def _unlimited(x: float | None) -> bool:
    return x is None or x <= 0  # JetStream: max_age 0 and max_bytes -1 mean "no limit"


def _larger(have: float | None, want: float | None) -> float | int | None:
    """The larger of two limits, where 'no limit' is the largest."""
    if _unlimited(have):
        return have
    if _unlimited(want):
        return want
    return max(have, want)  # type: ignore[type-var]


def grown(existing: StreamConfig, wanted: StreamConfig) -> StreamConfig | None:
    """The config to apply to an existing stream: ``wanted`` where it keeps at least as much, the existing
    limit where ``wanted`` would keep less; None when nothing would change."""
    age = _larger(existing.max_age, wanted.max_age)
    size = _larger(existing.max_bytes, wanted.max_bytes)
    subjects = list(existing.subjects or [])
    subjects += [s for s in wanted.subjects or [] if s not in subjects]
    replicas = wanted.num_replicas or existing.num_replicas
    if (age == existing.max_age and size == existing.max_bytes and subjects == list(existing.subjects or [])
            and replicas == existing.num_replicas):
        return None
    return dataclasses.replace(existing, max_age=age, max_bytes=size, subjects=subjects, num_replicas=replicas)


async def ensure_streams(js, limits: StreamLimits, subject_prefix: str = "") -> list[str]:
    """Create every stream and bucket, or grow an existing one (never shrink it); safe to call from every
    process at start-up. Returns the JetStream stream names (KV buckets as ``KV_<bucket>``)."""
    names = []
    for cfg in stream_configs(limits, subject_prefix):
        try:
            info = await js.stream_info(cfg.name)
        except NotFoundError:
            await js.add_stream(cfg)
        else:
            change = grown(info.config, cfg)
            if change is not None:
                await js.update_stream(change)
            if (not _unlimited(info.config.max_age) and not _unlimited(cfg.max_age)
                    and cfg.max_age < info.config.max_age) or (
                    not _unlimited(info.config.max_bytes) and not _unlimited(cfg.max_bytes)
                    and cfg.max_bytes < info.config.max_bytes):
                from ..obs.log import get_logger  # here: obs.log -> config.schema -> this module

                get_logger(__name__).warning("stream %s: kept its limits (max_age %ss, max_bytes %s); the config asks for less "
                            "(%ss, %s) and a start never shrinks a stream", cfg.name, info.config.max_age,
                            info.config.max_bytes, cfg.max_age, cfg.max_bytes)
        names.append(cfg.name)
    bucket = journal_bucket(subject_prefix)
    try:
        await js.key_value(bucket)
    except BucketNotFoundError:
        await js.create_key_value(KeyValueConfig(bucket=bucket, history=1, ttl=limits.ord_max_age_s,
                                                 storage=StorageType.FILE, replicas=limits.replicas))
    else:  # the journal is kept as long as ORD: grown with it, never shrunk
        info = await js.stream_info(f"KV_{bucket}")
        change = grown(info.config, dataclasses.replace(info.config, max_age=limits.ord_max_age_s,
                                                        num_replicas=limits.replicas))
        if change is not None:
            await js.update_stream(change)
    names.append(f"KV_{bucket}")
    ref = ref_bucket(subject_prefix)
    try:
        await js.key_value(ref)
    except BucketNotFoundError:  # no TTL: a rule stays valid until its venue says otherwise
        await js.create_key_value(KeyValueConfig(bucket=ref, history=REF_HISTORY, storage=StorageType.FILE,
                                                 replicas=limits.replicas))
    names.append(f"KV_{ref}")
    return names
