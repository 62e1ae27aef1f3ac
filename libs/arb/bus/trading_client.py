"""A typed client for one trading gateway (venue, account, market): what a strategy or a tool calls to trade.

Every method returns the reply types the catalogue (``arb.bus.contract``) binds to its command, or an
``ErrorReply``; it never raises for a bus failure. The timeout and retry policy lives here, once:

* reads (``query``, ``balances``) are repeated on no reply or no responder, ``RequestPolicy.read_attempts``
  times with a doubling pause, then answered with the last ErrorReply;
* writes (``place``, ``cancel``, ``cancel_all``, ``set_leverage``) are sent once. No responder means nobody
  received the command: ErrorReply ``unavailable``/``NO_RESPONDERS`` with ``status_unknown`` false. No reply
  within the timeout means the gateway may have acted: ``unavailable``/``NO_REPLY`` with ``status_unknown``
  true. Repeat a place with the same client order id (the gateway answers with that same order, never a second
  one), or query it; never send it again under a new id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nats.errors

from ..core.commands import (
    COMMAND_VERBS,
    BalancesReply,
    CancelAll,
    CancelOrder,
    ErrorKind,
    ErrorReply,
    LeverageReply,
    OrderReply,
    OrdersReply,
    PlaceOrder,
    QueryBalances,
    QueryOrder,
    SetLeverage,
)
from ..core.enums import Market, Venue
from . import contract
from .connection import Bus
from .subjects import ord_cmd

READS: frozenset[type] = frozenset({QueryOrder, QueryBalances})


class RequestPolicy(msgspec.Struct, frozen=True):
    """How long to wait for a gateway, and how often a read is asked again."""

    timeout_s: float = 5.0  # per attempt
    read_attempts: int = 3  # query / balances: attempts in all on no reply or no responder (writes: always 1)
    read_backoff_s: float = 0.1  # pause before a read's second attempt, doubled for each next one


class TradingClient:
    """Commands to the gateway of one (venue, account, market), on ``ord.<venue>.<account>.cmd.<market>.<verb>``."""

    def __init__(self, bus: Bus, venue: Venue | str, account: str, market: Market | str, prefix: str = "",
                 policy: RequestPolicy | None = None) -> None:
        self.bus = bus
        self.market = Market(market)
        self.policy = policy or RequestPolicy()
        self.subjects = {t: ord_cmd(venue, account, self.market, verb, prefix) for t, verb in COMMAND_VERBS.items()}
        self._decoders = {t: msgspec.msgpack.Decoder(contract.union(contract.command(t).replies))
                          for t in COMMAND_VERBS}
        self.sent = 0  # requests put on the bus, retries included
        self.retries = 0
        self.no_reply = 0
        self.no_responders = 0

    async def place(self, cmd: PlaceOrder) -> OrderReply | ErrorReply:
        """Place one order; a repeat with the same client order id returns that same order."""
        return await self.send(cmd)  # type: ignore[no-any-return]

    async def cancel(self, symbol: str, client_order_id: str = "",
                     venue_order_id: str = "") -> OrderReply | ErrorReply:
        """Cancel one order by client or venue id."""
        return await self.send(  # type: ignore[no-any-return]
            CancelOrder(symbol, self.market, client_order_id, venue_order_id))

    async def cancel_all(self, symbol: str = "") -> OrdersReply | ErrorReply:
        """Cancel every open order of ``symbol`` (empty: of every symbol the gateway trades)."""
        return await self.send(CancelAll(self.market, symbol))  # type: ignore[no-any-return]

    async def query(self, symbol: str, client_order_id: str = "",
                    venue_order_id: str = "") -> OrderReply | ErrorReply:
        """The venue's current state of one order (ErrorReply ``venue_client``/``ORDER_NOT_FOUND`` if none)."""
        return await self.send(  # type: ignore[no-any-return]
            QueryOrder(symbol, self.market, client_order_id, venue_order_id))

    async def set_leverage(self, symbol: str, leverage: int) -> LeverageReply | ErrorReply:
        """Set the leverage of ``symbol`` (0 = cross margin)."""
        return await self.send(SetLeverage(symbol, leverage, self.market))  # type: ignore[no-any-return]

    async def balances(self) -> BalancesReply | ErrorReply:
        """Every balance of the account on this market, as the venue reports it now."""
        return await self.send(QueryBalances(self.market))  # type: ignore[no-any-return]

    async def send(self, cmd: Any) -> Any:
        """Send any command under the policy; the reply is one of its catalogued reply types."""
        subject = self.subjects[type(cmd)]
        decoder = self._decoders[type(cmd)]
        read = type(cmd) in READS
        attempts = max(1, self.policy.read_attempts) if read else 1
        pause = self.policy.read_backoff_s
        timeout = self.policy.timeout_s
        failed = ErrorReply(ErrorKind.INTERNAL, "NOT_SENT", f"{subject}: no attempt was made")
        for attempt in range(attempts):
            if attempt:
                self.retries += 1
                await asyncio.sleep(pause)
                pause *= 2
            self.sent += 1
            try:
                return await self.bus.request_typed(subject, cmd, decoder, timeout)
            except nats.errors.NoRespondersError:
                self.no_responders += 1
                failed = ErrorReply(ErrorKind.UNAVAILABLE, "NO_RESPONDERS",
                                    f"{subject}: no gateway is listening; nothing was received", retryable=True)
            except TimeoutError:  # nats.errors.TimeoutError is one too
                self.no_reply += 1
                failed = ErrorReply(ErrorKind.UNAVAILABLE, "NO_REPLY", f"{subject}: no reply within {timeout:g}s"
                                    + ("" if read else _UNKNOWN_HINT), retryable=True, status_unknown=not read)
            except nats.errors.Error as e:  # connection closed, draining, buffer full: sent or not, we cannot tell
                failed = ErrorReply(ErrorKind.UNAVAILABLE, "BUS", f"{subject}: {type(e).__name__}: {e}"
                                    + ("" if read else _UNKNOWN_HINT), retryable=True, status_unknown=not read)
            except msgspec.MsgspecError as e:  # a reply that is not one of this command's reply types
                return ErrorReply(ErrorKind.INTERNAL, "BAD_REPLY", f"{subject}: {e}", status_unknown=not read)
            if not read:
                return failed
        return failed


_UNKNOWN_HINT = (
    "; the gateway may have acted: query it, or repeat with the same client order id (never a new one)"
)
