"""Venue-neutral trading: turn bus commands into safe venue calls and venue events into bus events.

The venue's private code implements ``VenueTrader`` (signed REST + its user stream) and nothing else;
everything a trader relies on regardless of venue lives here, once:

* prices rounded to the tick, never beyond what was asked (buy down, sell up); quantities floored to the
  step; futures base quantities converted to contracts exactly (a fractional contract is refused, not
  truncated); min qty / min notional / max qty checked before anything is sent;
* idempotency by client order id: a duplicate in flight waits for the first; a repeat after completion
  returns the venue's current state of that same order, never a second order. The memory of client ids
  survives a restart: ``start()`` first rebuilds it from this account's own order events in the ORD stream
  (``restore()``, over ``memory_window_s``) before it answers any command; a venue rejection "duplicate
  client id" is answered with the existing order found by query;
* a 5xx/timeout on a submit means "status unknown": resolved by querying by client order id, never by
  resending;
* every command and execution event goes to the audit log; execution events are published with
  JetStream acks; ``reconcile()`` after a reconnect republishes venue truth marked ``correction``.
"""

from __future__ import annotations

import asyncio
import enum
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from ...bus import codec
from ...bus.connection import Bus
from ...bus.replay import replay
from ...bus.subjects import OrdSubjects
from ...core.clock import now_ns
from ...core.commands import (
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
from ...core.enums import Market, OrderType, Side, SymbolStatus, Venue
from ...core.errors import (
    ArbError,
    LookupIncomplete,
    RateLimited,
    StorageError,
    SymbolError,
    ValidationError,
    VenueClientError,
    VenueError,
    VenueServerError,
)
from ...core.execution import Balance, Fill, Order, OrderUpdate, Position
from ...core.numeric import ZERO, is_multiple, round_price, round_qty
from ...core.symbols import SymbolInfo, SymbolMap
from ...obs.log import RateLimitedLog, get_logger
from ...obs.metrics import counter
from .journal import Intent, IntentState, OrderJournal

log = get_logger(__name__)

COMMANDS_REFUSED = counter("arb_trade_commands_refused_total",
                           "Commands refused at intake (undecodable, not a command, wrong verb, invalid numbers)",
                           ["venue", "market", "reason"])


class NotWriter(ArbError):
    """This process does not hold the account's writer lease now: it must not send anything to the venue."""


class PreparedOrder(msgspec.Struct, frozen=True):
    """A PlaceOrder after rounding and checks: exactly what the venue will be sent."""

    client_order_id: str
    symbol: str
    venue_symbol: str
    side: Side
    order_type: OrderType
    tif: Any  # TimeInForce
    qty: Decimal  # base asset, exact
    venue_qty: Decimal  # spot: == qty; futures: contracts (unsigned)
    price: Decimal | None
    reduce_only: bool
    info: SymbolInfo


class VenueTrader(Protocol):
    """One account on one venue market. Raises arb.core.errors.VenueError subclasses on venue errors."""

    venue: Venue
    market: Market
    account: str
    symbols: SymbolMap
    # seconds after we send it that a request can still be executed by the venue (its timestamp window):
    # an order not found at the venue after this is provably not placed (the handler adds a clock margin)
    request_expiry_s: float

    async def place(self, order: PreparedOrder) -> Order: ...

    async def cancel(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order: ...

    async def cancel_all(self, symbol: str | None) -> list[Order]: ...

    async def query(self, symbol: str, client_order_id: str, venue_order_id: str) -> Order | None:
        """The order as the venue knows it now; None when the venue definitively does not know it."""
        ...

    async def open_orders(self, symbol: str | None) -> list[Order]: ...

    async def balances(self) -> list[Balance]: ...

    async def fills_since(self, symbol: str, since_ns: int) -> list[Fill]: ...

    async def positions(self) -> list[Position]: ...

    async def set_leverage(self, symbol: str, leverage: int) -> Position: ...

    def is_duplicate_client_id(self, exc: VenueClientError) -> bool:
        """The venue refused a submit because (it may be that) an order with this client id already exists.
        May over-match: the handler then only queries by client id and keeps the refusal if none is found."""
        ...

    # Optional (futures traders that convert contracts): ``learn_multiplier(cid, multiplier, final, filled)`` takes
    # an earlier process's record of the multiplier an order was placed with (ORD, the journal) and keeps it unless
    # it holds one already; the handler calls it at start and before resolving a journalled id.


def prepare(cmd: PlaceOrder, info: SymbolInfo) -> PreparedOrder:
    """Round and check a PlaceOrder against the symbol rules. Raises ValidationError/SymbolError."""
    if info.status is not SymbolStatus.TRADING:
        raise SymbolError(f"{info.name}: not tradable on {info.venue.value} {info.market.value} (status {info.status.value})")
    if not cmd.client_order_id:
        raise ValidationError("client_order_id: required (every order carries one)")
    price: Decimal | None = None
    if cmd.order_type is OrderType.LIMIT:
        if cmd.price is None or cmd.price <= 0:
            raise ValidationError(f"price: a limit order needs a positive price, got {cmd.price}")
        price = round_price(cmd.price, info.tick_size, cmd.side)
        if price <= 0:
            raise ValidationError(f"price: {cmd.price} rounds to {price} at tick {info.tick_size}")
    elif cmd.price is not None and cmd.price > 0:
        price = round_price(cmd.price, info.tick_size, cmd.side)  # reference price for checks only
    if cmd.qty <= 0:
        raise ValidationError(f"qty: must be positive, got {cmd.qty}")

    if info.market is Market.FUTURES:
        contracts = cmd.qty / info.contract_multiplier
        step = info.lot_step if info.decimal_size else Decimal(1)
        if not is_multiple(contracts, step):
            raise ValidationError(
                f"qty: {cmd.qty} {info.symbol.base} is {contracts.normalize()} contracts of "
                f"{info.contract_multiplier}; only multiples of {step} contract(s) can be sent"
            )
        venue_qty = contracts.quantize(step) if step < 1 else contracts.to_integral_value()
        qty = venue_qty * info.contract_multiplier
        min_check, unit = venue_qty, "contracts"
    else:
        qty = round_qty(cmd.qty, info.lot_step)
        venue_qty = qty
        min_check, unit = qty, info.symbol.base
    if min_check <= 0 or min_check < info.min_qty:
        raise ValidationError(f"qty: {cmd.qty} gives {min_check} {unit}, below the minimum {info.min_qty}")
    if info.max_qty > 0 and min_check > info.max_qty:
        raise ValidationError(f"qty: {min_check} {unit} is above the maximum {info.max_qty}")
    if price is not None and info.min_notional > 0 and price * qty < info.min_notional:
        raise ValidationError(
            f"notional: {price} x {qty} = {price * qty} {info.symbol.quote}, below the minimum {info.min_notional}"
        )
    return PreparedOrder(
        client_order_id=cmd.client_order_id, symbol=info.name, venue_symbol=info.venue_symbol, side=cmd.side,
        order_type=cmd.order_type, tif=cmd.tif, qty=qty, venue_qty=venue_qty, price=price,
        reduce_only=cmd.reduce_only, info=info,
    )


def error_reply(exc: BaseException) -> ErrorReply:
    """The one mapping from exceptions to typed replies."""
    if isinstance(exc, RateLimited):
        return ErrorReply(ErrorKind.RATE_LIMITED, exc.code, exc.message, retryable=True)
    if isinstance(exc, VenueServerError):
        return ErrorReply(ErrorKind.VENUE_SERVER, exc.code, exc.message, retryable=True, status_unknown=True)
    if isinstance(exc, VenueClientError):
        return ErrorReply(ErrorKind.VENUE_CLIENT, exc.code, exc.message)
    if isinstance(exc, VenueError):
        return ErrorReply(ErrorKind.VENUE_CLIENT, exc.code, exc.message)
    if isinstance(exc, ValidationError):
        return ErrorReply(ErrorKind.VALIDATION, "VALIDATION", str(exc))
    if isinstance(exc, NotWriter):
        return ErrorReply(ErrorKind.UNAVAILABLE, "NOT_WRITER", str(exc), retryable=True)
    if isinstance(exc, StorageError):
        return ErrorReply(ErrorKind.UNAVAILABLE, "STORAGE", str(exc), retryable=True)
    if isinstance(exc, SymbolError):
        return ErrorReply(ErrorKind.SYMBOL, "SYMBOL", str(exc))
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return ErrorReply(ErrorKind.VENUE_SERVER, "TIMEOUT", f"{type(exc).__name__}: {exc}", retryable=True, status_unknown=True)
    return ErrorReply(ErrorKind.INTERNAL, type(exc).__name__, str(exc))


AuditFn = Callable[[str, Any], None]
Fence = Callable[[], str | None]

# No venue trades a quantity or price at or above 10^15 of anything, and none takes more than 30 decimals; a
# number outside is a typo or an attack, refused by name before it reaches rounding (where sNaN would raise).
MAX_ADJUSTED_EXPONENT = 14
MAX_DIGITS = 40
CLIENT_ID_MAX = 64
MAX_LEVERAGE = 1000


def check_command(cmd: Any) -> None:
    """Every number in a command is finite and of a sane size, every id a bounded printable string; raises a
    ValidationError naming the field."""
    for name in cmd.__struct_fields__:
        v = getattr(cmd, name)
        if isinstance(v, Decimal):
            if not v.is_finite():
                raise ValidationError(f"{name}: must be a finite number, got {v}")
            if v and (v.adjusted() > MAX_ADJUSTED_EXPONENT or len(v.as_tuple().digits) > MAX_DIGITS):
                raise ValidationError(f"{name}: {v} is out of range (below 1e{MAX_ADJUSTED_EXPONENT + 1}, "
                                      f"at most {MAX_DIGITS} digits)")
            if v < 0:
                raise ValidationError(f"{name}: must not be negative, got {v}")
        elif isinstance(v, str) and name in ("client_order_id", "venue_order_id", "symbol") and (
                len(v) > CLIENT_ID_MAX or not v.isprintable() or not v.isascii() or " " in v):
            raise ValidationError(f"{name}: expected at most {CLIENT_ID_MAX} printable ASCII characters "
                                      f"without spaces, got {v[:80]!r}")
    if isinstance(cmd, SetLeverage) and not 0 <= cmd.leverage <= MAX_LEVERAGE:
        raise ValidationError(f"leverage: expected 0 (cross) .. {MAX_LEVERAGE}, got {cmd.leverage}")


def conflict(asked: PlaceOrder, first: PlaceOrder) -> str | None:
    """How ``asked`` differs from the command that first used its client id (None: the same order)."""
    diffs = [f"{f} {getattr(asked, f)!s} (first {getattr(first, f)!s})"
             for f in ("symbol", "market", "side", "qty", "order_type", "tif", "price", "reduce_only")
             if _value(getattr(asked, f)) != _value(getattr(first, f))]
    return ", ".join(diffs) or None


def _value(x: Any) -> Any:
    return x.value if isinstance(x, enum.Enum) else x


def conflict_with_order(asked: PlaceOrder, order: Order) -> str | None:
    """How ``asked`` differs from the venue's order under its client id (compared after rounding)."""
    diffs = []
    if asked.symbol.upper() != order.symbol.upper():
        diffs.append(f"symbol {asked.symbol} (venue order {order.symbol})")
    if asked.side is not order.side:
        diffs.append(f"side {asked.side.value} (venue order {order.side.value})")
    if not (order.qty <= asked.qty and (asked.qty - order.qty) < max(order.qty, Decimal(1)) * Decimal("1e-3")):
        diffs.append(f"qty {asked.qty} (venue order {order.qty})")
    return ", ".join(diffs) or None


class CommandHandler:
    """Serves ``ord.<venue>.<account>.cmd.<market>.*`` for one VenueTrader and publishes its execution events.

    Intake: a command is decoded here, not by the bus, so that anything wrong with it (bytes that do not
    decode, a reply or event sent as a command, a subject verb that does not match the command's type,
    numbers that are not finite or not sane) is answered with an ErrorReply of kind ``validation`` at once,
    counted (``refused``, ``arb_trade_commands_refused_total``) and logged once per reason.

    Idempotency (specs/gateways.md, "One order per client id"): with a journal (``OrderJournal``, the
    gateway always has one) a PlaceOrder's id is claimed durably *before* the venue call; an id already
    claimed, by this process or an earlier one, is resolved with the venue and never blindly resent, and one
    reused with other parameters is refused as a conflict. In memory (bounded to ``KNOWN_MAX`` each):

    * ``_known``: cid -> symbol of every submit this process made, plus the orders the ORD stream last saw
      open at start: these are what ``reconcile()`` follows up by query.
    * ``_seen``: cid -> the newest state of an order *the venue* reported to this process (place replies,
      user-stream events, reconcile reads). Never filled from the ORD stream: anything can publish there.
    * ``_hints``: cid -> symbol of orders the ORD stream mentions (``restore()``): such an id is asked of the
      venue before it is placed (the venue's answer wins; the stream's is never returned).

    ``fence`` (the service sets it to its lease's ``problem``) is asked before every write: a process that is
    not the account's one writer refuses to place or cancel.
    """

    UNKNOWN_RESOLVE_DELAYS = (0.2, 0.5, 1.0, 2.0)
    KNOWN_MAX = 50_000
    RESTORE_TIMEOUT_S = 60.0
    # judging "the request can no longer be executed": our clock vs the venue's (2 s, NTP-synced hosts) plus the
    # longest a placement waits for its rate-limit token before it is signed (MEXC 5 s; Gate 1 s)
    EXPIRY_MARGIN_S = 7.0
    # a PENDING id not found at the venue is resent only this soon after it was recorded: later, a venue's
    # lookup (Gate: the newest 3 000 finished orders of the symbol) may simply no longer reach back to it
    PENDING_RESEND_MAX_S = 600.0
    JOURNAL_TIMEOUT_S = 5.0

    def __init__(self, trader: VenueTrader, bus: Bus, subjects: OrdSubjects, audit: AuditFn | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, memory_window_s: float = 0.0,
                 watch: Sequence[str] = (), journal: OrderJournal | None = None,
                 subject_prefix: str = "", clock: Callable[[], int] = now_ns) -> None:
        self.trader = trader
        self.watch = tuple(watch)  # symbols always reconciled (GatewayOptions.trade_symbols)
        self.bus = bus
        self.subjects = subjects
        self.memory_window_s = memory_window_s  # 0: no ORD hints at start
        self.journal = journal
        self.subject_prefix = subject_prefix
        self.fence: Fence = lambda: None
        self._audit = audit or (lambda kind, payload: None)
        self._sleep = sleep
        self._clock = clock
        self._inflight: dict[str, tuple[asyncio.Future, PlaceOrder]] = {}
        self._known: OrderedDict[str, str] = OrderedDict()  # client_order_id -> symbol (see class doc)
        self._seen: OrderedDict[str, Order] = OrderedDict()  # client_order_id -> newest Order the venue reported
        self._hints: OrderedDict[str, str] = OrderedDict()  # client_order_id -> symbol, from the ORD stream
        self._asked: OrderedDict[str, PlaceOrder] = OrderedDict()  # client_order_id -> first PlaceOrder here
        # futures: client_order_id -> the contract multiplier its journal intent records (kept on every mark)
        self._intent_mult: OrderedDict[str, Decimal | None] = OrderedDict()
        self._learn_multiplier: Callable[..., Any] | None = getattr(trader, "learn_multiplier", None)
        self.multipliers_learned = 0  # orders whose placement multiplier was read back at start (ORD, journal)
        self._published_trades: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._sub = None
        self._last_fill_ns = now_ns()
        self._rlog = RateLimitedLog(log, 10.0)
        self._refused_metric = COMMANDS_REFUSED
        self.commands = 0
        self.errors = 0
        self.refused: dict[str, int] = {}  # reason -> commands refused at intake
        self.conflicts = 0
        self.restored = 0  # client order ids the ORD stream mentioned at start (hints, never answers)
        self.duplicates_resolved = 0  # venue said "duplicate client id" and the existing order was returned
        self.resolved_from_journal = 0  # a claimed id answered by asking the venue, not by sending again
        self.pending_recovered = 0  # PENDING journal entries found at start, queried by the first reconcile

    # -- intake ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the journal, read the ORD hints (when ``memory_window_s`` > 0), then take commands.
        The gateway reports ready only after this returns; a missing journal, a failed restore or an unknown
        watched symbol fails the start."""
        problems = []
        for name in self.watch:
            try:
                self.trader.symbols.info(name)
            except SymbolError as e:
                problems.append(str(e))
        if problems:
            raise SymbolError("; ".join(problems))
        if self.journal is None:
            self.journal = await OrderJournal.open(self.bus.js, self.trader.venue, self.trader.account,
                                                   self.trader.market, self.subject_prefix)
        if self.memory_window_s > 0:
            await self.restore(self.memory_window_s)
        if self.journal.bucket:
            await self.recover_pending()
        self._sub = await self.bus.nc.subscribe(self.subjects.cmd_prefix + ".*", cb=self._on_command)

    async def restore(self, window_s: float) -> int:
        """Read which client ids this account's order events in the ORD stream (``ord.<venue>.<account>.evt.order``)
        mention over the last ``window_s`` seconds; returns how many.

        They are hints only (anything can publish into ORD): an id among them is asked of the venue before it
        is placed, and the ones last seen open are queried by the first ``reconcile()``. Gate spot and futures of
        one account share the event subject: only this trader's market is taken.

        Futures: each order's last event carries base ``qty`` and venue ``contracts``; ``qty / contracts`` (exact) is
        the multiplier the earlier process converted it with, i.e. the one it was placed with. The trader learns it,
        so that order's events keep converting with it after a multiplier change across the restart."""
        market = self.trader.market
        since = now_ns() - int(window_s * 1e9)
        last: dict[str, Order] = {}
        async for ev in replay(self.bus.js, self.subjects.order, since, timeout=self.RESTORE_TIMEOUT_S):
            if isinstance(ev, OrderUpdate):
                o = ev.order
                if o.client_order_id and o.market is market:
                    last[o.client_order_id] = o  # stream order: a later event replaces an earlier one
        for cid, o in last.items():
            self._hints[cid] = o.symbol
            if len(self._hints) > self.KNOWN_MAX:
                self._hints.popitem(last=False)
            if o.status.is_open and cid not in self._known:
                self._remember(cid, o.symbol)
            if o.contracts and o.market is Market.FUTURES:
                m = abs(o.qty / o.contracts)
                self._learn(cid, m, final=not o.status.is_open, filled=o.filled_qty / m)
        self.restored = len(last)
        log.info("%s %s %s: %d client order ids mentioned in %s (last %.0f s), to be asked of the venue",
                 self.trader.venue.value, market.value, self.trader.account, len(last), self.subjects.order,
                 window_s)
        return len(last)

    async def recover_pending(self) -> int:
        """Ids the journal still holds as PENDING from the last ``PENDING_RESEND_MAX_S`` (a crash between the record
        and the venue's answer): the first ``reconcile()`` asks the venue about each and publishes what it says,
        so an order that was placed is known on the bus even if nobody repeats its command."""
        assert self.journal is not None
        since = self._clock() - int(self.PENDING_RESEND_MAX_S * 1e9)
        entries = await self.journal.entries_since(self.bus.js, since, timeout=self.RESTORE_TIMEOUT_S)
        pending = [i for i in entries if i.state is IntentState.PENDING]
        for intent in entries:  # the multiplier each was sized with (a crash before any event reached ORD)
            if intent.state in (IntentState.PENDING, IntentState.PLACED):
                self._learn(intent.cmd.client_order_id, intent.contract_multiplier)
        for intent in pending:
            self._remember(intent.cmd.client_order_id, intent.cmd.symbol)
        self.pending_recovered = len(pending)
        if pending:
            log.warning("%s %s %s: %d client order ids were recorded and never resolved (a crash?): the venue is "
                        "asked about each before anything else", self.trader.venue.value, self.trader.market.value,
                        self.trader.account, len(pending))
        return len(pending)

    def _learn(self, cid: str, multiplier: Decimal | None, final: bool = False, filled: Decimal | None = None) -> None:
        learn = self._learn_multiplier
        if learn is not None and multiplier is not None and multiplier > 0 and learn(cid, multiplier, final, filled):
            self.multipliers_learned += 1

    def _multiplier_of(self, symbol: str) -> Decimal | None:
        """Futures: the contract multiplier a command for ``symbol`` is sized with now (None: spot, or unknown)."""
        if self.trader.market is not Market.FUTURES:
            return None
        try:
            return self.trader.symbols.info(symbol).contract_multiplier
        except Exception:  # noqa: BLE001 -- an unknown symbol is refused later, by prepare()
            return None

    def _intend(self, cid: str, multiplier: Decimal | None) -> Decimal | None:
        self._intent_mult[cid] = multiplier
        self._intent_mult.move_to_end(cid)
        if len(self._intent_mult) > self.KNOWN_MAX:
            self._intent_mult.popitem(last=False)
        return multiplier

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)

    async def _on_command(self, msg: Any) -> None:
        task = asyncio.create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, msg: Any) -> None:
        self.commands += 1
        cmd, refusal = self.intake(msg.subject, msg.data)
        if refusal is not None:
            self.errors += 1
            if msg.reply:
                await self.bus.reply(msg, refusal)
            return
        self._audit("command", cmd)
        reply = await self._dispatch(cmd)  # intake() checked it already
        if isinstance(reply, ErrorReply):
            self.errors += 1
        self._audit("reply", reply)
        await self.bus.reply(msg, reply)

    def intake(self, subject: str, data: bytes) -> tuple[Any, ErrorReply | None]:
        """Decode a command and check it against its subject: ``(command, None)`` or ``(None, refusal)``."""
        verb = subject.rpartition(".")[2]
        try:
            cmd = codec.decode(data)
        except Exception as e:  # noqa: BLE001 -- any payload that is not one of ours
            return None, self._refuse("undecodable", f"{subject}: not a command ({len(data)} bytes): {e}")
        want = COMMAND_VERBS.get(type(cmd))
        if want is None:
            return None, self._refuse("not_a_command", f"{subject}: a {type(cmd).__name__} is not a command "
                                                        f"(commands: {', '.join(t.__name__ for t in COMMAND_VERBS)})")
        if want != verb:
            return None, self._refuse("wrong_verb", f"{subject}: a {type(cmd).__name__} goes to the verb "
                                                     f"'{want}', not '{verb}'")
        try:
            check_command(cmd)
        except ValidationError as e:
            return None, self._refuse("invalid", f"{type(cmd).__name__} {e!s}")
        return cmd, None

    def _refuse(self, reason: str, message: str) -> ErrorReply:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        self._refused_metric.labels(self.trader.venue.value, self.trader.market.value, reason).inc()
        self._rlog(("refused", reason), "%s %s %s: command refused (%s): %.300s", self.trader.venue.value,
                   self.trader.market.value, self.trader.account, reason, message)
        return ErrorReply(ErrorKind.VALIDATION, reason.upper(), message)

    async def handle(self, cmd: Any) -> Any:
        """A command from anywhere but the bus intake (tests, in-process callers): checked, then served."""
        try:
            check_command(cmd)
        except ValidationError as exc:
            return error_reply(exc)
        return await self._dispatch(cmd)

    async def _dispatch(self, cmd: Any) -> Any:
        try:
            if isinstance(cmd, PlaceOrder):
                return await self._place(cmd)
            if isinstance(cmd, CancelOrder):
                self._check_market(cmd.market)
                self._check_writer()
                return OrderReply(await self.trader.cancel(cmd.symbol, cmd.client_order_id, cmd.venue_order_id))
            if isinstance(cmd, CancelAll):
                self._check_market(cmd.market)
                self._check_writer()
                return OrdersReply(await self.trader.cancel_all(cmd.symbol or None))
            if isinstance(cmd, QueryOrder):
                self._check_market(cmd.market)
                order = await self.trader.query(cmd.symbol, cmd.client_order_id, cmd.venue_order_id)
                if order is None:
                    return ErrorReply(ErrorKind.VENUE_CLIENT, "ORDER_NOT_FOUND", f"{cmd.symbol}: no order {cmd.client_order_id or cmd.venue_order_id}")
                return OrderReply(order)
            if isinstance(cmd, SetLeverage):
                self._check_market(cmd.market)
                self._check_writer()
                return LeverageReply(await self.trader.set_leverage(cmd.symbol, cmd.leverage))
            if isinstance(cmd, QueryBalances):
                self._check_market(cmd.market)
                return BalancesReply(await self.trader.balances())
            return ErrorReply(ErrorKind.VALIDATION, "UNSUPPORTED", f"{type(cmd).__name__} is not a command")
        except NotWriter as exc:
            return ErrorReply(ErrorKind.UNAVAILABLE, "NOT_WRITER", str(exc), retryable=True)
        except Exception as exc:  # noqa: BLE001 -- every failure becomes a typed reply; the gateway keeps serving
            return error_reply(exc)

    def _check_market(self, market: Market) -> None:
        if market is not self.trader.market:
            raise ValidationError(
                f"market: this gateway trades {self.trader.venue.value} {self.trader.market.value}, not {market.value}"
            )

    def _check_writer(self) -> None:
        problem = self.fence()
        if problem is not None:
            raise NotWriter(f"{self.trader.venue.value} {self.trader.market.value} {self.trader.account}: "
                            f"this gateway is not the account's writer now ({problem}); nothing was sent")

    # -- place: one order per client id ---------------------------------------------------------
    async def _place(self, cmd: PlaceOrder) -> Any:
        self._check_market(cmd.market)
        cid = cmd.client_order_id
        if not cid:
            raise ValidationError("client_order_id: required (every order carries one)")
        first = self._asked.get(cid)
        if first is not None and (diff := conflict(cmd, first)) is not None:
            return self._conflict(cid, diff)
        running = self._inflight.get(cid)
        if running is not None:
            fut_running, asked = running
            if (diff := conflict(cmd, asked)) is not None:
                return self._conflict(cid, diff)
            return await asyncio.shield(fut_running)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[cid] = (fut, cmd)  # from here on a second command with this id waits for this one
        try:
            self._check_writer()
            reply = await self._place_claimed(cmd)
            fut.set_result(reply)
            return reply
        except BaseException as exc:
            fut.set_result(error_reply(exc))
            raise
        finally:
            del self._inflight[cid]

    def _conflict(self, cid: str, diff: str) -> ErrorReply:
        self.conflicts += 1
        return ErrorReply(ErrorKind.CONFLICT, "CLIENT_ID_REUSED",
                          f"client_order_id {cid} already names another order: {diff}; nothing was sent")

    async def _claim(self, cmd: PlaceOrder) -> tuple[Intent | None, int]:
        assert self.journal is not None
        m = self._multiplier_of(cmd.symbol)
        try:
            entry, rev = await asyncio.wait_for(self.journal.claim(cmd, self._clock(), m), self.JOURNAL_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 -- JetStream slow or away: nothing may be sent without the record
            raise StorageError(f"order journal: cannot record client_order_id {cmd.client_order_id} "
                               f"({type(e).__name__}: {e}); nothing was sent") from None
        self._intend(cmd.client_order_id, m if entry is None else entry.contract_multiplier)
        return entry, rev

    async def _place_claimed(self, cmd: PlaceOrder) -> Any:
        cid = cmd.client_order_id
        if self.journal is None:  # no journal (a bare handler in tests): memory only
            if cid in self._known or cid in self._seen:
                reply = await self._place_again(cmd)
                if reply is not None:
                    return reply
            return await self._place_once(cmd, 0)
        entry, rev = await self._claim(cmd)
        while entry is not None:
            if entry.state.resendable:
                if await self._reclaim(cmd, rev) is not None:
                    break  # a REJECTED / ABSENT id, now claimed again: send
                entry, rev = await self._claim(cmd)
                continue
            diff = conflict(cmd, entry.cmd)
            if diff is not None:
                return self._conflict(cid, diff)
            self._asked.setdefault(cid, entry.cmd)
            return await self._resolve_claimed(cmd, entry, rev)
        self._asked[cid] = cmd
        if len(self._asked) > self.KNOWN_MAX:
            self._asked.popitem(last=False)
        ts = self._clock()
        if cid in self._hints or cid in self._seen:  # the venue may know this id from elsewhere: ask first
            try:
                reply = await self._place_again(cmd)
            except BaseException:
                await self._mark(cmd, ts, IntentState.REJECTED, note="the venue could not be asked; nothing sent")
                raise
            if reply is not None:
                if isinstance(reply, OrderReply):
                    await self._mark(cmd, ts, IntentState.PLACED, reply.order.venue_order_id)
                else:  # a conflict with the venue's order under this id: nothing of ours rests
                    await self._mark(cmd, ts, IntentState.REJECTED, note=reply.message)
                return reply
            ts = await self._renew_intent(cmd)  # the lookup took time: the request window starts now
        return await self._place_once(cmd, ts)

    async def _reclaim(self, cmd: PlaceOrder, rev: int) -> int | None:
        assert self.journal is not None
        m = self._multiplier_of(cmd.symbol)
        new = await asyncio.wait_for(self.journal.reclaim(cmd, self._clock(), rev, m), self.JOURNAL_TIMEOUT_S)
        if new is not None:
            self._intend(cmd.client_order_id, m)
        return new

    async def _renew_intent(self, cmd: PlaceOrder) -> int:
        """Record the intent's time again right before sending (the venue's request window is counted from it)."""
        assert self.journal is not None
        ts = self._clock()
        m = self._multiplier_of(cmd.symbol)
        await asyncio.wait_for(self.journal.mark(cmd, ts, IntentState.PENDING, ts, contract_multiplier=m),
                               self.JOURNAL_TIMEOUT_S)
        self._intend(cmd.client_order_id, m)
        return ts

    async def _resolve_claimed(self, cmd: PlaceOrder, entry: Intent, rev: int) -> Any:
        """An id the journal holds as PENDING or PLACED: the venue's answer, never a second order."""
        cid = cmd.client_order_id
        self.resolved_from_journal += 1
        self._learn(cid, entry.contract_multiplier)  # an earlier process sized it: its events convert with that
        order = await self.trader.query(entry.cmd.symbol, cid, entry.venue_order_id)
        if order is None:
            order = self._seen.get(cid)  # this process saw the venue report it; the venue no longer looks that far
        if order is not None:
            diff = conflict_with_order(cmd, order)
            if diff is not None:
                return self._conflict(cid, diff)
            self._see(cid, order)
            self._remember(cid, order.symbol)
            if entry.state is IntentState.PENDING:
                await self._mark(entry.cmd, entry.ts_intent, IntentState.PLACED, order.venue_order_id)
            return OrderReply(order)
        if entry.state is IntentState.PLACED:
            return ErrorReply(ErrorKind.VENUE_CLIENT, "ORDER_NOT_FOUND",
                              f"client_order_id {cid} was placed (venue order {entry.venue_order_id or '?'}) and the "
                              "venue no longer reports it; not sent again", status_unknown=True)
        age_s = (self._clock() - entry.ts_intent) / 1e9
        wait_s = self._expiry_s() - age_s
        if wait_s > 0:  # the first request may still reach the venue: neither resend nor call it absent
            return ErrorReply(ErrorKind.VENUE_SERVER, "STATUS_UNKNOWN",
                              f"client_order_id {cid}: sent {age_s:.1f} s ago and not found at the venue yet; it could "
                              f"still arrive for {wait_s:.1f} s: ask again then", retryable=True, status_unknown=True)
        if age_s > self.PENDING_RESEND_MAX_S:  # the venue's lookups may no longer reach back that far
            return ErrorReply(ErrorKind.VENUE_CLIENT, "ORDER_NOT_FOUND",
                              f"client_order_id {cid} was recorded {age_s:.0f} s ago and may have reached the venue; "
                              f"it is not found now, which after {self.PENDING_RESEND_MAX_S:.0f} s proves nothing: "
                              "not sent again", status_unknown=True)
        assert self.journal is not None
        rev = await asyncio.wait_for(
            self.journal.mark(entry.cmd, entry.ts_intent, IntentState.ABSENT, self._clock(),
                              note=f"not found at the venue {age_s:.1f} s after it was recorded", last=rev,
                              contract_multiplier=entry.contract_multiplier),
            self.JOURNAL_TIMEOUT_S)
        if rev is None or await self._reclaim(cmd, rev) is None:  # another process decided first
            return ErrorReply(ErrorKind.VENUE_SERVER, "STATUS_UNKNOWN", f"client_order_id {cid}: claimed concurrently",
                              retryable=True, status_unknown=True)
        return await self._place_once(cmd, self._clock())

    def _expiry_s(self) -> float:
        """How long after we sent it a request can still reach the venue (MEXC recvWindow, Gate's 60 s)."""
        return float(getattr(self.trader, "request_expiry_s", 60.0)) + self.EXPIRY_MARGIN_S

    async def _mark(self, cmd: PlaceOrder, ts_intent: int, state: IntentState, venue_order_id: str = "",
                    note: str = "") -> None:
        if state.resendable:  # nothing rests under this id: it may be used again, with any parameters
            self._asked.pop(cmd.client_order_id, None)
        m = self._intent_mult.pop(cmd.client_order_id, None) if state is not IntentState.PENDING else \
            self._intent_mult.get(cmd.client_order_id)
        if self.journal is None:
            return
        try:
            await asyncio.wait_for(self.journal.mark(cmd, ts_intent, state, self._clock(), venue_order_id, note,
                                                     contract_multiplier=m), self.JOURNAL_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 -- a PENDING entry is resolved by query later: safe, only slower
            self._rlog(("journal",), "%s %s %s: journal update for %s failed (%s: %s); it stays %s",
                       self.trader.venue.value, self.trader.market.value, self.trader.account,
                       cmd.client_order_id, type(e).__name__, e, "pending")

    async def _place_again(self, cmd: PlaceOrder) -> Any:
        """A client id the venue may already know (this process placed or saw it, or ORD mentioned it): the
        venue's order, never a second one. None when the venue does not know it (it may be sent)."""
        cid = cmd.client_order_id
        last = self._seen.get(cid)
        symbol = self._known.get(cid) or (last.symbol if last is not None else "") or self._hints.get(cid) or cmd.symbol
        order = await self.trader.query(symbol, cid, last.venue_order_id if last is not None else "")
        if order is None and last is not None:
            order = last  # the venue reported it to this process once and no longer finds it (aged out)
        if order is None:
            return None
        diff = conflict_with_order(cmd, order)
        if diff is not None:
            return self._conflict(cid, diff)
        return OrderReply(order)

    async def _place_once(self, cmd: PlaceOrder, ts_intent: int) -> Any:
        try:
            info = self.trader.symbols.info(cmd.symbol)
            prepared = prepare(cmd, info)
        except (ValidationError, SymbolError) as e:
            await self._mark(cmd, ts_intent, IntentState.REJECTED, note=str(e))
            raise
        self._remember(cmd.client_order_id, info.name)
        await self._record_multiplier(cmd, ts_intent, prepared)
        try:
            self._check_writer()  # again, right before the venue call: the lease may have lapsed meanwhile
        except NotWriter as exc:
            await self._mark(cmd, ts_intent, IntentState.REJECTED, note=str(exc))
            raise
        try:
            order = await self.trader.place(prepared)
        except VenueClientError as exc:
            if not self.trader.is_duplicate_client_id(exc):
                await self._mark(cmd, ts_intent, IntentState.REJECTED, note=f"{exc.code}: {exc.message}")
                raise
            reply = await self._resolve_duplicate(prepared, exc)
            if isinstance(reply, OrderReply):
                await self._mark(cmd, ts_intent, IntentState.PLACED, reply.order.venue_order_id)
            return reply
        except (RateLimited, ValidationError, SymbolError) as exc:
            await self._mark(cmd, ts_intent, IntentState.REJECTED, note=str(exc))
            raise  # refused by the venue or before sending: nothing was placed
        except Exception as exc:  # noqa: BLE001 -- 5xx, timeout, lost connection, or a 2xx we could not read:
            return await self._resolve_unknown(cmd, prepared, exc, ts_intent)  # the order may exist: ask, never resend
        self._see(prepared.client_order_id, order)
        await self._mark(cmd, ts_intent, IntentState.PLACED, order.venue_order_id)  # bounded; a failure is logged
        return OrderReply(order)

    async def _record_multiplier(self, cmd: PlaceOrder, ts_intent: int, p: PreparedOrder) -> None:
        """Futures: the intent must name the multiplier the order is sized with. The rules may have been refreshed
        since the claim (rare): then the PENDING entry is written again first; if that fails, nothing is sent."""
        if self.journal is None or p.info.market is not Market.FUTURES:
            return
        cid = cmd.client_order_id
        m = p.info.contract_multiplier
        if cid in self._intent_mult and self._intent_mult[cid] == m:
            return
        self._intend(cid, m)
        try:
            await asyncio.wait_for(self.journal.mark(cmd, ts_intent, IntentState.PENDING, self._clock(),
                                                     contract_multiplier=m), self.JOURNAL_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 -- the record must precede the send
            await self._mark(cmd, ts_intent, IntentState.REJECTED, note="the journal could not record the contract "
                             "multiplier; nothing sent")
            raise StorageError(f"order journal: cannot record the contract multiplier of client_order_id {cid} "
                               f"({type(e).__name__}: {e}); nothing was sent") from None

    async def _resolve_duplicate(self, p: PreparedOrder, exc: VenueClientError) -> Any:
        """The venue refused the id as already used (an order older than the memory, or one whose events
        never reached the stream): answer with that order. If the venue cannot show it, the refusal stands."""
        try:
            order = await self.trader.query(p.symbol, p.client_order_id, "")
        except Exception:  # noqa: BLE001 -- the venue's refusal is the answer then
            order = None
        if order is None:
            raise exc
        self.duplicates_resolved += 1
        self._see(p.client_order_id, order)
        return OrderReply(order)

    async def _resolve_unknown(self, cmd: PlaceOrder, p: PreparedOrder, exc: BaseException, ts_intent: int) -> Any:
        last: BaseException = exc
        for delay in self.UNKNOWN_RESOLVE_DELAYS:
            await self._sleep(delay)
            try:
                order = await self.trader.query(p.symbol, p.client_order_id, "")
            except Exception as e:  # noqa: BLE001 -- venue still unhappy: keep trying within the budget
                last = e
                continue
            if order is not None:
                self._see(p.client_order_id, order)
                await self._mark(cmd, ts_intent, IntentState.PLACED, order.venue_order_id)
                return OrderReply(order)
            if self.journal is not None and (self._clock() - ts_intent) / 1e9 < self._expiry_s():
                last = exc
                continue  # not found yet, but the request could still arrive: keep it unknown
            # The venue answered, after the request could have arrived, and does not know the order: not placed.
            self._known.pop(p.client_order_id, None)
            await self._mark(cmd, ts_intent, IntentState.ABSENT, note=f"{type(exc).__name__}, then not found")
            base = error_reply(exc)
            return ErrorReply(base.kind, base.code, f"not placed: {base.message}", retryable=True, status_unknown=False)
        base = error_reply(last)  # still unknown: whatever the last error was, the caller must not assume either way
        return msgspec.structs.replace(base, retryable=True, status_unknown=True)

    def _remember(self, cid: str, symbol: str) -> None:
        self._known[cid] = symbol
        if len(self._known) > self.KNOWN_MAX:
            self._known.popitem(last=False)

    def _see(self, cid: str, order: Order) -> None:
        if not cid:
            return
        seen = self._seen
        new = cid not in seen
        seen[cid] = order
        if new and len(seen) > self.KNOWN_MAX:
            seen.popitem(last=False)

    # -- events from the venue's user stream ----------------------------------------------------
    async def on_order(self, order: Order, correction: bool = False) -> None:
        self._see(order.client_order_id, order)
        ev = OrderUpdate(order, correction)
        self._audit("order", ev)
        await self.bus.publish_acked(self.subjects.order, ev)

    async def on_fill(self, fill: Fill) -> None:
        if fill.trade_id in self._published_trades:
            return  # already published (stream and reconciliation can both see it)
        self._published_trades[fill.trade_id] = None
        if len(self._published_trades) > self.KNOWN_MAX:
            self._published_trades.popitem(last=False)
        self._last_fill_ns = max(self._last_fill_ns, fill.ts_event)
        self._audit("fill", fill)
        try:
            await self.bus.publish_acked(self.subjects.fill, fill)
        except BaseException:
            self._published_trades.pop(fill.trade_id, None)  # not published: a retry (or reconcile) must send it
            raise

    async def on_balance(self, balance: Balance) -> None:
        self._audit("balance", balance)
        await self.bus.publish_acked(self.subjects.balance, balance)

    async def on_position(self, position: Position) -> None:
        self._audit("position", position)
        await self.bus.publish_acked(self.subjects.position, position)

    async def reconcile(self, lookback_s: float = 3600.0) -> dict[str, int]:
        """After any reconnect: republish venue truth (open orders, orders we placed that closed meanwhile,
        fills we may have missed, balances, positions) with ``correction=True``."""
        t = self.trader
        counts = {"orders": 0, "fills": 0, "balances": 0, "positions": 0}
        open_orders = await t.open_orders(None)
        open_ids = set()
        for o in open_orders:
            open_ids.add(o.client_order_id)
            await self.on_order(msgspec.structs.replace(o, ts_pub=now_ns()), correction=True)
            counts["orders"] += 1
        for cid, symbol in list(self._known.items())[-200:]:
            if cid in open_ids:
                continue
            try:
                o = await t.query(symbol, cid, "")
            except LookupIncomplete as e:  # the venue's history does not reach back to it: nothing to republish
                self._rlog(("lookup",), "%s %s %s: reconcile skips %s: %s", t.venue.value, t.market.value,
                           t.account, cid, e)
                continue
            if o is not None:
                await self.on_order(msgspec.structs.replace(o, ts_pub=now_ns()), correction=True)
                counts["orders"] += 1
        since = min(self._last_fill_ns, now_ns()) - int(lookback_s * 1e9)
        for symbol in {*self.watch, *self._known.values(), *(o.symbol for o in open_orders)}:
            for f in await t.fills_since(symbol, since):
                if f.trade_id not in self._published_trades:
                    await self.on_fill(msgspec.structs.replace(f, correction=True, ts_pub=now_ns()))
                    counts["fills"] += 1
        for b in await t.balances():
            await self.on_balance(msgspec.structs.replace(b, correction=True, ts_pub=now_ns()))
            counts["balances"] += 1
        if t.market is Market.FUTURES:
            for p in await t.positions():
                await self.on_position(msgspec.structs.replace(p, correction=True, ts_pub=now_ns()))
                counts["positions"] += 1
        return counts


__all__ = ["ZERO", "CommandHandler", "PreparedOrder", "VenueTrader", "error_reply", "prepare"]
