"""What the services need from a venue's gateways: two Protocols, never a shared base class.

Public (market data, no credentials) and private (one account's trading) are different objects with
different dependencies; the only thing they share is this shape.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.symbols import SymbolMap


class PublicGateway(Protocol):
    symbols: SymbolMap

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...


class PrivateGateway(Protocol):
    symbols: SymbolMap
    handler: Any  # arb.venues.common.trading.CommandHandler: the service sets its ``fence`` (writer lease)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...
