"""The simulator engine's records: instruments, orders, fills, public trades, the reject error and its reasons.

Shared by every part of the engine (specs/sim-engine.md): ``book`` keeps ``SimOrder``s at price levels,
``accounts`` moves money for them, ``matching`` creates them, ``events`` hands them to listeners.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.enums import Market, Venue

if TYPE_CHECKING:
    from .accounts import Account

ZERO = Decimal(0)
ONE = Decimal(1)

REJECT_REASONS = (
    "INSUFFICIENT_BALANCE",
    "BELOW_MIN_QTY",
    "BELOW_MIN_NOTIONAL",
    "ABOVE_MAX_QTY",
    "INVALID_PRECISION",
    "POST_ONLY_WOULD_TAKE",
    "FOK_NOT_FILLED",
    "NO_LIQUIDITY",
    "UNKNOWN_SYMBOL",
    "DUPLICATE_CLIENT_ID",
    "ORDER_NOT_FOUND",
    "ORDER_CLOSED",
    "REDUCE_ONLY_VIOLATION",
    "INVALID_LEVERAGE",
    "INVALID_PARAM",
    "SYMBOL_HALTED",
)

# what an admin rule change may set an instrument's trading status to (POST /admin/rules, sim/rules.py)
STATUSES = ("trading", "halted", "delisted")

SIDES = ("buy", "sell")
KINDS = ("limit", "market")
TIFS = ("gtc", "ioc", "fok", "poc")

# how many finished client orders / fills each account keeps for queries
KEEP_FINISHED = 20_000
KEEP_PUBLIC_TRADES = 1_000


class SimReject(Exception):
    """The engine refused a request. ``reason`` is one of REJECT_REASONS; wire layers map it to venue codes."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message or reason


class Instrument:
    """The rules of one instrument on one venue market. Immutable by assignment: the rules change only through
    ``set_rules`` (the admin's rule change, ``POST /admin/rules``), as a venue changes a listing."""

    __slots__ = (
        "base",
        "funding_interval_s",
        "is_futures",
        "leverage_max",
        "maintenance_rate",
        "maker_fee",
        "market",
        "max_qty",
        "min_notional",
        "min_qty",
        "multiplier",
        "price_decimals",
        "qty_decimals",
        "quote",
        "settle",
        "status",
        "status_ns",
        "step",
        "symbol",
        "taker_fee",
        "tick",
        "venue",
        "venue_symbol",
    )

    def __init__(
        self,
        venue: Venue | str,
        market: Market | str,
        venue_symbol: str,
        base: str,
        quote: str,
        tick: Decimal,
        step: Decimal,
        min_qty: Decimal,
        min_notional: Decimal = ZERO,
        max_qty: Decimal = ZERO,
        multiplier: Decimal = ONE,
        maker_fee: Decimal = ZERO,
        taker_fee: Decimal = ZERO,
        leverage_max: int = 100,
        maintenance_rate: Decimal = Decimal("0.005"),
    ) -> None:
        s = object.__setattr__
        s(self, "venue", Venue(venue))
        s(self, "market", Market(market))
        s(self, "venue_symbol", venue_symbol)
        s(self, "base", base)
        s(self, "quote", quote)
        s(self, "settle", quote)
        s(self, "symbol", f"{base}-{quote}")
        s(self, "tick", Decimal(tick))
        s(self, "step", Decimal(step))
        s(self, "min_qty", Decimal(min_qty))
        s(self, "min_notional", Decimal(min_notional))
        s(self, "max_qty", Decimal(max_qty))
        s(self, "multiplier", Decimal(multiplier))
        s(self, "maker_fee", Decimal(maker_fee))
        s(self, "taker_fee", Decimal(taker_fee))
        s(self, "leverage_max", int(leverage_max))
        s(self, "maintenance_rate", Decimal(maintenance_rate))
        s(self, "status", "trading")  # one of STATUSES: halted / delisted refuse new orders (matching.py)
        s(self, "status_ns", 0)  # unix ns of the last status change (Gate spot serves a delisting's time); 0 = never
        s(self, "funding_interval_s", 0)  # futures: this contract's funding period; 0 = the exchange's
        s(self, "is_futures", self.market is Market.FUTURES)
        self._derive()

    def _derive(self) -> None:
        s = object.__setattr__
        s(self, "price_decimals", max(0, -self.tick.normalize().as_tuple().exponent))  # Gate `precision`
        s(self, "qty_decimals", max(0, -self.step.normalize().as_tuple().exponent))  # Gate `amount_precision`

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Instrument is immutable; rules change through set_rules")

    RULES = ("tick", "step", "min_qty", "min_notional", "max_qty", "multiplier", "maker_fee", "taker_fee",
             "funding_interval_s", "status")

    def set_rules(self, rules: dict[str, Any], ts_ns: int = 0) -> dict[str, tuple[Any, Any]]:
        """Change some of ``RULES`` at once (a venue's rule change at ``ts_ns``); returns ``{name: (old, new)}`` of
        what moved, nothing when a value is invalid (ValueError). Orders resting on the book keep the price and size
        they were accepted with."""
        unknown = set(rules) - set(self.RULES)
        if unknown:
            raise ValueError(f"{', '.join(sorted(unknown))}: not a rule (rules: {', '.join(self.RULES)})")
        changed: dict[str, tuple[Any, Any]] = {}
        for name, value in rules.items():
            if name == "status":
                if value not in STATUSES:
                    raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {value!r}")
            elif name == "funding_interval_s":
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ValueError(f"funding_interval_s: expected whole seconds > 0, got {value!r}")
            else:
                try:
                    value = Decimal(str(value))
                except ArithmeticError:
                    raise ValueError(f"{name}: expected a decimal number, got {value!r}") from None
                if name in ("maker_fee", "taker_fee"):
                    if not (value.is_finite() and -1 <= value <= 1):  # negative: a maker rebate
                        raise ValueError(f"{name}: expected a fraction in -1..1, got {value}")
                else:
                    positive = name in ("tick", "step", "multiplier")
                    if not value.is_finite() or value < 0 or (positive and value == 0):
                        raise ValueError(f"{name}: expected a number {'> 0' if positive else '>= 0'}, got {value}")
            old = getattr(self, name)
            if old != value:
                changed[name] = (old, value)
        for name, (_, value) in changed.items():
            object.__setattr__(self, name, value)
        if "status" in changed:
            object.__setattr__(self, "status_ns", ts_ns)
        self._derive()
        return changed

    def __repr__(self) -> str:
        return f"Instrument({self.venue.value} {self.market.value} {self.venue_symbol})"

    def notional(self, price: Decimal, qty: Decimal) -> Decimal:
        """Quote value of ``qty`` (contracts for futures) at ``price``."""
        return price * qty * self.multiplier


class SimOrder:
    """An order as the engine keeps it (mutable; ``left``/``avg_price`` derived)."""

    __slots__ = (
        "account",
        "client_id",
        "create_ns",
        "fee",
        "fee_asset",
        "filled",
        "filled_quote",
        "finish_as",
        "id",
        "inst",
        "is_buy",
        "is_close",
        "kind",
        "lock_asset",
        "lock_left",
        "lock_per",
        "price",
        "qty",
        "quote_qty",
        "reduce_only",
        "seq",
        "side",
        "status",
        "tif",
        "update_ns",
    )

    def __init__(self, id: str, client_id: str, account: Account, inst: Instrument, side: str, kind: str,
                 tif: str, price: Decimal | None, qty: Decimal, quote_qty: Decimal | None, reduce_only: bool,
                 is_close: bool, ts: int, seq: int) -> None:
        self.id = id
        self.client_id = client_id
        self.account = account
        self.inst = inst
        self.side = side
        self.is_buy = side == "buy"
        self.kind = kind
        self.tif = tif
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.filled = ZERO
        self.filled_quote = ZERO
        self.fee = ZERO
        self.fee_asset = (inst.settle if inst.is_futures else (inst.base if self.is_buy else inst.quote))
        self.status = "open"
        self.finish_as = "open"
        self.reduce_only = reduce_only
        self.is_close = is_close
        self.create_ns = ts
        self.update_ns = ts
        self.lock_left = ZERO
        self.lock_per = ZERO
        self.lock_asset = ""
        self.seq = seq

    @property
    def left(self) -> Decimal:
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 when nothing filled). filled_quote is quote value: qty*price*multiplier."""
        if not self.filled:
            return ZERO
        return self.filled_quote / (self.filled * self.inst.multiplier)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def __repr__(self) -> str:
        return (f"SimOrder({self.id} {self.inst.venue_symbol} {self.side} {self.kind}/{self.tif} "
                f"{self.qty}@{self.price} filled={self.filled} {self.status}/{self.finish_as})")


class SimFill:
    """One side of one trade, for the account that owns the order."""

    __slots__ = (
        "account",
        "client_id",
        "fee",
        "fee_asset",
        "inst",
        "is_maker",
        "order",
        "order_id",
        "price",
        "qty",
        "quote_qty",
        "side",
        "trade_id",
        "ts_ns",
    )

    def __init__(self, trade_id: int, order: SimOrder, price: Decimal, qty: Decimal, quote_qty: Decimal,
                 fee: Decimal, is_maker: bool, ts_ns: int) -> None:
        self.trade_id = trade_id
        self.order = order
        self.order_id = order.id
        self.client_id = order.client_id
        self.account = order.account
        self.inst = order.inst
        self.side = order.side
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.fee = fee
        self.fee_asset = order.fee_asset
        self.is_maker = is_maker
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"SimFill({self.trade_id} {self.order_id} {self.side} {self.qty}@{self.price} maker={self.is_maker})"


class PublicTrade:
    __slots__ = ("inst", "price", "qty", "taker_side", "trade_id", "ts_ns")

    def __init__(self, trade_id: int, inst: Instrument, price: Decimal, qty: Decimal, taker_side: str,
                 ts_ns: int) -> None:
        self.trade_id = trade_id
        self.inst = inst
        self.price = price
        self.qty = qty
        self.taker_side = taker_side
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"PublicTrade({self.trade_id} {self.inst.venue_symbol} {self.taker_side} {self.qty}@{self.price})"
