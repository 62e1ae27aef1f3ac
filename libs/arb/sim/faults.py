"""Faults registry: armed from config (``sim.faults``) and at runtime from ``POST /admin/faults``.

A wire layer asks at each chance whether a fault fires: ``spec = faults.take("book_skip", venue, market)``.
``take`` is one dict probe when nothing of that name is armed, so it is cheap enough per message.

Firing rules for one armed spec: while ``count > 0`` each ``take`` consumes one shot; ``count == -1``
fires every time; otherwise (``count == 0``) it fires with ``probability`` per take, drawn from a seeded
RNG. A spec with no shots left and no probability is dropped. Specs match on venue/market ("" = any).

Names and params (interpreted by the wire layers):
  ws_drop            close the WebSocket abruptly (no close frame)
  ws_stall           stop sending on a WebSocket for ``params.seconds`` (default 10), keep it open; nothing
                     at all is sent meanwhile, pongs and acks included (a stalled socket cannot prove it
                     is live). MEXC drops what it would have sent; Gate holds it and sends it afterwards
  book_skip          drop one book update (the client sees a sequence gap)
  book_duplicate     send one book update twice
  book_reorder       swap one book update with the next one
  malformed_frame    send one frame that does not parse
  rest_429           answer one REST call 429 with the venue's body and headers (``params.retry_after`` s)
  rest_5xx           answer one REST call with ``params.status`` (default 503)
  rest_slow          delay one REST answer by ``params.ms`` (default 2000); with ``params.after`` the request
                     is carried out first and only its answer is late (an order rests or fills meanwhile)
  order_reject       reject one order placement (``params.reason``: a SimReject reason, default
                     INSUFFICIENT_BALANCE)
  listenkey_expire   expire the listenKey / private subscription: the stream gets the venue's expiry
                     event and closes
  fill_before_ack    deliver the fill of one order before its ack (swap the first two listener events)
  kline_no_w         Gate: send one window's closing candle push without ``w`` (the docs: "true may be missing"),
                     so the channel never says that window closed
"""

from __future__ import annotations

import random
from enum import Enum
from typing import Any

import msgspec

from .config import FAULT_NAMES, FaultConfig


def _s(x: Any) -> str:
    if isinstance(x, Enum):
        return str(x.value)
    return "" if x in (None, "*") else str(x)


class FaultSpec(msgspec.Struct, kw_only=True):
    """One armed fault. Mutable: ``count`` and ``fired`` change as shots are taken."""

    name: str
    venue: str = ""
    market: str = ""
    count: int = 1
    probability: float = 0.0
    params: dict[str, Any] = {}
    fired: int = 0

    def matches(self, venue: str, market: str) -> bool:
        return (not self.venue or self.venue == venue) and (not self.market or self.market == market)

    def param(self, key: str, default: Any) -> Any:
        return self.params.get(key, default)


class Faults:
    """Armed faults by name. Synchronous; owned by one event loop."""

    def __init__(self, seed: int = 0, configured: list[FaultConfig] | None = None) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self._armed: dict[str, list[FaultSpec]] = {}
        self.fired_total: dict[str, int] = {}
        for fc in configured or []:
            self.arm(fc.name, fc.venue, fc.market, count=fc.count, probability=fc.probability, params=dict(fc.params))

    def arm(
        self,
        name: str,
        venue: Any = "",
        market: Any = "",
        count: int = 1,
        probability: float = 0.0,
        params: dict[str, Any] | None = None,
    ) -> FaultSpec:
        """Arm a fault; raises ValueError on an unknown name or bad numbers."""
        if name not in FAULT_NAMES:
            raise ValueError(f"name: unknown fault {name!r}; expected one of {', '.join(FAULT_NAMES)}")
        if count < -1:
            raise ValueError(f"count: expected >= -1, got {count}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability: expected 0..1, got {probability}")
        if count == 0 and probability == 0.0:
            count = 1
        spec = FaultSpec(
            name=name, venue=_s(venue), market=_s(market), count=count, probability=probability,
            params=dict(params or {}),
        )
        self._armed.setdefault(name, []).append(spec)
        return spec

    def take(self, name: str, venue: Any, market: Any) -> FaultSpec | None:
        """Consume one shot of a matching armed fault, or draw its probability; None when none fires."""
        specs = self._armed.get(name)
        if not specs:
            return None
        v, m = _s(venue), _s(market)
        for spec in specs:
            if not spec.matches(v, m):
                continue
            if spec.count > 0:
                spec.count -= 1
                if spec.count == 0 and spec.probability == 0.0:
                    specs.remove(spec)
                    if not specs:
                        del self._armed[name]
            elif spec.count == -1:
                pass
            elif self._rng.random() >= spec.probability:
                continue
            spec.fired += 1
            self.fired_total[name] = self.fired_total.get(name, 0) + 1
            return spec
        return None

    def peek(self, name: str, venue: Any = "", market: Any = "") -> bool:
        """True if a fault of that name is armed for venue/market (does not consume)."""
        v, m = _s(venue), _s(market)
        return any(s.matches(v, m) or not v for s in self._armed.get(name, ()))

    def clear(self, name: str = "", venue: Any = "", market: Any = "") -> int:
        """Disarm matching faults (all when no filter); returns how many were removed."""
        v, m = _s(venue), _s(market)
        removed = 0
        for n in list(self._armed):
            if name and n != name:
                continue
            keep = [s for s in self._armed[n] if (v and s.venue != v) or (m and s.market != m)]
            removed += len(self._armed[n]) - len(keep)
            if keep:
                self._armed[n] = keep
            else:
                del self._armed[n]
        return removed

    def armed(self) -> list[FaultSpec]:
        return [s for specs in self._armed.values() for s in specs]

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for GET /admin/faults."""
        return {"armed": msgspec.to_builtins(self.armed()), "fired_total": dict(self.fired_total)}
