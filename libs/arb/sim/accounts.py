"""Accounts and margin of the simulator: wallets (available + locked), futures positions, the account registry,
and the ``Ledger`` that moves one venue market's money: what placing an order locks, what each fill
settles (fees, position, margin, realised PnL), what finishing an order refunds, and re-margining on a
leverage change. The rules are in the ``arb.sim.engine`` module doc.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from ..core.enums import Market, Venue
from .model import KEEP_FINISHED, ONE, ZERO, Instrument, SimFill, SimOrder, SimReject

if TYPE_CHECKING:
    from .events import Action

class Bal:
    """One asset of one wallet: available + locked."""

    __slots__ = ("available", "locked")

    def __init__(self, available: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        self.available = available
        self.locked = locked

    @property
    def total(self) -> Decimal:
        return self.available + self.locked

    def copy(self) -> Bal:
        return Bal(self.available, self.locked)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bal) and other.available == self.available and other.locked == self.locked

    def __repr__(self) -> str:
        return f"Bal(available={self.available}, locked={self.locked})"


class Pos:
    """A futures position (one-way mode). ``size`` is signed contracts: > 0 long, < 0 short."""

    __slots__ = (
        "account",
        "cross_leverage",
        "entry_price",
        "inst",
        "last_close_pnl",
        "leverage",
        "margin",
        "mark_price",
        "open_ns",
        "pnl_fee",
        "pnl_fund",
        "pnl_pnl",
        "realised_pnl",
        "size",
        "update_id",
        "update_ns",
    )

    def __init__(self, account: Account, inst: Instrument, leverage: int, cross_leverage: int) -> None:
        self.account = account
        self.inst = inst
        self.size = ZERO
        self.entry_price = ZERO
        self.leverage = leverage
        self.cross_leverage = cross_leverage
        self.margin = ZERO
        self.realised_pnl = ZERO
        self.pnl_pnl = ZERO
        self.pnl_fund = ZERO
        self.pnl_fee = ZERO
        self.last_close_pnl = ZERO
        self.mark_price = ZERO
        self.update_ns = 0
        self.update_id = 0
        self.open_ns = 0

    @property
    def effective_leverage(self) -> int:
        return self.leverage if self.leverage > 0 else self.cross_leverage

    @property
    def base_size(self) -> Decimal:
        return self.size * self.inst.multiplier

    @property
    def value(self) -> Decimal:
        """Position value at mark, in USDT (unsigned)."""
        return abs(self.size) * self.inst.multiplier * self.mark_price

    @property
    def unrealised_pnl(self) -> Decimal:
        if not self.size:
            return ZERO
        return self.size * self.inst.multiplier * (self.mark_price - self.entry_price)

    @property
    def liq_price(self) -> Decimal:
        """Isolated-margin estimate: where the loss eats the margin down to maintenance (0 when flat)."""
        if not self.size:
            return ZERO
        lev = Decimal(self.effective_leverage)
        mmr = self.inst.maintenance_rate
        if self.size > 0:
            return max(ZERO, self.entry_price * (ONE - ONE / lev + mmr))
        return self.entry_price * (ONE + ONE / lev - mmr)

    def __repr__(self) -> str:
        return f"Pos({self.inst.venue_symbol} size={self.size} entry={self.entry_price} margin={self.margin})"


class BookEntry:
    """One change of a futures wallet, as a venue's account book lists it (only funding is recorded)."""

    __slots__ = ("balance", "change", "contract", "id", "kind", "ts_ns")

    def __init__(self, id: int, ts_ns: int, change: Decimal, balance: Decimal, kind: str, contract: str) -> None:
        self.id = id
        self.ts_ns = ts_ns
        self.change = change
        self.balance = balance  # the wallet total after the change
        self.kind = kind  # "fund"
        self.contract = contract


class Account:
    """A client (or internal) account on one venue: spot and futures wallets, positions, orders, fills."""

    def __init__(self, name: str, venue: Venue | str, api_key: str, api_secret: str, internal: bool = False,
                 balances: dict[str, Decimal] | None = None, futures_balances: dict[str, Decimal] | None = None
                 ) -> None:
        self.name = name
        self.venue = Venue(venue)
        self.api_key = api_key
        self.api_secret = api_secret
        self.internal = internal
        self.wallets: dict[Market, dict[str, Bal]] = {
            Market.SPOT: {a: Bal(Decimal(v)) for a, v in (balances or {}).items()},
            Market.FUTURES: {a: Bal(Decimal(v)) for a, v in (futures_balances or {}).items()},
        }
        self.positions: dict[str, Pos] = {}  # futures venue_symbol -> Pos
        self.open_orders: dict[str, SimOrder] = {}  # order id -> order
        self.open_by_client: dict[str, SimOrder] = {}  # client id -> open order
        self.finished: dict[str, SimOrder] = {}  # order id -> finished order (bounded, oldest dropped)
        self.finished_by_client: dict[str, SimOrder] = {}
        self.fills: deque[SimFill] = deque(maxlen=KEEP_FINISHED)
        self.futures_book: deque[BookEntry] = deque(maxlen=KEEP_FINISHED)  # futures wallet changes kept (funding)

    def __repr__(self) -> str:  # never show the secret
        return f"Account({self.name!r}, {self.venue.value}, internal={self.internal})"

    def bal(self, market: Market, asset: str) -> Bal:
        w = self.wallets[market]
        b = w.get(asset)
        if b is None:
            b = w[asset] = Bal()
        return b

    def remember_finished(self, o: SimOrder) -> None:
        self.finished[o.id] = o
        if o.client_id:
            self.finished_by_client[o.client_id] = o
        if len(self.finished) > KEEP_FINISHED:
            old = self.finished.pop(next(iter(self.finished)))
            if old.client_id and self.finished_by_client.get(old.client_id) is old:
                del self.finished_by_client[old.client_id]


class AccountBook:
    """All accounts: lookup by (venue, api_key) for request auth, by name for admin/tests."""

    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self._by_key: dict[tuple[str, str], Account] = {}
        self._by_name: dict[str, Account] = {}
        for a in accounts:
            self.add(a)

    def add(self, account: Account) -> Account:
        key = (account.venue.value, account.api_key)
        if key in self._by_key or account.name in self._by_name:
            raise ValueError(f"account {account.name!r}: duplicate name or api key")
        self._by_key[key] = account
        self._by_name[account.name] = account
        return account

    def get(self, venue: Venue | str, api_key: str) -> Account | None:
        v = venue.value if isinstance(venue, Venue) else str(venue)
        return self._by_key.get((v, api_key))

    def by_name(self, name: str) -> Account:
        return self._by_name[name]

    def all(self) -> list[Account]:
        return list(self._by_name.values())

    def __iter__(self) -> Iterator[Account]:
        return iter(list(self._by_name.values()))


class Ledger:
    """The money of one venue market: locks, fill settlement, positions and margin, order finishing."""

    def __init__(self, market: Market, symbols: Iterable[str], marks: dict[str, Decimal],
                 clock_ns: Callable[[], int], default_leverage: int, cross_leverage: int) -> None:
        self.market = market
        self.marks = marks  # the mark prices the market sets (shared with Funding), read for positions
        self.clock_ns = clock_ns
        self.default_leverage = default_leverage
        self.cross_leverage = cross_leverage
        self.positions_by_inst: dict[str, dict[str, Pos]] = {s: {} for s in symbols}

    def set_leverage(self, account: Account, i: Instrument, leverage: int, act: Action) -> Pos:
        """Set leverage (0 = cross). Re-margins an open position; INSUFFICIENT_BALANCE if it cannot."""
        if not isinstance(leverage, int) or leverage < 0 or leverage > i.leverage_max:
            raise SimReject("INVALID_LEVERAGE", f"leverage {leverage!r} outside 0..{i.leverage_max}")
        p = self.pos(account, i)
        old_lev = p.leverage
        p.leverage = leverage
        new_margin = abs(p.size) * i.multiplier * p.entry_price / Decimal(p.effective_leverage)
        delta = new_margin - p.margin
        b = account.bal(self.market, i.settle)
        if delta > 0 and b.available < delta and not account.internal:
            p.leverage = old_lev
            raise SimReject("INSUFFICIENT_BALANCE", f"need {delta} {i.settle} more margin")
        if delta and not account.internal:
            b.available -= delta
            b.locked += delta
            p.margin = new_margin
            act.balances[(id(account), i.settle)] = (account, i.settle)
        self.pos_touched(p, act)
        return p

    def find(self, account: Account, order_id: str, client_id: str) -> SimOrder | None:
        if order_id:
            return account.open_orders.get(order_id) or account.finished.get(order_id)
        if client_id:
            return account.open_by_client.get(client_id) or account.finished_by_client.get(client_id)
        return None

    def pos(self, account: Account, inst: Instrument) -> Pos:
        p = account.positions.get(inst.venue_symbol)
        if p is None:
            p = account.positions[inst.venue_symbol] = Pos(account, inst, self.default_leverage, self.cross_leverage)
            p.mark_price = self.marks.get(inst.venue_symbol, ZERO)
            self.positions_by_inst[inst.venue_symbol][account.name] = p
        return p

    def refresh_mark(self, p: Pos) -> None:
        m = self.marks.get(p.inst.venue_symbol)
        if m is not None:
            p.mark_price = m

    def lock(self, o: SimOrder, pos: Pos | None, walk_qty: Decimal | None, walk_cost: Decimal | None,
             act: Action) -> None:
        i = o.inst
        a = o.account
        if i.is_futures:
            assert pos is not None
            opening = o.qty
            if pos.size and (pos.size > 0) != o.is_buy:
                opening = max(ZERO, o.qty - abs(pos.size))
            if o.reduce_only:
                opening = ZERO
            if o.price is not None:
                ref = o.price
            else:
                ref = walk_cost / (walk_qty * i.multiplier) if walk_qty else ZERO
            per = ref * i.multiplier / Decimal(pos.effective_leverage)
            need = opening * per
            asset = i.settle
            o.lock_per = per
        elif o.is_buy:
            asset = i.quote
            if o.quote_qty is not None:
                need = o.quote_qty
            elif o.price is not None:
                need = o.qty * o.price
            else:
                need = walk_cost or ZERO
        else:
            asset = i.base
            need = o.qty
        b = a.bal(self.market, asset)
        if b.available < need:
            raise SimReject("INSUFFICIENT_BALANCE", f"need {need} {asset}, available {b.available}")
        o.lock_asset = asset
        o.lock_left = need
        if need:
            b.available -= need
            b.locked += need
            act.balances[(id(a), asset)] = (a, asset)

    def settle(self, o: SimOrder, price: Decimal, q: Decimal, quote: Decimal, rate: Decimal, act: Action
               ) -> Decimal:
        """Move money for one fill of ``o``; returns the fee charged (in o.fee_asset)."""
        a = o.account
        i = o.inst
        mk = self.market
        if i.is_futures:
            b = a.bal(mk, i.settle)
            release = min(o.lock_left, q * o.lock_per)
            if release:
                o.lock_left -= release
                b.locked -= release
                b.available += release
            pos = self.pos(a, i)
            self.apply_position(pos, o.is_buy, price, q, b)
            fee = quote * rate
            b.available -= fee
            pos.pnl_fee -= fee
            pos.realised_pnl -= fee
            act.balances[(id(a), i.settle)] = (a, i.settle)
            self.pos_touched(pos, act)
            return fee
        if o.is_buy:
            qb = a.bal(mk, i.quote)
            release = q * o.price if o.kind == "limit" else quote
            release = min(release, o.lock_left)
            o.lock_left -= release
            qb.locked -= release
            qb.available += release - quote
            fee = q * rate
            a.bal(mk, i.base).available += q - fee
        else:
            bb = a.bal(mk, i.base)
            release = min(q, o.lock_left)
            o.lock_left -= release
            bb.locked -= release
            bb.available += release - q
            fee = quote * rate
            a.bal(mk, i.quote).available += quote - fee
        act.balances[(id(a), i.quote)] = (a, i.quote)
        act.balances[(id(a), i.base)] = (a, i.base)
        return fee

    def apply_position(self, pos: Pos, is_buy: bool, price: Decimal, q: Decimal, b: Bal) -> None:
        i = pos.inst
        mult = i.multiplier
        lev = Decimal(pos.effective_leverage)
        s = pos.size
        if s and (s > 0) != is_buy:  # reduce first
            close_q = min(q, abs(s))
            pnl = close_q * mult * (price - pos.entry_price) * (1 if s > 0 else -1)
            freed = pos.margin * close_q / abs(s)
            pos.margin -= freed
            b.locked -= freed
            b.available += freed + pnl
            pos.realised_pnl += pnl
            pos.pnl_pnl += pnl
            pos.last_close_pnl = pnl
            s = s - close_q if s > 0 else s + close_q
            q -= close_q
            if not s:
                pos.entry_price = ZERO
                if pos.margin:  # rounding dust
                    b.locked -= pos.margin
                    b.available += pos.margin
                    pos.margin = ZERO
        if q > 0:
            old = abs(s)
            pos.entry_price = (old * pos.entry_price + q * price) / (old + q)
            if not old:
                pos.open_ns = self.clock_ns()
            add = q * mult * price / lev
            pos.margin += add
            b.available -= add
            b.locked += add
            s = s + q if is_buy else s - q
        pos.size = s

    def pos_touched(self, pos: Pos, act: Action, ts: int | None = None) -> None:
        pos.update_ns = self.clock_ns() if ts is None else ts
        pos.update_id += 1
        self.refresh_mark(pos)
        act.positions[id(pos)] = pos

    def finish(self, o: SimOrder, status: str, finish_as: str, act: Action) -> None:
        o.status = status
        o.finish_as = finish_as
        o.update_ns = self.clock_ns()
        a = o.account
        if a.internal:
            return
        if o.lock_left:
            b = a.bal(self.market, o.lock_asset)
            b.locked -= o.lock_left
            b.available += o.lock_left
            o.lock_left = ZERO
            act.balances[(id(a), o.lock_asset)] = (a, o.lock_asset)
        a.open_orders.pop(o.id, None)
        if o.client_id and a.open_by_client.get(o.client_id) is o:
            del a.open_by_client[o.client_id]
        a.remember_finished(o)
