"""MEXC user-data-stream listenKeys (exchange-facts §1.1, §1.8).

* ``POST /api/v3/userDataStream`` -> ``{"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}``
* valid 60 min from creation; ``PUT ?listenKey=`` extends to 60 min; ``DELETE ?listenKey=`` closes;
* at most 60 listenKeys per UID and 5 WebSocket connections per listenKey.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterable
from typing import Any

_ALPHABET = string.ascii_lowercase + string.digits


class ListenKeys:
    """listenKey -> (account, expiry); also which private connections hang on each key."""

    MAX_PER_ACCOUNT = 60

    def __init__(self, ttl_s: float = 3600.0) -> None:
        self.ttl_s = ttl_s
        self._keys: dict[str, tuple[Any, float]] = {}
        self._conns: dict[str, set] = {}
        self._expired: list[str] = []

    def create(self, account: Any) -> str | None:
        """A new 64-char key for ``account``; None when the account already holds the maximum."""
        self.sweep_no_close()
        if sum(1 for a, _ in self._keys.values() if a is account) >= self.MAX_PER_ACCOUNT:
            return None
        key = "".join(secrets.choice(_ALPHABET) for _ in range(64))
        self._keys[key] = (account, time.monotonic() + self.ttl_s)
        return key

    def keep_alive(self, account: Any, key: str) -> bool:
        entry = self._keys.get(key)
        if entry is None or entry[0] is not account or entry[1] <= time.monotonic():
            return False
        self._keys[key] = (account, time.monotonic() + self.ttl_s)
        return True

    def delete(self, account: Any, key: str) -> bool:
        entry = self._keys.get(key)
        if entry is None or entry[0] is not account:
            return False
        self.expire(key)
        return True

    def of_account(self, account: Any) -> list[str]:
        now = time.monotonic()
        return [k for k, (a, exp) in self._keys.items() if a is account and exp > now]

    def account_for(self, key: str) -> Any:
        entry = self._keys.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def expire(self, key: str) -> None:
        """Invalidate now; its connections are closed by the next ``sweep``."""
        if self._keys.pop(key, None) is not None or key in self._conns:
            self._expired.append(key)

    def all_keys(self) -> list[str]:
        return list(self._keys)

    def sweep_no_close(self) -> None:
        now = time.monotonic()
        for k in [k for k, (_, exp) in self._keys.items() if exp <= now]:
            self.expire(k)

    def sweep(self) -> list[str]:
        """Keys that expired or were deleted since the last sweep (their connections must be closed)."""
        self.sweep_no_close()
        out, self._expired = self._expired, []
        return out

    # connections
    def attach(self, key: str, conn: Any) -> None:
        self._conns.setdefault(key, set()).add(conn)

    def detach(self, key: str, conn: Any) -> None:
        s = self._conns.get(key)
        if s is not None:
            s.discard(conn)
            if not s:
                del self._conns[key]

    def conn_count(self, key: str) -> int:
        return len(self._conns.get(key, ()))

    def conns_for_key(self, key: str) -> Iterable:
        return tuple(self._conns.get(key, ()))

    def conns_of(self, account: Any) -> Iterable:
        for key, conns in self._conns.items():
            entry = self._keys.get(key)
            if entry is not None and entry[0] is account:
                yield from conns


__all__ = ["ListenKeys"]
