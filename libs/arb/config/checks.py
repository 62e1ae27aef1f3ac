"""Field checks shared by every config struct: finite numbers in range, URLs parsed in full, URL redaction.

Each check raises ``ValueError("<field>: <problem>")``; msgspec adds the struct's path, so the loader reports
``prod.yaml: gateway.watchdog_s: must be finite and > 0 (at most 3600), got nan``. Every comparison with NaN
is False (``nan <= 0`` too), which is why each number check asks ``isfinite`` first.

This module imports nothing from the project, so ``arb.sim.config`` can use it without an import cycle.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

Number = int | float | Decimal

# ://user:password@ -> ://user:***@ ; greedy up to the segment's last '@' so a raw '/' or '@' in a password
# is hidden too. A URL list is split on ',' first (a password with a raw ',' is not a valid URL anyway).
_USERINFO_PW = re.compile(r"(://[^:@/,\s]*:)[^,\s]*@")


def redact_url(url: str) -> str:
    """nats://user:pass@host -> nats://user:***@host (each URL of a comma-separated list)."""
    return _USERINFO_PW.sub(r"\1***@", url)


def _finite(value: Number) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _n(x: Number) -> str:
    return str(int(x)) if isinstance(x, int) or (isinstance(x, float) and x.is_integer()) else str(x)


def positive(field: str, value: Number, most: Number) -> None:
    """A duration, size or rate where 0 means nothing sensible: finite, > 0 and <= ``most``."""
    if not (_finite(value) and 0 < value <= most):
        raise ValueError(f"{field}: must be finite and > 0 (at most {_n(most)}), got {value}")


def in_range(field: str, value: Number, least: Number, most: Number, zero: str = "") -> None:
    """Finite and ``least <= value <= most``; ``zero`` says what 0 means when it is allowed (e.g. 'off')."""
    if not (_finite(value) and least <= value <= most):
        low = f"0 ({zero}) .. " if zero and least == 0 else f"{_n(least)}.."
        raise ValueError(f"{field}: expected {low}{_n(most)}, got {value}")


def non_empty(field: str, value: str) -> None:
    if not value.strip():
        raise ValueError(f"{field}: must not be empty")


def check_url(field: str, value: str, schemes: tuple[str, ...], what: str) -> None:
    """Parse one URL in full: scheme, host and (if given) a port in 1..65535, as the client will at run time.

    A PostgreSQL URL may list several ``host:port`` (libpq multi-host) or give the host as ``?host=`` (a
    Unix socket directory).
    """
    shown = redact_url(value)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest:
        raise ValueError(f"{field}: expected {what} URL, got {shown!r}")
    try:
        parts = urlsplit(value)
    except ValueError as e:  # e.g. an unbalanced '[' in an IPv6 host
        raise ValueError(f"{field}: invalid URL {shown!r}: {e}") from None
    hostport = parts.netloc.rpartition("@")[2]
    postgres = scheme.lower() in ("postgresql", "postgres")
    hosts = hostport.split(",") if postgres else [hostport]
    if postgres and hosts == [""] and parse_qs(parts.query).get("host"):
        return
    for hp in hosts:
        one = urlsplit(f"{scheme}://{hp}")
        if not one.hostname:
            raise ValueError(f"{field}: no host in {shown!r}")
        try:
            port = one.port  # raises on a port that is not a number or is outside 0..65535
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"{field}: port must be a number in 1..65535 in {shown!r}")
