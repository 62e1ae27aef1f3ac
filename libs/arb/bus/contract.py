"""The bus contract: every subject pattern bound to its message type(s), reply type(s) and stream, once.

specs/subjects.md is the readable form of this table (``tests/unit/test_contract.py`` checks that its tables
list exactly these subjects and types). A new subject is an entry here; a new message type also registers
itself with the codec where it is defined (``@message``), so the codec's union is never edited by hand.

Patterns name variable tokens in angle brackets (``md.<venue>.<market>.<symbol>.bbo``); ``match`` finds the
entry of a concrete subject.
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import msgspec

from ..core.commands import (
    COMMAND_VERBS,
    BalancesReply,
    CancelAll,
    CancelOrder,
    ErrorReply,
    LeverageReply,
    OrderReply,
    OrdersReply,
    PlaceOrder,
    QueryBalances,
    QueryOrder,
    SetLeverage,
)
from ..core.control import VERBS as CTL_VERBS
from ..core.control import CtlReply, CtlRequest
from ..core.execution import Balance, Fill, OrderUpdate, Position
from ..core.margin import LiquidationWarning, Margin
from ..core.market_data import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    Kline,
    Liquidation,
    MarketStatus,
    MarkPrice,
    OpenInterest,
    Trade,
)
from ..core.strategy import (
    CommandFailed,
    CycleReport,
    ExposureReport,
    Flatten,
    FundingPaid,
    Halt,
    Opportunity,
    OrderNotFound,
    RebalanceNeed,
    Resume,
    SendCommand,
    Start,
    Tick,
    Transition,
)
from .subjects import EVT_KINDS, MD_KINDS


class Delivery(enum.StrEnum):
    """How a subject is published."""

    CORE = "core"  # fire and forget (market data; a stream bound to the subject still stores it)
    ACKED = "acked"  # JetStream publish that waits for the stream's ack (execution events)
    REQUEST = "request"  # NATS request/reply (commands)


class Entry(msgspec.Struct, frozen=True):
    """One subject pattern: what is published on it, what answers it, and where it is kept."""

    pattern: str
    types: tuple[type, ...]
    delivery: Delivery
    replies: tuple[type, ...] = ()  # request/reply only: every reply type, ErrorReply included
    stream: str = ""  # the stream that stores it ("" = none: commands go to the gateway's audit log)

    @property
    def kind(self) -> str:
        """The last token: the md/evt kind or the command verb."""
        return self.pattern.rpartition(".")[2]


MD_PATTERN = "md.<venue>.<market>.<symbol>.{kind}"
CMD_PATTERN = "ord.<venue>.<account>.cmd.<market>.{verb}"
EVT_PATTERN = "ord.<venue>.<account>.evt.{kind}"
STRAT_PATTERN = "strat.<task>.{kind}"
CTL_PATTERN = "ctl.coordinator.{verb}"

_MD: dict[str, type] = {
    "bbo": BookTicker, "book": BookSnapshot, "delta": BookDelta, "trade": Trade,
    "funding": FundingRate, "mark": MarkPrice, "index": IndexPrice, "status": MarketStatus,
    "oi": OpenInterest, "liquidation": Liquidation, "kline": Kline,
}
_EVT: dict[str, type] = {"order": OrderUpdate, "fill": Fill, "balance": Balance, "position": Position,
                         "margin": Margin, "liq_warning": LiquidationWarning, "funding": FundingPaid}
# What the coordinator logs per task (specs/coordinator.md): its outputs, and the input a step acted on as it came.
_STRAT: dict[str, tuple[type, ...]] = {
    "cmd": (SendCommand,), "transition": (Transition,), "opp": (Opportunity,), "exposure": (ExposureReport,),
    "cycle": (CycleReport,), "rebalance": (RebalanceNeed,),
    "input": (BookSnapshot, BookDelta, BookTicker, MarketStatus, FundingRate, MarkPrice, IndexPrice, Balance,
              Position, OrderUpdate, Fill, CommandFailed, OrderNotFound, FundingPaid, Tick, Start, Halt, Resume,
              Flatten),
}
# What a gateway answers to each command besides ErrorReply.
REPLY_OF: dict[type, type] = {
    PlaceOrder: OrderReply, CancelOrder: OrderReply, CancelAll: OrdersReply, QueryOrder: OrderReply,
    SetLeverage: LeverageReply, QueryBalances: BalancesReply,
}

CATALOGUE: tuple[Entry, ...] = (
    *(Entry(MD_PATTERN.format(kind=k), (_MD[k],), Delivery.CORE, stream="MD") for k in MD_KINDS),
    *(Entry(CMD_PATTERN.format(verb=v), (t,), Delivery.REQUEST, replies=(REPLY_OF[t], ErrorReply))
      for t, v in COMMAND_VERBS.items()),
    *(Entry(EVT_PATTERN.format(kind=k), (_EVT[k],), Delivery.ACKED, stream="ORD") for k in EVT_KINDS),
    *(Entry(STRAT_PATTERN.format(kind=k), t, Delivery.ACKED, stream="STRAT") for k, t in _STRAT.items()),
    *(Entry(CTL_PATTERN.format(verb=v), (CtlRequest,), Delivery.REQUEST, replies=(CtlReply,)) for v in CTL_VERBS),
)


def command(t: type) -> Entry:
    """The entry of a command type (e.g. ``command(PlaceOrder).replies``)."""
    return _by_command()[t]


def match(subject: str, prefix: str = "") -> Entry | None:
    """The entry whose pattern a concrete subject fits (``<...>`` matches one token), or None."""
    if prefix:
        if not subject.startswith(prefix):
            return None
        subject = subject[len(prefix):]
    tokens = subject.split(".")
    for e in CATALOGUE:
        pat = e.pattern.split(".")
        if len(pat) == len(tokens) and all(p.startswith("<") or p == t for p, t in zip(pat, tokens, strict=True)):
            return e
    return None


def message_types() -> tuple[type, ...]:
    """Every type published or answered on a catalogued subject, each once."""
    out: dict[type, None] = {}
    for e in CATALOGUE:
        out.update(dict.fromkeys(e.types + e.replies))
    return tuple(out)


def union(types: tuple[type, ...]) -> Any:
    """``A | B | ...`` of ``types`` (for a typed decoder)."""
    return functools.reduce(lambda a, b: a | b, types)


@functools.cache
def _by_command() -> dict[type, Entry]:
    return {e.types[0]: e for e in CATALOGUE if e.delivery is Delivery.REQUEST and e.types[0] in COMMAND_VERBS}


if set(_MD) != set(MD_KINDS) or set(_EVT) != set(EVT_KINDS) or set(REPLY_OF) != set(COMMAND_VERBS):
    raise RuntimeError("arb.bus.contract: a subject kind or command has no entry")  # caught at import, in every test
