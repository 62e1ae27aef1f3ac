"""Subject builders. The catalogue with meaning and examples is specs/subjects.md.

``prefix`` (config ``nats.subject_prefix``, ending in '.') isolates a deployment or a test on a shared
server. Subjects are built once per (symbol, kind) at start-up and held as plain strings, so publishing never
formats a string per message.
"""

from __future__ import annotations

import re

import msgspec

from ..core.commands import COMMAND_VERBS
from ..core.enums import Market, Venue

TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

MD_KINDS = ("bbo", "book", "delta", "trade", "funding", "mark", "index", "status", "oi", "liquidation", "kline")
EVT_KINDS = ("order", "fill", "balance", "position", "margin", "liq_warning", "funding")
CMD_VERBS = tuple(COMMAND_VERBS.values())  # a command's verb is its tag, named once on its class


def token(text: str) -> str:
    if not TOKEN.match(text):
        raise ValueError(f"subject token {text!r}: only letters, digits, '_' and '-' are allowed")
    return text


def md(venue: Venue | str, market: Market | str, symbol: str, kind: str, prefix: str = "") -> str:
    return f"{prefix}md.{_v(venue)}.{_v(market)}.{token(symbol)}.{token(kind)}"


def ord_cmd(venue: Venue | str, account: str, market: Market | str, verb: str, prefix: str = "") -> str:
    """Commands name the market: Gate spot and futures of one account are two gateways, each must own its own."""
    return f"{prefix}ord.{_v(venue)}.{token(account)}.cmd.{_v(market)}.{token(verb)}"


def ord_evt(venue: Venue | str, account: str, kind: str, prefix: str = "") -> str:
    return f"{prefix}ord.{_v(venue)}.{token(account)}.evt.{token(kind)}"


def strat(task: str, kind: str, prefix: str = "") -> str:
    return f"{prefix}strat.{token(task)}.{token(kind)}"


def ctl(service: str, verb: str, prefix: str = "") -> str:
    return f"{prefix}ctl.{token(service)}.{token(verb)}"


def _v(x: Venue | Market | str) -> str:
    return token(x.value if isinstance(x, (Venue, Market)) else x)


class MdSubjects(msgspec.Struct, frozen=True, gc=False):
    """Every market-data subject of one instrument, built once."""

    bbo: str
    book: str
    delta: str
    trade: str
    funding: str
    mark: str
    index: str
    status: str
    oi: str  # open interest (futures)
    liquidation: str  # public liquidation orders (futures)
    kline: str  # candles of every configured interval (the interval is a field of the message)

    @classmethod
    def of(cls, venue: Venue | str, market: Market | str, symbol: str, prefix: str = "") -> MdSubjects:
        return cls(*(md(venue, market, symbol, k, prefix) for k in MD_KINDS))


class OrdSubjects(msgspec.Struct, frozen=True, gc=False):
    """Event subjects of one trading account and the command prefix of one of its markets, built once."""

    order: str
    fill: str
    balance: str
    position: str
    margin: str  # futures: the account's margin and each position's (Margin)
    liq_warning: str  # futures: a position near its liquidation price (LiquidationWarning)
    funding: str  # futures: the venue's record of a funding settlement (FundingPaid)
    cmd_prefix: str  # ord.<venue>.<account>.cmd.<market>  (subscribe to cmd_prefix + '.*')

    @classmethod
    def of(cls, venue: Venue | str, account: str, market: Market | str, prefix: str = "") -> OrdSubjects:
        evts = [ord_evt(venue, account, k, prefix) for k in EVT_KINDS]
        return cls(*evts, cmd_prefix=f"{prefix}ord.{_v(venue)}.{token(account)}.cmd.{_v(market)}")
