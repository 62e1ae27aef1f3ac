"""Gate.io wire structs -> domain events. Timestamps converted to ns here, once; quantities to base asset.

Client order ids: Gate's ``text`` must be ``t-`` + at most 28 bytes of ``[0-9A-Za-z_.-]`` (facts §2.5). Our
``client_order_id`` maps to it deterministically:

* an id that already fits (and does not start with ``.``) is sent as ``t-<id>`` and read back by stripping ``t-``:
  no state, survives restarts;
* any other id is sent as ``t-.`` + 27 chars of base32(blake2b(id)); the reverse needs the id, so ``ClientIds``
  remembers it (bounded). After a restart such an order is reported with its ``text`` as client id.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal

from ...core.clock import NS_PER_MS, NS_PER_S
from ...core.enums import Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from ...core.execution import Balance, Fill, Order, Position
from ...core.margin import Margin, PositionMargin, liq_distance
from ...core.numeric import ZERO
from ...core.strategy import FundingPaid
from ...core.symbols import SymbolInfo
from .schemas import (
    AccountBookEntry,
    FuturesAccount,
    FuturesOrder,
    FuturesPosition,
    FuturesTradeRow,
    Num,
    SpotAccount,
    SpotBalanceUpdate,
    SpotOrder,
    SpotTradeRow,
)

V = Venue.GATEIO
_TEXT_OK = re.compile(r"^[0-9A-Za-z_.\-]{1,28}$")
TEXT_PREFIX = "t-"
HASH_MARK = "t-."


def to_text(client_order_id: str) -> str:
    """Our client order id -> Gate ``text`` (deterministic; see module doc)."""
    if _TEXT_OK.match(client_order_id) and not client_order_id.startswith("."):
        return TEXT_PREFIX + client_order_id
    digest = hashlib.blake2b(client_order_id.encode(), digest_size=20).digest()
    return HASH_MARK + base64.b32encode(digest).decode().lower()[:27]


class ClientIds:
    """Both-way map for client ids; only hashed ids need memory."""

    def __init__(self, cap: int = 100_000) -> None:
        self._back: OrderedDict[str, str] = OrderedDict()
        self._cap = cap

    def text(self, client_order_id: str) -> str:
        t = to_text(client_order_id)
        if t.startswith(HASH_MARK):
            self._back[t] = client_order_id
            if len(self._back) > self._cap:
                self._back.popitem(last=False)
        return t

    def client_id(self, text: str) -> str:
        """Gate ``text`` -> our client order id ("" for orders not placed with a client id, e.g. ``apiv4``, ``web``)."""
        if text.startswith(HASH_MARK):
            return self._back.get(text, text)
        if text.startswith(TEXT_PREFIX):
            return text[2:]
        return ""


# ---------------------------------------------------------------------------------------------- numbers / time


def dec(x: Num | None) -> Decimal:
    if x is None or x == "":
        return ZERO
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(x)


def ms_ns(x: Num) -> int:
    """ms as int, float or decimal string ("1606292218213.4578") -> ns."""
    if isinstance(x, int):
        return x * NS_PER_MS
    if isinstance(x, str):
        if not x:
            return 0
        x = float(x)
    return int(x * NS_PER_MS)


def s_ns(x: Num) -> int:
    if isinstance(x, int):
        return x * NS_PER_S
    if isinstance(x, str):
        if not x:
            return 0
        x = float(x)
    return round(x * 1e6) * 1000


def _pos_dec(x: Decimal | None) -> Decimal | None:
    return x if x is not None and x > 0 else None


# ---------------------------------------------------------------------------------------------- tif / status

TIF_TO_GATE = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok", TimeInForce.POST_ONLY: "poc"}
TIF_FROM_GATE = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK, "poc": TimeInForce.POST_ONLY}
_EXPIRED = frozenset({"ioc", "fok", "depth_not_enough", "trader_not_enough", "small"})
_REJECTED = frozenset({"poc"})


def _status(is_open: bool, finish_as: str, filled: Decimal, qty: Decimal) -> OrderStatus:
    if is_open:
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    if finish_as == "filled" or (qty > 0 and filled >= qty):
        return OrderStatus.FILLED
    if finish_as in _EXPIRED:
        return OrderStatus.EXPIRED
    if finish_as in _REJECTED and filled == 0:
        return OrderStatus.REJECTED
    return OrderStatus.CANCELED


# ---------------------------------------------------------------------------------------------- spot private


def spot_order(o: SpotOrder, info: SymbolInfo, account: str, ids: ClientIds, ts_recv: int,
               order_type: OrderType | None = None) -> Order:
    """A spot order (REST or WS item). WS items have no ``status``: ``event`` finish / ``left`` tell."""
    qty = dec(o.amount)
    left = dec(o.left) if o.left != "" else qty
    if o.type == "market" and o.side == "buy":
        # market buys are sized in quote (facts §2.5); base filled is not in the order: left/amount are quote
        filled = ZERO
        qty = ZERO
    else:
        filled = dec(o.filled_amount) if o.filled_amount != "" else qty - left
    if o.status:
        is_open = o.status == "open"
    else:
        is_open = o.event != "finish" and o.finish_as in ("", "open")
    avg = _pos_dec(dec(o.avg_deal_price)) if o.avg_deal_price else None
    if filled == 0 and avg is not None and o.type == "market" and o.side == "buy":
        filled = (dec(o.filled_total) / avg) if avg else ZERO
    price = _pos_dec(dec(o.price))
    ts_event = ms_ns(o.update_time_ms) or ms_ns(o.create_time_ms) or ts_recv
    kind = order_type or (OrderType.MARKET if o.type == "market" else OrderType.LIMIT)
    return Order(
        venue=V, market=Market.SPOT, account=account, symbol=info.name,
        client_order_id=ids.client_id(o.text), venue_order_id=str(o.id),
        side=Side.BUY if o.side == "buy" else Side.SELL, order_type=kind,
        tif=TIF_FROM_GATE.get(o.time_in_force, TimeInForce.GTC), price=price, qty=qty,
        filled_qty=filled, avg_price=avg, status=_status(is_open, o.finish_as, filled, qty),
        reduce_only=False, ts_event=ts_event, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def _paid_fee(fee: Num, asset: str, gt_fee: Num, point_fee: Num) -> tuple[Decimal, str]:
    """The fee as charged: in the trade's asset, else in GT (GT deduction on), else in points. A Fill has one
    fee; Gate charges one of the three, so the first non-zero one is it."""
    f = dec(fee)
    if f:
        return f, asset
    g = dec(gt_fee)
    if g:
        return g, "GT"
    p = dec(point_fee)
    if p:
        return p, "POINT"
    return f, asset


def spot_fill(t: SpotTradeRow, info: SymbolInfo, account: str, ids: ClientIds, ts_recv: int) -> Fill:
    side = Side.BUY if t.side == "buy" else Side.SELL
    fee, fee_asset = _paid_fee(t.fee, t.fee_currency or (info.symbol.base if side is Side.BUY else info.symbol.quote),
                               t.gt_fee, t.point_fee)
    return Fill(
        venue=V, market=Market.SPOT, account=account, symbol=info.name,
        client_order_id=ids.client_id(t.text), venue_order_id=str(t.order_id), trade_id=str(t.id),
        side=side, price=dec(t.price), qty=dec(t.amount), fee=fee, fee_asset=fee_asset,
        is_maker=t.role == "maker", ts_event=ms_ns(t.create_time_ms) or s_ns(t.create_time) or ts_recv,
        ts_recv=ts_recv, ts_pub=ts_recv,
    )


def spot_balance(a: SpotAccount, account: str, ts_recv: int) -> Balance:
    return Balance(venue=V, market=Market.SPOT, account=account, asset=a.currency.upper(), free=dec(a.available),
                   locked=dec(a.locked), ts_event=ts_recv, ts_recv=ts_recv, ts_pub=ts_recv)


def spot_balance_update(b: SpotBalanceUpdate, account: str, ts_recv: int) -> Balance:
    free = dec(b.available)
    if b.freeze != "":
        locked = dec(b.freeze)
    elif b.total != "":
        locked = dec(b.total) - free
    else:
        locked = ZERO
    return Balance(venue=V, market=Market.SPOT, account=account, asset=b.currency.upper(), free=free, locked=locked,
                   ts_event=ms_ns(b.timestamp_ms) or ts_recv, ts_recv=ts_recv, ts_pub=ts_recv)


# ---------------------------------------------------------------------------------------------- futures private


def futures_order(o: FuturesOrder, info: SymbolInfo, account: str, ids: ClientIds, ts_recv: int,
                  order_type: OrderType | None = None, multiplier: Decimal | None = None,
                  client_order_id: str | None = None) -> Order:
    """Contracts -> base with ``multiplier``: the one the order was placed with when known (the caller's), else the
    contract's current one (specs/gateways.md, "Contract multiplier changes"). ``client_order_id``: ``o.text``
    already mapped by the caller (else mapped here)."""
    m = info.contract_multiplier if multiplier is None else multiplier
    size = dec(o.size)
    left = dec(o.left)
    contracts = abs(size)
    filled_c = contracts - abs(left)
    price = _pos_dec(dec(o.price))
    fill_price = _pos_dec(dec(o.fill_price))
    is_open = o.status == "open" if o.status else o.finish_as in ("", "open")
    ts_event = (ms_ns(o.finish_time_ms) or s_ns(o.finish_time) or ms_ns(o.create_time_ms) or s_ns(o.create_time)
                or ts_recv)
    if order_type is None:
        order_type = OrderType.MARKET if price is None and o.tif == "ioc" else OrderType.LIMIT
    side = Side.BUY if size > 0 else Side.SELL
    return Order(
        venue=V, market=Market.FUTURES, account=account, symbol=info.name,
        client_order_id=ids.client_id(o.text) if client_order_id is None else client_order_id,
        venue_order_id=str(o.id), side=side, order_type=order_type,
        tif=TIF_FROM_GATE.get(o.tif, TimeInForce.GTC), price=price, qty=contracts * m, filled_qty=filled_c * m,
        avg_price=fill_price if filled_c > 0 else None,
        status=_status(is_open, o.finish_as, filled_c, contracts),
        reduce_only=o.is_reduce_only or o.is_close, ts_event=ts_event, ts_recv=ts_recv, ts_pub=ts_recv,
        contracts=contracts,
    )


def futures_fill(t: FuturesTradeRow, info: SymbolInfo, account: str, ids: ClientIds, ts_recv: int,
                 settle: str = "USDT", multiplier: Decimal | None = None, client_order_id: str | None = None) -> Fill:
    """Contracts -> base with ``multiplier`` as in ``futures_order`` (the order's, when known)."""
    m = info.contract_multiplier if multiplier is None else multiplier
    size = dec(t.size)
    fee, fee_asset = _paid_fee(t.fee, settle, 0, t.point_fee)
    return Fill(
        venue=V, market=Market.FUTURES, account=account, symbol=info.name,
        client_order_id=ids.client_id(t.text) if client_order_id is None else client_order_id,
        venue_order_id=str(t.order_id), trade_id=str(t.id),
        side=Side.BUY if size > 0 else Side.SELL, price=dec(t.price), qty=abs(size) * m,
        fee=fee, fee_asset=fee_asset, is_maker=t.role == "maker",
        ts_event=ms_ns(t.create_time_ms) or s_ns(t.create_time) or ts_recv, ts_recv=ts_recv, ts_pub=ts_recv,
    )


def futures_balance(a: FuturesAccount, account: str, ts_recv: int) -> Balance:
    total = dec(a.total)
    free = dec(a.available)
    return Balance(venue=V, market=Market.FUTURES, account=account, asset=a.currency.upper(), free=free,
                   locked=max(ZERO, total - free), ts_event=ts_recv, ts_recv=ts_recv, ts_pub=ts_recv)


def futures_position(p: FuturesPosition, info: SymbolInfo, account: str, ts_recv: int,
                     mark_price: Decimal = ZERO) -> Position:
    contracts = dec(p.size)
    mark = dec(p.mark_price) or mark_price
    lev = dec(p.leverage)
    return Position(
        venue=V, market=Market.FUTURES, account=account, symbol=info.name, size=contracts * info.contract_multiplier,
        contracts=contracts, entry_price=dec(p.entry_price), mark_price=mark, leverage=int(lev),
        margin=dec(p.margin), unrealised_pnl=dec(p.unrealised_pnl), liq_price=dec(p.liq_price),
        ts_event=ms_ns(p.time_ms) or s_ns(p.update_time) or ts_recv, ts_recv=ts_recv, ts_pub=ts_recv,
    )


MULTIPLIER_TOLERANCE = Decimal("0.01")  # relative: the venue's value is rounded; a multiplier change is a step


def implied_multiplier(p: FuturesPosition) -> Decimal | None:
    """The multiplier the venue's own figures imply for a position: ``|value| / mark_price / |size|`` (base per
    contract); None when the row lacks any of them (the futures.positions push carries no value or mark)."""
    size = abs(dec(p.size))
    value = abs(dec(p.value))
    mark = dec(p.mark_price)
    if not size or not value or mark <= 0:
        return None
    return value / mark / size


def multipliers_agree(implied: Decimal, held: Decimal, tolerance: Decimal = MULTIPLIER_TOLERANCE) -> bool:
    return abs(implied - held) <= held * tolerance


def position_margin(p: FuturesPosition, info: SymbolInfo) -> PositionMargin:
    """One position's margin (gateapi ``Position``). Maintenance margin: the venue's, else |value| x maintenance_rate
    (value at mark, settle currency: the venue's, else |contracts| x multiplier x mark)."""
    contracts = dec(p.size)
    size = contracts * info.contract_multiplier
    mark = dec(p.mark_price)
    liq = dec(p.liq_price)
    rate = dec(p.maintenance_rate)
    mm = dec(p.maintenance_margin)
    if not mm and rate:
        mm = (abs(dec(p.value)) or abs(size) * mark) * rate
    return PositionMargin(
        symbol=info.name, size=size, contracts=contracts, leverage=int(dec(p.leverage)), entry_price=dec(p.entry_price),
        mark_price=mark, liq_price=liq, margin=dec(p.margin), maintenance_rate=rate, maintenance_margin=mm,
        unrealised_pnl=dec(p.unrealised_pnl), distance=liq_distance(size, mark, liq))


def venue_position_margin(p: FuturesPosition) -> PositionMargin | None:
    """A position in a contract without symbol rules here, from the venue's own fields only: the size in base is
    ``value / mark`` (value: the position's value at mark in the settle currency), signed as the contracts; the
    symbol is the contract with ``-`` (``BTC_USDT`` -> ``BTC-USDT``). None when flat or without a value and mark
    (no size in base can be told)."""
    contracts = dec(p.size)
    mark = dec(p.mark_price)
    value = abs(dec(p.value))
    if not contracts or mark <= 0 or not value:
        return None
    size = value / mark if contracts > 0 else -value / mark
    liq = dec(p.liq_price)
    rate = dec(p.maintenance_rate)
    mm = dec(p.maintenance_margin) or value * rate
    return PositionMargin(
        symbol=p.contract.replace("_", "-"), size=size, contracts=contracts, leverage=int(dec(p.leverage)),
        entry_price=dec(p.entry_price), mark_price=mark, liq_price=liq, margin=dec(p.margin), maintenance_rate=rate,
        maintenance_margin=mm, unrealised_pnl=dec(p.unrealised_pnl), distance=liq_distance(size, mark, liq))


def futures_margin(a: FuturesAccount, positions: list[tuple[FuturesPosition, SymbolInfo]], account: str,
                   ts_recv: int, others: Iterable[PositionMargin] = ()) -> Margin:
    """The account's margin from ``GET /futures/usdt/accounts`` and the open positions of ``GET .../positions``
    (flat ones left out) with ``others`` (positions without symbol rules, ``venue_position_margin``), positions
    sorted by symbol."""
    pms = sorted([*(position_margin(p, info) for p, info in positions if dec(p.size)), *others],
                 key=lambda x: x.symbol)
    mm = dec(a.maintenance_margin) or sum((x.maintenance_margin for x in pms), ZERO)
    return Margin(
        venue=V, market=Market.FUTURES, account=account, asset=a.currency.upper(), total=dec(a.total),
        available=dec(a.available), position_margin=dec(a.position_margin), order_margin=dec(a.order_margin),
        maintenance_margin=mm, unrealised_pnl=dec(a.unrealised_pnl), positions=tuple(pms),
        ts_event=ts_recv, ts_recv=ts_recv, ts_pub=ts_recv)


def book_time_ns(e: AccountBookEntry) -> int:
    """An account book row's ``time`` (float unix s, decoded exactly as a Decimal) in ns."""
    return int(e.time * NS_PER_S)


def book_contract(e: AccountBookEntry) -> str:
    """The row's contract: the field (rows after 2023-10-30), else the ``text`` before its first ':'."""
    return e.contract or e.text.partition(":")[0]


def funding_paid(e: AccountBookEntry, info: SymbolInfo, rate: float = 0.0) -> FundingPaid:
    """A ``type=fund`` account book row as the strategy's FundingPaid: ``change`` (+ received, - paid) in the settle
    currency, exactly; ``ts`` the settlement time; ``rate`` the contract's applied rate when known (else 0)."""
    return FundingPaid(venue=V, market=Market.FUTURES, symbol=info.name, amount=e.change, rate=rate,
                       ts=book_time_ns(e))


__all__ = [
    "MULTIPLIER_TOLERANCE",
    "TIF_FROM_GATE",
    "TIF_TO_GATE",
    "ClientIds",
    "book_contract",
    "book_time_ns",
    "dec",
    "funding_paid",
    "futures_balance",
    "futures_fill",
    "futures_margin",
    "futures_order",
    "futures_position",
    "implied_multiplier",
    "ms_ns",
    "multipliers_agree",
    "position_margin",
    "s_ns",
    "spot_balance",
    "spot_balance_update",
    "spot_fill",
    "spot_order",
    "to_text",
    "venue_position_margin",
]
