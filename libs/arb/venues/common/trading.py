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
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from ...bus.connection import Bus
from ...bus.replay import replay
from ...bus.subjects import OrdSubjects
from ...core.clock import now_ns
from ...core.commands import (
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
from ...core.enums import Market, OrderType, Side, SymbolStatus, Venue
from ...core.errors import (
    RateLimited,
    SymbolError,
    ValidationError,
    VenueClientError,
    VenueError,
    VenueServerError,
)
from ...core.execution import Balance, Fill, Order, OrderUpdate, Position
from ...core.numeric import ZERO, is_multiple, round_price, round_qty
from ...core.symbols import SymbolInfo, SymbolMap
from ...obs.log import get_logger

log = get_logger(__name__)


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
        return ErrorReply("rate_limited", exc.code, exc.message, retryable=True)
    if isinstance(exc, VenueServerError):
        return ErrorReply("venue_server", exc.code, exc.message, retryable=True, status_unknown=True)
    if isinstance(exc, VenueClientError):
        return ErrorReply("venue_client", exc.code, exc.message)
    if isinstance(exc, VenueError):
        return ErrorReply("venue_client", exc.code, exc.message)
    if isinstance(exc, ValidationError):
        return ErrorReply("validation", "VALIDATION", str(exc))
    if isinstance(exc, SymbolError):
        return ErrorReply("symbol", "SYMBOL", str(exc))
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return ErrorReply("venue_server", "TIMEOUT", f"{type(exc).__name__}: {exc}", retryable=True, status_unknown=True)
    return ErrorReply("internal", type(exc).__name__, str(exc))


AuditFn = Callable[[str, Any], None]


class CommandHandler:
    """Serves ``ord.<venue>.<account>.cmd.<market>.*`` for one VenueTrader and publishes its execution events.

    Idempotency memory, per client order id (bounded to ``KNOWN_MAX`` each, oldest dropped first):

    * ``_known``: cid -> symbol of every submit this process made (remembered before the venue call, dropped
      when the venue says it never got it), plus the orders still open in the ORD stream at start: these
      are what ``reconcile()`` follows up by query.
    * ``_seen``: cid -> the newest state of an order the venue confirmed: place replies, every order event
      published (live and reconciled), and at start the ORD stream's (``restore()``). A PlaceOrder whose cid
      is here is never sent again: the venue's current state is returned, or this last known state when the
      venue no longer reports the order.

    A PlaceOrder with a cid in neither costs two dict lookups more than before; nothing is read from
    JetStream on the command path.
    """

    UNKNOWN_RESOLVE_DELAYS = (0.2, 0.5, 1.0, 2.0)
    KNOWN_MAX = 50_000
    RESTORE_TIMEOUT_S = 60.0

    def __init__(self, trader: VenueTrader, bus: Bus, subjects: OrdSubjects, audit: AuditFn | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, memory_window_s: float = 0.0,
                 watch: Sequence[str] = ()) -> None:
        self.trader = trader
        self.watch = tuple(watch)  # symbols always reconciled (GatewayOptions.trade_symbols)
        self.bus = bus
        self.subjects = subjects
        self.memory_window_s = memory_window_s  # 0: start with an empty memory (no restore from ORD)
        self._audit = audit or (lambda kind, payload: None)
        self._sleep = sleep
        self._inflight: dict[str, asyncio.Future] = {}
        self._known: OrderedDict[str, str] = OrderedDict()  # client_order_id -> symbol (see class doc)
        self._seen: OrderedDict[str, Order] = OrderedDict()  # client_order_id -> newest Order from the stream
        self._published_trades: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._sub = None
        self._last_fill_ns = now_ns()
        self.commands = 0
        self.errors = 0
        self.restored = 0  # client order ids rebuilt from the ORD stream at start
        self.duplicates_resolved = 0  # venue said "duplicate client id" and the existing order was returned

    # -- intake ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild the idempotency memory from ORD (when ``memory_window_s`` > 0), then take commands.
        The gateway reports ready only after this returns; a failed restore or an unknown watched symbol
        fails the start."""
        problems = []
        for name in self.watch:
            try:
                self.trader.symbols.info(name)
            except SymbolError as e:
                problems.append(str(e))
        if problems:
            raise SymbolError("; ".join(problems))
        if self.memory_window_s > 0:
            await self.restore(self.memory_window_s)
        self._sub = await self.bus.subscribe(self.subjects.cmd_prefix + ".*", self._on_command)

    async def restore(self, window_s: float) -> int:
        """Rebuild the client-order-id memory from this account's order events stored in the ORD stream
        (``ord.<venue>.<account>.evt.order``) over the last ``window_s`` seconds; returns how many ids.

        Gate spot and futures of one account share the event subject: only this trader's market is taken. Orders
        the stream last saw open also go to ``_known``, so the first ``reconcile()`` queries them (they may
        have filled or been cancelled while no gateway was listening)."""
        market = self.trader.market
        since = now_ns() - int(window_s * 1e9)
        last: dict[str, Order] = {}
        async for ev in replay(self.bus.js, self.subjects.order, since, timeout=self.RESTORE_TIMEOUT_S):
            if isinstance(ev, OrderUpdate):
                o = ev.order
                if o.client_order_id and o.market is market:
                    last[o.client_order_id] = o  # stream order: a later event replaces an earlier one
        for cid, o in last.items():
            if cid not in self._seen:  # a live event that arrived meanwhile is newer
                self._see(cid, o)
            if o.status.is_open and cid not in self._known:
                self._remember(cid, o.symbol)
        self.restored = len(last)
        log.info("%s %s %s: restored %d client order ids from %s (last %.0f s)", self.trader.venue.value,
                 market.value, self.trader.account, len(last), self.subjects.order, window_s)
        return len(last)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)

    async def _on_command(self, cmd: Any, msg: Any) -> None:
        task = asyncio.create_task(self._serve(cmd, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, cmd: Any, msg: Any) -> None:
        self.commands += 1
        self._audit("command", cmd)
        reply = await self.handle(cmd)
        if isinstance(reply, ErrorReply):
            self.errors += 1
        self._audit("reply", reply)
        await self.bus.reply(msg, reply)

    async def handle(self, cmd: Any) -> Any:
        try:
            if isinstance(cmd, PlaceOrder):
                return await self._place(cmd)
            if isinstance(cmd, CancelOrder):
                self._check_market(cmd.market)
                return OrderReply(await self.trader.cancel(cmd.symbol, cmd.client_order_id, cmd.venue_order_id))
            if isinstance(cmd, CancelAll):
                self._check_market(cmd.market)
                return OrdersReply(await self.trader.cancel_all(cmd.symbol or None))
            if isinstance(cmd, QueryOrder):
                self._check_market(cmd.market)
                order = await self.trader.query(cmd.symbol, cmd.client_order_id, cmd.venue_order_id)
                if order is None:
                    return ErrorReply("venue_client", "ORDER_NOT_FOUND", f"{cmd.symbol}: no order {cmd.client_order_id or cmd.venue_order_id}")
                return OrderReply(order)
            if isinstance(cmd, SetLeverage):
                self._check_market(cmd.market)
                if cmd.leverage < 0:
                    raise ValidationError(f"leverage: must be >= 0 (0 = cross), got {cmd.leverage}")
                return LeverageReply(await self.trader.set_leverage(cmd.symbol, cmd.leverage))
            if isinstance(cmd, QueryBalances):
                self._check_market(cmd.market)
                return BalancesReply(await self.trader.balances())
            return ErrorReply("validation", "UNSUPPORTED", f"{type(cmd).__name__} is not a command")
        except Exception as exc:  # noqa: BLE001 -- every failure becomes a typed reply; the gateway keeps serving
            return error_reply(exc)

    def _check_market(self, market: Market) -> None:
        if market is not self.trader.market:
            raise ValidationError(
                f"market: this gateway trades {self.trader.venue.value} {self.trader.market.value}, not {market.value}"
            )

    # -- place: idempotent, status-unknown resolved by query ------------------------------------
    async def _place(self, cmd: PlaceOrder) -> Any:
        self._check_market(cmd.market)
        cid = cmd.client_order_id
        running = self._inflight.get(cid)
        if running is not None:
            return await asyncio.shield(running)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[cid] = fut  # from here on a second command with this id waits for this one
        try:
            reply = None
            if cid in self._known or cid in self._seen:
                reply = await self._place_again(cid)
            if reply is None:
                reply = await self._place_once(cmd)
            fut.set_result(reply)
            return reply
        except BaseException as exc:
            fut.set_result(error_reply(exc))
            raise
        finally:
            del self._inflight[cid]

    async def _place_again(self, cid: str) -> Any:
        """A repeat of a client id this account already used: the same order, never a second one.
        None only when the id was submitted by this process and the venue does not know it (resendable)."""
        last = self._seen.get(cid)
        symbol = self._known.get(cid) or (last.symbol if last is not None else "")
        order = await self.trader.query(symbol, cid, last.venue_order_id if last is not None else "")
        if order is not None:
            return OrderReply(order)
        if last is not None:  # the venue reported it once and no longer finds it (aged out of its lookups)
            return OrderReply(last)
        return None

    async def _place_once(self, cmd: PlaceOrder) -> Any:
        info = self.trader.symbols.info(cmd.symbol)
        prepared = prepare(cmd, info)
        self._remember(cmd.client_order_id, info.name)
        try:
            order = await self.trader.place(prepared)
        except VenueClientError as exc:
            if not self.trader.is_duplicate_client_id(exc):
                raise
            return await self._resolve_duplicate(prepared, exc)
        except (RateLimited, ValidationError, SymbolError):
            raise  # refused by the venue or before sending: nothing was placed
        except Exception as exc:  # noqa: BLE001 -- 5xx, timeout, lost connection, or a 2xx we could not read:
            return await self._resolve_unknown(prepared, exc)  # the order may exist, so ask, never resend
        self._see(prepared.client_order_id, order)
        return OrderReply(order)

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

    async def _resolve_unknown(self, p: PreparedOrder, exc: BaseException) -> Any:
        last: BaseException = exc
        for delay in self.UNKNOWN_RESOLVE_DELAYS:
            await self._sleep(delay)
            try:
                order = await self.trader.query(p.symbol, p.client_order_id, "")
            except Exception as e:  # noqa: BLE001 -- venue still unhappy: keep trying within the budget
                last = e
                continue
            if order is not None:
                return OrderReply(order)
            # The venue answered and does not know the order: it was not placed; the same id may be resent.
            self._known.pop(p.client_order_id, None)
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
            o = await t.query(symbol, cid, "")
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
