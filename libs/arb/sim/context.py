"""What a wire layer's ``build_app(ctx)`` receives, and ``build_context(cfg)`` that makes one.

``build_context`` gives engines, accounts and faults from a ``SimConfig`` with no tasks running (enough for a
wire layer's own tests: the books are empty until a ``Market`` steps, see ``arb.sim.market``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.clock import now_ns
from ..core.enums import Market, Venue
from .config import SimConfig
from .engine import Account, AccountBook, Instrument, VenueExchange
from .faults import Faults


class SimContext:
    """Everything a wire layer needs: the engines, the accounts, the faults, the config, the clock."""

    def __init__(self, exchanges: dict[tuple[Venue, Market], VenueExchange], accounts: AccountBook, faults: Faults,
                 config: SimConfig, clock_ns: Callable[[], int] = now_ns) -> None:
        self.exchanges = exchanges
        self.accounts = accounts
        self.faults = faults
        self.config = config
        self.clock_ns = clock_ns
        self.listen_key_ttl_s = config.listen_key_ttl_s

    def exchange(self, venue: Venue | str, market: Market | str) -> VenueExchange:
        return self.exchanges[(Venue(venue), Market(market))]


def build_instruments(cfg: SimConfig) -> dict[tuple[Venue, Market], list[Instrument]]:
    out: dict[tuple[Venue, Market], list[Instrument]] = {(Venue(v), Market(m)): [] for v, m in
                                                         (("mexc", "spot"), ("gateio", "spot"), ("gateio", "futures"))}
    for s in cfg.symbols:
        for ic in s.instruments:
            out[(Venue(ic.venue), Market(ic.market))].append(Instrument(
                ic.venue, ic.market, ic.venue_symbol, s.base, s.quote, ic.tick, ic.step, ic.min_qty,
                ic.min_notional, ic.max_qty, ic.multiplier, ic.maker_fee, ic.taker_fee, ic.leverage_max,
                ic.maintenance_rate,
            ))
    return out


def build_context(cfg: SimConfig | None = None, clock_ns: Callable[[], int] = now_ns) -> SimContext:
    """Engines, accounts and faults from config; no market tasks (books empty until the market steps)."""
    cfg = cfg or SimConfig()
    exchanges = {
        key: VenueExchange(key[0], key[1], insts, clock_ns=clock_ns, default_leverage=cfg.default_leverage,
                           cross_leverage=cfg.cross_leverage, funding_interval_s=cfg.funding_interval_s)
        for key, insts in build_instruments(cfg).items()
    }
    accounts = AccountBook(
        Account(a.name, a.venue, a.api_key, a.api_secret, balances=dict(a.balances),
                futures_balances=dict(a.futures_balances))
        for a in cfg.accounts
    )
    return SimContext(exchanges, accounts, Faults(cfg.seed, cfg.faults), cfg, clock_ns)
