"""Markets that look alive: a seeded fair price per symbol, background makers and takers per instrument,
cross-venue dislocations and funding.

Everything is driven by ``Market.step(dt_s)``, which is synchronous and deterministic: the same seed and
the same sequence of steps give the same fair prices, maker quotes and background trades (client orders
only add to that; they never draw from the market's random numbers). ``Market.run()`` calls ``step`` every
``tick_ms`` on an injectable clock; the step size is always ``tick_ms`` (a loaded loop slows the market
down instead of making it jumpier).

- ``PriceProcess``: geometric Brownian motion on the log price with optional mean reversion to the start
  price (Ornstein-Uhlenbeck on log price); ``random.Random`` seeded from (seed, symbol).
- ``Maker``: per instrument, ``levels`` price levels a side on a fixed grid (spacing ``level_spacing_bps``
  rounded to the venue's tick) around ``fair * (1 + offset)``; sizes on the venue's lot step growing with
  depth. Re-quotes by diffing its resting orders against the target (levels that left the window are
  cancelled, new ones placed, a few sizes refreshed per step), all inside one ``VenueExchange.batch`` so
  each step is one ``BookChange`` per instrument.
- ``Taker``: Poisson background trades (market orders from an internal account) at ``trades_per_s``.
- Dislocations: per symbol, after an exponential wait, one random venue market's quotes move by +-bps for
  a while; also on demand (``dislocate``, admin endpoint).
- Funding: the futures rate per symbol follows a small random walk, settled on every position each
  ``funding_interval_s`` at wall-clock multiples of the interval (as the venues do at 00/08/16 UTC).
  Mark = fair * (1 + the instrument's steady offset), index = fair.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from decimal import Decimal
from typing import Any, Protocol

from ..core.enums import Venue
from ..core.numeric import ceil_to, floor_to, fmt
from .config import InstrumentConfig, SymbolConfig
from .context import SimContext
from .engine import Account, Instrument, SimOrder, SimReject, VenueExchange

SECONDS_PER_YEAR = 365.0 * 86400.0
FUNDING_CAP = 0.003


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall clock ns and asyncio.sleep."""

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock tests move by hand; ``sleep`` returns at once after advancing the time."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.t = start_ns

    def now_ns(self) -> int:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class PriceProcess:
    """Seeded fair price of one unified symbol, shared by every venue that lists it."""

    def __init__(self, symbol: str, start: Decimal, volatility: float, mean_reversion: float, seed: int) -> None:
        self.symbol = symbol
        self.rng = random.Random(f"price:{seed}:{symbol}")
        self.x0 = math.log(float(start))
        self.x = self.x0
        self.sigma = volatility / math.sqrt(SECONDS_PER_YEAR)
        self.k = mean_reversion

    @property
    def price(self) -> float:
        return math.exp(self.x)

    def step(self, dt: float) -> float:
        if dt > 0:
            self.x += -self.k * (self.x - self.x0) * dt + self.sigma * math.sqrt(dt) * self.rng.gauss(0.0, 1.0)
        return self.price


class Maker:
    """Background depth for one instrument (an internal account: no balance checks)."""

    def __init__(self, ex: VenueExchange, inst: Instrument, sym: SymbolConfig, icfg: InstrumentConfig,
                 account: Account, seed: int) -> None:
        self.ex = ex
        self.inst = inst
        self.account = account
        self.rng = random.Random(f"maker:{seed}:{inst.venue.value}:{inst.market.value}:{inst.venue_symbol}")
        self.levels = sym.levels
        self.spacing_bps = icfg.level_spacing_bps or sym.level_spacing_bps
        self.notional = icfg.level_notional or sym.level_notional
        self.refresh_prob = 0.08
        self.spacing = Decimal(0)
        self.spacing_ref = 0.0
        self.orders: dict[tuple[str, Decimal], SimOrder] = {}

    def _grid(self, center: float) -> Decimal:
        if not self.spacing or not (0.5 < center / self.spacing_ref < 2.0):
            ticks = max(1, round(center * self.spacing_bps / 1e4 / float(self.inst.tick)))
            self.spacing = self.inst.tick * ticks
            self.spacing_ref = center
        return self.spacing

    def _size(self, price: Decimal, k: int) -> Decimal:
        inst = self.inst
        notional = self.notional * (1.0 + 0.12 * k) * self.rng.uniform(0.3, 1.7)
        qty = floor_to(_dec(notional / float(price) / float(inst.multiplier)), inst.step)
        floor_qty = inst.min_qty
        if inst.min_notional:
            floor_qty = max(floor_qty, ceil_to(inst.min_notional * Decimal("1.01") / (price * inst.multiplier), inst.step))
        return max(qty, floor_qty)

    def requote(self, center: float) -> None:
        """Move the quotes to ``center`` with as few order changes as the grid allows."""
        sp = self._grid(center)
        g = math.floor(center / float(sp))
        bid0 = Decimal(g) * sp
        if float(bid0) >= center:
            bid0 -= sp
        ask0 = bid0 + sp
        target: dict[tuple[str, Decimal], int] = {}
        for k in range(self.levels):
            target[("buy", bid0 - sp * k)] = k
            target[("sell", ask0 + sp * k)] = k
        ex = self.ex
        with ex.batch(self.inst):
            for key, o in list(self.orders.items()):
                if o.status != "open":
                    del self.orders[key]
                elif key not in target:
                    ex.cancel_internal(o)
                    del self.orders[key]
            for key, k in target.items():
                o = self.orders.get(key)
                if o is not None and self.rng.random() < self.refresh_prob:
                    ex.cancel_internal(o)
                    o = None
                if o is None:
                    side, price = key
                    if price <= 0:
                        continue
                    qty = self._size(price, k)
                    try:
                        o = ex.place(self.account, self.inst, side, "limit", "gtc", qty, price)
                    except SimReject:
                        continue
                    if o.status == "open":
                        self.orders[key] = o


class Taker:
    """Poisson background trades on one instrument."""

    def __init__(self, ex: VenueExchange, inst: Instrument, sym: SymbolConfig, account: Account, seed: int) -> None:
        self.ex = ex
        self.inst = inst
        self.account = account
        self.rate = sym.trades_per_s
        self.notional = sym.taker_notional
        self.rng = random.Random(f"taker:{seed}:{inst.venue.value}:{inst.market.value}:{inst.venue_symbol}")

    def step(self, dt: float, fair: float) -> int:
        if self.rate <= 0 or dt <= 0:
            return 0
        n = 0
        t = self.rng.expovariate(self.rate)
        while t < dt:
            n += 1
            t += self.rng.expovariate(self.rate)
        inst = self.inst
        for _ in range(n):
            side = "buy" if self.rng.random() < 0.5 else "sell"
            notional = self.rng.expovariate(1.0 / self.notional)
            qty = max(inst.min_qty, floor_to(_dec(notional / fair / float(inst.multiplier)), inst.step))
            try:
                self.ex.place(self.account, inst, side, "market", "ioc", qty)
            except SimReject:
                pass
        return n


class Dislocation:
    __slots__ = ("bps", "market", "until", "venue")

    def __init__(self, venue: str, market: str, bps: float, until: float) -> None:
        self.venue = venue
        self.market = market
        self.bps = bps
        self.until = until


class _Listing:
    """One instrument of one symbol: its engine, config, maker and taker."""

    __slots__ = ("ex", "icfg", "inst", "maker", "taker")

    def __init__(self, ex: VenueExchange, inst: Instrument, icfg: InstrumentConfig, maker: Maker, taker: Taker) -> None:
        self.ex = ex
        self.inst = inst
        self.icfg = icfg
        self.maker = maker
        self.taker = taker


class _Symbol:
    def __init__(self, cfg: SymbolConfig, seed: int) -> None:
        self.cfg = cfg
        self.process = PriceProcess(cfg.symbol, cfg.start_price, cfg.volatility, cfg.mean_reversion, seed)
        self.listings: list[_Listing] = []
        self.dislocations: list[Dislocation] = []
        self.rng = random.Random(f"dislocate:{seed}:{cfg.symbol}")
        self.funding_rng = random.Random(f"funding:{seed}:{cfg.symbol}")
        self.funding_rate = float(cfg.funding_rate)
        self.next_dislocation = 0.0


class Market:
    """All symbols' dynamics over the engines of a SimContext."""

    def __init__(self, ctx: SimContext, clock: Clock | None = None) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.clock = clock or SystemClock()
        seed = self.cfg.seed
        self.t = 0.0  # market time: seconds of steps taken
        self.steps = 0
        self.maker_account = Account("sim-maker", Venue.MEXC, "", "", internal=True)
        self.taker_account = Account("sim-taker", Venue.MEXC, "", "", internal=True)
        self.symbols: dict[str, _Symbol] = {}
        for sc in self.cfg.symbols:
            s = _Symbol(sc, seed)
            for ic in sc.instruments:
                ex = ctx.exchange(ic.venue, ic.market)
                inst = ex.instruments[ic.venue_symbol]
                s.listings.append(_Listing(ex, inst, ic, Maker(ex, inst, sc, ic, self.maker_account, seed),
                                           Taker(ex, inst, sc, self.taker_account, seed)))
            s.next_dislocation = s.rng.expovariate(1.0 / self.cfg.dislocations.every_s)
            self.symbols[sc.symbol] = s
        self.funding_interval_ns = self.cfg.funding_interval_s * 1_000_000_000
        self.fundings = 0
        self._started = False
        self._task: asyncio.Task | None = None

    # -- control --------------------------------------------------------------------------------------
    def fair(self, symbol: str) -> float:
        return self.symbols[symbol].process.price

    def dislocate(self, symbol: str, venue: str, market: str, bps: float, seconds: float) -> None:
        """Shift one venue market's quotes of ``symbol`` by ``bps`` for ``seconds`` of market time."""
        s = self._symbol(symbol)
        if not any(li.inst.venue.value == venue and li.inst.market.value == market for li in s.listings):
            raise ValueError(f"venue: {symbol} is not listed on {venue} {market}")
        s.dislocations.append(Dislocation(venue, market, float(bps), self.t + float(seconds)))

    def set_funding_rate(self, symbol: str, rate: float | Decimal | str) -> None:
        s = self._symbol(symbol)
        s.funding_rate = float(rate)
        for li in s.listings:
            if li.inst.is_futures:
                li.ex.set_funding(li.inst, _dec(s.funding_rate))

    def settle_funding_now(self, symbol: str) -> int:
        """Settle funding on every futures listing of ``symbol`` at once (admin); returns how many."""
        s = self._symbol(symbol)
        n = 0
        for li in s.listings:
            if li.inst.is_futures:
                li.ex.apply_funding(li.inst, _dec(s.funding_rate))
                self.fundings += 1
                n += 1
        return n

    def _symbol(self, symbol: str) -> _Symbol:
        s = self.symbols.get(symbol)
        if s is None:
            raise ValueError(f"symbol: unknown {symbol!r}; configured: {', '.join(self.symbols)}")
        return s

    # -- dynamics -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Place the initial books and funding schedule (idempotent; ``step`` calls it)."""
        if self._started:
            return
        self._started = True
        now = self.clock.now_ns()
        iv = self.funding_interval_ns
        nxt = (now // iv + 1) * iv
        for s in self.symbols.values():
            for li in s.listings:
                if li.inst.is_futures:
                    li.ex.set_funding(li.inst, _dec(s.funding_rate), nxt)
        self.step(0.0)

    def step(self, dt: float) -> None:
        """Advance the market by ``dt`` seconds: prices, dislocations, quotes, trades, marks, funding."""
        if not self._started:
            self.start()
            if dt == 0.0:
                return
        self.t += dt
        self.steps += 1
        dis_cfg = self.cfg.dislocations
        now = self.clock.now_ns()
        for s in self.symbols.values():
            fair = s.process.step(dt)
            if dis_cfg.enabled and dt > 0 and self.t >= s.next_dislocation and s.listings:
                li = s.listings[s.rng.randrange(len(s.listings))]
                sign = 1.0 if s.rng.random() < 0.5 else -1.0
                bps = sign * dis_cfg.bps * s.rng.uniform(0.5, 1.5)
                dur = dis_cfg.duration_s * s.rng.uniform(0.5, 1.5)
                s.dislocations.append(Dislocation(li.inst.venue.value, li.inst.market.value, bps, self.t + dur))
                s.next_dislocation = self.t + dur + s.rng.expovariate(1.0 / dis_cfg.every_s)
            if s.dislocations:
                s.dislocations = [d for d in s.dislocations if d.until > self.t]
            for li in s.listings:
                inst = li.inst
                off = li.icfg.offset_bps
                for d in s.dislocations:
                    if d.venue == inst.venue.value and d.market == inst.market.value:
                        off += d.bps
                center = fair * (1.0 + off / 1e4)
                li.maker.requote(center)
                li.taker.step(dt, center)
                if inst.is_futures:
                    mark = floor_to(_dec(fair * (1.0 + li.icfg.offset_bps / 1e4)), inst.tick)
                    li.ex.set_mark(inst, mark, floor_to(_dec(fair), inst.tick))
                    due = li.ex.next_funding_ns(inst)
                    if due and now >= due:
                        self._settle_funding(s, li, due)

    def _settle_funding(self, s: _Symbol, li: _Listing, due: int) -> None:
        iv = li.inst.funding_interval_s * 1_000_000_000 or self.funding_interval_ns  # a rule change sets its own
        nxt = due + iv
        now = self.clock.now_ns()
        if nxt <= now:  # slept through several: next one after now
            nxt = (now // iv + 1) * iv
        li.ex.apply_funding(li.inst, _dec(s.funding_rate), next_ns=nxt)
        self.fundings += 1
        cfg = s.cfg
        r = s.funding_rate + s.funding_rng.gauss(0.0, cfg.funding_rate_vol)
        s.funding_rate = max(-FUNDING_CAP, min(FUNDING_CAP, round(r, 8)))
        li.ex.set_funding(li.inst, _dec(s.funding_rate))

    async def run(self) -> None:
        """Step every tick_ms until cancelled."""
        dt = self.cfg.tick_ms / 1000.0
        self.start()
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            next_t += dt
            delay = next_t - loop.time()
            if delay < -1.0:  # far behind: do not try to catch up
                next_t = loop.time()
                delay = 0.0
            await self.clock.sleep(max(0.0, delay))
            self.step(dt)

    def state(self) -> dict[str, Any]:
        """JSON-able summary for GET /admin/state."""
        out: dict[str, Any] = {"t": round(self.t, 3), "steps": self.steps, "fundings": self.fundings, "symbols": {}}
        for name, s in self.symbols.items():
            entry: dict[str, Any] = {
                "fair": s.process.price,
                "funding_rate": s.funding_rate,
                "dislocations": [{"venue": d.venue, "market": d.market, "bps": d.bps,
                                  "remaining_s": round(d.until - self.t, 3)} for d in s.dislocations],
                "venues": {},
            }
            for li in s.listings:
                bp, bq, ap, aq = li.ex.book(li.inst).best()
                key = f"{li.inst.venue.value}.{li.inst.market.value}"
                v: dict[str, Any] = {
                    "venue_symbol": li.inst.venue_symbol,
                    "bid": fmt(bp) if bp is not None else None, "bid_qty": fmt(bq),
                    "ask": fmt(ap) if ap is not None else None, "ask_qty": fmt(aq),
                    "update_id": li.ex.book(li.inst).update_id,
                    "last_trade_id": li.ex.last_trade_id[li.inst.venue_symbol],
                }
                if li.inst.is_futures:
                    v["mark"] = fmt(li.ex.mark_price(li.inst))
                    v["funding_rate"] = fmt(li.ex.funding_rate(li.inst))
                    v["next_funding_ns"] = li.ex.next_funding_ns(li.inst)
                entry["venues"][key] = v
            out["symbols"][name] = entry
        return out


