"""Closed vocabularies. Values are the lowercase tokens used in NATS subjects and config keys."""

from enum import Enum


class Venue(str, Enum):
    MEXC = "mexc"
    GATEIO = "gateio"


class Market(str, Enum):
    SPOT = "spot"
    FUTURES = "futures"  # USDT-margined perpetual swaps


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"


class OrderType(str, Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(str, Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(str, Enum):
    PENDING = "pending"  # sent, venue has not acknowledged yet
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"  # IOC/FOK remainder killed by the venue

    @property
    def is_open(self) -> bool:
        return self in _OPEN


_OPEN = frozenset({OrderStatus.PENDING, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class SymbolStatus(str, Enum):
    TRADING = "trading"
    HALTED = "halted"  # listed but not accepting orders (paused, buy/sell only, prelaunch)
    DELISTED = "delisted"


class BookState(str, Enum):
    OK = "ok"
    STALE = "stale"  # a gap or disconnect: do not trade on this book until OK again
    RESYNCING = "resyncing"
